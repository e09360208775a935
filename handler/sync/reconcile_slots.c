/* The fast switch's run (reconcile.h, CONTRACT.md section 13): read the
 * listener and check it, read every slot, resolve (the failover wait's
 * baseline is the weighted slot), plan (slots.h), then fill, move the
 * weight with one ModifyListener, release the demoted primary, refill the
 * standbys. Every decision is one log line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/sync/plan.h"
#include "handler/sync/reconcile_internal.h"
#include "handler/sync/slots.h"

typedef struct reconcile_run run;

#define SLOTS_GROUP_PAGES_MAX 20 /* DescribeTargetGroups pages read for the check (400 groups each) */

typedef struct slots_run {
    elb_listener listener;
    slot slots[SLOTS_MAX];
    size_t n;
    elb_target_list read[SLOTS_MAX];   /* each slot's targets as read (owned) */
    addr_list candidates;              /* the source's standbys, or the slots' memory; best first */
    long long candidate_at[SLOTS_MAX]; /* the memory's primary-at of each candidate (0: none) */
    int candidates_complete;           /* they are the source's whole choice (stale standbys are replaced) */
    slot_plan plan;
    int moved;               /* the weight has moved (or was right, or would in a dry run) */
    int refilled[SLOTS_MAX]; /* the slot's refill was registered */
} slots_run;

/* ---- the listener ---- */

