/* Fleet mode (fleet.h): discovery, the index, which bindings a run takes,
 * the workers that reconcile them, and the fleet result. */
#include "handler/sync/fleet.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/grow.h"
#include "handler/aws/http.h"
#include "handler/aws/rds.h"
#include "handler/sync/binding.h"
#include "handler/sync/clients.h"
#include "handler/sync/cluster.h"
#include "handler/sync/dns.h"
#include "handler/sync/event.h"
#include "handler/sync/fleet_internal.h"
#include "handler/sync/result.h"

/* The function's own calls stay under the account's buckets (README.md,
 * "Fleet mode"): the documented ELBv2 Describe* bucket (40, 10/s) and the
 * RDS bucket (300, 12/s, less a margin) at their burst and 90 % of their
 * rate; at the full rate the two clocks drift and the service throttles
 * now and then. Target changes (AWS's own load balancer controller's
 * defaults, 20, 4/s) are what a storm's clients wait for, so they take the
 * full rate and one token less than the burst: a call is never more than
 * that token (250 ms) ahead of the bucket, whatever the drift. Other
 * callers sharing the buckets make it throttle too, which the standard
 * retry mode absorbs. */
#define PACE_DESCRIBE_BURST 40
#define PACE_DESCRIBE_RATE 9
#define PACE_CHANGE_BURST 19
#define PACE_CHANGE_RATE 4
/* A DeregisterTargets can wait (the new target is registered): it leaves
 * half the burst to the registrations of a storm, for at most 10 s. */
#define PACE_DEREGISTER_RESERVE (PACE_CHANGE_BURST / 2)
#define PACE_DEREGISTER_DEFER_MS 10000
#define PACE_RDS_BURST 100
#define PACE_RDS_RATE 10
#define DISCOVERY_PAGE_SIZE 400
#define RESERVE_MS 250
#define SWEEP_BINDING_MS 2000 /* the time a sweep keeps for one more binding before its deadline */
#define FLEET_SWEEP_WORKERS 4
#define FLEET_MMAP_THRESHOLD (64 * 1024)

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
    int64_t built_ms; /* when discovery ran; 0: never */
    fleet_index idx;
    size_t cursor; /* where the next sweep starts (a capped sweep's resume) */
    fleet_worker workers[FLEET_MAX_WORKERS];
    rns_bucket describe, change, rds;
};

/* ---- clients and pacing ---- */

static int pace_elb(void *ctx, const char *action, int64_t deadline_ms)
{
    fleet *f = ctx;
    if (strncmp(action, "Describe", 8) == 0)
        return rns_bucket_take(&f->describe, deadline_ms);
    if (strcmp(action, "DeregisterTargets") == 0)
        return rns_bucket_take_deferred(&f->change, PACE_DEREGISTER_RESERVE, PACE_DEREGISTER_DEFER_MS, deadline_ms);
    return rns_bucket_take(&f->change, deadline_ms);
}

static int pace_rds(void *ctx, const char *action, int64_t deadline_ms)
{
    (void)action;
    return rns_bucket_take(&((fleet *)ctx)->rds, deadline_ms);
}

static elb_client *new_elb(fleet *f, char *err, size_t errlen)
{
    elb_client *c = clients_new_elb(f->cfg, f->log, err, errlen);
    if (c)
        elb_client_set_pacer(c, pace_elb, f);
    return c;
}

static query_client *new_rds(fleet *f, char *err, size_t errlen)
{
    query_client *c = clients_new_rds(f->cfg, f->log, err, errlen);
    if (c)
        query_client_set_pacer(c, pace_rds, f);
    return c;
}

/* Worker 0's clients serve discovery too; every worker's are made at once
 * so that a bad configuration fails at start. */
