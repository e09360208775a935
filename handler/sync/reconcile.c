/* The reconcile (reconcile.h): describe, resolve (and wait), plan, register,
 * deregister. Every decision is one structured log line. */
#include "handler/sync/reconcile.h"
#include "handler/sync/reconcile_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/aws/query_error.h"
#include "handler/sync/plan.h"
#include "handler/sync/source.h"

#define LOOKUP_MIN_MS 200

typedef struct reconcile_answer answer;
typedef struct reconcile_run run;

long reconcile_margin_ms(long budget_ms)
{
    long m = budget_ms / 3;
    if (m > RECONCILE_MARGIN_MAX_MS)
        m = RECONCILE_MARGIN_MAX_MS;
    return m < 0 ? 0 : m;
}

static int64_t now(const run *r)
{
    return r->io->now_ms(r->io->ctx);
}

/* What the answers are of: DB_ENDPOINT, or the cluster and role. */
static const char *subject(const run *r)
{
    return r->b->source.subject;
}

static void answer_free(answer *a)
{
    addr_list_free(&a->resolved);
    addr_list_free(&a->allowed);
    addr_list_free(&a->rejected);
    json_decref(a->detail);
    a->detail = NULL;
}

/* ---- log helpers ---- */

static json_t *addr_array(const addr_list *l)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < l->count; i++) {
        char text[ADDR_TEXT_MAX];
        ip_addr_format(&l->items[i], text, sizeof text);
        json_array_append_new(arr, json_string(text));
    }
    return arr;
}

json_t *reconcile_target_array(const elb_target *t, size_t count, int with_state)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < count; i++) {
        char text[300];
        target_format(&t[i], text, sizeof text);
        if (with_state && t[i].state[0]) {
            char both[340];
            snprintf(both, sizeof both, "%s (%s)", text, t[i].state);
            json_array_append_new(arr, json_string(both));
        } else {
            json_array_append_new(arr, json_string(text));
        }
    }
    return arr;
}

void reconcile_log(run *r, log_level level, const char *message, json_t *fields)
{
    if (r->b->log_target_group && r->b->target_group_arn && json_is_object(fields) &&
        !json_object_get(fields, "targetGroupArn"))
        json_object_set_new(fields, "targetGroupArn", json_string(r->b->target_group_arn));
    log_fields(r->log, level, message, fields);
    json_decref(fields);
}

/* ---- errors ---- */