static int listener_error(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int listener_error(run *r, const char *fmt, ...)
{
    va_list ap;
    rns_error_set(r->err, RNS_ERR_LISTENER, "LISTENER_ARN %s: ", r->b->listener_arn);
    size_t used = strlen(r->err->message);
    va_start(ap, fmt);
    vsnprintf(r->err->message + used, sizeof r->err->message - used, fmt, ap);
    va_end(ap);
    used = strlen(r->err->message);
    snprintf(r->err->message + used, sizeof r->err->message - used, "; nothing was changed");
    reconcile_log(r, LOG_ERROR, "listener unusable", json_pack("{s:s}", "error", r->err->message));
    return -1;
}

/* Rule 3: one forward default action to 2 or more target groups. */
static int check_listener(run *r, const elb_listener *l)
{
    if (l->listeners != 1 || strcmp(l->arn, r->b->listener_arn) != 0)
        return listener_error(r, "DescribeListeners did not answer for this listener");
    if (l->actions != 1)
        return listener_error(r, "%d default actions; the fast switch needs exactly one, a forward action", l->actions);
    if (strcmp(l->action_type, "forward") != 0)
        return listener_error(r, "the default action is of type \"%s\", not forward", l->action_type);
    if (l->group_count < 2)
        return listener_error(r, "the default action forwards to %zu target group(s); the slots need 2 or more",
                              l->group_count);
    for (size_t i = 0; i < l->group_count; i++)
        if (!l->groups[i].arn[0])
            return listener_error(r, "a target group of the forward action has no TargetGroupArn");
    return 0;
}

/* Marks the slots this page lists; a slot of another target type is an error. */
static int check_page(run *r, const slots_run *s, const elb_target_group_list *page, int *found)
{
    for (size_t i = 0; i < page->count; i++)
        for (size_t j = 0; j < s->listener.group_count; j++) {
            if (strcmp(page->items[i].arn, s->listener.groups[j].arn) != 0)
                continue;
            if (strcmp(page->items[i].target_type, "ip") != 0)
                return listener_error(r, "slot %zu (%s) is of target type %s; the slots must be of type ip", j + 1,
                                      page->items[i].arn, page->items[i].target_type);
            found[j] = 1;
        }
    return 0;
}

/* Rule 3: every slot is an ip group of the listener's load balancer
 * (DescribeTargetGroups by LoadBalancerArn, every page). */
static int check_groups(run *r, slots_run *s)
{
    char marker[ELB_MARKER_MAX] = "", next[ELB_MARKER_MAX];
    int found[SLOTS_MAX] = {0};
    for (int page = 0; page < SLOTS_GROUP_PAGES_MAX; page++) {
        elb_target_group_list l = {NULL, 0};
        elb_error e;
        memset(&e, 0, sizeof e);
        r->rep->api_calls++;
        if (r->io->describe_groups_page(r->io->ctx, s->listener.load_balancer_arn, marker, r->deadline, &l, next,
                                        sizeof next, &e) != 0)
            return reconcile_elb_failed(r, "DescribeTargetGroups", NULL, 0, &e, "; nothing was changed");
        int rc = check_page(r, s, &l, found);
        elb_target_group_list_free(&l);
        if (rc != 0)
            return -1;
        if (!next[0] || strcmp(next, marker) == 0)
            break;
        memcpy(marker, next, sizeof marker);
    }
    for (size_t j = 0; j < s->listener.group_count; j++)
        if (!found[j])
            return listener_error(r, "slot %zu (%s) is not a target group of the listener's load balancer %s", j + 1,
                                  s->listener.groups[j].arn, s->listener.load_balancer_arn);
    return 0;
}

static int read_listener(run *r, slots_run *s)
{
    elb_error e;
    memset(&e, 0, sizeof e);
    r->rep->api_calls++;
    if (r->io->describe_listener(r->io->ctx, r->b->listener_arn, r->deadline, &s->listener, &e) != 0)
        return reconcile_elb_failed(r, "DescribeListeners", NULL, 0, &e, "; nothing was changed");
    if (check_listener(r, &s->listener) != 0 || check_groups(r, s) != 0)
        return -1;
    json_t *groups = json_array();
    for (size_t i = 0; i < s->listener.group_count; i++)
        json_array_append_new(groups, json_pack("{s:s, s:i}", "targetGroupArn", s->listener.groups[i].arn, "weight",
                                                s->listener.groups[i].weight));
    reconcile_log(r, LOG_INFO, "listener read",
                  json_pack("{s:s, s:s, s:o}", "listenerArn", s->listener.arn, "loadBalancerArn",
                            s->listener.load_balancer_arn, "slots", groups));
    if (s->listener.stickiness > 0)
        log_msg(r->log, LOG_WARN,
                "the listener's target group stickiness is on: a client may keep "
                "choosing a slot after its weight went to 0 (reference: keep it off)");
    return 0;
}

/* ---- the slots ---- */

/* Reads each slot; the weighted slots' targets are the wait's baseline. */
static int read_slots(run *r, slots_run *s)
{
    s->n = s->listener.group_count;
    for (size_t i = 0; i < s->n; i++) {
        slot *sl = &s->slots[i];
        sl->arn = s->listener.groups[i].arn;
        sl->weight = s->listener.groups[i].weight;
        if (reconcile_describe(r, sl->arn, &s->read[i],
                               sl->weight > 0
                                   ? "registered target unused by the load balancer"
                                   : "standby slot not warm: its target is unused (not health-checked)") != 0)
            return -1;
        sl->targets = s->read[i];
        if (sl->weight > 0 && elb_target_list_append(&r->current, sl->targets.items, sl->targets.count) != 0) {
            rns_error_nomem(r->err, "reading the slots");
            return -1;
        }
    }
    target_list_sort(&r->current);
    return 0;
}

/* The fast switch follows one address: several allowed ones are a ResolveError. */
static int one_primary(run *r)
{
    if (r->used.allowed.count == 1)
        return 0;
    rns_error_set(r->err, RNS_ERR_RESOLVE,
                  "%s answered %zu allowed addresses; the fast switch follows one primary (an RDS Proxy or "
                  "several addresses keep TARGET_GROUP_ARN's single group); nothing was changed",
                  r->b->source.subject, r->used.allowed.count);
    return -1;
}

/* ---- the slots' memory (tags) ---- */

/* The memory's recent primaries, most recent first, as candidates. */
static int by_recent(const void *a, const void *b)
{
    const long long x = ((const long long *)a)[0], y = ((const long long *)b)[0];
    return (x < y) - (x > y);
}

static void take_memory(slots_run *s, const elb_tag_set_list *tags)
{
    long long found[SLOTS_MAX][2]; /* primary-at, index into tags */
    size_t n = 0;
    for (size_t i = 0; i < tags->count && n < SLOTS_MAX; i++) {
        const char *at = elb_tag_value(&tags->items[i], SLOTS_TAG_PRIMARY_AT);
        found[n][0] = at ? strtoll(at, NULL, 10) : 0;
        found[n++][1] = (long long)i;
    }
    qsort(found, n, sizeof found[0], by_recent);
    for (size_t k = 0; k < n; k++) {
        const char *text = elb_tag_value(&tags->items[found[k][1]], SLOTS_TAG_ADDRESS);
        ip_addr a;
        size_t before = s->candidates.count;
        if (text && ip_addr_parse(text, &a) == 0 && addr_list_add(&s->candidates, &a) == 0 &&
            s->candidates.count > before)
            s->candidate_at[before] = found[k][0];
    }
}

/* DNS mode's candidates: the addresses the slots remember, most recently
 * primary first. A failure only costs the refill: logged. */
static void read_memory(run *r, slots_run *s)
{
    const char *arns[SLOTS_MAX];
    elb_tag_set_list tags = {NULL, 0};
    elb_error e;
    memset(&e, 0, sizeof e);
    for (size_t i = 0; i < s->n; i++)
        arns[i] = s->slots[i].arn;
    r->rep->api_calls++;
    if (r->io->describe_tags(r->io->ctx, arns, s->n, r->deadline, &tags, &e) != 0) {
        reconcile_log(r, LOG_WARN, "slots' memory not read; the standbys keep what they hold",
                      json_pack("{s:s, s:s}", "code", e.code, "message", e.message));
        return;
    }
    take_memory(s, &tags);
    json_t *a = json_array();
    for (size_t i = 0; i < s->candidates.count; i++) {
        char text[ADDR_TEXT_MAX];
        ip_addr_format(&s->candidates.items[i], text, sizeof text);
        json_array_append_new(a, json_string(text));
    }
    reconcile_log(r, LOG_INFO, "slots' memory read", json_pack("{s:o}", "recentPrimaries", a));
    elb_tag_set_list_free(&tags);
}

/* Remembers in slot i's tags that it holds `a`, primary at `at` (0: never). */
static void remember(run *r, const slot *sl, const ip_addr *a, long long at)
{
    elb_tag tags[2];
    elb_error e;
    memset(tags, 0, sizeof tags);
    memset(&e, 0, sizeof e);
    snprintf(tags[0].key, sizeof tags[0].key, "%s", SLOTS_TAG_ADDRESS);
    ip_addr_format(a, tags[0].value, sizeof tags[0].value);
    snprintf(tags[1].key, sizeof tags[1].key, "%s", SLOTS_TAG_PRIMARY_AT);
    snprintf(tags[1].value, sizeof tags[1].value, "%lld", at);
    r->rep->api_calls++;
    if (r->io->add_tags(r->io->ctx, sl->arn, tags, 2, r->deadline, &e) != 0)
        reconcile_log(r, LOG_WARN, "slot's memory not written",
                      json_pack("{s:s, s:s, s:s}", "targetGroupArn", sl->arn, "code", e.code, "message", e.message));
}

/* Once the weight has moved, whatever failed after it: the weighted slot is
 * primary from now, a released one was until now (a slot the function did
 * not fill has no tag yet); refilled slots, those registered, keep their
 * candidate's time. A failed release or refill must not cost the memory of
 * the move, or the next failback would not find the demoted primary. */
static void write_memory(run *r, slots_run *s)
{
    const slot_plan *p = &s->plan;
    ip_addr desired = r->used.allowed.items[0], old;
    long long now_s = (long long)(r->io->now_ms(r->io->ctx) / 1000);
    if (r->req->dry_run || !s->moved)
        return;
    if (p->fill || p->weights_change)
        remember(r, &s->slots[p->target], &desired, now_s);
    for (size_t i = 0; i < s->n; i++) {
        const elb_target *t = slot_shown_target(&s->slots[i]);
        if (p->release[i] && t && ip_addr_parse(t->id, &old) == 0)
            remember(r, &s->slots[i], &old, now_s);
    }
    for (size_t i = 0; i < s->n; i++)
        if (p->refill[i] && s->refilled[i])
            remember(r, &s->slots[i], &s->candidates.items[p->refill[i] - 1], s->candidate_at[p->refill[i] - 1]);
}

/* A standby is registered like a primary: never outside ALLOWED_CIDRS (the
 * memory's tags can be edited by anyone with tag rights). Order is kept. */
static void keep_allowed(run *r, slots_run *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->candidates.count; i++) {
        char text[64];
        if (!cidr_list_contains(r->b->allowed, &s->candidates.items[i])) {
            ip_addr_format(&s->candidates.items[i], text, sizeof text);
            log_msg(r->log, LOG_WARN, "standby candidate %s is outside ALLOWED_CIDRS: not registered", text);
            continue;
        }
        if (i < SLOTS_MAX)
            s->candidate_at[n] = s->candidate_at[i];
        s->candidates.items[n++] = s->candidates.items[i];
    }
    s->candidates.count = n;
}