fleet *fleet_new(const config *cfg, logger *log, char *err, size_t errlen)
{
    fleet *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->cfg = cfg;
    f->log = log;
    /* One malloc arena for every worker: glibc gives each thread its own
     * heap otherwise, and at 500 bindings the per-thread heaps cost more
     * than the bindings (README.md, "Performance", fleet mode's 16 MiB). */
    mallopt(M_ARENA_MAX, 1);
    /* Large blocks (answer pages, the job and binding lists, the result's
     * text) in their own mappings, given back when freed: glibc's moving
     * threshold keeps them in the heap once one was freed, where a copy
     * while growing or a freed hole stays resident. */
    mallopt(M_MMAP_THRESHOLD, FLEET_MMAP_THRESHOLD);
    rns_bucket_init(&f->describe, PACE_DESCRIBE_BURST, PACE_DESCRIBE_RATE);
    rns_bucket_init(&f->change, PACE_CHANGE_BURST, PACE_CHANGE_RATE);
    rns_bucket_init(&f->rds, PACE_RDS_BURST, PACE_RDS_RATE);
    if (!(f->workers[0].elb = new_elb(f, err, errlen)) || !(f->workers[0].rds = new_rds(f, err, errlen))) {
        fleet_free(f);
        return NULL;
    }
    return f;
}

