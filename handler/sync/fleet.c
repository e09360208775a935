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
#define DISCOVERY_MAX_PAGES 100 /* 40,000 groups a load balancer, ten times an account's quota */
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
    int64_t built_ms;                              /* when discovery ran; 0: never */
    int64_t lb_read_ms[CONFIG_MAX_LOAD_BALANCERS]; /* when each load balancer was last read in full; 0: never */
    int unread;                                    /* the last discovery left groups unread: not kept */
    fleet_index idx;
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

/* A group of the load balancers, and which of them list it (bit i:
 * cfg->fleet_lbs[i]): a group on two load balancers is one binding. */
typedef struct found_group {
    elb_target_group tg;
    uint32_t lbs;
} found_group;

typedef struct found_list {
    found_group *items;
    size_t count;
} found_list;

/* What a discovery could not read: a load balancer's groups (lb), or the
 * tags of the groups first..first+n-1 of the found list. Once resolved
 * (keep_unread), what no kept binding covers: the result's "unread". */
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

static void discovery_error_free(discovery_error *e)
{
    for (size_t k = 0; k < e->arns.count; k++)
        free(e->arns.items[k]);
    free(e->arns.items);
    e->arns = (arn_list){NULL, 0};
}

static void discovery_errors_free(discovery_errors *l)
{
    for (size_t i = 0; i < l->count; i++)
        discovery_error_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static discovery_error *add_error(discovery_errors *l, const char *lb, uint32_t lbs, size_t first, size_t n)
{
    if (RNS_GROW_LIST(l, 1) != 0)
        return NULL;
    discovery_error *e = &l->items[l->count++];
    *e = (discovery_error){.lb = lb, .lbs = lbs, .first = first, .n = n};
    return e;
}

static int add_groups(found_list *all, const elb_target_group_list *page, uint32_t lb)
{
    for (size_t i = 0; i < page->count; i++) {
        found_group *seen = NULL;
        for (size_t j = 0; j < all->count && !seen; j++)
            if (strcmp(all->items[j].tg.arn, page->items[i].arn) == 0)
                seen = &all->items[j];
        if (seen) {
            seen->lbs |= lb;
            continue;
        }
        if (RNS_GROW_LIST(all, 1) != 0)
            return -1;
        all->items[all->count++] = (found_group){page->items[i], lb};
    }
    return 0;
}

static void api_failed(const char *action, const char *what, const elb_error *e, rns_error *err)
{
    char msg[900];
    reconcile_format_api_error(action, what, e, NULL, msg, sizeof msg);
    rns_error_set(err, e->deadline_cut ? RNS_ERR_TIMEOUT : RNS_ERR_ELB_API, "fleet discovery: %s", msg);
}

/* One load balancer's groups, page by page: 0, -1 with err (the API failed,
 * or its pages never end: the same Marker again, or more pages than any
 * account holds groups), -2 out of memory. */
static int read_lb(fleet *f, size_t i, int64_t deadline, found_list *all, rns_error *err)
{
    const char *lb = f->cfg->fleet_lbs[i];
    char marker[ELB_MARKER_MAX] = "", sent[ELB_MARKER_MAX];
    for (int pages = 0; pages < DISCOVERY_MAX_PAGES; pages++) {
        elb_target_group_list page;
        elb_error e;
        snprintf(sent, sizeof sent, "%s", marker);
        if (elb_describe_target_groups_page(f->workers[0].elb, lb, sent, DISCOVERY_PAGE_SIZE, deadline, &page, marker,
                                            sizeof marker, &e) != 0) {
            api_failed("DescribeTargetGroups", lb, &e, err);
            return -1;
        }
        int rc = add_groups(all, &page, (uint32_t)1 << i);
        elb_target_group_list_free(&page);
        if (rc != 0)
            return -2;
        if (!marker[0])
            return 0;
        if (strcmp(marker, sent) == 0)
            break;
    }
    rns_error_set(err, RNS_ERR_ELB_API,
                  "fleet discovery: DescribeTargetGroups of %s: its pages never end (the same Marker again, or "
                  "more than %d pages)",
                  lb, DISCOVERY_MAX_PAGES);
    return -1;
}

/* Every group of the load balancers, each once; a load balancer that
 * cannot be read is an error in errs, the others are read. 0, or -1 out of
 * memory. */
static int read_groups(fleet *f, int64_t deadline, found_list *all, discovery_errors *errs)
{
    for (size_t i = 0; i < f->cfg->fleet_lb_count; i++) {
        rns_error e;
        int rc = read_lb(f, i, deadline, all, &e);
        discovery_error *d = rc == -1 ? add_error(errs, f->cfg->fleet_lbs[i], (uint32_t)1 << i, 0, 0) : NULL;
        if (rc == -2 || (rc == -1 && !d))
            return -1;
        if (d) {
            d->err = e;
            log_msg(f->log, LOG_WARN, "%s", e.message);
        }
    }
    return 0;
}

static int by_arn(const void *a, const void *b)
{
    return strcmp(((const fleet_binding *)a)->tg.arn, ((const fleet_binding *)b)->tg.arn);
}

static int arn_is(const void *key, const void *b)
{
    return strcmp(key, ((const fleet_binding *)b)->tg.arn);
}

static fleet_binding *find_binding(const binding_list *l, size_t count, const char *arn)
{
    return count ? bsearch(arn, l->items, count, sizeof *l->items, arn_is) : NULL;
}

/* The bindings among one DescribeTags answer, each group once (an answer
 * that lists one twice makes one binding). */
static int take_tags(binding_list *bl, const found_group *groups, size_t n, const elb_tag_set_list *tags)
{
    char taken[ELB_MAX_ARNS_PER_DESCRIBE] = {0};
    for (size_t i = 0; i < tags->count; i++) {
        size_t j = 0;
        while (j < n && strcmp(groups[j].tg.arn, tags->items[i].arn) != 0)
            j++;
        if (j == n || taken[j])
            continue;
        taken[j] = 1;
        if (RNS_GROW_LIST(bl, 1) != 0)
            return -1;
        fleet_binding *b = &bl->items[bl->count];
        memset(b, 0, sizeof *b);
        b->tg = groups[j].tg;
        b->lbs = groups[j].lbs;
        if (fleet_binding_from_tags(b, &tags->items[i]) == 0) {
            fleet_cursor_read(b, &tags->items[i]);
            bl->count++;
        }
    }
    return 0;
}

/* The tags of every found group, 20 a call; a call that fails is an error
 * in errs (its groups resolved by keep_unread), the others are read. 0, or
 * -1 out of memory. */
static int read_tags(fleet *f, const found_list *all, int64_t deadline, binding_list *bl, discovery_errors *errs)
{
    const char *arns[ELB_MAX_ARNS_PER_DESCRIBE];
    for (size_t i = 0; i < all->count; i += ELB_MAX_ARNS_PER_DESCRIBE) {
        size_t n = all->count - i < ELB_MAX_ARNS_PER_DESCRIBE ? all->count - i : ELB_MAX_ARNS_PER_DESCRIBE;
        elb_tag_set_list tags;
        elb_error e;
        uint32_t lbs = 0;
        for (size_t j = 0; j < n; j++) {
            arns[j] = all->items[i + j].tg.arn;
            lbs |= all->items[i + j].lbs;
        }
        if (elb_describe_tags(f->workers[0].elb, arns, n, FLEET_TAG_PREFIX, deadline, &tags, &e) != 0) {
            discovery_error *d = add_error(errs, NULL, lbs, i, n);
            if (!d)
                return -1;
            api_failed("DescribeTags", arns[0], &e, &d->err);
            log_msg(f->log, LOG_WARN, "%s", d->err.message);
            continue;
        }
        int rc = take_tags(bl, all->items + i, n, &tags);
        elb_tag_set_list_free(&tags);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The bindings survive a rebuild by ARN: their cluster members (a proxy's
 * counts are the tags' own, read again). */
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

/* Whether every load balancer of lbs was read in full within the index's
 * age: what the kept index would still hold of them is allowed. */
static int read_lately(const fleet *f, uint32_t lbs, int64_t now)
{
    for (size_t i = 0; i < f->cfg->fleet_lb_count; i++)
        if ((lbs >> i & 1) && (!f->lb_read_ms[i] || now - f->lb_read_ms[i] > FLEET_INDEX_MAX_AGE_MS))
            return 0;
    return 1;
}

/* An old binding joins the fresh list for this run (its members and message
 * move with it; its proxy counts were read long ago: its run reads them
 * again; so was its sweep cursor, which may have moved since: dropped, so
 * that this run neither starts from it nor removes it); fresh->items[0..sorted)
 * are the ones read now. */
static int keep_old(binding_list *fresh, size_t sorted, fleet_binding *o)
{
    if (find_binding(fresh, sorted, o->tg.arn))
        return 0;
    for (size_t j = sorted; j < fresh->count; j++)
        if (strcmp(fresh->items[j].tg.arn, o->tg.arn) == 0)
            return 0;
    if (RNS_GROW_LIST(fresh, 1) != 0)
        return -1;
    fresh->items[fresh->count++] = *o;
    proxy_misses_free(&fresh->items[fresh->count - 1].misses);
    free(o->cursor);
    fresh->items[fresh->count - 1].cursor = NULL;
    o->members = NULL;
    o->member_count = 0;
    o->bad = NULL;
    o->cursor = NULL;
    memset(&o->misses, 0, sizeof o->misses);
    return 0;
}

static int found(const found_list *all, const char *arn)
{
    for (size_t i = 0; i < all->count; i++)
        if (strcmp(all->items[i].tg.arn, arn) == 0)
            return 1;
    return 0;
}

/* A load balancer read within the index's age keeps its bindings of the
 * last discovery for this run, but for the groups read now through another
 * (what they are now is known); otherwise the error stays. 1: kept. */
static int keep_lb(fleet *f, const discovery_error *d, const found_list *all, binding_list *fresh, size_t sorted,
                   int64_t now)
{
    size_t kept = 0;
    if (!read_lately(f, d->lbs, now))
        return 0;
    for (size_t i = 0; i < f->bl.count; i++) {
        if (!(f->bl.items[i].lbs & d->lbs) || found(all, f->bl.items[i].tg.arn))
            continue;
        if (keep_old(fresh, sorted, &f->bl.items[i]) != 0)
            return -1;
        kept++;
    }
    log_msg(f->log, LOG_WARN, "load balancer %s not read: its %zu bindings of the last discovery are kept", d->lb,
            kept);
    return 1;
}

/* Groups whose tags were not read: a group whose load balancers were read
 * within the index's age keeps its binding of then (or stays untouched, as
 * it was no binding then); the others are d's ARNs. 1: all kept. */
static int keep_tags(fleet *f, discovery_error *d, const found_list *all, binding_list *fresh, size_t sorted,
                     int64_t now)
{
    for (size_t k = d->first; k < d->first + d->n; k++) {
        const found_group *g = &all->items[k];
        if (read_lately(f, g->lbs, now)) {
            fleet_binding *o = find_binding(&f->bl, f->bl.count, g->tg.arn);
            if (o && keep_old(fresh, sorted, o) != 0)
                return -1;
            continue;
        }
        if (RNS_GROW_LIST(&d->arns, 1) != 0 || !(d->arns.items[d->arns.count] = strdup(g->tg.arn)))
            return -1;
        d->arns.count++;
    }
    if (!d->arns.count)
        log_msg(f->log, LOG_WARN,
                "the tags of %zu groups (from %s) not read: their bindings of the last discovery "
                "are kept",
                d->n, all->items[d->first].tg.arn);
    return d->arns.count == 0;
}

/* The errors of a discovery that the last one covers: their bindings of
 * then are kept for this run (CONTRACT.md section 14: an index may be kept
 * for FLEET_INDEX_MAX_AGE_MS) and the error goes; the others stay, and
 * their groups are not touched. 0, or -1 out of memory. */
static int keep_unread(fleet *f, const found_list *all, binding_list *fresh, discovery_errors *errs)
{
    int64_t now = rns_wall_ms();
    size_t sorted = fresh->count, left = 0;
    for (size_t i = 0; i < errs->count; i++) {
        discovery_error *d = &errs->items[i];
        int kept = d->lb ? keep_lb(f, d, all, fresh, sorted, now) : keep_tags(f, d, all, fresh, sorted, now);
        if (kept < 0)
            return -1;
        if (kept)
            discovery_error_free(d);
        else
            errs->items[left++] = *d;
    }
    errs->count = left;
    return 0;
}

/* Discovery: the bindings of every load balancer, then the index. What
 * could not be read is in errs (the others' bindings are read); -1 only out
 * of memory. */
static int discover(fleet *f, int64_t deadline, discovery_errors *errs, rns_error *err)
{
    found_list all = {NULL, 0};
    binding_list bl = {NULL, 0};
    uint32_t unread = 0;
    int rc = read_groups(f, deadline, &all, errs);
    if (rc == 0)
        rc = read_tags(f, &all, deadline, &bl, errs);
    if (rc == 0 && bl.count)
        qsort(bl.items, bl.count, sizeof *bl.items, by_arn);
    for (size_t i = 0; i < errs->count; i++)
        unread |= errs->items[i].lbs;
    if (rc == 0) {
        carry_over(f->bl.items, f->bl.count, bl.items, bl.count);
        rc = keep_unread(f, &all, &bl, errs);
    }
    if (rc != 0) {
        free_bindings(&bl); /* with the members carried over or kept: the index pointed at them */
        free(all.items);
        drop_index(f);
        rns_error_nomem(err, "discovering the bindings");
        return -1;
    }
    if (bl.count)
        qsort(bl.items, bl.count, sizeof *bl.items, by_arn);
    free_bindings(&f->bl);
    f->bl = bl;
    f->built_ms = rns_wall_ms();
    f->unread = errs->count > 0;
    for (size_t i = 0; i < f->cfg->fleet_lb_count; i++) {
        if (!(unread >> i & 1))
            f->lb_read_ms[i] = f->built_ms;
        else if (f->lb_read_ms[i] && f->lb_read_ms[i] < f->built_ms)
            f->built_ms = f->lb_read_ms[i]; /* the index is as old as what it kept */
    }
    json_t *fields = json_pack("{s:i, s:i, s:i, s:i}", "loadBalancers", (int)f->cfg->fleet_lb_count, "targetGroups",
                               (int)all.count, "bindings", (int)bl.count, "unread", (int)errs->count);
    log_fields(f->log, LOG_INFO, "fleet discovered", fields);
    json_decref(fields);
    free(all.items);
    if (build_index(f) != 0) {
        drop_index(f);
        rns_error_nomem(err, "building the index");
        return -1;
    }
    return 0;
}

/* A cluster binding's members follow the latest answer, none included: a
 * former member's events must stop reaching the cluster. The ids of
 * detail's "members" (absent when the cluster was not read: nothing is
 * learned). Out of memory, the old list stays. */
static void learn_members(fleet_binding *b, const json_t *detail)
{
    const json_t *members = json_object_get(detail, "members");
    size_t n = json_array_size(members), kept = 0;
    char **ids = n ? calloc(n, sizeof *ids) : NULL;
    if (!json_is_array(members) || (n && !ids))
        return;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_object_get(json_array_get(members, i), "id"));
        if (id && *id && !(ids[kept++] = strdup(id)))
            goto fail;
    }
    for (size_t i = 0; i < b->member_count; i++)
        free(b->members[i]);
    free(b->members);
    b->members = ids;
    b->member_count = kept;
    b->members_known = 1;
    return;
fail:
    for (size_t i = 0; i < kept; i++)
        free(ids[i]);
    free(ids);
}

/* One DescribeDBClusters: the detail learn_members reads, or NULL when the
 * cluster was not read (retried by the next event that needs it). A cluster
 * that is gone is an answer: it has no members. */
static json_t *lookup_members(fleet *f, const fleet_binding *b, int64_t deadline)
{
    rds_cluster c;
    aws_error e;
    if (rds_describe_cluster(f->workers[0].rds, FLEET_NAME(b), deadline, &c, &e) != 0) {
        log_msg(f->log, LOG_WARN, "members of cluster %s unknown: %s: %s", FLEET_NAME(b), e.code, e.message);
        return strcmp(e.code, "DBClusterNotFoundFault") == 0 ? json_pack("{s:[]}", "members") : NULL;
    }
    json_t *ids = json_array();
    for (size_t m = 0; ids && m < c.count; m++)
        if (json_array_append_new(ids, json_pack("{s:s}", "id", c.items[m].id)) != 0) {
            json_decref(ids);
            ids = NULL;
        }
    rds_cluster_free(&c);
    return ids ? json_pack("{s:o}", "members", ids) : NULL;
}

/* An event names an id the index does not know: the cluster bindings whose
 * members were never read learn them (one DescribeDBClusters each, once an
 * invocation; a failed one is tried again by the next). */
static void learn_unknown_members(fleet *f, int64_t deadline)
{
    int learned = 0;
    for (size_t i = 0; i < f->bl.count; i++) {
        fleet_binding *b = &f->bl.items[i];
        if (b->invalid || b->kind != FLEET_SOURCE_CLUSTER || b->members_known)
            continue;
        json_t *detail = lookup_members(f, b, deadline);
        if (detail) {
            learn_members(b, detail);
            learned = 1;
        }
        json_decref(detail);
    }
    if (learned && build_index(f) != 0) /* the old index points at the members' old strings */
        drop_index(f);
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
    int tags_read;  /* this invocation's discovery read the group's tags (a proxy's counts) */
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

/* ---- the workers ---- */

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
    if (!w->elb && !(w->elb = new_elb(f, why, sizeof why)))
        return rns_error_set(err, RNS_ERR_NO_MEMORY, "%s", why), -1;
    if (cluster && !w->rds && !(w->rds = new_rds(f, why, sizeof why)))
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
        .wait = wait_of(fb),
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
        learn_members(fb, r->rep.source_detail);
    if (!rns_error_failed(&r->err))
        fields = result_build(&r->b, j->ev, &r->rep);
    else
        log_failed(f, j, &r->err);
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
    calls_sent(f, &elb, &rds);
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
            learn_unknown_members(f, deadline);
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
    calls_sent(f, &elb0, &rds0);
    /* A named binding (database.yml's custom resource, a console test) is
     * often a group tagged moments ago: it is always looked up afresh. */
    int discovering = need_discovery(f, sweep);
    int rc = discovering ? discover(f, deadline, &unread, err) : 0;
    if (rc == 0 && select_jobs(f, &ev, root, &scope, deadline, &jobs) != 0) {
        rns_error_nomem(err, "choosing the bindings");
        rc = -1;
    }
    if (rc == 0) {
        long elb_now, rds_now;
        calls_sent(f, &elb_now, &rds_now);
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
        run_jobs(&s);
        pthread_mutex_destroy(&s.lock);
        if (build_index(f) != 0) /* the clusters' members may have changed (and their strings moved) */
            drop_index(f);
        int incomplete = capped && move_cursor(f, &jobs, &scope, save, deadline);
        *result = fleet_result(f, &ev, &jobs, &unread, incomplete, elb0, rds0, err);
        rc = rns_error_failed(err) ? -1 : 0;
        if (!*result && rc == 0) { /* the first error (FleetError) is kept */
            rns_error_nomem(err, "building the result");
            rc = -1;
        }
    }
    free_jobs(&jobs);
    discovery_errors_free(&unread);
    json_decref(root);
    event_info_free(&ev);
    return rc;
}
