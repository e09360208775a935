/* Private to fleet mode (fleet*.c) and its tests. */
#ifndef RNS_SYNC_FLEET_INTERNAL_H
#define RNS_SYNC_FLEET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/bucket.h"
#include "handler/aws/elbv2.h"
#include "handler/sync/addr.h"
#include "handler/sync/config.h"
#include "handler/sync/proxy.h"
#include "handler/sync/reconcile.h"
#include "handler/sync/source.h"

#define FLEET_CALLS_PER_BINDING 4 /* what a sweep counts on before starting one more binding */

typedef enum fleet_source_kind { FLEET_SOURCE_DNS, FLEET_SOURCE_CLUSTER, FLEET_SOURCE_PROXY } fleet_source_kind;

/* One tagged target group. */
typedef struct fleet_binding {
    elb_target_group tg;
    uint32_t lbs; /* which load balancers list it (bit i: cfg->fleet_lbs[i]) */
    fleet_source_kind kind;
    char source[300]; /* the source tag as given */
    size_t name_at;   /* where in source the name starts: after "dns:", "cluster:", "proxy:" */
    char identifier[CONFIG_IDENTIFIER_MAX + 1]; /* whose events concern it (DB_IDENTIFIER's rule) */
    db_role role;
    int dry_run;
    int invalid;    /* its tags are invalid: a ConfigError binding, never touched */
    char *bad;      /* why (owned; NULL when valid, or when out of memory) */
    char **members; /* cluster: the instance ids last seen, for the index */
    size_t member_count;
    int members_known;
    proxy_misses misses; /* proxy: the counts as discovery read them (fresh in that invocation only) */
} fleet_binding;

/* The binding's name (a DNS name or a cluster id). The binding may move
 * (its list grows, is sorted), so this is computed, never kept. */
#define FLEET_NAME(b) ((b)->source + (b)->name_at)

/* Reads a group's rds-nlb-sync: tags into b (b->tg set before). A binding
 * whose tags are invalid gets b->bad. Returns 0, or -1 when the group has
 * no source tag (not a binding). */
int fleet_binding_from_tags(fleet_binding *b, const elb_tag_set *tags);
void fleet_binding_free(fleet_binding *b);

/* Which shard of S an ARN is in (FNV-1a of the ARN, mod S). */
unsigned fleet_shard_of(const char *arn, unsigned shards);

#endif