static void free_bindings(binding_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        fleet_binding_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

void fleet_free(fleet *f)
{
    if (!f)
        return;
    free_bindings(&f->bl);
    free(f->idx.items);
    for (size_t i = 0; i < FLEET_MAX_WORKERS; i++) {
        elb_client_free(f->workers[i].elb);
        query_client_free(f->workers[i].rds);
        dns_resolver_free(f->workers[i].dns);
    }
    rns_bucket_destroy(&f->describe);
    rns_bucket_destroy(&f->change);
    rns_bucket_destroy(&f->rds);
    free(f);
}

/* Requests sent by every client so far (the result's apiCalls). */
static void calls_sent(const fleet *f, long *elb, long *rds)
{
    *elb = *rds = 0;
    for (size_t i = 0; i < FLEET_MAX_WORKERS; i++) {
        *elb += elb_requests_sent(f->workers[i].elb);
        *rds += query_requests_sent(f->workers[i].rds);
    }
}

/* ---- discovery ---- */

static int add_groups(elb_target_group_list *all, const elb_target_group_list *page)
{
    for (size_t i = 0; i < page->count; i++) {
        int seen = 0;
        for (size_t j = 0; j < all->count && !seen; j++)
            seen = strcmp(all->items[j].arn, page->items[i].arn) == 0;
        if (seen)
            continue;
        if (RNS_GROW_LIST(all, 1) != 0)
            return -1;
        all->items[all->count++] = page->items[i];
    }
    return 0;
}

static int discovery_failed(fleet *f, const char *action, const char *what, const elb_error *e, rns_error *err)
{
    char msg[900];
    reconcile_format_api_error(action, what, e, NULL, msg, sizeof msg);
    rns_error_set(err, e->deadline_cut ? RNS_ERR_TIMEOUT : RNS_ERR_ELB_API, "fleet discovery: %s", msg);
    log_msg(f->log, LOG_ERROR, "%s", err->message);
    return -1;
}

/* Every target group of the load balancers, each once. */
static int read_groups(fleet *f, int64_t deadline, elb_target_group_list *all, rns_error *err)
{
    elb_client *c = f->workers[0].elb;
    for (size_t i = 0; i < f->cfg->fleet_lb_count; i++) {
        char marker[ELB_MARKER_MAX] = "";
        do {
            elb_target_group_list page;
            elb_error e;
            if (elb_describe_target_groups_page(c, f->cfg->fleet_lbs[i], marker, DISCOVERY_PAGE_SIZE, deadline, &page,
                                                marker, sizeof marker, &e) != 0)
                return discovery_failed(f, "DescribeTargetGroups", f->cfg->fleet_lbs[i], &e, err);
            int rc = add_groups(all, &page);
            elb_target_group_list_free(&page);
            if (rc != 0) {
                rns_error_nomem(err, "reading the target groups");
                return -1;
            }
        } while (marker[0]);
    }
    return 0;
}

static int by_arn(const void *a, const void *b)
{
    return strcmp(((const fleet_binding *)a)->tg.arn, ((const fleet_binding *)b)->tg.arn);
}

/* The bindings among one DescribeTags answer. */
static int take_tags(binding_list *bl, const elb_target_group *groups, size_t n, const elb_tag_set_list *tags)
{
    for (size_t i = 0; i < tags->count; i++) {
        const elb_target_group *g = NULL;
        for (size_t j = 0; j < n && !g; j++)
            if (strcmp(groups[j].arn, tags->items[i].arn) == 0)
                g = &groups[j];
        if (!g)
            continue;
        if (RNS_GROW_LIST(bl, 1) != 0)
            return -1;
        fleet_binding *b = &bl->items[bl->count];
        memset(b, 0, sizeof *b);
        b->tg = *g;
        if (fleet_binding_from_tags(b, &tags->items[i]) == 0)
            bl->count++;
    }
    return 0;
}

static int read_tags(fleet *f, const elb_target_group_list *all, int64_t deadline, binding_list *bl, rns_error *err)
{
    const char *arns[ELB_MAX_ARNS_PER_DESCRIBE];
    for (size_t i = 0; i < all->count; i += ELB_MAX_ARNS_PER_DESCRIBE) {
        size_t n = all->count - i < ELB_MAX_ARNS_PER_DESCRIBE ? all->count - i : ELB_MAX_ARNS_PER_DESCRIBE;
        elb_tag_set_list tags;
        elb_error e;
        for (size_t j = 0; j < n; j++)
            arns[j] = all->items[i + j].arn;
        if (elb_describe_tags(f->workers[0].elb, arns, n, FLEET_TAG_PREFIX, deadline, &tags, &e) != 0)
            return discovery_failed(f, "DescribeTags", arns[0], &e, err);
        int rc = take_tags(bl, all->items + i, n, &tags);
        elb_tag_set_list_free(&tags);
        if (rc != 0) {
            rns_error_nomem(err, "reading the bindings");
            return -1;
        }
    }
    return 0;
}

/* The bindings survive a rebuild by ARN: their cluster members and counts. */
static void carry_over(fleet_binding *old, size_t old_count, fleet_binding *fresh, size_t fresh_count)
{
    for (size_t i = 0; old_count && i < fresh_count; i++) {
        fleet_binding *o = bsearch(&fresh[i], old, old_count, sizeof *old, by_arn);
        if (!o)
            continue;
        fresh[i].members = o->members;
        fresh[i].member_count = o->member_count;
        fresh[i].members_known = o->members_known;
        o->members = NULL;
        o->member_count = 0;
        if (o->misses.count && !fresh[i].misses.count) {
            fresh[i].misses = o->misses;
            memset(&o->misses, 0, sizeof o->misses);
        }
    }
}

static int by_id(const void *a, const void *b)
{
    return strcasecmp(((const index_entry *)a)->id, ((const index_entry *)b)->id);
}

static int index_add(fleet_index *x, const char *id, size_t at)
{
    if (RNS_GROW_LIST(x, 1) != 0)
        return -1;
    x->items[x->count++] = (index_entry){id, at};
    return 0;
}

/* The index of the bindings' identifiers and known cluster members. */
static int build_index(fleet *f)
{
    fleet_index x = {NULL, 0};
    for (size_t i = 0; i < f->bl.count; i++) {
        const fleet_binding *b = &f->bl.items[i];
        if (b->invalid)
            continue;
        if (index_add(&x, b->identifier, i) != 0)
            goto fail;
        for (size_t m = 0; m < b->member_count; m++)
            if (strcasecmp(b->members[m], b->identifier) != 0 && index_add(&x, b->members[m], i) != 0)
                goto fail;
    }
    if (x.count)
        qsort(x.items, x.count, sizeof *x.items, by_id);
    free(f->idx.items);
    f->idx = x;
    return 0;
fail:
    free(x.items);
    return -1;
}

/* After a failed build_index: the old index points into freed bindings, so
 * it goes, and the next run discovers again. */
static void drop_index(fleet *f)
{
    free(f->idx.items);
    f->idx = (fleet_index){NULL, 0};
    f->built_ms = 0;
}

/* Discovery: the bindings of every load balancer, then the index. */
static int discover(fleet *f, int64_t deadline, rns_error *err)
{
    elb_target_group_list all = {NULL, 0};
    binding_list bl = {NULL, 0};
    int rc = read_groups(f, deadline, &all, err);
    if (rc == 0)
        rc = read_tags(f, &all, deadline, &bl, err);
    if (rc != 0) {
        free_bindings(&bl);
        elb_target_group_list_free(&all);
        return -1;
    }
    if (bl.count)
        qsort(bl.items, bl.count, sizeof *bl.items, by_arn);
    carry_over(f->bl.items, f->bl.count, bl.items, bl.count);
    free_bindings(&f->bl);
    f->bl = bl;
    f->built_ms = rns_wall_ms();
    if (f->cursor >= bl.count)
        f->cursor = 0;
    json_t *fields = json_pack("{s:i, s:i, s:i}", "loadBalancers", (int)f->cfg->fleet_lb_count, "targetGroups",
                               (int)all.count, "bindings", (int)bl.count);
    log_fields(f->log, LOG_INFO, "fleet discovered", fields);
    json_decref(fields);
    elb_target_group_list_free(&all);
    if (build_index(f) != 0) {
        drop_index(f);
        rns_error_nomem(err, "building the index");
        return -1;
    }
    return 0;
}

/* The members of a cluster binding, from its discovery's answer detail. */
static void learn_members(fleet_binding *b, const json_t *detail)
{
    const json_t *members = json_object_get(detail, "members");
    size_t i, n = json_array_size(members);
    char **ids;
    if (!n || !(ids = calloc(n, sizeof *ids)))
        return;
    for (i = 0; i < n; i++) {
        const char *id = json_string_value(json_object_get(json_array_get(members, i), "id"));
        ids[i] = strdup(id ? id : "");
    }
    for (i = 0; i < b->member_count; i++)
        free(b->members[i]);
    free(b->members);
    b->members = ids;
    b->member_count = n;
    b->members_known = 1;
}

/* An event names an id the index does not know: the cluster bindings whose
 * members were never read learn them (one DescribeDBClusters each). */
static void learn_unknown_members(fleet *f, int64_t deadline)
{
    int learned = 0;
    for (size_t i = 0; i < f->bl.count; i++) {
        fleet_binding *b = &f->bl.items[i];
        rds_cluster c;
        aws_error e;
        if (b->invalid || b->kind != FLEET_SOURCE_CLUSTER || b->members_known)
            continue;
        b->members_known = 1; /* once, whatever the answer */
        if (rds_describe_cluster(f->workers[0].rds, FLEET_NAME(b), deadline, &c, &e) != 0) {
            log_msg(f->log, LOG_WARN, "members of cluster %s unknown: %s: %s", FLEET_NAME(b), e.code, e.message);
            continue;
        }
        json_t *detail = json_pack("{s:[]}", "members");
        for (size_t m = 0; m < c.count; m++)
            json_array_append_new(json_object_get(detail, "members"), json_pack("{s:s}", "id", c.items[m].id));
        learn_members(b, detail);
        json_decref(detail);
        rds_cluster_free(&c);
        learned = 1;
    }
    if (learned)
        build_index(f);
}

/* ---- which bindings a run takes ---- */

typedef struct job {
    fleet_binding *fb;
    const event_info *ev;
    json_t *out;           /* its object in the result ("error" when it failed); NULL: out of memory */
    rns_error_type failed; /* RNS_ERR_NONE when it succeeded */
    int failover;          /* the event starts the binding's failover wait */
    int dry_run;
    int started;
    int changed;    /* registered or deregistered a target (not in a dry run) */
    long api_calls; /* the ELBv2 calls of its run */
} job;

/* What one binding's run needs only while it runs, on its worker's stack:
 * a sweep keeps its 500 jobs to the end, and these would be 1.3 KB each
 * (README.md, "Fleet mode at scale", peak RSS). */
typedef struct job_run {
    binding b; /* as the run saw it, for the result */
    reconcile_report rep;
    rns_error err;
} job_run;

typedef struct job_list {
    job *items;
    size_t count;
} job_list;

static int add_job(job_list *l, fleet_binding *fb, int failover, int dry_run)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].fb == fb)
            return 0; /* an identifier and a member both matched */
    if (RNS_GROW_LIST(l, 1) != 0)
        return -1;
    memset(&l->items[l->count], 0, sizeof *l->items);
    l->items[l->count].fb = fb;
    l->items[l->count].failover = failover;
    l->items[l->count++].dry_run = dry_run || fb->dry_run;
    return 0;
}

