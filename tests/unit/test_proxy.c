/* The RDS Proxy source and its miss counts (handler/sync/proxy.c): the text
 * of one tag, the counts spread over numbered tags and their limits (IPv6
 * included), the answer the source gives against the held targets, and what
 * a run that cannot read or store its counts does. The calls to ELBv2:
 * tests/integration (test_handler_fleet.py, test_handler_failover.py). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "handler/sync/proxy.h"

static void test_parse_one_value(void)
{
    fleet_miss_list l;
    /* commas (the first format) and spaces; junk, zero, too large, trailing text skipped */
    CHECK_INT(fleet_misses_parse("10.0.0.9=2, junk ,fd00:0::1=1 10.0.0.7 10.0.0.8=0 10.0.0.6=100 10.0.0.5=3x "
                                 "10.0.0.4=1",
                                 &l),
              5);
    CHECK_INT(l.count, 3);
    char a[ADDR_TEXT_MAX];
    ip_addr_format(&l.items[0].addr, a, sizeof a); /* sorted: IPv4 first, then by value */
    CHECK_STR(a, "10.0.0.4");
    ip_addr_format(&l.items[2].addr, a, sizeof a);
    CHECK_STR(a, "fd00::1");
    CHECK_INT(l.items[1].misses, 2);
    fleet_miss_list_free(&l);
    /* an address twice (two containers' tags mixed): the smaller count */
    CHECK_INT(fleet_misses_parse("10.0.0.5=3 10.0.0.5=1 10.0.0.5=2", &l), 0);
    CHECK_INT(l.count, 1);
    CHECK_INT(l.items[0].misses, 1);
    fleet_miss_list_free(&l);
    CHECK_INT(fleet_misses_parse(NULL, &l), 0);
    CHECK_INT(l.count, 0);
    CHECK_INT(fleet_misses_parse("", &l), 0);
    CHECK_INT(l.count, 0);
}

/* n addresses of the longest IPv6 text (39 characters), each missed 19 times. */
static void longest_ipv6(fleet_miss_list *l, size_t n)
{
    char text[64];
    l->items = calloc(n, sizeof *l->items);
    l->count = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(text, sizeof text, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:%04zx", 0xf000 + i);
        CHECK_INT(ip_addr_parse(text, &l->items[i].addr), 0);
        l->items[i].misses = 19;
    }
}

static elb_tag_set set_of(elb_tag *tags, size_t n)
{
    elb_tag_set s;
    memset(&s, 0, sizeof s);
    s.items = tags;
    s.count = n;
    return s;
}

