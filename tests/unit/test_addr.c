/* handler/sync/addr.c: parsing, formatting, ordering, lists and CIDR ranges. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "check.h"
#include "handler/sync/addr.h"

static ip_addr A(const char *text)
{
    ip_addr a;
    if (ip_addr_parse(text, &a) != 0) {
        fprintf(stderr, "  bad test address %s\n", text);
        memset(&a, 0, sizeof a);
    }
    return a;
}

static void test_parse_and_format(void)
{
    ip_addr a;
    char out[ADDR_TEXT_MAX];
    CHECK_INT(ip_addr_parse("10.20.2.118", &a), 0);
    CHECK_INT(a.family, AF_INET);
    ip_addr_format(&a, out, sizeof out);
    CHECK_STR(out, "10.20.2.118");
    CHECK_INT(ip_addr_parse("FD00:0:0:0::0001", &a), 0);
    CHECK_INT(a.family, AF_INET6);
    ip_addr_format(&a, out, sizeof out);
    CHECK_STR(out, "fd00::1");
    CHECK_INT(ip_addr_parse("2001:db8::10.1.2.3", &a), 0);
    ip_addr_format(&a, out, sizeof out);
    CHECK_STR(out, "2001:db8::a01:203");
}

static void test_parse_rejects(void)
{
    static const char *const bad[] = {"",          "10.0.0",      "10.0.0.256",   "010.0.0.1",
                                      "10.0.0.1 ", " 10.0.0.1",   "[fd00::1]",    "fd00::1%eth0",
                                      "fd00:::1",  "10.0.0.1/32", "host.example", "0x0a000001"};
    ip_addr a;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (ip_addr_parse(bad[i], &a) == 0)
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
        CHECK(ip_addr_parse(bad[i], &a) != 0);
    }
    CHECK(ip_addr_parse(NULL, &a) != 0);
}

static void test_compare_contract_order(void)
{
    ip_addr v4a = A("9.255.255.255"), v4b = A("10.0.0.1"), v4c = A("10.0.0.2"), v6 = A("::1");
    CHECK(ip_addr_compare(&v4a, &v4b) < 0); /* byte order, not text order ("10" < "9") */
    CHECK(ip_addr_compare(&v4b, &v4c) < 0);
    CHECK(ip_addr_compare(&v4c, &v6) < 0); /* IPv4 before IPv6, even ::1 */
    CHECK(ip_addr_compare(&v6, &v4a) > 0);
    CHECK_INT(ip_addr_compare(&v4b, &v4b), 0);
}

static void test_list_dedupe_sort(void)
{
    addr_list l = {NULL, 0};
    const char *in[] = {"fd00::2", "10.0.0.10", "10.0.0.9", "fd00::2", "10.0.0.10", "192.168.0.1"};
    for (size_t i = 0; i < 6; i++) {
        ip_addr a = A(in[i]);
        CHECK_INT(addr_list_add(&l, &a), 0);
    }
    CHECK_INT(l.count, 4);
    addr_list_sort(&l);
    char out[ADDR_TEXT_MAX];
    const char *want[] = {"10.0.0.9", "10.0.0.10", "192.168.0.1", "fd00::2"};
    for (size_t i = 0; i < 4 && i < l.count; i++) {
        ip_addr_format(&l.items[i], out, sizeof out);
        CHECK_STR(out, want[i]);
    }
    ip_addr x = A("10.0.0.9"), y = A("10.0.0.8");
    CHECK(addr_list_contains(&l, &x));
    CHECK(!addr_list_contains(&l, &y));
    addr_list_free(&l);
    CHECK_INT(l.count, 0);
    CHECK(l.items == NULL);
}

