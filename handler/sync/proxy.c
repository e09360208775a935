/* The RDS Proxy source and its miss counts in the group's tags (proxy.h). */
#include "handler/sync/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "handler/sync/plan.h"
#include "handler/sync/reconcile.h"

#define ITEM_MAX (ADDR_TEXT_MAX + 8) /* "addr=NN" */

/* ---- the list ---- */

static int miss_add(fleet_miss_list *l, const ip_addr *a, int misses)
{
    if (RNS_GROW_LIST(l, 1) != 0)
        return -1;
    l->items[l->count].addr = *a;
    l->items[l->count++].misses = misses;
    return 0;
}

static int by_addr(const void *a, const void *b)
{
    return ip_addr_compare(&((const fleet_miss *)a)->addr, &((const fleet_miss *)b)->addr);
}

/* Sorted, each address once with its smaller count: two containers' tags
 * mixed (one wrote while another removed) count an address the least. */
static void sort_unique(fleet_miss_list *l)
{
    size_t kept = 0;
    if (l->count < 2)
        return;
    qsort(l->items, l->count, sizeof *l->items, by_addr);
    for (size_t i = 1; i < l->count; i++) {
        fleet_miss *last = &l->items[kept];
        if (ip_addr_compare(&last->addr, &l->items[i].addr) != 0)
            l->items[++kept] = l->items[i];
        else if (l->items[i].misses < last->misses)
            last->misses = l->items[i].misses;
    }
    l->count = kept + 1;
}