static void read_candidates(run *r, slots_run *s)
{
    const addr_source *src = &r->b->source;
    int64_t left = r->deadline - r->io->now_ms(r->io->ctx) - r->margin;
    if (!src->candidates)
        read_memory(r, s);
    else if (left > 0 && src->candidates(src->ctx, s->n - 1, (long)(left < 5000 ? left : 5000), &s->candidates) != 0)
        log_msg(r->log, LOG_WARN, "the standby candidates are incomplete; no standby is replaced this run");
    else if (left > 0)
        s->candidates_complete = 1;
    keep_allowed(r, s);
}

/* ---- the changes ---- */

static elb_target_list one(const elb_target *t)
{
    return (elb_target_list){(elb_target *)t, 1};
}

/* The slot's registered targets but `keep` (NULL: none; matched as an
 * address, whatever text DescribeTargetHealth gives it). 0, or -1 when out of memory. */
static int registered_of(const slot *sl, const elb_target *keep, elb_target_list *out)
{
    ip_addr k;
    int has_keep = keep && ip_addr_parse(keep->id, &k) == 0;
    for (size_t i = 0; i < sl->targets.count; i++) {
        const elb_target *t = &sl->targets.items[i];
        if (!target_is_registered(t) || (has_keep && target_is_addr(t, &k, keep->port)))
            continue;
        if (elb_target_list_append(out, t, 1) != 0)
            return -1;
    }
    return 0;
}