static const char *elb_hint(const elb_error *e)
{
    const char *code = e->code;
    if (strcmp(code, "TargetGroupNotFound") == 0)
        return "check TARGET_GROUP_ARN and the region";
    if (strcmp(code, "ListenerNotFound") == 0)
        return "check LISTENER_ARN and the region";
    if (strcmp(code, "InvalidTarget") == 0)
        return "an address outside the target group's VPC needs TARGET_AVAILABILITY_ZONE=all";
    if (strncmp(code, "AccessDenied", 12) == 0 || strcmp(code, "UnauthorizedOperation") == 0)
        return "the function's role needs elasticloadbalancing:DescribeTargetHealth, "
               "RegisterTargets and DeregisterTargets on the target group (with LISTENER_ARN: "
               "DescribeListeners, DescribeTargetGroups and DescribeTags, ModifyListener on the listener, "
               "and RegisterTargets, DeregisterTargets and AddTags on every slot)";
    if (strcmp(code, "InvalidClientTokenId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0 ||
        strcmp(code, "ExpiredToken") == 0 || strcmp(code, "UnrecognizedClientException") == 0)
        return "check the credentials";
    if (query_error_is_unanswered(e))
        return "is the ELBv2 endpoint reachable (NAT gateway or an elasticloadbalancing VPC endpoint)?";
    return NULL;
}

void reconcile_format_api_error(const char *action, const char *what, const aws_error *e, const char *hint, char *out,
                                size_t outlen)
{
    char status[48];
    if (e->http_status)
        snprintf(status, sizeof status, "HTTP %ld", e->http_status);
    else
        snprintf(status, sizeof status, "no response");
    snprintf(out, outlen, "%s failed%s%s: %s: %s (%s, request id %s, %d attempt%s)%s%s", action,
             what && *what ? " for " : "", what ? what : "", e->code[0] ? e->code : "Error",
             e->message[0] ? e->message : "no message", status, e->request_id[0] ? e->request_id : "none", e->attempts,
             e->attempts == 1 ? "" : "s", hint ? "; " : "", hint ? hint : "");
}

void reconcile_format_elb_error(const char *action, const elb_target *targets, size_t count, const elb_error *e,
                                char *out, size_t outlen)
{
    char what[256] = "";
    size_t used = 0, i;
    int cut = 0;
    for (i = 0; i < count && used + 60 < sizeof what; i++) {
        char t[300];
        target_format(&targets[i], t, sizeof t);
        int n = snprintf(what + used, sizeof what - used, "%s%s", i ? ", " : "", t);
        /* An Id from the answer may be long: never count past the buffer. */
        if (n < 0 || (size_t)n >= sizeof what - used) {
            used = sizeof what - 1;
            cut = 1;
        } else {
            used += (size_t)n;
        }
    }
    if (cut || i < count) {
        if (used > sizeof what - sizeof ", ...")
            used = sizeof what - sizeof ", ...";
        memcpy(what + used, ", ...", sizeof ", ...");
    }
    reconcile_format_api_error(action, what, e, elb_hint(e), out, outlen);
}

/* Whether the deadline cut the call short: it is (nearly) here, or the client
 * stopped retrying because the next attempt could not have started before it
 * (not because its attempts or its retry quota ran out). */
static int cut_by_deadline(run *r, const elb_error *e)
{
    return e->deadline_cut || now(r) >= r->deadline - RECONCILE_DEADLINE_SLACK_MS;
}

/* An ELBv2 failure: ElbApiError, or Timeout when the deadline cut it short. */
int reconcile_elb_failed(run *r, const char *action, const elb_target *t, size_t n, const elb_error *e,
                         const char *after)
{
    char msg[900];
    reconcile_format_elb_error(action, t, n, e, msg, sizeof msg);
    if (query_error_is_no_memory(e))
        rns_error_set(r->err, RNS_ERR_NO_MEMORY, "%s%s", msg, after);
    else if (cut_by_deadline(r, e))
        rns_error_set(r->err, RNS_ERR_TIMEOUT, "deadline reached before the target group converged: %s%s", msg, after);
    else
        rns_error_set(r->err, RNS_ERR_ELB_API, "%s%s", msg, after);
    json_t *f = json_pack("{s:s, s:s, s:s, s:I, s:i}", "action", action, "code", e->code, "requestId", e->request_id,
                          "httpStatus", (json_int_t)e->http_status, "attempts", e->attempts);
    reconcile_log(r, LOG_ERROR, "ELBv2 call failed", f);
    return -1;
}

/* ---- the target group ---- */

/* Why a registered target is "unused", for its warning (reference,
 * "Target health"). */
static const char *unused_hint(const char *reason)
{
    if (strcmp(reason, "Target.NotInUse") == 0)
        return "the load balancer has no subnet in the target's Availability Zone (or no listener forwards "
               "to the target group yet): it gets no traffic";
    if (strcmp(reason, "Target.InvalidState") == 0)
        return "the target is stopped or terminated";
    if (strcmp(reason, "Target.IpUnusable") == 0)
        return "the address is in use by a load balancer and cannot be a target";
    return "the load balancer does not route to it";
}

/* An "unused" target is still registered (rule 4) but takes no traffic: a
 * primary there is an outage the plan cannot see, so each one is named. */
static void warn_unused(run *r, const elb_target_list *l, const char *what)
{
    for (size_t i = 0; i < l->count; i++) {
        const elb_target *t = &l->items[i];
        char text[300];
        if (strcmp(t->state, "unused") != 0)
            continue;
        target_format(t, text, sizeof text);
        json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "target", text, "availabilityZone", t->az, "reason", t->reason,
                              "hint", unused_hint(t->reason));
        reconcile_log(r, LOG_WARN, what, f);
    }
}

int reconcile_describe(run *r, const char *arn, elb_target_list *out, const char *unused_warning)
{
    elb_error e;
    memset(&e, 0, sizeof e);
    r->rep->api_calls++;
    if (r->io->describe(r->io->ctx, arn, r->deadline, out, &e) != 0)
        return reconcile_elb_failed(r, "DescribeTargetHealth", NULL, 0, &e, "");
    target_list_sort(out);
    json_t *f = json_pack("{s:s, s:i, s:o}", "targetGroupArn", arn, "count", (int)out->count, "targets",
                          reconcile_target_array(out->items, out->count, 1));
    reconcile_log(r, LOG_INFO, "target group read", f);
    if (unused_warning)
        warn_unused(r, out, unused_warning);
    return 0;
}

