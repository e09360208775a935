/* One fleet invocation (fleet_invoke, fleet.h): discovery when due, the
 * bindings the event concerns, their run (fleet_run.c), the sweep's cursor
 * and the fleet result. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/grow.h"
#include "handler/sync/fleet.h"
#include "handler/sync/fleet_internal.h"
#include "handler/sync/result.h"

#define RESERVE_MS 250

/* ---- which bindings a run takes ---- */

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

/* The bindings an RDS event concerns: its source by identifier or member. */
static int select_event(fleet *f, const event_info *ev, job_list *jobs)
{
    index_entry key = {ev->source_id, 0};
    index_entry *hit = f->idx.count ? bsearch(&key, f->idx.items, f->idx.count, sizeof key, fleet_index_by_id) : NULL;
    if (!hit)
        return 0;
    while (hit > f->idx.items && fleet_index_by_id(hit - 1, &key) == 0)
        hit--;
    for (; hit < f->idx.items + f->idx.count && fleet_index_by_id(hit, &key) == 0; hit++) {
        fleet_binding *fb = &f->bl.items[hit->binding];
        event_info mine = *ev;
        mine.ours = 1;
        mine.failover = event_is_failover_id(ev->event_id);
        binding probe = {.wait = fleet_binding_wait(fb)};
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

/* What a sweep event covers: {"shard": K, "shards": S}, or the whole fleet. */
static fleet_scope scope_of(const json_t *root)
{
    json_int_t shard = json_integer_value(json_object_get(root, "shard"));
    json_int_t shards = json_integer_value(json_object_get(root, "shards"));
    if (shards <= 1)
        return (fleet_scope){1, 0};
    return (fleet_scope){(unsigned)shards, shard >= 0 && shard < shards ? (unsigned)shard : (unsigned)shards};
}

/* A sweep of the scope from its cursor (every binding once, in ARN order
 * from there, wrapping), or the one named binding. */
static int select_sweep(fleet *f, const json_t *root, const fleet_scope *scope, int dry_run, job_list *jobs)
{
    const char *named = named_binding(root);
    size_t start = named ? 0 : fleet_cursor_start(f->bl.items, f->bl.count, scope);
    for (size_t k = 0; k < f->bl.count; k++) {
        fleet_binding *fb = &f->bl.items[(start + k) % f->bl.count];
        if (named && strcmp(named, fb->tg.arn) != 0)
            continue;
        if (!named && !fleet_in_scope(scope, fb->tg.arn))
            continue;
        if (add_job(jobs, fb, 0, dry_run || f->cfg->dry_run) != 0)
            return -1;
    }
    return 0;
}

/* ---- the result ---- */

static int by_result_arn(const void *a, const void *b)
{
    return strcmp(((const job *)a)->fb->tg.arn, ((const job *)b)->fb->tg.arn);
}

/* Appends "<what> (<errorType>)" to a message list; 0, or -1 when full
 * (" ..." ends it then). */
static int list_add(char *list, size_t size, size_t *used, const char *what, const char *type)
{
    int n = snprintf(list + *used, size - *used, "%s%s (%s)", *used ? ", " : "", what, type);
    if (n < 0 || (size_t)n >= size - *used) {
        snprintf(list + (size > *used + 5 ? *used : size - 5), 5, " ...");
        *used = size - 1;
        return -1;
    }
    *used += (size_t)n;
    return 0;
}

/* "FleetError: not read: <lb> (ElbApiError); 2 of 5 bindings failed: <arn> (ResolveError), ..." */
static void fleet_error(const job_list *jobs, size_t failed, const discovery_errors *errs, rns_error *err)
{
    char unread[400] = "", list[600] = "";
    size_t used = 0;
    for (size_t i = 0; i < errs->count; i++) {
        const discovery_error *d = &errs->items[i];
        char what[300];
        snprintf(what, sizeof what, "%s%s", d->lb ? d->lb : "the tags of ", d->lb ? "" : d->arns.items[0]);
        if (list_add(unread, sizeof unread, &used, what, rns_error_name(&d->err)) != 0)
            break;
    }
    used = 0;
    for (size_t i = 0; i < jobs->count; i++) {
        const job *j = &jobs->items[i];
        if (j->started && j->failed != RNS_ERR_NONE &&
            list_add(list, sizeof list, &used, j->fb->tg.arn, rns_error_type_name(j->failed)) != 0)
            break;
    }
    if (!errs->count)
        rns_error_set(err, RNS_ERR_FLEET, "%zu of %zu bindings failed: %s", failed, jobs->count, list);
    else
        rns_error_set(err, RNS_ERR_FLEET, "not read: %s; %zu of %zu bindings failed%s%s", unread, failed, jobs->count,
                      failed ? ": " : "", list);
}

/* What a discovery could not read, for the result. */
static json_t *unread_result(const discovery_errors *errs)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < errs->count; i++) {
        const discovery_error *d = &errs->items[i];
        json_t *o = json_pack("{s:o}", "error", result_error(&d->err)), *arns = d->lb ? NULL : json_array();
        for (size_t k = 0; arns && k < d->arns.count; k++)
            json_array_append_new(arns, json_string(d->arns.items[k]));
        if (d->lb)
            json_object_set_new(o, "loadBalancerArn", json_string(d->lb));
        else
            json_object_set_new(o, "targetGroupArns", arns ? arns : json_null());
        json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *fleet_result(fleet *f, const event_info *ev, job_list *jobs, const discovery_errors *errs,
                            int incomplete, long elb0, long rds0, rns_error *err)
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
    fleet_calls_sent(f, &elb, &rds);
    o = json_pack("{s:s, s:s, s:s?, s:s?, s:o, s:o*, s:{s:i, s:i, s:i, s:{s:I, s:I}, s:b}}", "mode", "fleet", "trigger",
                  event_trigger_name(ev->trigger), "eventId", ev->event_id[0] ? ev->event_id : NULL, "sourceId",
                  ev->source_id[0] ? ev->source_id : NULL, "bindings", arr, "unread",
                  errs->count ? unread_result(errs) : NULL, "summary", "bindings", (int)handled, "changed",
                  (int)changed, "failed", (int)(failed + errs->count), "apiCalls", "elbv2", (json_int_t)(elb - elb0),
                  "rds", (json_int_t)(rds - rds0), "incomplete", incomplete);
    if (failed || errs->count)
        fleet_error(jobs, failed, errs, err);
    return o;
}

/* ---- one invocation ---- */

/* An index that misses groups it could not read is not kept: the next run
 * tries them again. */
static int need_discovery(const fleet *f, int sweep)
{
    return sweep || !f->built_ms || f->unread || rns_wall_ms() - f->built_ms > FLEET_INDEX_MAX_AGE_MS;
}

static int select_jobs(fleet *f, const event_info *ev, const json_t *root, const fleet_scope *scope, int64_t deadline,
                       job_list *jobs)
{
    if (ev->trigger == TRIGGER_RDS_EVENT && ev->source_id[0]) {
        if (select_event(f, ev, jobs) != 0)
            return -1;
        if (!jobs->count) {
            fleet_learn_unknown_members(f, deadline);
            return select_event(f, ev, jobs);
        }
        return 0;
    }
    if (ev->trigger == TRIGGER_RDS_EVENT)
        return 0; /* no source: concerns no binding */
    if (ev->trigger == TRIGGER_CLOUDFORMATION && ev->cfn.type == CFN_DELETE)
        return 0;
    return select_sweep(f, root, scope, ev->dry_run, jobs);
}

/* After a sweep: the next one starts at the first binding this one did not
 * start (jobs are started in order); saved in the cursor's tag unless the
 * sweep is a dry run or its discovery left groups unread: their bindings may
 * lie anywhere before that binding (an unread load balancer's groups are not
 * even known), so the cursors stay as they are and the next sweep repeats
 * bindings rather than pass one. Returns whether the sweep was incomplete. */
static int move_cursor(fleet *f, const job_list *jobs, const fleet_scope *scope, int save, int64_t deadline)
{
    const char *next = NULL;
    fleet_cursor_plan plan;
    for (size_t i = 0; i < jobs->count && !next; i++)
        if (!jobs->items[i].started)
            next = jobs->items[i].fb->tg.arn;
    if (!save)
        return next != NULL;
    if (fleet_cursor_plan_of(f->bl.items, f->bl.count, scope, next, rns_wall_ms(), &plan) == 0)
        fleet_cursor_move(f->workers[0].elb, f->log, &plan, scope, deadline);
    else
        log_msg(f->log, LOG_WARN, "sweep cursor not saved: out of memory");
    fleet_cursor_plan_free(&plan);
    return next != NULL;
}

/* Whether a cluster's member list changed in this run (its strings moved). */
static int members_moved(const job_list *jobs)
{
    for (size_t i = 0; i < jobs->count; i++)
        if (jobs->items[i].members_moved)
            return 1;
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
    discovery_errors unread = {NULL, 0};
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
    int capped = sweep && !named, save = capped && !ev.dry_run && !f->cfg->dry_run;
    fleet_scope scope = scope_of(root);
    int64_t deadline = deadline_ms - RESERVE_MS;
    fleet_calls_sent(f, &elb0, &rds0);
    /* A named binding (database.yml's custom resource, a console test) is
     * often a group tagged moments ago: it is always looked up afresh. */
    int discovering = need_discovery(f, sweep);
    int rc = discovering ? fleet_discover(f, deadline, &unread, err) : 0;
    if (rc == 0 && select_jobs(f, &ev, root, &scope, deadline, &jobs) != 0) {
        rns_error_nomem(err, "choosing the bindings");
        rc = -1;
    }
    if (rc == 0) {
        long elb_now, rds_now;
        fleet_calls_sent(f, &elb_now, &rds_now);
        /* A view that left groups unread moves no cursor (move_cursor). */
        save = save && unread.count == 0;
        run_state s = {.f = f,
                       .jobs = &jobs,
                       .ev = &ev,
                       .deadline = deadline,
                       .capped_sweep = capped,
                       .tags_read = discovering,
                       .reserve = save ? fleet_cursor_reserve(f->bl.items, f->bl.count, &scope) : 0,
                       .lock = PTHREAD_MUTEX_INITIALIZER,
                       .used = elb_now - elb0};
        fleet_run_jobs(&s);
        pthread_mutex_destroy(&s.lock);
        if (members_moved(&jobs) && fleet_index_build(f) != 0)
            fleet_index_drop(f);
        int incomplete = capped && move_cursor(f, &jobs, &scope, save, deadline);
        *result = fleet_result(f, &ev, &jobs, &unread, incomplete, elb0, rds0, err);
        rc = rns_error_failed(err) ? -1 : 0;
        if (!*result && rc == 0) { /* the first error (FleetError) is kept */
            rns_error_nomem(err, "building the result");
            rc = -1;
        }
    }
    free_jobs(&jobs);
    fleet_discovery_errors_free(&unread);
    json_decref(root);
    event_info_free(&ev);
    return rc;
}
