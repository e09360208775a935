/* Elastic Load Balancing v2 client: DescribeTargetHealth, RegisterTargets,
 * DeregisterTargets, on the Query layer (query.h: signing, the standard
 * retry mode, one kept connection, every wait bounded by the caller's
 * deadline). */
#ifndef RNS_ELBV2_H
#define RNS_ELBV2_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "handler/aws/query.h"
#include "sigv4/sigv4.h"

/* Targets per RegisterTargets/DeregisterTargets call. */
#define ELB_MAX_TARGETS_PER_CALL 100

/* One target as DescribeTargetHealth reports it, or as we send it.
 * port 0 means "no port"; az "" means "no AvailabilityZone". */
typedef struct elb_target {
    char id[256];
    int port;
    char az[64];
    char state[32]; /* initial|healthy|unhealthy|unused|draining|unavailable|... ("" when sending) */
    char reason[64];
} elb_target;

/* Grown only by elb_target_list_append (or from empty by common/grow.h). */
typedef struct elb_target_list {
    elb_target *items;
    size_t count;
} elb_target_list;

/* ELBv2 calls fail with an aws_error (query.h). */
typedef aws_error elb_error;

typedef struct elb_client_config {
    const char *region;
    const char *endpoint_url; /* NULL: https://elasticloadbalancing.<region>.amazonaws.com[.cn] */
    sigv4_credentials creds;  /* borrowed for the client's lifetime */
    int max_attempts;         /* >= 1 */
    const char *ca_bundle;    /* NULL: the search of handler/aws/http.c */
    logger *log;              /* borrowed */
} elb_client_config;

typedef struct elb_client elb_client;

elb_client *elb_client_new(const elb_client_config *cfg, char *err, size_t errlen);
void elb_client_free(elb_client *c);

/* Each returns 0, or -1 with *err filled. deadline_ms is Unix time in ms: no
 * attempt starts, and no wait or transfer runs, past it. Register and
 * deregister send batches (elb_for_each_batch); the first that fails stops
 * the rest. */
int elb_describe_target_health(elb_client *c, const char *target_group_arn, int64_t deadline_ms, elb_target_list *out,
                               elb_error *err);
int elb_register_targets(elb_client *c, const char *target_group_arn, const elb_target *targets, size_t count,
                         int64_t deadline_ms, elb_error *err);
int elb_deregister_targets(elb_client *c, const char *target_group_arn, const elb_target *targets, size_t count,
                           int64_t deadline_ms, elb_error *err);

/* The one place targets are split into calls: fn gets each batch of at most
 * ELB_MAX_TARGETS_PER_CALL in order, until one returns non-zero (returned).
 * *done (may be NULL) counts the targets of the batches that succeeded. */
int elb_for_each_batch(const elb_target *targets, size_t count, int (*fn)(void *ctx, const elb_target *batch, size_t n),
                       void *ctx, size_t *done);

/* Appends n targets. 0, or -1 when out of memory (the list is unchanged). */
int elb_target_list_append(elb_target_list *list, const elb_target *t, size_t n);
void elb_target_list_free(elb_target_list *list);

/* ---- listeners (elbv2_listener.c): the fast switch's weights ---- */

/* Target groups one listener's forward action may hold here. The API's own
 * limit for an NLB is not documented (reference: 5?); more is a parse
 * failure rather than a silently shortened list that ModifyListener would
 * then write back. */
#define ELB_LISTENER_MAX_GROUPS 10
#define ELB_WEIGHT_MAX 999 /* TargetGroupTuple.Weight: 0..999 */

typedef struct elb_weighted_group {
    char arn[256];
    int weight; /* -1: the answer gave no Weight */
} elb_weighted_group;

/* One listener as DescribeListeners (or ModifyListener's answer) gives it:
 * what the fast switch reads, checks and writes back. */
typedef struct elb_listener {
    char arn[256];
    char load_balancer_arn[256];
    char protocol[16];
    int port;
    int listeners;                                      /* members of the answer (1 expected) */
    int actions;                                        /* DefaultActions of the first listener */
    char action_type[32];                               /* the first default action's Type */
    char action_target_group[256];                      /* its action-level TargetGroupArn, "" when absent */
    elb_weighted_group groups[ELB_LISTENER_MAX_GROUPS]; /* ForwardConfig.TargetGroups, in order */
    size_t group_count;
    int stickiness;       /* TargetGroupStickinessConfig.Enabled: -1 absent, 0, 1 */
    long stickiness_secs; /* its DurationSeconds, -1 absent */
} elb_listener;

