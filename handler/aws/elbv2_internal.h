/* Private to the ELBv2 client (handler/aws/elbv2*.c), its tests and tools. */
#ifndef RNS_ELBV2_INTERNAL_H
#define RNS_ELBV2_INTERNAL_H

#include <stddef.h>

#include "handler/aws/elbv2.h"
#include "handler/aws/query_internal.h"

extern const query_service elbv2_service;

/* Parses an ELBv2 Query API response body. For a DescribeTargetHealth
 * success, `out` (may be NULL) receives the targets. When expect_root is not
 * NULL a success document must have that root element (e.g.
 * "RegisterTargetsResponse"), so that an endpoint answering for another API
 * is not taken for a success. An <ErrorResponse> fills *err (code, message,
 * request id) and returns -1, as does malformed XML (code
 * "MalformedResponse"). */
int elbv2_xml_parse(const char *xml, size_t len, const char *expect_root, elb_target_list *out, elb_error *err);

/* elbv2_xml_parse without an expected root. */
int elb_parse_response(const char *xml, size_t len, elb_target_list *out, elb_error *err);

/* Reads DescribeTargetHealth's targets into *out (emptied first, and again
 * when the parse fails). The reader lives as long as the parse. */
typedef struct elbv2_target_reader {
    elb_target_list *out;
    int member_depth; /* depth of the open <member>, 0 if none */
} elbv2_target_reader;

query_xml_callbacks elbv2_target_callbacks(elbv2_target_reader *r, elb_target_list *out);

/* The form body of a call, as botocore serializes it: Action, Version,
 * TargetGroupArn, then Targets.member.N.Id/Port/AvailabilityZone (port 0 and
 * az "" are left out). Owned by the caller; NULL when out of memory. */
char *elbv2_build_body(const char *action, const char *target_group_arn, const elb_target *targets, size_t count);

/* The listener reader (elbv2_listener.c) of a DescribeListeners or
 * ModifyListener answer; root is the expected root element. */
int elbv2_listener_parse(const char *xml, size_t len, const char *root, elb_listener *out, elb_error *err);

/* ModifyListener's form body for those weights; NULL when out of memory. */
char *elbv2_listener_body(const elb_listener *l, const int *weights);

/* query_client_set_attempt_timeout, query_retry_tokens and
 * query_connections_opened for the ELBv2 client. */
void elb_client_set_attempt_timeout(elb_client *c, long timeout_ms);
int elb_retry_tokens(const elb_client *c);
long elb_connections_opened(const elb_client *c);

/* The Query client under an ELBv2 client (elbv2_groups.c's calls). */
query_client *elb_query_client(elb_client *c);

/* The form bodies of the discovery calls, as botocore serializes them
 * (owned by the caller; NULL when out of memory): DescribeTargetGroups by
 * load balancer (marker and page_size optional: NULL, 0), or by ARNs
 * (load_balancer_arn NULL); DescribeTags. */
char *elbv2_groups_body(const char *load_balancer_arn, const char *const *arns, size_t count, const char *marker,
                        int page_size);
char *elbv2_tags_body(const char *const *arns, size_t count);
char *elbv2_add_tags_body(const char *arn, const elb_tag *tags, size_t count);
char *elbv2_remove_tags_body(const char *arn, const char *const *keys, size_t count);

/* Parse DescribeTargetGroups and DescribeTags answers (elbv2_groups.c). */
int elbv2_parse_target_groups(const char *xml, size_t len, elb_target_group_list *out, char *next_marker,
                              size_t next_len, elb_error *err);
int elbv2_parse_tags(const char *xml, size_t len, const char *key_prefix, elb_tag_set_list *out, elb_error *err);

#endif
