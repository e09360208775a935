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

/* A capped sweep's resume point, kept in a tag on one bound group so that
 * it survives a cold start (README.md, "Fleet mode", "Capped sweeps"):
 * "shards=S at=<Unix ms> next=<target group ARN>". */
#define FLEET_CURSOR_TAG "rds-nlb-sync:sweep-next"

typedef struct fleet_cursor {
    unsigned shards;        /* the sweep's shard count: cursors of another count are not its own */
    int64_t at_ms;          /* when it was written: among several, the newest wins */
    char next[ELB_ARN_MAX]; /* where the next sweep starts (at the first ARN after it when gone) */
} fleet_cursor;

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
    proxy_misses misses;  /* proxy: the counts as discovery read them (fresh in that invocation only) */
    fleet_cursor *cursor; /* its FLEET_CURSOR_TAG, read (owned); NULL without one */
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

/* ---- the sweep's cursor (fleet_cursor.c) ---- */

/* What a sweep covers: shard `shard` of `shards` (shards 1, shard 0: the
 * whole fleet). */
typedef struct fleet_scope {
    unsigned shards;
    unsigned shard;
} fleet_scope;

int fleet_in_scope(const fleet_scope *s, const char *arn);

/* "shards=S at=MS next=ARN" <-> the cursor. parse: 0, or -1 when the text
 * is not one; format: 0, or -1 when it does not fit (a tag value: 256). */
int fleet_cursor_parse(const char *text, fleet_cursor *out);
int fleet_cursor_format(const fleet_cursor *c, char *out, size_t outlen);

/* b->cursor from the group's tags (after fleet_binding_from_tags). */
void fleet_cursor_read(fleet_binding *b, const elb_tag_set *tags);

/* Where a sweep of the scope starts in bl (n bindings sorted by ARN): the
 * newest of the scope's cursors names a binding, or the first after it
 * when it is gone; 0 without one. */
size_t fleet_cursor_start(const fleet_binding *bl, size_t n, const fleet_scope *s);

/* The ELBv2 calls fleet_cursor_move may make, kept out of the sweep's cap. */
long fleet_cursor_reserve(const fleet_binding *bl, size_t n, const fleet_scope *s);

/* The tag calls after a sweep: which group gets the cursor (none: the
 * sweep was complete) and which lose theirs. */
typedef struct fleet_cursor_plan {
    const fleet_binding *holder; /* NULL: nothing to write */
    elb_tag tag;
    const char **clear; /* ARNs whose cursor goes (owned array, borrowed strings) */
    size_t clear_count;
} fleet_cursor_plan;

/* next: the first binding the sweep did not start, NULL when it did all.
 * 0, or -1 when out of memory. */
int fleet_cursor_plan_of(const fleet_binding *bl, size_t n, const fleet_scope *s, const char *next, int64_t now_ms,
                         fleet_cursor_plan *out);
void fleet_cursor_plan_free(fleet_cursor_plan *p);

/* Carries the plan out with c (logged; a failure is a warning: the sweep's
 * bindings are done, and the old cursors stay as they were). */
void fleet_cursor_move(elb_client *c, logger *log, const fleet_cursor_plan *p, const fleet_scope *s,
                       int64_t deadline_ms);

#endif
