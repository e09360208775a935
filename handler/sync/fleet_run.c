/* Fleet mode's workers (fleet_internal.h): threads that take a run's jobs
 * in turn, each reconciling its binding on the worker's own clients and
 * resolver, and keeping only what the result needs. */
#include <pthread.h>
#include <string.h>

#include "common/clock.h"
#include "handler/sync/cluster.h"
#include "handler/sync/fleet.h"
#include "handler/sync/fleet_internal.h"
#include "handler/sync/result.h"

#define SWEEP_BINDING_MS 2000 /* the time a sweep keeps for one more binding before its deadline */
#define FLEET_SWEEP_WORKERS 4

/* What one binding's run needs only while it runs, on its worker's stack:
 * a sweep keeps its 500 jobs to the end, and these would be 1.3 KB each
 * (README.md, "Fleet mode at scale", peak RSS). */
typedef struct job_run {
    binding b; /* as the run saw it, for the result */
    reconcile_report rep;
    rns_error err;
} job_run;

binding_wait fleet_binding_wait(const fleet_binding *fb)
{
    if (fb->kind != FLEET_SOURCE_CLUSTER)
        return BINDING_WAIT_FAILOVER;
    return fb->role == DB_ROLE_READERS ? BINDING_WAIT_NEVER : BINDING_WAIT_CLUSTER_FAILOVER;
}

/* The next job, or NULL: none left, or the cap would be passed. */
static job *take_job(run_state *s)
{
    job *j = NULL;
    pthread_mutex_lock(&s->lock);
    long budget = s->f->cfg->fleet_max_calls;
    /* A sweep stops at the cap, or when too little time is left to start
     * one more binding: the next sweep goes on from there. */
    if (s->next < s->jobs->count && s->capped_sweep &&
        (s->used + s->reserve + (long)(s->running + 1) * FLEET_CALLS_PER_BINDING > budget ||
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
    if (!w->elb && !(w->elb = fleet_new_elb(f, why, sizeof why)))
        return rns_error_set(err, RNS_ERR_NO_MEMORY, "%s", why), -1;
    if (cluster && !w->rds && !(w->rds = fleet_new_rds(f, why, sizeof why)))
        return rns_error_set(err, RNS_ERR_NO_MEMORY, "%s", why), -1;
    if (!w->dns && !(w->dns = dns_resolver_new()))
        return rns_error_nomem(err, "starting a resolver"), -1;
    return 0;
}

/* proxy: the counts as the group's tags hold them now. Another container
 * may have written them since this one's discovery read them. */
static const proxy_misses *misses_of(fleet_worker *w, const job *j, int64_t deadline, proxy_misses *fresh,
                                     proxy_source *ps, int *calls)
{
    if (j->tags_read && j->fb->misses.known)
        return &j->fb->misses;
    ++*calls;
    proxy_misses_load(w->elb, j->fb->tg.arn, deadline, fresh, ps->why, sizeof ps->why);
    return fresh;
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
        .wait = fleet_binding_wait(fb),
        .guard_races = 1,
        .log_target_group = 1,
    };
}

/* A failed binding's why: the fleet's error names only its type, and the
 * message lives on the worker's stack (job_run) only while it runs. */
static void log_failed(fleet *f, const job *j, const rns_error *err)
{
    json_t *fields = json_pack("{s:s, s:s, s:s}", "targetGroupArn", j->fb->tg.arn, "errorType", rns_error_name(err),
                               "errorMessage", err->message);
    log_fields(f->log, LOG_ERROR, "binding failed", fields);
    json_decref(fields);
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
    proxy_misses fresh = {.known = 0};
    int read_calls = 0;
    proxy_source ps = {dns_source_of(&ds), NULL, {NULL, 0}, f->cfg->proxy_misses, fb->tg.port, 0, ""};
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
    if (fb->kind == FLEET_SOURCE_PROXY)
        ps.prev = misses_of(w, j, deadline, &fresh, &ps, &read_calls);
    reconcile_run(&io, &req, &r->rep, &r->err);
    r->rep.api_calls += read_calls;
    if (fb->kind == FLEET_SOURCE_PROXY)
        proxy_misses_finish(w->elb, fb->tg.arn, &ps, j->dry_run, deadline, f->log, &r->rep.api_calls, &r->err);
    if (cluster && r->rep.source_detail)
        j->members_moved = fleet_learn_members(fb, r->rep.source_detail);
    if (!rns_error_failed(&r->err))
        fields = result_build(&r->b, j->ev, &r->rep);
    /* Only the counts outlive the run: at 500 bindings the reports' lists
     * would be megabytes (README.md, "Fleet mode", memory). */
    j->changed = !j->dry_run && (r->rep.registered.count || r->rep.deregistered.count);
    j->api_calls = r->rep.api_calls;
    reconcile_report_free(&r->rep);
    proxy_misses_free(&fresh);
    proxy_misses_free(&fb->misses); /* read for this invocation only */
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
    if (rns_error_failed(&r.err)) /* invalid tags and clients not made too */
        log_failed(f, j, &r.err);
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
        j->tags_read = a->s->tags_read;
        run_job(a->s->f, a->w, j, a->s->deadline);
        job_done(a->s, j);
    }
    return NULL;
}

/* Every job on up to FLEET_MAX_WORKERS threads; the calling thread is one
 * of them (worker 0), so a run of one binding starts no thread. */
void fleet_run_jobs(run_state *s)
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