/* ---- the address source ---- */

static int split_answer(const binding *b, answer *a)
{
    for (size_t i = 0; i < a->resolved.count; i++) {
        const ip_addr *ip = &a->resolved.items[i];
        addr_list *dst = cidr_list_contains(b->allowed, ip) ? &a->allowed : &a->rejected;
        if (addr_list_add(dst, ip) != 0)
            return -1;
    }
    return 0;
}

/* Takes the source's answer: its addresses, or its failure. */
static void take_answer(answer *a, int rc, source_answer *s)
{
    a->detail = s->detail;
    s->detail = NULL;
    a->ok = rc == 0 && source_answer_ok(s);
    if (a->ok) {
        a->resolved = s->addresses;
        memset(&s->addresses, 0, sizeof s->addresses);
        return;
    }
    a->status = s->status ? s->status : "ERROR";
    a->type = rns_error_failed(&s->error) ? s->error.type : RNS_ERR_RESOLVE;
    snprintf(a->error, sizeof a->error, "%.*s", (int)sizeof a->error - 1, s->error.message);
}

/* Asks the source once within timeout_ms; a->allowed non-empty means usable. */
static void resolve_once(run *r, long timeout_ms, answer *a)
{
    const addr_source *src = &r->b->source;
    source_query q = {timeout_ms, &r->current};
    source_answer s;
    memset(a, 0, sizeof *a);
    memset(&s, 0, sizeof s);
    take_answer(a, src->resolve(src->ctx, &q, &s), &s);
    source_answer_free(&s);
    if (!a->ok)
        return;
    if (split_answer(r->b, a) != 0) {
        a->ok = 0;
        a->status = "ERROR";
        a->no_memory = 1;
        snprintf(a->error, sizeof a->error, "%s: out of memory", subject(r));
        return;
    }
    if (a->allowed.count == 0) {
        char first[ADDR_TEXT_MAX];
        ip_addr_format(&a->rejected.items[0], first, sizeof first);
        snprintf(a->error, sizeof a->error, "%s: every address is outside ALLOWED_CIDRS (%s%s)", subject(r), first,
                 a->rejected.count > 1 ? ", ..." : "");
    }
}

static int usable(const answer *a)
{
    return a->ok && a->allowed.count > 0;
}

static void log_answer(run *r, const answer *a, log_level level)
{
    json_t *f;
    if (a->ok)
        f = json_pack("{s:s, s:o, s:o}", "host", subject(r), "addresses", addr_array(&a->resolved), "rejected",
                      addr_array(&a->rejected));
    else
        f = json_pack("{s:s, s:s, s:s}", "host", subject(r), "status", a->status, "error", a->error);
    reconcile_log(r, level, a->ok ? "resolved" : "resolution failed", f);
    if (a->ok && a->rejected.count > 0) {
        f = json_pack("{s:o, s:s}", "rejected", addr_array(&a->rejected), "reason", "outside ALLOWED_CIDRS");
        reconcile_log(r, LOG_WARN, "addresses rejected", f);
    }
}

/* How long one lookup may block before `limit`; 0 when no time is left. */
static long lookup_timeout(run *r, int64_t limit)
{
    int64_t t = limit - now(r);
    if (t > RECONCILE_LOOKUP_MAX_MS)
        t = RECONCILE_LOOKUP_MAX_MS;
    if (t < LOOKUP_MIN_MS) {
        int64_t left = r->deadline - now(r);
        t = left < LOOKUP_MIN_MS ? left : LOOKUP_MIN_MS;
    }
    return t > 0 ? (long)t : 0;
}

/* Whether this answer differs from the targets held when the run began. */
static int differs(run *r, const answer *a)
{
    target_plan p;
    if (plan_targets(&a->allowed, r->b->port, r->b->az, &r->current, &p) != 0)
        return 1; /* out of memory: stop waiting, the plan step reports it */
    int d = plan_has_changes(&p);
    target_plan_free(&p);
    return d;
}

/* Keeps `a` as the answer to use (takes its lists). */
static void keep_answer(run *r, answer *a)
{
    answer_free(&r->used);
    r->used = *a;
    memset(a, 0, sizeof *a);
}