static binding_wait wait_of(const fleet_binding *fb)
{
    if (fb->kind != FLEET_SOURCE_CLUSTER)
        return BINDING_WAIT_FAILOVER;
    return fb->role == DB_ROLE_READERS ? BINDING_WAIT_NEVER : BINDING_WAIT_CLUSTER_FAILOVER;
}

/* The bindings an RDS event concerns: its source by identifier or member. */
static int select_event(fleet *f, const event_info *ev, job_list *jobs)
{
    index_entry key = {ev->source_id, 0};
    index_entry *hit = f->idx.count ? bsearch(&key, f->idx.items, f->idx.count, sizeof key, by_id) : NULL;
    if (!hit)
        return 0;
    while (hit > f->idx.items && by_id(hit - 1, &key) == 0)
        hit--;
    for (; hit < f->idx.items + f->idx.count && by_id(hit, &key) == 0; hit++) {
        fleet_binding *fb = &f->bl.items[hit->binding];
        event_info mine = *ev;
        mine.ours = 1;
        mine.failover = event_is_failover_id(ev->event_id);
        binding probe = {.wait = wait_of(fb)};
        if (add_job(jobs, fb, binding_waits(&probe, &mine), f->cfg->dry_run) != 0)
            return -1;
    }
    return 0;
}

