/* Fleet mode: a binding from its target group's tags (with a proxy:
 * binding's miss counts, proxy.h), the shard hash (fleet_internal.h). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handler/sync/fleet.h"
#include "handler/sync/fleet_internal.h"

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

static int name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_')
            return 0;
    return 1;
}

static int read_source(fleet_binding *b, const char *v)
{
    static const struct {
        const char *prefix;
        fleet_source_kind kind;
    } kinds[] = {{"dns:", FLEET_SOURCE_DNS}, {"cluster:", FLEET_SOURCE_CLUSTER}, {"proxy:", FLEET_SOURCE_PROXY}};
    snprintf(b->source, sizeof b->source, "%s", v);
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(b->source, kinds[i].prefix, n) == 0 && name_valid(b->source + n)) {
            b->kind = kinds[i].kind;
            b->name_at = n;
            return 0;
        }
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

static void read_identifier(fleet_binding *b, const char *v)
{
    if (v) {
        if (!name_valid(v) || strlen(v) >= sizeof b->identifier)
            set_bad(b, "tag " FLEET_TAG_PREFIX "identifier=%.80s: must be an RDS identifier", v);
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
    proxy_misses_from_tags(tags, &b->misses);
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
    proxy_misses_free(&b->misses);
}

/* ---- shards ---- */

unsigned fleet_shard_of(const char *arn, unsigned shards)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *s = (const unsigned char *)arn; *s; s++)
        h = (h ^ *s) * 16777619u;
    return shards ? h % shards : 0;
}