static void test_cidr_parse_and_contains(void)
{
    cidr_list l;
    char err[256] = "";
    CHECK_INT(
        cidr_list_parse("10.0.0.0/8 ,  172.16.0.0/12,\t192.168.0.0/16 , fd00::/8,100.64.0.0/10", &l, err, sizeof err),
        0);
    CHECK_INT(l.count, 5);
    ip_addr in1 = A("10.255.1.2"), in2 = A("172.31.255.255"), in3 = A("fdab::1"), in4 = A("100.127.0.1");
    ip_addr out1 = A("172.32.0.0"), out2 = A("54.1.2.3"), out3 = A("fe80::1"), out4 = A("::ffff:10.0.0.1");
    CHECK(cidr_list_contains(&l, &in1));
    CHECK(cidr_list_contains(&l, &in2));
    CHECK(cidr_list_contains(&l, &in3));
    CHECK(cidr_list_contains(&l, &in4));
    CHECK(!cidr_list_contains(&l, &out1));
    CHECK(!cidr_list_contains(&l, &out2));
    CHECK(!cidr_list_contains(&l, &out3));
    CHECK(!cidr_list_contains(&l, &out4)); /* a mapped address is IPv6, not in an IPv4 range */
    cidr_list_free(&l);
}

static void test_cidr_edges(void)
{
    cidr_list l;
    char err[256];
    CHECK_INT(cidr_list_parse("0.0.0.0/0", &l, err, sizeof err), 0);
    ip_addr any = A("203.0.113.7"), v6 = A("2001:db8::1");
    CHECK(cidr_list_contains(&l, &any));
    CHECK(!cidr_list_contains(&l, &v6));
    cidr_list_free(&l);
    CHECK_INT(cidr_list_parse("10.1.2.3, 2001:db8::1/128", &l, err, sizeof err), 0); /* bare = one host */
    ip_addr host = A("10.1.2.3"), next = A("10.1.2.4");
    CHECK(cidr_list_contains(&l, &host));
    CHECK(!cidr_list_contains(&l, &next));
    CHECK(cidr_list_contains(&l, &v6));
    cidr_list_free(&l);
    CHECK_INT(cidr_list_parse("10.0.0.0/9", &l, err, sizeof err), 0);
    ip_addr lo = A("10.127.255.255"), hi = A("10.128.0.0");
    CHECK(cidr_list_contains(&l, &lo));
    CHECK(!cidr_list_contains(&l, &hi));
    cidr_list_free(&l);
}

static void expect_error(const char *text, const char *want)
{
    cidr_list l = {NULL, 0};
    char err[256] = "";
    CHECK_INT(cidr_list_parse(text, &l, err, sizeof err), -1);
    CHECK_STR(err, want);
    CHECK(l.items == NULL);
}

static void test_cidr_errors(void)
{
    expect_error("10.0.0.0/33", "\"10.0.0.0/33\": prefix must be 0..32");
    expect_error("fd00::/129", "\"fd00::/129\": prefix must be 0..128");
    expect_error("10.0.0.0/-1", "\"10.0.0.0/-1\": prefix must be 0..32");
    expect_error("10.0.0.0/", "\"10.0.0.0/\": prefix must be 0..32");
    /* The prefix's limits: 1 to 3 digits, leading zeros allowed. */
    expect_error("10.0.0.0/0032", "\"10.0.0.0/0032\": prefix must be 0..32");
    expect_error("fd00::/0128", "\"fd00::/0128\": prefix must be 0..128");
    expect_error("10.0.0.0/+8", "\"10.0.0.0/+8\": prefix must be 0..32");
    expect_error("10.0.0.0/8x", "\"10.0.0.0/8x\": prefix must be 0..32");
    expect_error("10.0.0.0/8x", "\"10.0.0.0/8x\": prefix must be 0..32");
    expect_error("10.0.0.1/8", "\"10.0.0.1/8\": host bits set (did you mean 10.0.0.0/8?)");
    expect_error("fd00::1/8", "\"fd00::1/8\": host bits set (did you mean fd00::/8?)");
    expect_error("10.0.0.0/8, bogus/8", "\"bogus/8\": \"bogus\" is not an IPv4 or IPv6 address");
    expect_error("10.0.0.0/8,,192.168.0.0/16", "empty entry (entries are separated by single commas)");
    expect_error("10.0.0.0/8,", "empty entry (entries are separated by single commas)");
    expect_error("", "empty entry (entries are separated by single commas)");
}

int main(void)
{
    RUN(test_parse_and_format);
    RUN(test_parse_rejects);
    RUN(test_compare_contract_order);
    RUN(test_list_dedupe_sort);
    RUN(test_cidr_parse_and_contains);
    RUN(test_cidr_edges);
    RUN(test_cidr_errors);
    return check_done();
}