static void test_tags_round_trip(void)
{
    elb_tag tags[PROXY_MISSES_TAGS];
    fleet_miss_list l = {NULL, 0};
    CHECK_INT(proxy_misses_to_tags(&l, tags), 1); /* none: the first tag, empty */
    CHECK_STR(tags[0].key, FLEET_MISSES_TAG);
    CHECK_STR(tags[0].value, "");
    CHECK_INT(fleet_misses_parse("10.0.0.6=1 10.0.0.5=2 2600:1f18:4a3:6e01::9=1", &l), 0);
    CHECK_INT(proxy_misses_to_tags(&l, tags), 1);
    CHECK_STR(tags[0].value, "10.0.0.5=2 10.0.0.6=1 2600:1f18:4a3:6e01::9=1");
    fleet_miss_list_free(&l);
    /* as many of the longest IPv6 addresses as 16 tags hold (5 a tag), and one more */
    longest_ipv6(&l, 5 * PROXY_MISSES_TAGS);
    CHECK_INT(proxy_misses_to_tags(&l, tags), PROXY_MISSES_TAGS);
    CHECK_STR(tags[1].key, FLEET_MISSES_TAG ":2");
    CHECK_STR(tags[PROXY_MISSES_TAGS - 1].key, FLEET_MISSES_TAG ":16");
    for (int k = 0; k < PROXY_MISSES_TAGS; k++)
        CHECK(strlen(tags[k].value) <= 256 && strlen(tags[k].value) > 200);
    proxy_misses back;
    elb_tag_set s = set_of(tags, PROXY_MISSES_TAGS);
    proxy_misses_from_tags(&s, &back);
    CHECK(back.known && !back.garbage);
    CHECK_INT(back.keys, 0xffff);
    CHECK_INT(back.list.count, l.count);
    for (size_t i = 0; i < l.count && i < back.list.count; i++)
        CHECK(ip_addr_compare(&back.list.items[i].addr, &l.items[i].addr) == 0 && back.list.items[i].misses == 19);
    proxy_misses_free(&back);
    fleet_miss_list_free(&l);
    longest_ipv6(&l, 5 * PROXY_MISSES_TAGS + 1);
    CHECK_INT(proxy_misses_to_tags(&l, tags), -1);
    fleet_miss_list_free(&l);
    /* 64 IPv6 addresses take 13 tags; the 215 a proxy may use, in a /16, fit too */
    longest_ipv6(&l, 64);
    CHECK_INT(proxy_misses_to_tags(&l, tags), 13);
    fleet_miss_list_free(&l);
    l.items = calloc(215, sizeof *l.items);
    l.count = 215;
    for (size_t i = 0; i < 215; i++) {
        char text[32];
        snprintf(text, sizeof text, "10.20.%zu.%zu", 100 + i / 100, 100 + i % 100);
        ip_addr_parse(text, &l.items[i].addr);
        l.items[i].misses = 19;
    }
    CHECK(proxy_misses_to_tags(&l, tags) > 0);
    fleet_miss_list_free(&l);
}

/* Only the counts' own keys are read: not another tool's, not a number out of range. */
static void test_tags_keys(void)
{
    elb_tag tags[] = {{FLEET_MISSES_TAG ":3", "10.0.0.3=1"},  {FLEET_MISSES_TAG ":1", "10.0.0.1=1"},
                      {FLEET_MISSES_TAG ":17", "10.0.0.4=1"}, {FLEET_MISSES_TAG ":02", "10.0.0.5=1"},
                      {FLEET_MISSES_TAG "x", "10.0.0.6=1"},   {FLEET_MISSES_TAG ":", "10.0.0.7=1"},
                      {FLEET_MISSES_TAG ": 2", "10.0.0.8=1"}, {FLEET_MISSES_TAG ":+2", "10.0.0.9=1"},
                      {"rds-nlb-sync:source", "proxy:p"},     {FLEET_MISSES_TAG, "bad=1"}};
    proxy_misses m;
    elb_tag_set s = set_of(tags, sizeof tags / sizeof *tags);
    proxy_misses_from_tags(&s, &m);
    CHECK_INT(m.keys, 1 | 1 << 2);
    CHECK_INT(m.list.count, 1);
    CHECK(m.garbage);
    proxy_misses_free(&m);
    proxy_misses_from_tags(NULL, &m); /* a group without tags */
    CHECK(m.known && !m.garbage && m.keys == 0 && m.list.count == 0);
}

/* A scripted DNS answer for the proxy source. */
static const char *answer_addrs[4];

static int scripted(void *ctx, const source_query *q, source_answer *out)
{
    (void)ctx, (void)q;
    for (size_t i = 0; i < 4 && answer_addrs[i]; i++) {
        ip_addr a;
        ip_addr_parse(answer_addrs[i], &a);
        addr_list_add(&out->addresses, &a);
    }
    addr_list_sort(&out->addresses);
    return 0;
}

static elb_target target(const char *id, const char *state)
{
    elb_target t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", id);
    t.port = 5432;
    snprintf(t.state, sizeof t.state, "%s", state);
    return t;
}

/* One answer of the proxy source against the held targets: how many addresses. */
static size_t answer(proxy_source *p, const elb_target_list *current)
{
    addr_source src = proxy_source_of(p);
    source_query q = {1000, current};
    source_answer a;
    memset(&a, 0, sizeof a);
    CHECK_INT(src.resolve(src.ctx, &q, &a), 0);
    size_t n = a.addresses.count;
    source_answer_free(&a);
    return n;
}

