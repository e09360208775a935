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
int elb_describe_target_health(elb_client *c, const char *target_group_arn, int64_t deadline_ms,
                               elb_target_list *out, elb_error *err);
int elb_register_targets(elb_client *c, const char *target_group_arn,
                         const elb_target *targets, size_t count, int64_t deadline_ms,
                         elb_error *err);
int elb_deregister_targets(elb_client *c, const char *target_group_arn,
                           const elb_target *targets, size_t count, int64_t deadline_ms,
                           elb_error *err);

/* The one place targets are split into calls: fn gets each batch of at most
 * ELB_MAX_TARGETS_PER_CALL in order, until one returns non-zero (returned).
 * *done (may be NULL) counts the targets of the batches that succeeded. */
int elb_for_each_batch(const elb_target *targets, size_t count,
                       int (*fn)(void *ctx, const elb_target *batch, size_t n), void *ctx,
                       size_t *done);

/* Appends n targets. 0, or -1 when out of memory (the list is unchanged). */
int elb_target_list_append(elb_target_list *list, const elb_target *t, size_t n);
void elb_target_list_free(elb_target_list *list);

/* The default endpoint URL for a region (aws, aws-cn, aws-us-gov, ...). */
int elb_default_endpoint(const char *region, char *out, size_t outlen);

#endif
