/* Fleet mode: a binding from its target group's tags (with a proxy:
 * binding's miss counts, proxy.h), the shard hash (fleet_internal.h). */
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
    db_role r;
    b->role = DB_ROLE_WRITER;
    if (db_role_parse(v, &r) != 0)
        set_bad(b, "tag " FLEET_TAG_PREFIX "role=%.40s: must be writer or readers", v);
    else if (r == DB_ROLE_READERS && b->kind != FLEET_SOURCE_CLUSTER)
        set_bad(b, "tag " FLEET_TAG_PREFIX "role=readers needs a cluster: source");
    else
        b->role = r;
}

/* An empty tag counts as unset, as an empty variable does. */
static void read_identifier(fleet_binding *b, const char *v)
{
    if (v && *v) {
        if (!config_identifier_valid(v))
            set_bad(b, "tag " FLEET_TAG_PREFIX "identifier=%.80s: must be an RDS identifier, as DB_IDENTIFIER", v);
        snprintf(b->identifier, sizeof b->identifier, "%s", v);
    } else {
        snprintf(b->identifier, sizeof b->identifier, "%.*s", (int)config_default_identifier_len(FLEET_NAME(b)),
                 FLEET_NAME(b));
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
    free(b->cursor);
    b->cursor = NULL;
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