/* The answer's failure as a word for logs: the source's, or REJECTED. */
static const char *answer_status(const answer *a)
{
    return a->ok && a->allowed.count == 0 ? "REJECTED" : a->status;
}

static int resolve_error(run *r, const answer *last, const char *during)
{
    if (last->no_memory) {
        rns_error_nomem(r->err, "splitting the DNS answer; nothing was changed");
        return -1;
    }
    const char *why = last->error[0] ? last->error : "no answer";
    size_t n = strlen(subject(r));
    if (!last->ok && last->type != RNS_ERR_RESOLVE) {
        rns_error_set(r->err, last->type, "%s; nothing was changed", why);
        return -1;
    }
    if (strncmp(why, subject(r), n) == 0 && strncmp(why + n, ": ", 2) == 0)
        why += n + 2; /* the host is named once */
    rns_error_set(r->err, RNS_ERR_RESOLVE, "no usable address for %s%s: %s; nothing was changed", subject(r), during,
                  why);
    return -1;
}

static int resolve_no_wait(run *r)
{
    answer a;
    long timeout = lookup_timeout(r, r->deadline - r->margin);
    if (timeout <= 0) {
        rns_error_set(r->err, RNS_ERR_TIMEOUT, "deadline reached before resolving %s; nothing was changed", subject(r));
        return -1;
    }
    resolve_once(r, timeout, &a);
    log_answer(r, &a, a.ok ? LOG_INFO : LOG_ERROR);
    if (!usable(&a)) {
        resolve_error(r, &a, "");
        keep_answer(r, &a); /* reported as resolved/rejected */
        return -1;
    }
    keep_answer(r, &a);
    return 0;
}

static void log_wait_start(run *r, int64_t wait_deadline)
{
    json_t *f = json_pack("{s:s, s:I, s:i}", "host", subject(r), "limitMs", (json_int_t)(wait_deadline - now(r)),
                          "pollMs", r->b->dns_poll_ms);
    reconcile_log(r, LOG_INFO, "waiting for DNS to change", f);
}

/* One poll of the wait; returns 1 when the wait is over (changed). */
static int poll_once(run *r, int64_t wait_deadline, int first, char *last_error, size_t last_len)
{
    answer a;
    resolve_once(r, lookup_timeout(r, wait_deadline), &a);
    if (first)
        log_answer(r, &a, a.ok ? LOG_INFO : LOG_WARN);
    if (!usable(&a)) {
        if (strcmp(last_error, a.error) != 0) {
            json_t *f = json_pack("{s:s, s:s}", "status", answer_status(&a), "error", a.error);
            reconcile_log(r, LOG_WARN, "resolution failed while waiting; still polling", f);
            snprintf(last_error, last_len, "%s", a.error);
        }
        if (!usable(&r->used))
            keep_answer(r, &a); /* remembered for the error message */
        answer_free(&a);
        return 0;
    }
    last_error[0] = '\0';
    int changed = differs(r, &a);
    keep_answer(r, &a);
    return changed;
}

/* The failover wait: poll every DNS_POLL_MS until the answer differs from the
 * targets held at the start, or the wait deadline passes. */
static int resolve_with_wait(run *r, int64_t wait_deadline)
{
    char last_error[SOURCE_ERROR_MAX] = "";
    int64_t wait_start = 0;
    r->rep->waited = 1;
    for (int first = 1;; first = 0) {
        int64_t poll_start = now(r);
        if (poll_once(r, wait_deadline, first, last_error, sizeof last_error)) {
            r->rep->dns_changed = 1;
            break;
        }
        if (first) {
            wait_start = now(r);
            log_wait_start(r, wait_deadline);
        }
        int64_t next = poll_start + r->b->dns_poll_ms;
        if (next >= wait_deadline)
            break;
        int64_t t = now(r);
        if (next > t)
            r->io->sleep_ms(r->io->ctx, (long)(next - t));
    }
    r->rep->waited_ms = wait_start ? (long)(now(r) - wait_start) : 0;
    json_t *f = json_pack("{s:b, s:I}", "dnsChanged", r->rep->dns_changed, "waitedMs", (json_int_t)r->rep->waited_ms);
    if (usable(&r->used))
        json_object_set_new(f, "addresses", addr_array(&r->used.allowed));
    reconcile_log(r, LOG_INFO, r->rep->dns_changed ? "DNS changed" : "DNS wait over without a change", f);
    if (!usable(&r->used))
        return resolve_error(r, &r->used, " during the failover wait");
    return 0;
}

