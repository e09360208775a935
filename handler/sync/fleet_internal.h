/* Private to fleet mode (fleet*.c) and its tests. */
#ifndef RNS_SYNC_FLEET_INTERNAL_H
#define RNS_SYNC_FLEET_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bucket.h"
#include "handler/aws/elbv2.h"
#include "handler/aws/query.h"
#include "handler/sync/addr.h"
#include "handler/sync/config.h"
#include "handler/sync/dns.h"
#include "handler/sync/event.h"
#include "handler/sync/fleet.h"
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

/* ---- the fleet, kept between invocations ---- */

/* Shared by its files: fleet.c makes and frees it, discovery
 * (fleet_discover.c) fills what the runs (fleet_invoke.c, fleet_run.c)
 * read: the bindings, the index, when each load balancer was read. */

/* A worker's own clients and resolver, kept between invocations. */
typedef struct fleet_worker {
    elb_client *elb;
    query_client *rds;
    dns_resolver *dns;
} fleet_worker;

typedef struct index_entry {
    const char *id; /* an identifier or a cluster member */
    size_t binding;
} index_entry;

typedef struct fleet_index {
    index_entry *items; /* sorted by id, case-insensitive */
    size_t count;
} fleet_index;

typedef struct binding_list {
    fleet_binding *items; /* sorted by ARN */
    size_t count;
} binding_list;

struct fleet {
    const config *cfg;
    logger *log;
    binding_list bl;
    int64_t built_ms;                              /* when discovery ran; 0: never */
    int64_t lb_read_ms[CONFIG_MAX_LOAD_BALANCERS]; /* when each load balancer was last read in full; 0: never */
    int unread;                                    /* the last discovery left groups unread: not kept */
    fleet_index idx;
    fleet_worker workers[FLEET_MAX_WORKERS];
    rns_bucket describe, change, rds;
};

/* ---- discovery (fleet_discover.c) ---- */

/* What a discovery could not read: a load balancer's groups (lb), or the
 * tags of the groups first..first+n-1 of the found list. Once resolved
 * (keep_unread), what no kept binding covers: the result's "unread" and
 * FleetError (fleet_invoke.c), hence here. */
typedef struct arn_list {
    char **items; /* owned */
    size_t count;
} arn_list;

typedef struct discovery_error {
    const char *lb; /* borrowed from the configuration; NULL: tags */
    uint32_t lbs;   /* the load balancers it leaves unread */
    size_t first, n;
    arn_list arns; /* tags: the groups no kept binding covers */
    rns_error err;
} discovery_error;

typedef struct discovery_errors {
    discovery_error *items;
    size_t count;
} discovery_errors;

void fleet_discovery_errors_free(discovery_errors *l);

/* Discovery: the bindings of every load balancer, then the index. What
 * could not be read is in errs (the others' bindings are read); -1 only out
 * of memory. */
int fleet_discover(fleet *f, int64_t deadline, discovery_errors *errs, rns_error *err);

/* The index of the bindings' identifiers and known cluster members: 0, or
 * -1 out of memory (the old one stays; fleet_index_drop it then, as it
 * points into the old bindings). Entries compare by fleet_index_by_id. */
int fleet_index_build(fleet *f);
void fleet_index_drop(fleet *f);
int fleet_index_by_id(const void *a, const void *b);

/* A cluster binding's members from a run's source detail ("members"). */
int fleet_learn_members(fleet_binding *b, const json_t *detail);
/* The members of the cluster bindings never read (an event named an id the
 * index does not know); the index is rebuilt when some were learned. */
void fleet_learn_unknown_members(fleet *f, int64_t deadline);

void fleet_bindings_free(binding_list *l);

/* ---- the clients (fleet.c) ---- */

/* A worker's clients, paced by the fleet's buckets: NULL with err. */
elb_client *fleet_new_elb(fleet *f, char *err, size_t errlen);
query_client *fleet_new_rds(fleet *f, char *err, size_t errlen);
/* Requests sent by every client so far (the result's apiCalls). */
void fleet_calls_sent(const fleet *f, long *elb, long *rds);

/* ---- a run's jobs ---- */

/* Here because fleet_invoke.c chooses them and reports them, and the
 * workers (fleet_run.c) run them; a job stays small (fleet_run.c, job_run). */

typedef struct job {
    fleet_binding *fb;
    const event_info *ev;
    json_t *out;           /* its object in the result ("error" when it failed); NULL: out of memory */
    rns_error_type failed; /* RNS_ERR_NONE when it succeeded */
    int failover;          /* the event starts the binding's failover wait */
    int dry_run;
    int started;
    int changed;       /* registered or deregistered a target (not in a dry run) */
    long api_calls;    /* the ELBv2 calls of its run */
    int tags_read;     /* this invocation's discovery read the group's tags (a proxy's counts) */
    int members_moved; /* its cluster's member list changed: the index must be built again */
} job;

typedef struct job_list {
    job *items;
    size_t count;
} job_list;

typedef struct run_state {
    fleet *f;
    job_list *jobs;
    const event_info *ev;
    int64_t deadline;
    int capped_sweep; /* a sweep: the cap applies */
    int tags_read;    /* discovery ran in this invocation */
    long reserve;     /* calls kept for the cursor's tags after the sweep */
    pthread_mutex_t lock;
    size_t next;    /* the next job to start */
    long used;      /* ELBv2 calls of the finished jobs (and discovery) */
    size_t running; /* jobs started, not finished */
    int stopped;    /* the cap was reached */
} run_state;

/* Every job on up to FLEET_MAX_WORKERS threads, the calling one included. */
void fleet_run_jobs(run_state *s);
/* Which of a binding's events start its wait (binding_waits). */
binding_wait fleet_binding_wait(const fleet_binding *fb);

#endif
