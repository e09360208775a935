/* Fleet mode's discovery (fleet_internal.h): the bindings of every load
 * balancer, what is kept of those that could not be read, the index of
 * identifiers and cluster members, and the members learned. It calls
 * nothing of the runs (fleet_invoke.c, fleet_run.c), which call it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/grow.h"
#include "handler/aws/rds.h"
#include "handler/sync/fleet.h"
#include "handler/sync/fleet_internal.h"
#include "handler/sync/reconcile.h"

#define DISCOVERY_PAGE_SIZE 400
#define DISCOVERY_MAX_PAGES 100 /* 40,000 groups a load balancer, ten times an account's quota */

void fleet_bindings_free(binding_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        fleet_binding_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

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

static void discovery_error_free(discovery_error *e)
{
    for (size_t k = 0; k < e->arns.count; k++)
        free(e->arns.items[k]);
    free(e->arns.items);
    e->arns = (arn_list){NULL, 0};
}

void fleet_discovery_errors_free(discovery_errors *l)
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
    if (page->count && RNS_GROW_LIST(all, page->count) != 0)
        return -1;
    for (size_t i = 0; i < page->count; i++)
        all->items[all->count++] = (found_group){page->items[i], lb};
    return 0;
}

static int by_found_arn(const void *a, const void *b)
{
    return strcmp(((const found_group *)a)->tg.arn, ((const found_group *)b)->tg.arn);
}

/* Sorted by ARN, each group once with every load balancer that lists it
 * (a sort, not a search of all that came before each: 3,000 groups). */
static void merge_found(found_list *all)
{
    size_t n = 0;
    if (all->count > 1)
        qsort(all->items, all->count, sizeof *all->items, by_found_arn);
    for (size_t i = 0; i < all->count; i++) {
        if (n && strcmp(all->items[n - 1].tg.arn, all->items[i].tg.arn) == 0)
            all->items[n - 1].lbs |= all->items[i].lbs;
        else
            all->items[n++] = all->items[i];
    }
    all->count = n;
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
    merge_found(all);
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

int fleet_index_by_id(const void *a, const void *b)
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
int fleet_index_build(fleet *f)
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
        qsort(x.items, x.count, sizeof *x.items, fleet_index_by_id);
    free(f->idx.items);
    f->idx = x;
    return 0;
fail:
    free(x.items);
    return -1;
}

/* After a failed fleet_index_build: the old index points into freed bindings, so
 * it goes, and the next run discovers again. */
void fleet_index_drop(fleet *f)
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
    found_group key;
    snprintf(key.tg.arn, sizeof key.tg.arn, "%s", arn);
    return all->count && bsearch(&key, all->items, all->count, sizeof *all->items, by_found_arn) != NULL;
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
int fleet_discover(fleet *f, int64_t deadline, discovery_errors *errs, rns_error *err)
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
        fleet_bindings_free(&bl); /* with the members carried over or kept: the index pointed at them */
        free(all.items);
        fleet_index_drop(f);
        rns_error_nomem(err, "discovering the bindings");
        return -1;
    }
    if (bl.count)
        qsort(bl.items, bl.count, sizeof *bl.items, by_arn);
    fleet_bindings_free(&f->bl);
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
    if (fleet_index_build(f) != 0) {
        fleet_index_drop(f);
        rns_error_nomem(err, "building the index");
        return -1;
    }
    return 0;
}

static int same_members(const fleet_binding *b, char **ids, size_t n)
{
    if (!b->members_known || b->member_count != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(b->members[i], ids[i]) != 0)
            return 0;
    return 1;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* A cluster binding's members follow the latest answer, none included: a
 * former member's events must stop reaching the cluster. The ids of
 * detail's "members" (absent when the cluster was not read: nothing is
 * learned). Out of memory, the old list stays. 1 when the list changed:
 * the index points at the old strings and must be built again (an answer
 * like the last keeps them, so a run whose members stayed rebuilds nothing). */
int fleet_learn_members(fleet_binding *b, const json_t *detail)
{
    const json_t *members = json_object_get(detail, "members");
    size_t n = json_array_size(members), kept = 0;
    char **ids = n ? calloc(n, sizeof *ids) : NULL;
    if (!json_is_array(members) || (n && !ids))
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_object_get(json_array_get(members, i), "id"));
        if (id && *id && !(ids[kept++] = strdup(id))) {
            free_ids(ids, kept);
            return 0;
        }
    }
    if (same_members(b, ids, kept)) {
        free_ids(ids, kept);
        return 0;
    }
    free_ids(b->members, b->member_count);
    b->members = ids;
    b->member_count = kept;
    b->members_known = 1;
    return 1;
}

/* One DescribeDBClusters: the detail fleet_learn_members reads, or NULL when the
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
void fleet_learn_unknown_members(fleet *f, int64_t deadline)
{
    int learned = 0;
    for (size_t i = 0; i < f->bl.count; i++) {
        fleet_binding *b = &f->bl.items[i];
        if (b->invalid || b->kind != FLEET_SOURCE_CLUSTER || b->members_known)
            continue;
        json_t *detail = lookup_members(f, b, deadline);
        if (detail)
            learned |= fleet_learn_members(b, detail);
        json_decref(detail);
    }
    if (learned && fleet_index_build(f) != 0) /* the old index points at the members' old strings */
        fleet_index_drop(f);
}
