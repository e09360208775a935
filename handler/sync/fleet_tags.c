/* Fleet mode: a binding from its target group's tags, the proxy: source's
 * miss counts and its address source, the shard hash (fleet_internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/grow.h"
#include "handler/sync/fleet.h"
#include "handler/sync/fleet_internal.h"
#include "handler/sync/plan.h"

/* ---- tags ---- */

/* The first problem found is the one reported. */
static void set_bad(fleet_binding *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_bad(fleet_binding *b, const char *fmt, ...)
{
    va_list ap;
    if (b->invalid)
        return;
    b->invalid = 1;
    va_start(ap, fmt);
    if (vasprintf(&b->bad, fmt, ap) < 0)
        b->bad = NULL;
    va_end(ap);
}

/* Each kind's name follows the rule of the variable that names a database
 * outside fleet mode (config.h): a tag config.c would reject is rejected. */
static int read_source(fleet_binding *b, const char *v)
{
    static const struct {
        const char *prefix;
        fleet_source_kind kind;
        int (*valid)(const char *name);
        const char *rule;
    } kinds[] = {{"dns:", FLEET_SOURCE_DNS, config_endpoint_valid, "a DNS name, as DB_ENDPOINT"},
                 {"cluster:", FLEET_SOURCE_CLUSTER, config_cluster_id_valid,
                  "a DB cluster identifier, as DB_CLUSTER_IDENTIFIER"},
                 {"proxy:", FLEET_SOURCE_PROXY, config_endpoint_valid, "a DNS name, as DB_ENDPOINT"}};
    snprintf(b->source, sizeof b->source, "%s", v);
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(v, kinds[i].prefix, n) != 0)
            continue;
        if (strlen(v) >= sizeof b->source || !kinds[i].valid(v + n)) {
            set_bad(b, "tag " FLEET_TAG_PREFIX "source=%.80s: the name after %s must be %s", v, kinds[i].prefix,
                    kinds[i].rule);
            return -1;
        }
        b->kind = kinds[i].kind;
        b->name_at = n;
        return 0;
    }
    set_bad(b, "tag " FLEET_TAG_PREFIX "source=%.80s: must be dns:<name>, cluster:<id> or proxy:<name>", v);
    return -1;
}

static void read_role(fleet_binding *b, const char *v)
{
    b->role = DB_ROLE_WRITER;
    if (!v || strcasecmp(v, "writer") == 0)
        return;
    if (strcasecmp(v, "readers") != 0)
        set_bad(b, "tag " FLEET_TAG_PREFIX "role=%.40s: must be writer or readers", v);
    else if (b->kind != FLEET_SOURCE_CLUSTER)
        set_bad(b, "tag " FLEET_TAG_PREFIX "role=readers needs a cluster: source");
    else
        b->role = DB_ROLE_READERS;
}

/* An empty tag counts as unset, as an empty variable does. */
static void read_identifier(fleet_binding *b, const char *v)
{
    if (v && *v) {
        if (!config_identifier_valid(v))
            set_bad(b, "tag " FLEET_TAG_PREFIX "identifier=%.80s: must be an RDS identifier, as DB_IDENTIFIER", v);
        snprintf(b->identifier, sizeof b->identifier, "%s", v);
    } else {
        /* the cluster id, else the first label of the name */
        snprintf(b->identifier, sizeof b->identifier, "%.*s", (int)strcspn(FLEET_NAME(b), "."), FLEET_NAME(b));
    }
}

static void read_dry_run(fleet_binding *b, const char *v)
{
    b->dry_run = 0;
    if (!v || strcasecmp(v, "false") == 0 || !*v)
        return;
    if (strcasecmp(v, "true") == 0)
        b->dry_run = 1;
    else
        set_bad(b, "tag " FLEET_TAG_PREFIX "dry-run=%.40s: must be true or false", v);
}

int fleet_binding_from_tags(fleet_binding *b, const elb_tag_set *tags)
{
    const char *source = elb_tag_value(tags, FLEET_TAG_PREFIX "source");
    if (!source)
        return -1;
    if (read_source(b, source) == 0) {
        read_role(b, elb_tag_value(tags, FLEET_TAG_PREFIX "role"));
        read_identifier(b, elb_tag_value(tags, FLEET_TAG_PREFIX "identifier"));
    }
    read_dry_run(b, elb_tag_value(tags, FLEET_TAG_PREFIX "dry-run"));
    if (!b->invalid && strcmp(b->tg.target_type, "ip") != 0)
        set_bad(b, "target type %s: fleet mode keeps ip target groups only", b->tg.target_type);
    if (!b->invalid && b->tg.port <= 0)
        set_bad(b, "the target group has no port");
    fleet_misses_parse(elb_tag_value(tags, FLEET_MISSES_TAG), &b->misses);
    return 0;
}