static proxy_misses known(const char *text)
{
    proxy_misses m;
    memset(&m, 0, sizeof m);
    m.known = 1;
    fleet_misses_parse(text, &m.list);
    return m;
}

/* Three reconciles with 10.0.0.6 missing: kept twice, left out the third
 * time (its count ends). */
static void test_proxy_misses(void)
{
    elb_target held[] = {target("10.0.0.5", "healthy"), target("10.0.0.6", "healthy"), target("10.0.0.7", "draining")};
    elb_target_list current = {held, 3};
    proxy_misses prev = known("");
    answer_addrs[0] = "10.0.0.5";
    answer_addrs[1] = "10.0.0.8";
    answer_addrs[2] = NULL;
    for (int round = 1; round <= 3; round++) {
        proxy_source p = {{.subject = "p", .resolve = scripted}, &prev, {NULL, 0}, 3, 5432, 0, ""};
        /* .5 .6 .8, then .5 .8 (never the draining .7) */
        CHECK_INT(answer(&p, &current), round < 3 ? 3 : 2);
        CHECK_INT(p.next.count, round < 3 ? 1 : 0);
        if (round < 3)
            CHECK_INT(p.next.items[0].misses, round);
        proxy_misses_free(&prev);
        prev.list = p.next;
        prev.known = 1;
    }
    proxy_misses_free(&prev);
    /* back in the answer: the count is gone */
    answer_addrs[1] = "10.0.0.6";
    prev = known("10.0.0.6=2");
    proxy_source p = {{.subject = "p", .resolve = scripted}, &prev, {NULL, 0}, 3, 5432, 0, ""};
    CHECK_INT(answer(&p, &current), 2);
    CHECK_INT(p.next.count, 0);
    proxy_misses_free(&prev);
}

/* The group holds 10.0.0.5 and 10.0.0.6; DNS answers 10.0.0.5 only. */
static elb_target_list six_missing(elb_target held[2])
{
    held[0] = target("10.0.0.5", "healthy");
    held[1] = target("10.0.0.6", "healthy");
    answer_addrs[0] = "10.0.0.5";
    answer_addrs[1] = NULL;
    return (elb_target_list){held, 2};
}

/* PROXY_MISSES changed between runs: the count read goes on against the new limit. */
static void test_limit_changed(void)
{
    elb_target held[2];
    elb_target_list current = six_missing(held);
    proxy_misses prev = known("10.0.0.6=4");
    proxy_source lower = {{.subject = "p", .resolve = scripted}, &prev, {NULL, 0}, 2, 5432, 0, ""};
    CHECK_INT(answer(&lower, &current), 1); /* 5 misses against 2: it leaves */
    CHECK_INT(lower.next.count, 0);
    fleet_miss_list_free(&lower.next);
    proxy_source higher = {{.subject = "p", .resolve = scripted}, &prev, {NULL, 0}, 10, 5432, 0, ""};
    CHECK_INT(answer(&higher, &current), 2); /* 5 of 10: it stays */
    CHECK_INT(higher.next.items[0].misses, 5);
    fleet_miss_list_free(&higher.next);
    proxy_misses_free(&prev);
}

/* Counts that could not be read, or that do not fit: every held address
 * stays, and the run fails naming the group. */