static void log_slot(run *r, const char *message, const slot *sl, size_t i, const elb_target *t, size_t n)
{
    reconcile_log(r, LOG_INFO, message,
                  json_pack("{s:i, s:s, s:o, s:b}", "slot", (int)i + 1, "targetGroupArn", sl->arn, "targets",
                            reconcile_target_array(t, n, 0), "dryRun", r->req->dry_run));
}

/* Registers (deregister 0) or deregisters in slot i; a dry run only reports. */
static int slot_change(run *r, slots_run *s, size_t i, int deregister, const elb_target_list *l, const char *message,
                       const char *after)
{
    reconcile_report *rep = r->rep;
    elb_target_list *done = deregister ? &rep->deregistered : &rep->registered;
    if (!l->count)
        return 0;
    log_slot(r, message, &s->slots[i], i, l->items, l->count);
    if (!r->req->dry_run)
        return reconcile_apply(r, s->slots[i].arn, deregister, l, done, after);
    if (elb_target_list_append(done, l->items, l->count) != 0) {
        rns_error_nomem(r->err, "reporting the plan");
        return -1;
    }
    return 0;
}

/* Deregisters the slot's registered targets but `keep` (NULL: none). */
static int slot_clear(run *r, slots_run *s, size_t i, const elb_target *keep, const char *message, const char *after)
{
    elb_target_list l = {NULL, 0};
    int rc = registered_of(&s->slots[i], keep, &l);
    if (rc != 0)
        rns_error_nomem(r->err, "planning the slots");
    else
        rc = slot_change(r, s, i, 1, &l, message, after);
    elb_target_list_free(&l);
    return rc;
}