void fleet_miss_list_free(fleet_miss_list *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static int prev_misses(const fleet_miss_list *l, const ip_addr *a)
{
    fleet_miss key = {*a, 0};
    const fleet_miss *hit = l && l->count ? bsearch(&key, l->items, l->count, sizeof key, by_addr) : NULL;
    return hit ? hit->misses : 0;
}

/* ---- one tag value ---- */

/* "addr=N" with N in 1..PROXY_MISSES_COUNT_MAX: 0, or -1. */
static int parse_item(const char *s, size_t n, fleet_miss *out)
{
    char item[ITEM_MAX];
    if (n >= sizeof item)
        return -1;
    memcpy(item, s, n);
    item[n] = '\0';
    char *eq = strrchr(item, '='), *end;
    if (!eq)
        return -1;
    *eq = '\0';
    long misses = strtol(eq + 1, &end, 10);
    if (end == eq + 1 || *end || misses < 1 || misses > PROXY_MISSES_COUNT_MAX || ip_addr_parse(item, &out->addr) != 0)
        return -1;
    out->misses = (int)misses;
    return 0;
}

/* Appends one value's items to out; how many were unreadable. */
static size_t parse_into(const char *text, fleet_miss_list *out)
{
    size_t bad = 0;
    for (const char *s = text; s && *s;) {
        size_t n = strcspn(s, ", ");
        fleet_miss m;
        if (n && parse_item(s, n, &m) != 0)
            bad++;
        else if (n && miss_add(out, &m.addr, m.misses) != 0)
            return bad + 1; /* out of memory: the rest is unread */
        s += n + (s[n] != '\0');
    }
    return bad;
}

size_t fleet_misses_parse(const char *text, fleet_miss_list *out)
{
    memset(out, 0, sizeof *out);
    size_t bad = parse_into(text, out);
    sort_unique(out);
    return bad;
}

/* ---- the tags ---- */

static void key_of(int k, char *out, size_t outlen)
{
    if (k == 0)
        snprintf(out, outlen, "%s", FLEET_MISSES_TAG);
    else
        snprintf(out, outlen, "%s:%d", FLEET_MISSES_TAG, k + 1);
}

/* Which of the counts' tags a key is (0 ..), or -1: another key. */
static int key_index(const char *key)
{
    size_t n = strlen(FLEET_MISSES_TAG);
    if (strncmp(key, FLEET_MISSES_TAG, n) != 0)
        return -1;
    if (!key[n])
        return 0;
    if (key[n] != ':' || key[n + 1] < '1' || key[n + 1] > '9')
        return -1;
    char *end;
    long k = strtol(key + n + 1, &end, 10);
    return k >= 2 && k <= PROXY_MISSES_TAGS && !*end ? (int)k - 1 : -1;
}

void proxy_misses_from_tags(const elb_tag_set *tags, proxy_misses *out)
{
    size_t bad = 0;
    memset(out, 0, sizeof *out);
    out->known = 1;
    for (size_t i = 0; tags && i < tags->count; i++) {
        int k = key_index(tags->items[i].key);
        if (k < 0)
            continue;
        out->keys |= 1u << k;
        bad += parse_into(tags->items[i].value, &out->list);
    }
    sort_unique(&out->list);
    out->garbage = bad != 0;
}

int proxy_misses_load(elb_client *c, const char *arn, int64_t deadline_ms, proxy_misses *out, char *why, size_t whylen)
{
    elb_tag_set_list tags = {NULL, 0};
    elb_error e;
    const elb_tag_set *mine = NULL;
    if (elb_describe_tags(c, &arn, 1, FLEET_MISSES_TAG, deadline_ms, &tags, &e) != 0) {
        memset(out, 0, sizeof *out);
        reconcile_format_api_error("DescribeTags", arn, &e, NULL, why, whylen);
        return -1;
    }
    for (size_t i = 0; i < tags.count && !mine; i++)
        if (strcmp(tags.items[i].arn, arn) == 0)
            mine = &tags.items[i];
    proxy_misses_from_tags(mine, out);
    elb_tag_set_list_free(&tags);
    return 0;
}

int proxy_misses_to_tags(const fleet_miss_list *l, elb_tag tags[PROXY_MISSES_TAGS])
{
    int k = 0;
    size_t used = 0;
    memset(&tags[0], 0, sizeof tags[0]);
    key_of(0, tags[0].key, sizeof tags[0].key);
    for (size_t i = 0; i < l->count; i++) {
        char a[ADDR_TEXT_MAX], item[ITEM_MAX];
        ip_addr_format(&l->items[i].addr, a, sizeof a);
        size_t n = (size_t)snprintf(item, sizeof item, "%s=%d", a, l->items[i].misses);
        if (used && used + 1 + n >= sizeof tags[k].value) { /* the next tag */
            if (++k == PROXY_MISSES_TAGS)
                return -1;
            memset(&tags[k], 0, sizeof tags[k]);
            key_of(k, tags[k].key, sizeof tags[k].key);
            used = 0;
        }
        used += (size_t)snprintf(tags[k].value + used, sizeof tags[k].value - used, "%s%s", used ? " " : "", item);
    }
    return k + 1;
}

void proxy_misses_free(proxy_misses *m)
{
    fleet_miss_list_free(&m->list);
    memset(m, 0, sizeof *m);
}

/* ---- the proxy source ---- */

/* The held targets missing from the answer, counted into p->next. */
static int count_held(proxy_source *p, const elb_target_list *current, const addr_list *answer)
{
    for (size_t i = 0; current && i < current->count; i++) {
        const elb_target *t = &current->items[i];
        ip_addr a;
        if (t->port != p->port || target_is_draining(t) || ip_addr_parse(t->id, &a) != 0 ||
            addr_list_contains(answer, &a))
            continue;
        if (miss_add(&p->next, &a, prev_misses(p->prev ? &p->prev->list : NULL, &a) + 1) != 0)
            return -1;
    }
    sort_unique(&p->next);
    return 0;
}

/* The counted addresses that stay: all of them when the counts are unknown
 * or cannot be stored, else those below the limit. The others are left
 * out, so the plan deregisters them, and their counts end. */
static int add_kept(proxy_source *p, addr_list *answer)
{
    elb_tag tags[PROXY_MISSES_TAGS];
    size_t stay = 0, all = p->next.count;
    for (size_t i = 0; i < all; i++) { /* the staying ones first, in order */
        if (p->next.items[i].misses < p->limit) {
            fleet_miss m = p->next.items[stay];
            p->next.items[stay++] = p->next.items[i];
            p->next.items[i] = m;
        }
    }
    p->next.count = stay;
    int known = p->prev && p->prev->known;
    p->unstored = known && proxy_misses_to_tags(&p->next, tags) < 0 ? stay : 0;
    size_t kept = known && !p->unstored ? stay : all;
    for (size_t i = 0; i < kept; i++)
        if (addr_list_add(answer, &p->next.items[i].addr) != 0)
            return -1;
    addr_list_sort(answer);
    return 0;
}

static int proxy_resolve(void *ctx, const source_query *q, source_answer *out)
{
    proxy_source *p = ctx;
    if (p->dns.resolve(p->dns.ctx, q, out) != 0)
        return -1; /* no answer: nothing counted, nothing leaves */
    fleet_miss_list_free(&p->next);
    if (count_held(p, q->current, &out->addresses) != 0 || add_kept(p, &out->addresses) != 0) {
        rns_error_nomem(&out->error, "counting the proxy's missing addresses");
        addr_list_free(&out->addresses);
        return -1;
    }
    return 0;
}

addr_source proxy_source_of(proxy_source *p)
{
    return (addr_source){.ctx = p, .subject = p->dns.subject, .resolve = proxy_resolve};
}

/* ---- after the run ---- */

/* Whether the tags already say what now says (n tags). */
static int unchanged(const proxy_misses *prev, const elb_tag *now, int n)
{
    elb_tag before[PROXY_MISSES_TAGS];
    unsigned want = (1u << n) - 1;
    if (prev->garbage || proxy_misses_to_tags(&prev->list, before) != n || (prev->keys & ~want) ||
        (now[0].value[0] && prev->keys != want))
        return 0;
    for (int k = 0; k < n; k++)
        if (strcmp(before[k].value, now[k].value) != 0)
            return 0;
    return 1;
}

static void write_failed(const char *action, const char *arn, const elb_error *e, rns_error *err)
{
    char msg[900];
    reconcile_format_api_error(action, arn, e, NULL, msg, sizeof msg);
    rns_error_set(err, e->deadline_cut ? RNS_ERR_TIMEOUT : RNS_ERR_ELB_API, "RDS Proxy miss counts not saved: %s", msg);
}

/* The numbered tags no longer needed go first: a run reading between the
 * two calls sees fewer counts, never counts from before. */
static void save(elb_client *c, const char *arn, const proxy_misses *prev, const fleet_miss_list *next,
                 int64_t deadline_ms, int *calls, rns_error *err)
{
    elb_tag now[PROXY_MISSES_TAGS];
    char stale[PROXY_MISSES_TAGS][sizeof now[0].key];
    const char *keys[PROXY_MISSES_TAGS];
    size_t n_stale = 0;
    elb_error e;
    int n = proxy_misses_to_tags(next, now);
    if (n < 0 || unchanged(prev, now, n))
        return;
    for (int k = n; k < PROXY_MISSES_TAGS; k++) {
        if (prev->keys & (1u << k)) {
            key_of(k, stale[n_stale], sizeof stale[n_stale]);
            keys[n_stale] = stale[n_stale];
            n_stale++;
        }
    }
    if (n_stale) {
        ++*calls;
        if (elb_remove_tags(c, arn, keys, n_stale, deadline_ms, &e) != 0) {
            write_failed("RemoveTags", arn, &e, err);
            return;
        }
    }
    ++*calls;
    if (elb_add_tags(c, arn, now, (size_t)n, deadline_ms, &e) != 0)
        write_failed("AddTags", arn, &e, err);
}

void proxy_misses_finish(elb_client *c, const char *arn, proxy_source *p, int dry_run, int64_t deadline_ms, logger *log,
                         int *calls, rns_error *err)
{
    if (!rns_error_failed(err)) {
        if (!p->prev || !p->prev->known) {
            rns_error_set(err, RNS_ERR_ELB_API,
                          "RDS Proxy miss counts of %s not read, so no address left on a count: %s", arn,
                          p->why[0] ? p->why : "not read before the run");
        } else if (p->unstored) {
            rns_error_set(err, RNS_ERR_ELB_API,
                          "RDS Proxy miss counts of %s: %zu missing addresses do not fit in %d tags of 256 characters, "
                          "so none left on a count",
                          arn, p->unstored, PROXY_MISSES_TAGS);
        } else {
            if (p->prev->garbage)
                log_msg(log, LOG_WARN, "RDS Proxy miss counts of %s: unreadable items in the %s tags skipped", arn,
                        FLEET_MISSES_TAG);
            if (!dry_run)
                save(c, arn, p->prev, &p->next, deadline_ms, calls, err);
        }
    }
    fleet_miss_list_free(&p->next);
}

int fleet_is_proxy_endpoint(const char *host)
{
    for (const char *s = host; s && *s; s = strchr(s, '.') ? strchr(s, '.') + 1 : NULL)
        if (strncmp(s, "proxy-", 6) == 0)
            return 1;
    return 0;
}