void fleet_binding_free(fleet_binding *b)
{
    for (size_t i = 0; i < b->member_count; i++)
        free(b->members[i]);
    free(b->members);
    b->members = NULL;
    b->member_count = 0;
    free(b->bad);
    b->bad = NULL;
    fleet_miss_list_free(&b->misses);
}

/* ---- miss counts ---- */

static int miss_add(fleet_miss_list *l, const ip_addr *a, int misses)
{
    if (RNS_GROW_LIST(l, 1) != 0)
        return -1;
    l->items[l->count].addr = *a;
    l->items[l->count++].misses = misses;
    return 0;
}

void fleet_misses_parse(const char *text, fleet_miss_list *out)
{
    char item[ADDR_TEXT_MAX + 16];
    memset(out, 0, sizeof *out);
    for (const char *s = text; s && *s;) {
        size_t n = strcspn(s, ",");
        snprintf(item, sizeof item, "%.*s", (int)(n < sizeof item ? n : sizeof item - 1), s);
        s += n + (s[n] == ',');
        char *eq = strrchr(item, '=');
        ip_addr a;
        if (!eq)
            continue;
        *eq = '\0';
        int misses = atoi(eq + 1);
        if (misses > 0 && ip_addr_parse(item, &a) == 0 && miss_add(out, &a, misses) != 0)
            return;
    }
}

int fleet_misses_format(const fleet_miss_list *l, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < l->count; i++) {
        char a[ADDR_TEXT_MAX];
        ip_addr_format(&l->items[i].addr, a, sizeof a);
        int n = snprintf(out + used, outlen - used, "%s%s=%d", used ? "," : "", a, l->items[i].misses);
        if (n < 0 || (size_t)n >= outlen - used)
            return -1;
        used += (size_t)n;
    }
    return 0;
}

void fleet_miss_list_free(fleet_miss_list *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static int prev_misses(const fleet_miss_list *l, const ip_addr *a)
{
    for (size_t i = 0; l && i < l->count; i++)
        if (ip_addr_compare(&l->items[i].addr, a) == 0)
            return l->items[i].misses;
    return 0;
}

/* ---- the proxy source ---- */

/* The held targets missing from the answer: kept (added to the answer)
 * until their count reaches the limit. */
static int add_held(proxy_source *p, const elb_target_list *current, addr_list *answer)
{
    for (size_t i = 0; current && i < current->count; i++) {
        const elb_target *t = &current->items[i];
        ip_addr a;
        if (t->port != p->port || target_is_draining(t) || ip_addr_parse(t->id, &a) != 0 ||
            addr_list_contains(answer, &a))
            continue;
        int misses = prev_misses(p->prev, &a) + 1;
        if (misses >= p->limit)
            continue; /* missed too often: left out, so the plan deregisters it */
        if (miss_add(&p->next, &a, misses) != 0 || addr_list_add(answer, &a) != 0)
            return -1;
    }
    addr_list_sort(answer);
    return 0;
}

static int proxy_resolve(void *ctx, const source_query *q, source_answer *out)
{
    proxy_source *p = ctx;
    if (p->dns.resolve(p->dns.ctx, q, out) != 0)
        return -1; /* no answer: nothing counted, nothing leaves */
    fleet_miss_list_free(&p->next);
    if (add_held(p, q->current, &out->addresses) != 0) {
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

int proxy_misses_commit(fleet_miss_list *kept, proxy_source *p, elb_tag *tag)
{
    char before[sizeof tag->value], after[sizeof tag->value];
    if (fleet_misses_format(kept, before, sizeof before) != 0 ||
        fleet_misses_format(&p->next, after, sizeof after) != 0 || strcmp(before, after) == 0)
        return 0;
    fleet_miss_list_free(kept);
    *kept = p->next;
    memset(&p->next, 0, sizeof p->next);
    memset(tag, 0, sizeof *tag);
    snprintf(tag->key, sizeof tag->key, "%s", FLEET_MISSES_TAG);
    snprintf(tag->value, sizeof tag->value, "%s", after);
    return 1;
}

int fleet_is_proxy_endpoint(const char *host)
{
    for (const char *s = host; s && *s; s = strchr(s, '.') ? strchr(s, '.') + 1 : NULL)
        if (strncmp(s, "proxy-", 6) == 0)
            return 1;
    return 0;
}

/* ---- shards ---- */

unsigned fleet_shard_of(const char *arn, unsigned shards)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *s = (const unsigned char *)arn; *s; s++)
        h = (h ^ *s) * 16777619u;
    return shards ? h % shards : 0;
}
