/* Fleet mode's pure parts (handler/sync/fleet_tags.c, common/bucket.c): a
 * binding from its tags and every invalid tag (a proxy's counts:
 * test_proxy.c), the shard hash, and the token bucket's pacing. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "common/bucket.h"
#include "common/clock.h"
#include "db_names.h"
#include "handler/sync/fleet.h"
#include "handler/sync/fleet_internal.h"

static elb_tag_set tags_of(const char *const *kv)
{
    elb_tag_set s;
    memset(&s, 0, sizeof s);
    s.items = calloc(8, sizeof *s.items);
    for (size_t i = 0; kv[i]; i += 2, s.count++) {
        snprintf(s.items[s.count].key, sizeof s.items[s.count].key, "%s", kv[i]);
        snprintf(s.items[s.count].value, sizeof s.items[s.count].value, "%s", kv[i + 1]);
    }
    return s;
}

static int bind_tags(const char *const *kv, fleet_binding *b, const char *type, int port)
{
    elb_tag_set s = tags_of(kv);
    memset(b, 0, sizeof *b);
    snprintf(b->tg.arn, sizeof b->tg.arn, "arn:tg/x/1");
    snprintf(b->tg.target_type, sizeof b->tg.target_type, "%s", type);
    b->tg.port = port;
    int rc = fleet_binding_from_tags(b, &s);
    free(s.items);
    return rc;
}

static void test_binding_from_tags(void)
{
    fleet_binding b;
    const char *dns[] = {"rds-nlb-sync:source", "dns:orders.abc.eu-west-1.rds.amazonaws.com", NULL};
    CHECK_INT(bind_tags(dns, &b, "ip", 5432), 0);
    CHECK(!b.invalid && b.bad == NULL);
    CHECK_INT(b.kind, FLEET_SOURCE_DNS);
    CHECK_STR(FLEET_NAME(&b), "orders.abc.eu-west-1.rds.amazonaws.com");
    CHECK_STR(b.identifier, "orders");
    CHECK_INT(b.role, DB_ROLE_WRITER);
    CHECK_INT(b.dry_run, 0);
    fleet_binding_free(&b);
    const char *cl[] = {"rds-nlb-sync:source",
                        "cluster:orders-aurora",
                        "rds-nlb-sync:role",
                        "readers",
                        "rds-nlb-sync:dry-run",
                        "true",
                        "team",
                        "x",
                        NULL};
    CHECK_INT(bind_tags(cl, &b, "ip", 5432), 0);
    CHECK(!b.invalid && b.bad == NULL);
    CHECK_INT(b.kind, FLEET_SOURCE_CLUSTER);
    CHECK_STR(b.identifier, "orders-aurora");
    CHECK_INT(b.role, DB_ROLE_READERS);
    CHECK_INT(b.dry_run, 1);
    fleet_binding_free(&b);
    const char *px[] = {"rds-nlb-sync:source",
                        "proxy:p.proxy-abc.eu-west-1.rds.amazonaws.com",
                        "rds-nlb-sync:identifier",
                        "orders-proxy",
                        FLEET_MISSES_TAG,
                        "10.0.0.5=2 bogus",
                        FLEET_MISSES_TAG ":2",
                        "10.0.0.6=1",
                        NULL};
    CHECK_INT(bind_tags(px, &b, "ip", 5432), 0);
    CHECK_INT(b.kind, FLEET_SOURCE_PROXY);
    CHECK_STR(b.identifier, "orders-proxy");
    CHECK_INT(b.misses.list.count, 2);
    CHECK_INT(b.misses.keys, 3);
    CHECK(b.misses.known && b.misses.garbage);
    fleet_binding_free(&b);
    const char *none[] = {"team", "x", NULL};
    CHECK_INT(bind_tags(none, &b, "ip", 5432), -1);
}

static void test_invalid_tags(void)
{
    static const struct {
        const char *kv[7];
        const char *type;
        int port;
        const char *word;
    } cases[] = {
        {{"rds-nlb-sync:source", "ftp:x", NULL}, "ip", 5432, "source=ftp:x"},
        {{"rds-nlb-sync:source", "dns:", NULL}, "ip", 5432, "source=dns:"},
        {{"rds-nlb-sync:source", "dns:a b", NULL}, "ip", 5432, "after dns: must be a DNS name"},
        {{"rds-nlb-sync:source", "dns:db.example", "rds-nlb-sync:role", "readers", NULL},
         "ip",
         5432,
         "readers needs a cluster"},
        {{"rds-nlb-sync:source", "cluster:c", "rds-nlb-sync:role", "primary", NULL}, "ip", 5432, "role=primary"},
        {{"rds-nlb-sync:source", "dns:db.example", "rds-nlb-sync:dry-run", "maybe", NULL}, "ip", 5432, "dry-run"},
        {{"rds-nlb-sync:source", "dns:db.example", "rds-nlb-sync:identifier", "a/b", NULL}, "ip", 5432, "identifier"},
        {{"rds-nlb-sync:source", "dns:db.example", NULL}, "instance", 5432, "target type instance"},
        {{"rds-nlb-sync:source", "dns:db.example", NULL}, "ip", 0, "no port"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fleet_binding b;
        CHECK_INT(bind_tags(cases[i].kv, &b, cases[i].type, cases[i].port), 0);
        CHECK(b.invalid && b.bad);
        if (b.bad && !strstr(b.bad, cases[i].word))
            fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, b.bad, cases[i].word);
        CHECK(b.bad && strstr(b.bad, cases[i].word) != NULL);
        fleet_binding_free(&b);
    }
}

/* The names of db_names.h as tags: each accepted or rejected as config.c
 * takes it from the environment, the error naming the tag. */