/* DescribeListeners for one ListenerArn. 0, or -1 with *err. */
int elb_describe_listener(elb_client *c, const char *listener_arn, int64_t deadline_ms, elb_listener *out,
                          elb_error *err);

/* ModifyListener: the listener's default action becomes one forward action
 * to l's groups, in l's order, with weights[i] (0..999) each, and l's
 * stickiness block as it was read. Everything else of the listener is left
 * out, so it stays as it is. *out (may be NULL) gets the listener as the
 * answer gives it. 0, or -1 with *err. */
int elb_modify_listener_weights(elb_client *c, const elb_listener *l, const int *weights, int64_t deadline_ms,
                                elb_listener *out, elb_error *err);

/* The default endpoint URL for a region (aws, aws-cn, aws-us-gov, ...). */
int elb_default_endpoint(const char *region, char *out, size_t outlen);

/* ---- target groups and their tags (fleet mode's discovery) ---- */

#define ELB_MAX_ARNS_PER_DESCRIBE 20 /* DescribeTargetGroups' TargetGroupArns, DescribeTags' ResourceArns */
#define ELB_MAX_PAGE_SIZE 400        /* DescribeTargetGroups' PageSize */
#define ELB_ARN_MAX 256              /* bytes of an ARN we keep, with its NUL */
#define ELB_MARKER_MAX 1024          /* bytes of a page marker we keep, with its NUL */
#define ELB_MAX_TAGS_PER_ADD 20      /* what we send in one AddTags or RemoveTags call */

/* A target group as DescribeTargetGroups reports it (the fields we use). */
typedef struct elb_target_group {
    char arn[ELB_ARN_MAX];
    char name[64];
    int port; /* 0: none (a lambda group) */
    char protocol[16];
    char target_type[16]; /* ip, instance, lambda, alb */
} elb_target_group;

typedef struct elb_target_group_list {
    elb_target_group *items;
    size_t count;
} elb_target_group_list;

typedef struct elb_tag {
    char key[129]; /* the API's limits: 128 and 256 characters */
    char value[257];
} elb_tag;

/* The tags of one resource, as DescribeTags lists them. */
typedef struct elb_tag_set {
    char arn[ELB_ARN_MAX];
    elb_tag *items;
    size_t count;
} elb_tag_set;

typedef struct elb_tag_set_list {
    elb_tag_set *items;
    size_t count;
} elb_tag_set_list;

/* One page of DescribeTargetGroups for one load balancer: marker NULL or ""
 * for the first page; page_size 1..ELB_MAX_PAGE_SIZE (0: the API's default).
 * next_marker (next_len bytes) receives NextMarker, "" on the last page. */
int elb_describe_target_groups_page(elb_client *c, const char *load_balancer_arn, const char *marker, int page_size,
                                    int64_t deadline_ms, elb_target_group_list *out, char *next_marker, size_t next_len,
                                    elb_error *err);
/* DescribeTargetGroups by TargetGroupArns, 1..ELB_MAX_ARNS_PER_DESCRIBE of them. */
int elb_describe_target_groups_by_arn(elb_client *c, const char *const *arns, size_t count, int64_t deadline_ms,
                                      elb_target_group_list *out, elb_error *err);
/* DescribeTags for 1..ELB_MAX_ARNS_PER_DESCRIBE resources. Only the tags
 * whose key starts with key_prefix are kept (NULL: all), so that a group's
 * other tags cost no memory. */
int elb_describe_tags(elb_client *c, const char *const *arns, size_t count, const char *key_prefix, int64_t deadline_ms,
                      elb_tag_set_list *out, elb_error *err);

/* AddTags on one resource: sets these tags (others are kept), 1..ELB_MAX_TAGS_PER_ADD of them. */
int elb_add_tags(elb_client *c, const char *arn, const elb_tag *tags, size_t count, int64_t deadline_ms,
                 elb_error *err);
/* RemoveTags on one resource: these keys go (an absent one is no error), 1..ELB_MAX_TAGS_PER_ADD of them. */
int elb_remove_tags(elb_client *c, const char *arn, const char *const *keys, size_t count, int64_t deadline_ms,
                    elb_error *err);

/* query_client_set_pacer and query_requests_sent (query.h) for the ELBv2
 * client: fleet mode paces every client's calls under shared buckets. */
void elb_client_set_pacer(elb_client *c, query_pacer pacer, void *ctx);
long elb_requests_sent(const elb_client *c);

/* The value of a tag of the set, NULL when absent. */
const char *elb_tag_value(const elb_tag_set *s, const char *key);
void elb_target_group_list_free(elb_target_group_list *l);
void elb_tag_set_list_free(elb_tag_set_list *l);

#endif