/* The binding a console event or a CloudFormation request names, or NULL. */
static const char *named_binding(const json_t *root)
{
    const char *named = json_string_value(json_object_get(root, "targetGroupArn"));
    return named ? named
                 : json_string_value(json_object_get(json_object_get(root, "ResourceProperties"), "TargetGroupArn"));
}

/* A sweep from the cursor, all of one shard, or the one named binding. */
static int select_sweep(fleet *f, const json_t *root, int dry_run, job_list *jobs)
{
    const char *named = named_binding(root);
    json_int_t shard = json_integer_value(json_object_get(root, "shard"));
    json_int_t shards = json_integer_value(json_object_get(root, "shards"));
    for (size_t k = 0; k < f->bl.count; k++) {
        fleet_binding *fb = &f->bl.items[(f->cursor + k) % f->bl.count];
        if (named && strcmp(named, fb->tg.arn) != 0)
            continue;
        if (!named && shards > 1 && fleet_shard_of(fb->tg.arn, (unsigned)shards) != (unsigned)shard)
            continue;
        if (add_job(jobs, fb, 0, dry_run || f->cfg->dry_run) != 0)
            return -1;
    }
    return 0;
}

/* ---- the workers ---- */

typedef struct run_state {
    fleet *f;
    job_list *jobs;
    const event_info *ev;
    int64_t deadline;
    int capped_sweep; /* a sweep: the cap applies */
    pthread_mutex_t lock;
    size_t next;    /* the next job to start */
    long used;      /* ELBv2 calls of the finished jobs (and discovery) */
    size_t running; /* jobs started, not finished */
    int stopped;    /* the cap was reached */
} run_state;

/* The next job, or NULL: none left, or the cap would be passed. */
static job *take_job(run_state *s)
{
    job *j = NULL;
    pthread_mutex_lock(&s->lock);
    long budget = s->f->cfg->fleet_max_calls;
    /* A sweep stops at the cap, or when too little time is left to start
     * one more binding: the next sweep goes on from there. */
    if (s->next < s->jobs->count && s->capped_sweep &&
        (s->used + (long)(s->running + 1) * FLEET_CALLS_PER_BINDING > budget ||
         rns_wall_ms() + SWEEP_BINDING_MS > s->deadline))
        s->stopped = 1;
    if (!s->stopped && s->next < s->jobs->count) {
        j = &s->jobs->items[s->next++];
        j->started = 1;
        s->running++;
    }
    pthread_mutex_unlock(&s->lock);
    return j;
}

static void job_done(run_state *s, const job *j)
{
    pthread_mutex_lock(&s->lock);
    s->used += j->api_calls;
    s->running--;
    pthread_mutex_unlock(&s->lock);
}

static int ready(fleet *f, fleet_worker *w, int cluster, rns_error *err)
{
    char why[256];
    if (!w->elb && !(w->elb = new_elb(f, why, sizeof why)))
        return rns_error_set(err, RNS_ERR_NO_MEMORY, "%s", why), -1;
    if (cluster && !w->rds && !(w->rds = new_rds(f, why, sizeof why)))
        return rns_error_set(err, RNS_ERR_NO_MEMORY, "%s", why), -1;
    if (!w->dns && !(w->dns = dns_resolver_new()))
        return rns_error_nomem(err, "starting a resolver"), -1;
    return 0;
}