static void check_db_name(size_t i, const char *key, const char *value, const char *tag)
{
    const char *kv[] = {"rds-nlb-sync:source", "dns:db.example", key, value, NULL};
    fleet_binding b;
    if (strcmp(key, "rds-nlb-sync:source") == 0)
        kv[2] = NULL, kv[1] = value;
    CHECK_INT(bind_tags(kv, &b, "ip", 5432), 0);
    if (b.invalid == db_names[i].valid)
        fprintf(stderr, "  %s=%s: %s\n", key, value, b.bad ? b.bad : "accepted");
    CHECK_INT(!b.invalid, db_names[i].valid);
    CHECK(db_names[i].valid || (b.bad && strstr(b.bad, tag)));
    fleet_binding_free(&b);
}

static void test_db_names(void)
{
    for (size_t i = 0; i < N_DB_NAMES; i++) {
        char v[300];
        if (db_names[i].rule == DB_NAME_ENDPOINT) {
            snprintf(v, sizeof v, "dns:%s", db_names[i].value);
            check_db_name(i, "rds-nlb-sync:source", v, "tag rds-nlb-sync:source=");
            snprintf(v, sizeof v, "proxy:%s", db_names[i].value);
            check_db_name(i, "rds-nlb-sync:source", v, "tag rds-nlb-sync:source=");
        } else if (db_names[i].rule == DB_NAME_CLUSTER) {
            snprintf(v, sizeof v, "cluster:%s", db_names[i].value);
            check_db_name(i, "rds-nlb-sync:source", v, "tag rds-nlb-sync:source=");
        } else {
            check_db_name(i, "rds-nlb-sync:identifier", db_names[i].value, "tag rds-nlb-sync:identifier=");
        }
    }
}

static void test_shards_split_evenly(void)
{
    int counts[4] = {0};
    char arn[128];
    for (int i = 0; i < 400; i++) {
        snprintf(arn, sizeof arn, "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/db-%d/%016x", i, i);
        unsigned k = fleet_shard_of(arn, 4);
        CHECK(k < 4);
        counts[k < 4 ? k : 0]++;
        CHECK_INT(fleet_shard_of(arn, 4), k); /* stable */
    }
    for (int k = 0; k < 4; k++)
        CHECK(counts[k] > 60);
    CHECK_INT(fleet_shard_of(arn, 1), 0);
}

static void test_bucket_paces(void)
{
    rns_bucket b;
    rns_bucket_init(&b, 3, 100); /* 3 at once, then one per 10 ms */
    int64_t t0 = rns_mono_ms();
    for (int i = 0; i < 3; i++)
        CHECK_INT(rns_bucket_take(&b, rns_wall_ms() + 1000), 0);
    CHECK(rns_bucket_wait_ms(&b, rns_mono_ms()) > 0);
    for (int i = 0; i < 5; i++)
        CHECK_INT(rns_bucket_take(&b, rns_wall_ms() + 1000), 0);
    CHECK(rns_mono_ms() - t0 >= 40); /* five tokens at 100/s */
    CHECK(b.waited_ms >= 40);
    /* a token that would come after the deadline is not taken */
    rns_bucket_destroy(&b);
    rns_bucket_init(&b, 1, 0.5);
    CHECK_INT(rns_bucket_take(&b, rns_wall_ms() + 1000), 0);
    CHECK_INT(rns_bucket_take(&b, rns_wall_ms() + 100), -1);
    rns_bucket_destroy(&b);
}

int main(void)
{
    RUN(test_binding_from_tags);
    RUN(test_invalid_tags);
    RUN(test_db_names);
    RUN(test_shards_split_evenly);
    RUN(test_bucket_paces);
    return check_done();
}