static void test_unknown_or_unstored(void)
{
    elb_target held[2];
    elb_target_list current = six_missing(held);
    proxy_misses unread;
    memset(&unread, 0, sizeof unread);
    proxy_source p = {{.subject = "p", .resolve = scripted}, &unread, {NULL, 0}, 1, 5432, 0, ""};
    snprintf(p.why, sizeof p.why, "DescribeTags failed for arn:tg: Throttling: Rate exceeded");
    CHECK_INT(answer(&p, &current), 2); /* PROXY_MISSES=1 would have left .6 out */
    rns_error e;
    int calls = 0;
    rns_error_clear(&e);
    proxy_misses_finish(NULL, "arn:tg", &p, 0, 0, NULL, &calls, &e);
    CHECK_INT(e.type, RNS_ERR_ELB_API);
    CHECK(strstr(e.message, "arn:tg") && strstr(e.message, "Rate exceeded") && strstr(e.message, "not read"));
    CHECK_INT(calls, 0);
    CHECK(p.next.items == NULL);

    size_t n = 6 * PROXY_MISSES_TAGS + 2; /* missed once: 6 a tag; the first missed twice */
    elb_target *many = calloc(n, sizeof *many);
    for (size_t i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:%04zx", 0xf000 + i);
        many[i] = target(id, "healthy");
    }
    elb_target_list lots = {many, n};
    proxy_misses prev = known("ffff:ffff:ffff:ffff:ffff:ffff:ffff:f000=2");
    proxy_source q = {{.subject = "p", .resolve = scripted}, &prev, {NULL, 0}, 3, 5432, 0, ""};
    CHECK_INT(answer(&q, &lots), n + 1); /* every one stays, the first too (and the answer's own) */
    CHECK_INT(q.unstored, n - 1);
    rns_error_clear(&e);
    proxy_misses_finish(NULL, "arn:tg", &q, 0, 0, NULL, &calls, &e);
    CHECK_INT(e.type, RNS_ERR_ELB_API);
    CHECK(strstr(e.message, "arn:tg") && strstr(e.message, "97 missing addresses do not fit"));
    CHECK_INT(calls, 0);
    /* an earlier failure of the run is the one kept */
    q.unstored = 1;
    rns_error_set(&e, RNS_ERR_RESOLVE, "first");
    proxy_misses_finish(NULL, "arn:tg", &q, 0, 0, NULL, &calls, &e);
    CHECK_STR(e.message, "first");
    free(many);
    proxy_misses_free(&prev);
}

/* Counts as the tags already say, or a dry run: nothing is written. */
static void test_nothing_to_write(void)
{
    elb_target held[2];
    elb_target_list current = six_missing(held);
    proxy_misses prev = known("10.0.0.6=1");
    prev.keys = 1;
    proxy_source p = {{.subject = "p", .resolve = scripted}, &prev, {NULL, 0}, 3, 5432, 0, ""};
    rns_error e;
    int calls = 0;
    rns_error_clear(&e);
    CHECK_INT(answer(&p, &current), 2);
    proxy_misses_finish(NULL, "arn:tg", &p, 1, 0, NULL, &calls, &e); /* dry run: .6=2 not written */
    CHECK(!rns_error_failed(&e) && calls == 0);
    proxy_misses_free(&prev);
    answer_addrs[1] = "10.0.0.6";
    prev = known(""); /* no tag, none missing: no empty tag is added */
    CHECK_INT(answer(&p, &current), 2);
    proxy_misses_finish(NULL, "arn:tg", &p, 0, 0, NULL, &calls, &e);
    CHECK(!rns_error_failed(&e) && calls == 0);
    proxy_misses_free(&prev);
}

static void test_proxy_endpoint_names(void)
{
    CHECK(fleet_is_proxy_endpoint("orders.proxy-abc123.eu-west-1.rds.amazonaws.com"));
    CHECK(!fleet_is_proxy_endpoint("orders.abc123.eu-west-1.rds.amazonaws.com"));
    CHECK(!fleet_is_proxy_endpoint("myproxy-db.abc123.eu-west-1.rds.amazonaws.com"));
}

int main(void)
{
    RUN(test_parse_one_value);
    RUN(test_tags_round_trip);
    RUN(test_tags_keys);
    RUN(test_proxy_misses);
    RUN(test_limit_changed);
    RUN(test_unknown_or_unstored);
    RUN(test_nothing_to_write);
    RUN(test_proxy_endpoint_names);
    return check_done();
}