/* proxy: the counts of the answer used, kept and written to the group's tag. */
static void commit_misses(fleet *f, fleet_worker *w, const job *j, job_run *r, proxy_source *ps, int64_t deadline)
{
    elb_tag t;
    elb_error e;
    if (rns_error_failed(&r->err) || j->dry_run || !proxy_misses_commit(&j->fb->misses, ps, &t))
        return;
    r->rep.api_calls++;
    if (elb_add_tags(w->elb, j->fb->tg.arn, &t, 1, deadline, &e) != 0)
        log_msg(f->log, LOG_WARN, "proxy miss counts of %s not saved: %s: %s", j->fb->tg.arn, e.code, e.message);
}

static void fill_binding(fleet *f, const job *j, job_run *r, addr_source src)
{
    const fleet_binding *fb = j->fb;
    r->b = (binding){
        .source = src,
        .target_group_arn = fb->tg.arn,
        .target_group_name = fb->tg.name,
        .endpoint = fb->kind == FLEET_SOURCE_CLUSTER ? NULL : FLEET_NAME(fb),
        .identifier = fb->identifier,
        .port = fb->tg.port,
        .allowed = &f->cfg->allowed,
        .failover_wait_seconds = f->cfg->failover_wait_seconds,
        .dns_poll_ms = f->cfg->dns_poll_ms,
        .dry_run = j->dry_run,
        .wait = wait_of(fb),
        .guard_races = 1,
        .log_target_group = 1,
    };
}

/* One binding's reconcile on a worker's own clients and resolver: its
 * result fields, or NULL with r->err. */
static json_t *reconcile_job(fleet *f, fleet_worker *w, job *j, job_run *r, int64_t deadline)
{
    fleet_binding *fb = j->fb;
    int cluster = fb->kind == FLEET_SOURCE_CLUSTER;
    json_t *fields = NULL;
    if (fb->invalid) {
        rns_error_set(&r->err, RNS_ERR_BINDING, "%s: %s", fb->tg.arn, fb->bad ? fb->bad : "invalid tags");
        return NULL;
    }
    if (ready(f, w, cluster, &r->err) != 0)
        return NULL;
    dns_source ds = {w->dns, FLEET_NAME(fb), config_address_family(f->cfg)};
    proxy_source ps = {dns_source_of(&ds), &fb->misses, {NULL, 0}, f->cfg->proxy_misses, fb->tg.port};
    cluster_settings set = {FLEET_NAME(fb), fb->role, config_address_family(f->cfg), NULL};
    cluster_discovery *cd = cluster ? cluster_discovery_new(&set, w->rds, w->dns, f->log) : NULL;
    if (cluster && !cd) {
        rns_error_nomem(&r->err, "starting the cluster discovery");
        return NULL;
    }
    fill_binding(f, j, r,
                 cd                               ? cluster_source(cd)
                 : fb->kind == FLEET_SOURCE_PROXY ? proxy_source_of(&ps)
                                                  : dns_source_of(&ds));
    reconcile_io io = reconcile_io_of_elb(w->elb);
    reconcile_request req = {&r->b, j->failover, j->dry_run, deadline, f->log};
    if (r->b.source.begin)
        r->b.source.begin(r->b.source.ctx);
    reconcile_run(&io, &req, &r->rep, &r->err);
    if (fb->kind == FLEET_SOURCE_PROXY)
        commit_misses(f, w, j, r, &ps, deadline);
    if (cluster && r->rep.source_detail)
        learn_members(fb, r->rep.source_detail);
    if (!rns_error_failed(&r->err))
        fields = result_build(&r->b, j->ev, &r->rep);
    /* Only the counts outlive the run: at 500 bindings the reports' lists
     * would be megabytes (README.md, "Fleet mode", memory). */
    j->changed = !j->dry_run && (r->rep.registered.count || r->rep.deregistered.count);
    j->api_calls = r->rep.api_calls;
    reconcile_report_free(&r->rep);
    fleet_miss_list_free(&ps.next);
    cluster_discovery_free(cd);
    return fields;
}

/* The binding's object in the result: its group, source and role, then its
 * result fields (taken) or its error. */
