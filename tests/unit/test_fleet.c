/* Fleet mode's pure parts (handler/sync/fleet_tags.c, fleet_cursor.c,
 * common/bucket.c): a binding from its tags and every invalid tag (a
 * proxy's counts: test_proxy.c), the shard hash, the capped sweep's cursor
 * (its text, where a sweep starts, what it writes and removes, the calls
 * kept for it), and the token bucket's pacing. */
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

static void test_cursor_text(void)
{
    fleet_cursor c = {3, 1765134211123, "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/a/1"}, d;
    char text[257];
    CHECK_INT(fleet_cursor_format(&c, text, sizeof text), 0);
    CHECK_STR(text, "shards=3 at=1765134211123 next=arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/a/1");
    CHECK_INT(fleet_cursor_parse(text, &d), 0);
    CHECK_INT(d.shards, 3);
    CHECK_INT(d.at_ms, 1765134211123);
    CHECK_STR(d.next, c.next);
    CHECK_INT(fleet_cursor_format(&c, text, 40), -1); /* does not fit */
    const char *bad[] = {NULL,
                         "",
                         "shards=0 at=1 next=a",
                         "shards=1 at=-5 next=a",
                         "shards=1 at=1 next=",
                         "shards=1 at=1",
                         "shards=x at=1 next=a",
                         "shards=1 at=1 next=a b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_INT(fleet_cursor_parse(bad[i], &d), -1);
}

/* Bindings "tg/b00".."tg/b<n-1>" (sorted by ARN), each with a cursor when
 * cursors[i] is set ("S MS NEXT-INDEX"). */
static void cursor_fleet(fleet_binding *bl, size_t n, const char *const *cursors)
{
    memset(bl, 0, n * sizeof *bl);
    for (size_t i = 0; i < n; i++) {
        snprintf(bl[i].tg.arn, sizeof bl[i].tg.arn, "tg/b%02zu", i);
        unsigned shards, next;
        long long at;
        if (!cursors[i] || sscanf(cursors[i], "%u %lld %u", &shards, &at, &next) != 3)
            continue;
        bl[i].cursor = calloc(1, sizeof *bl[i].cursor);
        *bl[i].cursor = (fleet_cursor){shards, at, ""};
        snprintf(bl[i].cursor->next, sizeof bl[i].cursor->next, "tg/b%02u", next);
    }
}

static void free_fleet(fleet_binding *bl, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fleet_binding_free(&bl[i]);
}

static void test_cursor_start(void)
{
    fleet_binding bl[6];
    fleet_scope all = {1, 0};
    const char *none[6] = {NULL};
    cursor_fleet(bl, 6, none);
    CHECK_INT(fleet_cursor_start(bl, 6, &all), 0);
    free_fleet(bl, 6);
    /* the newest of the scope's wins; another shard count's and a dry-run or
     * invalid group's are not read */
    const char *mixed[6] = {NULL, "1 100 2", "1 300 4", "2 900 1", "1 950 5", "1 990 3"};
    cursor_fleet(bl, 6, mixed);
    bl[4].dry_run = 1;
    bl[5].invalid = 1;
    CHECK_INT(fleet_cursor_start(bl, 6, &all), 4);
    bl[4].dry_run = 0;
    CHECK_INT(fleet_cursor_start(bl, 6, &all), 5);
    free_fleet(bl, 6);
    /* a start that is gone: the first ARN after it; past the last: the first */
    const char *gone[6] = {"1 100 0"};
    cursor_fleet(bl, 6, gone);
    snprintf(bl[0].cursor->next, sizeof bl[0].cursor->next, "tg/b02x");
    CHECK_INT(fleet_cursor_start(bl, 6, &all), 3);
    snprintf(bl[0].cursor->next, sizeof bl[0].cursor->next, "tg/b99");
    CHECK_INT(fleet_cursor_start(bl, 6, &all), 0);
    free_fleet(bl, 6);
}

static void test_cursor_shards(void)
{
    fleet_binding bl[12];
    const char *none[12] = {NULL};
    cursor_fleet(bl, 12, none);
    size_t first[2] = {12, 12}, last[2] = {0, 0};
    for (size_t i = 0; i < 12; i++) {
        unsigned k = fleet_shard_of(bl[i].tg.arn, 2);
        first[k] = first[k] < i ? first[k] : i;
        last[k] = i;
    }
    CHECK(first[0] < 12 && first[1] < 12); /* both shards hold groups */
    fleet_scope s0 = {2, 0}, s1 = {2, 1};
    fleet_scope *scopes[2] = {&s0, &s1};
    /* shard 0's cursor, on its first group, names its last; shard 1 has none */
    bl[first[0]].cursor = calloc(1, sizeof *bl[first[0]].cursor);
    *bl[first[0]].cursor = (fleet_cursor){2, 100, ""};
    snprintf(bl[first[0]].cursor->next, sizeof bl[first[0]].cursor->next, "%s", bl[last[0]].tg.arn);
    CHECK_INT(fleet_cursor_start(bl, 12, scopes[0]), last[0]);
    CHECK_INT(fleet_cursor_start(bl, 12, scopes[1]), 0);
    fleet_cursor_plan p;
    CHECK_INT(fleet_cursor_plan_of(bl, 12, scopes[1], bl[last[1]].tg.arn, 500, &p), 0);
    CHECK(p.holder == &bl[first[1]]); /* its own shard's first group */
    CHECK_INT(p.clear_count, 0);      /* shard 0's cursor is not its own */
    fleet_cursor_plan_free(&p);
    free_fleet(bl, 12);
}

static void test_cursor_plan(void)
{
    fleet_binding bl[6];
    fleet_scope all = {1, 0};
    fleet_cursor_plan p;
    fleet_cursor c;
    const char *strays[6] = {NULL, NULL, "1 100 2", "3 200 1", "1 300 4", NULL};
    cursor_fleet(bl, 6, strays);
    bl[0].dry_run = 1; /* never written: the holder is b1 */
    CHECK_INT(fleet_cursor_reserve(bl, 6, &all), 3);
    CHECK_INT(fleet_cursor_plan_of(bl, 6, &all, "tg/b05", 777, &p), 0);
    CHECK(p.holder == &bl[1]);
    CHECK_STR(p.tag.key, FLEET_CURSOR_TAG);
    CHECK_INT(fleet_cursor_parse(p.tag.value, &c), 0);
    CHECK(c.shards == 1 && c.at_ms == 777);
    CHECK_STR(c.next, "tg/b05");
    CHECK_INT(p.clear_count, 2); /* b2 and b4; b3's count is another */
    CHECK_STR(p.clear[0], "tg/b02");
    CHECK_STR(p.clear[1], "tg/b04");
    fleet_cursor_plan_free(&p);
    /* complete: every cursor of the scope goes, nothing is written */
    CHECK_INT(fleet_cursor_plan_of(bl, 6, &all, NULL, 777, &p), 0);
    CHECK(p.holder == NULL);
    CHECK_INT(p.clear_count, 2);
    fleet_cursor_plan_free(&p);
    /* the holder's own cursor is overwritten, not removed */
    CHECK_INT(fleet_cursor_plan_of(bl + 2, 4, &all, "tg/b05", 777, &p), 0);
    CHECK(p.holder == &bl[2]);
    CHECK_INT(p.clear_count, 1);
    CHECK_STR(p.clear[0], "tg/b04");
    fleet_cursor_plan_free(&p);
    CHECK_INT(fleet_cursor_reserve(bl + 2, 4, &all), 2);
    /* a holder whose cursor already names the start is not written again */
    CHECK_INT(fleet_cursor_plan_of(bl + 2, 4, &all, "tg/b02", 777, &p), 0);
    CHECK(p.holder == NULL);
    CHECK_INT(p.clear_count, 1);
    fleet_cursor_plan_free(&p);
    /* with nothing writable there is no cursor and nothing to keep */
    for (size_t i = 0; i < 6; i++)
        bl[i].invalid = 1;
    CHECK_INT(fleet_cursor_reserve(bl, 6, &all), 0);
    CHECK_INT(fleet_cursor_plan_of(bl, 6, &all, "tg/b05", 777, &p), 0);
    CHECK(p.holder == NULL && p.clear_count == 0);
    fleet_cursor_plan_free(&p);
    free_fleet(bl, 6);
}

/* RemoveTags takes one group a call (elb_remove_tags). */
static void test_cursor_reserve_counts_calls(void)
{
    fleet_binding bl[5];
    fleet_scope all = {1, 0};
    const char *none[5] = {NULL};
    cursor_fleet(bl, 5, none);
    CHECK_INT(fleet_cursor_reserve(bl, 5, &all), 1); /* AddTags only */
    free_fleet(bl, 5);
    /* capped: AddTags on b0, a RemoveTags for each of the 3 others; complete: 3 */
    const char *three[5] = {NULL, NULL, "1 2 0", "1 3 0", "1 4 0"};
    cursor_fleet(bl, 5, three);
    CHECK_INT(fleet_cursor_reserve(bl, 5, &all), 4);
    free_fleet(bl, 5);
    /* b0 holds one too: capped, AddTags and 3; complete, 4; b1's in dry run is nobody's */
    const char *four[5] = {"1 1 1", "1 9 0", "1 2 0", "1 3 0", "1 4 0"};
    cursor_fleet(bl, 5, four);
    bl[1].dry_run = 1;
    CHECK_INT(fleet_cursor_reserve(bl, 5, &all), 4);
    free_fleet(bl, 5);
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
    /* not >= 40: a take's wait is what is missing when it comes, and a
     * loaded machine oversleeps the one before (it failed so under load) */
    CHECK(b.waited_ms > 0);
    /* a token that would come after the deadline is not taken */
    rns_bucket_destroy(&b);
    rns_bucket_init(&b, 1, 0.5);
    CHECK_INT(rns_bucket_take(&b, rns_wall_ms() + 1000), 0);
    CHECK_INT(rns_bucket_take(&b, rns_wall_ms() + 100), -1);
    rns_bucket_destroy(&b);
}

/* A deferred take leaves `reserve` tokens to the others, waits at most
 * max_defer_ms for that, and never waits past its deadline for it. */
static void test_bucket_defers(void)
{
    rns_bucket b;
    rns_bucket_init(&b, 4, 100);                                               /* one token per 10 ms */
    CHECK_INT(rns_bucket_take_deferred(&b, 2, 1000, rns_wall_ms() + 1000), 0); /* 3 left: at once */
    CHECK_INT((int)b.waited_ms, 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(rns_bucket_take(&b, rns_wall_ms() + 1000), 0);
    int64_t t0 = rns_mono_ms();
    CHECK_INT(rns_bucket_take_deferred(&b, 2, 1000, rns_wall_ms() + 1000), 0);
    CHECK(rns_mono_ms() - t0 >= 29); /* until 3 were there: 2 stay for the others */
    CHECK(rns_bucket_wait_ms(&b, rns_mono_ms()) == 0);
    rns_bucket_destroy(&b);
    /* a reserve the burst never reaches: it waits max_defer_ms, then takes in turn */
    rns_bucket_init(&b, 2, 10);
    t0 = rns_mono_ms();
    CHECK_INT(rns_bucket_take_deferred(&b, 5, 50, rns_wall_ms() + 1000), 0);
    CHECK(rns_mono_ms() - t0 >= 49);
    CHECK_INT(rns_bucket_take(&b, rns_wall_ms() + 1000), 0); /* the burst's other token */
    rns_bucket_destroy(&b);
    /* no deferring past the deadline: then a take in turn, refused when its token comes after it */
    rns_bucket_init(&b, 1, 0.5);
    CHECK_INT(rns_bucket_take(&b, rns_wall_ms() + 1000), 0);
    CHECK_INT(rns_bucket_take_deferred(&b, 0, 10000, rns_wall_ms() + 100), -1);
    rns_bucket_destroy(&b);
}

int main(void)
{
    RUN(test_binding_from_tags);
    RUN(test_invalid_tags);
    RUN(test_db_names);
    RUN(test_shards_split_evenly);
    RUN(test_cursor_text);
    RUN(test_cursor_start);
    RUN(test_cursor_shards);
    RUN(test_cursor_plan);
    RUN(test_cursor_reserve_counts_calls);
    RUN(test_bucket_paces);
    RUN(test_bucket_defers);
    return check_done();
}