static int fill(run *r, slots_run *s)
{
    const slot_plan *p = &s->plan;
    size_t t = (size_t)p->target;
    elb_target_list d = one(&p->desired);
    if (!p->fill)
        return 0;
    if (slot_change(r, s, t, 0, &d, "slot filled", "; the weight did not move") != 0)
        return -1;
    if (p->clear[t])
        /* the desired target may already be among them (a fill whose clear
         * failed last time): it stays, or the weight would move to a slot
         * whose only target drains */
        return slot_clear(r, s, t, &p->desired, "slot cleared for the new primary",
                          "; the new primary is registered, the weight did not move");
    return 0;
}

static int move_weight(run *r, slots_run *s)
{
    const slot_plan *p = &s->plan;
    json_t *from = json_array(), *to = json_array();
    for (size_t i = 0; i < s->n; i++) {
        json_array_append_new(from, json_integer(s->slots[i].weight));
        json_array_append_new(to, json_integer(p->weights[i]));
    }
    r->rep->weights_changed = p->weights_change;
    if (!p->weights_change) {
        json_decref(from);
        json_decref(to);
        s->moved = 1;
        return 0;
    }
    reconcile_log(r, LOG_INFO, "weight moved",
                  json_pack("{s:s, s:o, s:o, s:s, s:b}", "listenerArn", s->listener.arn, "from", from, "to", to,
                            "targetGroupArn", s->slots[p->target].arn, "dryRun", r->req->dry_run));
    if (r->req->dry_run) {
        s->moved = 1; /* the result shows the weights the run would leave, beside the targets it would place */
        return 0;
    }
    elb_error e;
    memset(&e, 0, sizeof e);
    r->rep->api_calls++;
    if (r->io->modify_listener(r->io->ctx, &s->listener, p->weights, r->deadline, &e) != 0) {
        r->rep->weights_changed = 0;
        return reconcile_elb_failed(r, "ModifyListener", NULL, 0, &e,
                                    p->fill ? "; the new primary is registered in its slot, the weight did not move"
                                            : "; the weight did not move");
    }
    s->moved = 1;
    return 0;
}

/* After the move: the demoted primary's slot is emptied (rule 2), then the
 * standby slots left empty are refilled. */
static int release_and_refill(run *r, slots_run *s)
{
    const slot_plan *p = &s->plan;
    for (size_t i = 0; i < s->n; i++)
        if (p->release[i] && slot_clear(r, s, i, NULL, "demoted target released", "; the weight has moved") != 0)
            return -1;
    for (size_t i = 0; i < s->n; i++) {
        if (!p->refill[i])
            continue;
        elb_target t = target_of(&s->candidates.items[p->refill[i] - 1], r->b->port, r->b->az);
        elb_target_list l = one(&t);
        if (slot_change(r, s, i, 0, &l, "slot filled", "; the weight has moved") != 0)
            return -1;
        s->refilled[i] = 1;
        if (p->replace[i] && slot_clear(r, s, i, NULL, "stale standby released", "; the weight has moved") != 0)
            return -1;
    }
    return 0;
}

/* unchanged: every registered target no change touches. */
static int report_unchanged(run *r, slots_run *s)
{
    const slot_plan *p = &s->plan;
    for (size_t i = 0; i < s->n; i++) {
        if (p->release[i] || p->clear[i] || p->replace[i])
            continue;
        for (size_t j = 0; j < s->slots[i].targets.count; j++) {
            const elb_target *t = &s->slots[i].targets.items[j];
            if (target_is_registered(t) && elb_target_list_append(&r->rep->unchanged, t, 1) != 0) {
                rns_error_nomem(r->err, "reporting the slots");
                return -1;
            }
        }
    }
    return 0;
}