static json_t *binding_result(const fleet_binding *fb, json_t *fields, const rns_error *err)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "targetGroupArn", fb->tg.arn, "source", fb->source, "role",
                          db_role_name(fb->role));
    if (o && fields)
        json_object_update_missing(o, fields);
    else if (o)
        json_object_set_new(o, "error", result_error(err));
    json_decref(fields);
    return o;
}

/* A job keeps its binding's finished object in the result, not the run's
 * fields: one object a binding, not two, until the result is written. */
static void run_job(fleet *f, fleet_worker *w, job *j, int64_t deadline)
{
    job_run r;
    memset(&r, 0, sizeof r);
    json_t *fields = reconcile_job(f, w, j, &r, deadline);
    j->failed = r.err.type;
    j->out = binding_result(j->fb, fields, &r.err);
}

typedef struct worker_arg {
    run_state *s;
    fleet_worker *w;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *a = p;
    job *j;
    while ((j = take_job(a->s))) {
        j->ev = a->s->ev;
        run_job(a->s->f, a->w, j, a->s->deadline);
        job_done(a->s, j);
    }
    return NULL;
}

/* Every job on up to FLEET_MAX_WORKERS threads; the calling thread is one
 * of them (worker 0), so a run of one binding starts no thread. */
static void run_jobs(run_state *s)
{
    pthread_t threads[FLEET_MAX_WORKERS];
    worker_arg args[FLEET_MAX_WORKERS];
    size_t n = s->jobs->count < FLEET_MAX_WORKERS ? s->jobs->count : FLEET_MAX_WORKERS, started = 1;
    if (s->capped_sweep && n > FLEET_SWEEP_WORKERS)
        n = FLEET_SWEEP_WORKERS; /* a sweep waits for nothing: a few connections are enough */
    for (size_t i = 0; i < n; i++)
        args[i] = (worker_arg){s, &s->f->workers[i]};
    for (size_t i = 1; i < n; i++, started++)
        if (pthread_create(&threads[i], NULL, worker_main, &args[i]) != 0)
            break;
    if (n)
        worker_main(&args[0]);
    for (size_t i = 1; i < started; i++)
        pthread_join(threads[i], NULL);
}

/* ---- the result ---- */

static int by_result_arn(const void *a, const void *b)
{
    return strcmp(((const job *)a)->fb->tg.arn, ((const job *)b)->fb->tg.arn);
}

/* "FleetError: 2 of 5 bindings failed: <arn> (ResolveError), ..." */
static void fleet_error(const job_list *jobs, size_t failed, rns_error *err)
{
    char list[900] = "";
    size_t used = 0;
    for (size_t i = 0; i < jobs->count; i++) {
        const job *j = &jobs->items[i];
        if (!j->started || j->failed == RNS_ERR_NONE)
            continue;
        int n = snprintf(list + used, sizeof list - used, "%s%s (%s)", used ? ", " : "", j->fb->tg.arn,
                         rns_error_type_name(j->failed));
        if (n < 0 || (size_t)n >= sizeof list - used) {
            snprintf(list + (sizeof list > used + 4 ? used : sizeof list - 5), 5, " ...");
            break;
        }
        used += (size_t)n;
    }
    rns_error_set(err, RNS_ERR_FLEET, "%zu of %zu bindings failed: %s", failed, jobs->count, list);
}

static json_t *fleet_result(fleet *f, const event_info *ev, job_list *jobs, int incomplete, long elb0, long rds0,
                            rns_error *err)
{
    json_t *arr = json_array(), *o;
    size_t changed = 0, failed = 0, handled = 0;
    long elb, rds;
    if (jobs->count)
        qsort(jobs->items, jobs->count, sizeof *jobs->items, by_result_arn);
    for (size_t i = 0; i < jobs->count; i++) {
        job *j = &jobs->items[i];
        if (!j->started)
            continue;
        handled++;
        failed += j->failed != RNS_ERR_NONE;
        changed += (size_t)j->changed;
        json_array_append_new(arr, j->out); /* taken */
        j->out = NULL;
    }
    calls_sent(f, &elb, &rds);
    o = json_pack("{s:s, s:s, s:s?, s:s?, s:o, s:{s:i, s:i, s:i, s:{s:I, s:I}, s:b}}", "mode", "fleet", "trigger",
                  event_trigger_name(ev->trigger), "eventId", ev->event_id[0] ? ev->event_id : NULL, "sourceId",
                  ev->source_id[0] ? ev->source_id : NULL, "bindings", arr, "summary", "bindings", (int)handled,
                  "changed", (int)changed, "failed", (int)failed, "apiCalls", "elbv2", (json_int_t)(elb - elb0), "rds",
                  (json_int_t)(rds - rds0), "incomplete", incomplete);
    if (failed)
        fleet_error(jobs, failed, err);
    return o;
}