int reconcile_resolve(run *r)
{
    int64_t t = now(r);
    int64_t wait_deadline = r->start + (int64_t)r->b->failover_wait_seconds * 1000;
    if (wait_deadline > r->deadline - r->margin)
        wait_deadline = r->deadline - r->margin;
    if (r->req->failover && r->b->failover_wait_seconds > 0 && wait_deadline > t)
        return resolve_with_wait(r, wait_deadline);
    if (r->req->failover && r->b->failover_wait_seconds > 0)
        log_msg(r->log, LOG_WARN, "no time left for a DNS wait before the deadline; reconciling once");
    return resolve_no_wait(r);
}

/* ---- changes ---- */

/* One batch of an apply. */
typedef struct batch_call {
    run *r;
    const char *arn;
    int deregister;
    elb_target_list *done;
    const char *after;
} batch_call;

static int apply_batch(void *ctx, const elb_target *t, size_t n)
{
    batch_call *k = ctx;
    run *r = k->r;
    const char *action = k->deregister ? "DeregisterTargets" : "RegisterTargets";
    elb_error e;
    memset(&e, 0, sizeof e);
    json_t *f = json_pack("{s:o}", "targets", reconcile_target_array(t, n, 0));
    reconcile_log(r, LOG_INFO, k->deregister ? "deregistering targets" : "registering targets", f);
    r->rep->api_calls++;
    if (r->io->change(r->io->ctx, k->arn, k->deregister, t, n, r->deadline, &e) != 0)
        return reconcile_elb_failed(r, action, t, n, &e, k->after);
    if (elb_target_list_append(k->done, t, n) != 0) {
        rns_error_set(r->err, RNS_ERR_NO_MEMORY, "out of memory after %s", action);
        return -1;
    }
    return 0;
}

/* Sends the list in batches; successes go to `done`. */
int reconcile_apply(run *r, const char *arn, int deregister, const elb_target_list *l, elb_target_list *done,
                    const char *after)
{
    batch_call k = {r, arn, deregister, done, after};
    return elb_for_each_batch(l->items, l->count, apply_batch, &k, NULL);
}

static void log_plan(run *r, const target_plan *p)
{
    json_t *f = json_pack("{s:o, s:o, s:o, s:b}", "register",
                          reconcile_target_array(p->to_register.items, p->to_register.count, 0), "deregister",
                          reconcile_target_array(p->to_deregister.items, p->to_deregister.count, 0), "unchanged",
                          reconcile_target_array(p->unchanged.items, p->unchanged.count, 0), "dryRun", r->req->dry_run);
    reconcile_log(r, LOG_INFO, r->req->dry_run ? "plan (dry run: nothing is changed)" : "plan", f);
}

/* Whether the fresh answer holds t (at the binding's port). */
static int answer_holds(const run *r, const answer *a, const elb_target *t)
{
    ip_addr ip;
    return t->port == r->b->port && ip_addr_parse(t->id, &ip) == 0 && addr_list_contains(&a->allowed, &ip);
}

static const elb_target *find_target(const elb_target_list *l, const elb_target *t)
{
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i].port == t->port && strcmp(l->items[i].id, t->id) == 0)
            return &l->items[i];
    return NULL;
}

/* Splits the stale targets (reconcile.h, "Races"): those still to
 * deregister stay in *stale, those a fresher answer or a recent
 * registration holds go to *kept; those already gone are dropped. */
