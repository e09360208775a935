/* Private to fleet mode (fleet*.c) and its tests. */
#ifndef RNS_SYNC_FLEET_INTERNAL_H
#define RNS_SYNC_FLEET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/bucket.h"
#include "handler/aws/elbv2.h"
#include "handler/sync/addr.h"
#include "handler/sync/config.h"
#include "handler/sync/reconcile.h"
#include "handler/sync/source.h"

#define FLEET_MISSES_TAG FLEET_TAG_PREFIX "misses"
#define FLEET_CALLS_PER_BINDING 4 /* what a sweep counts on before starting one more binding */

typedef enum fleet_source_kind { FLEET_SOURCE_DNS,
                                 FLEET_SOURCE_CLUSTER,
                                 FLEET_SOURCE_PROXY } fleet_source_kind;

/* An address and the consecutive answers it has missed (proxy: bindings). */
typedef struct fleet_miss {
    ip_addr addr;
    int misses;
} fleet_miss;

typedef struct fleet_miss_list {
    fleet_miss *items;
    size_t count;
} fleet_miss_list;

/* One tagged target group. */
typedef struct fleet_binding {
    elb_target_group tg;
    fleet_source_kind kind;
    char source[300];     /* the source tag as given */
    size_t name_at;       /* where in source the name starts: after "dns:", "cluster:", "proxy:" */
    char identifier[256]; /* whose events concern it */
    db_role role;
    int dry_run;
    char bad[400];  /* invalid tags: the ConfigError message; "" when valid */
    char **members; /* cluster: the instance ids last seen, for the index */
    size_t member_count;
    int members_known;
    fleet_miss_list misses; /* proxy: counts kept between invocations */
} fleet_binding;

/* The binding's name (a DNS name or a cluster id). The binding may move
 * (its list grows, is sorted), so this is computed, never kept. */
#define FLEET_NAME(b) ((b)->source + (b)->name_at)

/* Reads a group's rds-nlb-sync: tags into b (b->tg set before). A binding
 * whose tags are invalid gets b->bad. Returns 0, or -1 when the group has
 * no source tag (not a binding). */
int fleet_binding_from_tags(fleet_binding *b, const elb_tag_set *tags);
void fleet_binding_free(fleet_binding *b);

/* "10.0.0.5=2,10.0.0.6=1" <-> the list; an unparsable item is skipped. */
void fleet_misses_parse(const char *text, fleet_miss_list *out);
int fleet_misses_format(const fleet_miss_list *l, char *out, size_t outlen);
void fleet_miss_list_free(fleet_miss_list *l);

/* The proxy source: a DNS name whose answers are combined with the targets
 * the group holds. A held address missing from the answer stays until it
 * has missed `limit` consecutive reconciles; `next` receives the counts of
 * the last answer (committed by the caller after the run). */
typedef struct proxy_source {
    addr_source dns; /* the DNS name's own source */
    const fleet_miss_list *prev;
    fleet_miss_list next;
    int limit;
    int port;
} proxy_source;

addr_source proxy_source_of(proxy_source *p);

/* Which shard of S an ARN is in (FNV-1a of the ARN, mod S). */
unsigned fleet_shard_of(const char *arn, unsigned shards);

#endif