/* ---- one invocation ---- */

static int need_discovery(const fleet *f, int sweep)
{
    return sweep || !f->built_ms || rns_wall_ms() - f->built_ms > FLEET_INDEX_MAX_AGE_MS;
}

static int select_jobs(fleet *f, const event_info *ev, const json_t *root, int64_t deadline, job_list *jobs)
{
    if (ev->trigger == TRIGGER_RDS_EVENT && ev->source_id[0]) {
        if (select_event(f, ev, jobs) != 0)
            return -1;
        if (!jobs->count) {
            learn_unknown_members(f, deadline);
            return select_event(f, ev, jobs);
        }
        return 0;
    }
    if (ev->trigger == TRIGGER_RDS_EVENT)
        return 0; /* no source: concerns no binding */
    if (ev->trigger == TRIGGER_CLOUDFORMATION && ev->cfn.type == CFN_DELETE)
        return 0;
    return select_sweep(f, root, ev->dry_run, jobs);
}

/* After a sweep: the next one starts at the first binding this one did not start. */
static int move_cursor(fleet *f, const job_list *jobs, int sweep, int named)
{
    if (!sweep || named)
        return 0;
    for (size_t i = 0; i < jobs->count; i++) {
        if (!jobs->items[i].started) {
            f->cursor = (size_t)(jobs->items[i].fb - f->bl.items);
            return 1;
        }
    }
    f->cursor = 0;
    return 0;
}

static void free_jobs(job_list *jobs)
{
    for (size_t i = 0; i < jobs->count; i++)
        json_decref(jobs->items[i].out);
    free(jobs->items);
}

int fleet_invoke(fleet *f, const char *payload, size_t len, int64_t deadline_ms, json_t **result, rns_error *err)
{
    event_info ev;
    job_list jobs = {NULL, 0};
    char why[512];
    long elb0, rds0;
    *result = NULL;
    rns_error_clear(err);
    int parsed = event_parse(payload, len, NULL, &ev, why, sizeof why);
    if (parsed != 0) {
        rns_error_set(err, parsed == -2 ? RNS_ERR_NO_MEMORY : RNS_ERR_INVALID_EVENT, "%s", why);
        return -1;
    }
    json_t *root = json_loadb(payload, len, 0, NULL);
    int sweep = ev.trigger != TRIGGER_RDS_EVENT;
    int named = named_binding(root) != NULL;
    int64_t deadline = deadline_ms - RESERVE_MS;
    calls_sent(f, &elb0, &rds0);
    /* A named binding (database.yml's custom resource, a console test) is
     * often a group tagged moments ago: it is always looked up afresh. */
    int rc = need_discovery(f, sweep) ? discover(f, deadline, err) : 0;
    if (rc == 0 && select_jobs(f, &ev, root, deadline, &jobs) != 0) {
        rns_error_nomem(err, "choosing the bindings");
        rc = -1;
    }
    if (rc == 0) {
        long elb_now, rds_now;
        calls_sent(f, &elb_now, &rds_now);
        run_state s = {f, &jobs, &ev, deadline, sweep && !named, PTHREAD_MUTEX_INITIALIZER, 0, elb_now - elb0, 0, 0};
        run_jobs(&s);
        pthread_mutex_destroy(&s.lock);
        if (build_index(f) != 0) /* the clusters' members may have changed (and their strings moved) */
            drop_index(f);
        int incomplete = move_cursor(f, &jobs, sweep, named);
        *result = fleet_result(f, &ev, &jobs, incomplete, elb0, rds0, err);
        rc = rns_error_failed(err) ? -1 : 0;
        if (!*result && rc == 0) { /* the first error (FleetError) is kept */
            rns_error_nomem(err, "building the result");
            rc = -1;
        }
    }
    free_jobs(&jobs);
    json_decref(root);
    event_info_free(&ev);
    return rc;
}