static int guard_stale(run *r, elb_target_list *stale, elb_target_list *kept)
{
    elb_target_list fresh = {NULL, 0}, keep = {NULL, 0};
    elb_error e;
    answer a;
    size_t n = 0;
    memset(&e, 0, sizeof e);
    r->rep->api_calls++;
    if (r->io->describe(r->io->ctx, r->b->target_group_arn, r->deadline, &fresh, &e) != 0)
        return reconcile_elb_failed(r, "DescribeTargetHealth", NULL, 0, &e,
                                    "; the new targets are registered, nothing "
                                    "was deregistered");
    resolve_once(r, lookup_timeout(r, r->deadline), &a);
    for (size_t i = 0; i < stale->count; i++) {
        const elb_target *t = &stale->items[i];
        const elb_target *now_t = find_target(&fresh, t);
        if (!now_t || target_is_draining(now_t))
            continue;
        if (!usable(&a) || strcmp(now_t->state, "initial") == 0 || answer_holds(r, &a, t)) {
            if (elb_target_list_append(&keep, t, 1) == 0)
                continue;
            stale->count = 0; /* deregister nothing rather than part */
            elb_target_list_free(&keep);
            answer_free(&a);
            elb_target_list_free(&fresh);
            rns_error_nomem(r->err, "keeping the stale targets a fresher answer holds");
            return -1;
        }
        stale->items[n++] = *t;
    }
    stale->count = n;
    if (keep.count) {
        json_t *f = json_pack("{s:o, s:b}", "kept", reconcile_target_array(keep.items, keep.count, 0), "freshAnswer",
                              usable(&a));
        reconcile_log(r, LOG_WARN, "stale targets kept: a fresher answer or a recent registration holds them", f);
    }
    *kept = keep;
    answer_free(&a);
    elb_target_list_free(&fresh);
    return 0;
}

static int change(run *r)
{
    target_plan p;
    elb_target_list kept = {NULL, 0};
    reconcile_report *rep = r->rep;
    if (plan_targets(&r->used.allowed, r->b->port, r->b->az, &r->current, &p) != 0) {
        rns_error_nomem(r->err, "planning the change");
        return -1;
    }
    log_plan(r, &p);
    rep->unchanged = p.unchanged;
    p.unchanged = (elb_target_list){NULL, 0};
    int rc = 0;
    if (r->req->dry_run) {
        rep->registered = p.to_register;
        rep->deregistered = p.to_deregister;
        memset(&p, 0, sizeof p);
    } else if (reconcile_apply(r, r->b->target_group_arn, 0, &p.to_register, &rep->registered,
                               "; nothing was deregistered") != 0) {
        rc = -1;
    } else if (r->b->guard_races && p.to_deregister.count && guard_stale(r, &p.to_deregister, &kept) != 0) {
        rc = -1;
    } else if (reconcile_apply(r, r->b->target_group_arn, 1, &p.to_deregister, &rep->deregistered,
                               p.to_register.count ? "; the new targets are registered" : "") != 0) {
        rc = -1;
    }
    rep->converged = rc == 0 && kept.count == 0;
    if (kept.count && elb_target_list_append(&rep->unchanged, kept.items, kept.count) == 0)
        target_list_sort(&rep->unchanged);
    elb_target_list_free(&kept);
    target_plan_free(&p);
    return rc;
}

static void move_answer_to_report(run *r)
{
    r->rep->resolved = r->used.resolved;
    r->rep->rejected = r->used.rejected;
    memset(&r->used.resolved, 0, sizeof r->used.resolved);
    memset(&r->used.rejected, 0, sizeof r->used.rejected);
    r->rep->source_detail = r->used.detail;
    r->used.detail = NULL;
    answer_free(&r->used);
}

void reconcile_begin(run *r, const reconcile_io *io, const reconcile_request *req, reconcile_report *rep,
                     rns_error *err)
{
    memset(r, 0, sizeof *r);
    memset(rep, 0, sizeof *rep);
    r->io = io;
    r->req = req;
    r->b = req->binding;
    r->rep = rep;
    r->err = err;
    r->log = req->log;
    r->start = now(r);
    r->deadline = req->deadline_ms;
    r->margin = reconcile_margin_ms((long)(r->deadline - r->start));
    rep->dry_run = req->dry_run;
}

int reconcile_group(run *r)
{
    int rc =
        reconcile_describe(r, r->b->target_group_arn, &r->current, "registered target unused by the load balancer");
    if (rc == 0)
        rc = reconcile_resolve(r);
    if (rc == 0)
        rc = change(r);
    return rc;
}

void reconcile_end(run *r)
{
    move_answer_to_report(r);
    elb_target_list_free(&r->current);
    r->rep->duration_ms = (long)(now(r) - r->start);
}

void reconcile_report_free(reconcile_report *rep)
{
    addr_list_free(&rep->resolved);
    addr_list_free(&rep->rejected);
    elb_target_list_free(&rep->registered);
    elb_target_list_free(&rep->deregistered);
    elb_target_list_free(&rep->unchanged);
    json_decref(rep->source_detail);
    rep->source_detail = NULL;
    json_decref(rep->slots);
    rep->slots = NULL;
}