/* ---- the result ---- */

/* The target a slot holds after the run: what was registered in it, else
 * what it held (draining when released or cleared). */
static json_t *slot_json(const run *r, const slots_run *s, size_t i)
{
    const slot_plan *p = &s->plan;
    const slot *sl = &s->slots[i];
    const elb_target *t = slot_shown_target(sl);
    elb_target made;
    const char *state = t ? t->state : NULL;
    int weight = s->moved ? p->weights[i] : sl->weight;
    if ((int)i == p->target && p->fill) {
        t = &p->desired;
        state = r->req->dry_run ? NULL : "initial";
    } else if (p->refill[i]) {
        made = target_of(&s->candidates.items[p->refill[i] - 1], r->b->port, r->b->az);
        t = &made;
        state = r->req->dry_run ? NULL : "initial";
    } else if (t && (p->release[i] || p->clear[i]) && !r->req->dry_run) {
        state = "draining";
    }
    char text[300];
    ip_addr a;
    const char *member = NULL;
    if (t)
        target_format(t, text, sizeof text);
    if (t && r->b->source.member_of && ip_addr_parse(t->id, &a) == 0)
        member = r->b->source.member_of(r->b->source.ctx, &a);
    json_t *o = json_pack("{s:s, s:s?, s:s?, s:i}", "targetGroupArn", sl->arn, "target", t ? text : NULL, "state",
                          state && *state ? state : NULL, "weight", weight < 0 ? 0 : weight);
    if (o && r->b->source.member_of)
        json_object_set_new(o, "member", member ? json_string(member) : json_null());
    return o;
}

static void report_slots(run *r, const slots_run *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(a, slot_json(r, s, i));
    json_decref(r->rep->slots);
    r->rep->slots = a;
}

static int make_plan(run *r, slots_run *s)
{
    char why[256];
    if (slots_plan(s->slots, s->n, &r->used.allowed.items[0], r->b->port, r->b->az, &s->candidates,
                   s->candidates_complete, &s->plan, why, sizeof why) != 0)
        return listener_error(r, "%s", why);
    return 0;
}

/* The failover path is as short as it can be: with a warm slot the weight
 * moves before the candidates are read (a DescribeTags or the readers'
 * lookups), as the slot, the weights and the release do not depend on them;
 * only a fill needs them first, to choose its slot. */
static int plan_and_apply(run *r, slots_run *s)
{
    if (one_primary(r) != 0 || make_plan(r, s) != 0)
        return -1;
    int have_candidates = s->plan.fill;
    if (have_candidates) {
        read_candidates(r, s);
        if (make_plan(r, s) != 0)
            return -1;
    }
    int rc = fill(r, s);
    if (rc == 0)
        rc = move_weight(r, s);
    if (rc == 0 && !have_candidates) {
        read_candidates(r, s);
        rc = make_plan(r, s);
    }
    if (rc == 0)
        rc = report_unchanged(r, s);
    if (rc == 0)
        rc = release_and_refill(r, s);
    write_memory(r, s);
    report_slots(r, s);
    return rc;
}

int reconcile_slots(run *r)
{
    slots_run *s = calloc(1, sizeof *s);
    if (!s) {
        rns_error_nomem(r->err, "starting the fast switch");
        return -1;
    }
    int rc = read_listener(r, s);
    if (rc == 0)
        rc = read_slots(r, s);
    if (rc == 0)
        rc = reconcile_resolve(r);
    if (rc == 0)
        rc = plan_and_apply(r, s);
    r->rep->converged = rc == 0;
    for (size_t i = 0; i < SLOTS_MAX; i++)
        elb_target_list_free(&s->read[i]);
    addr_list_free(&s->candidates);
    free(s);
    return rc;
}
