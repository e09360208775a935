/* handler/sync/dns.c without a DNS server: address literals, which getaddrinfo
 * answers itself, to check that lookups share one worker thread started by
 * the first of them, that each lookup gets its own answer, and that freeing
 * the resolver ends its threads. (Answers from a real server, failures and
 * timeouts: tests/integration/test_handler_dns.py, against dnsmasq.) */
#include <dirent.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "check.h"
#include "handler/sync/dns.h"
#include "handler/sync/dns_internal.h"

#define LOOKUPS 1000

/* Threads of this process, from /proc/self/task. */
static int tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Threads once `want` is reached or 20 s have passed: a joined thread may
 * still be listed for a while after pthread_join returns (the kernel clears
 * the thread id before it reaps the task), longer on a busy machine. */
static int tasks_settled(int want)
{
    struct timespec ms = {0, 1000000L};
    int n = tasks();
    for (int i = 0; i < 20000 && n != want; i++) {
        nanosleep(&ms, NULL);
        n = tasks();
    }
    return n;
}

/* Resolves a literal; returns 1 when the only address is that literal. */
static int resolves_to_itself(dns_resolver *r, const char *literal, int family)
{
    addr_list out;
    char err[256] = "", text[ADDR_TEXT_MAX] = "";
    dns_status st = dns_resolve(r, literal, family, 5000, &out, err, sizeof err);
    if (st == DNS_OK && out.count == 1)
        ip_addr_format(&out.items[0], text, sizeof text);
    int ok = st == DNS_OK && out.count == 1 && strcmp(text, literal) == 0;
    if (!ok)
        fprintf(stderr, "  %s: %s (%zu addresses, first %s) %s\n", literal, dns_status_name(st), out.count, text, err);
    addr_list_free(&out);
    return ok;
}

static void test_no_thread_before_the_first_lookup(void)
{
    int before = tasks_settled(1);
    dns_resolver *r = dns_resolver_new();
    CHECK(r != NULL);
    CHECK_INT(dns_resolver_threads_started(r), 0);
    CHECK_INT(tasks(), before);
    dns_resolver_free(r);
    CHECK_INT(tasks(), before);
    dns_resolver_free(NULL);
}

static void test_many_lookups_one_worker(void)
{
    int before = tasks_settled(1);
    dns_resolver *r = dns_resolver_new();
    int wrong = 0;
    for (int i = 0; i < LOOKUPS; i++) {
        char v4[32], v6[32];
        snprintf(v4, sizeof v4, "10.%d.%d.%d", i / 65536, i / 256 % 256, i % 256);
        snprintf(v6, sizeof v6, "fd00::%x", i + 1);
        /* each answer is the one asked for: nothing left over from the previous request */
        wrong += !resolves_to_itself(r, i % 2 ? v6 : v4, AF_UNSPEC);
        if (i == 0)
            CHECK_INT(tasks(), before + 1);
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(dns_resolver_threads_started(r), 1);
    CHECK_INT(tasks(), before + 1);
    dns_resolver_free(r);
    CHECK_INT(tasks_settled(before), before);
}

static void test_families_on_one_worker(void)
{
    dns_resolver *r = dns_resolver_new();
    CHECK(resolves_to_itself(r, "192.0.2.7", AF_INET));
    CHECK(resolves_to_itself(r, "2001:db8::7", AF_INET6));
    CHECK(resolves_to_itself(r, "192.0.2.8", AF_UNSPEC));
    CHECK_INT(dns_resolver_threads_started(r), 1);
    dns_resolver_free(r);
}

static void test_resolvers_are_independent(void)
{
    /* the previous test's worker may still be listed: count from the settled
     * baseline, the main thread alone */
    int before = tasks_settled(1);
    dns_resolver *a = dns_resolver_new(), *b = dns_resolver_new();
    for (int i = 0; i < 10; i++) {
        CHECK(resolves_to_itself(a, "192.0.2.1", AF_INET));
        CHECK(resolves_to_itself(b, "192.0.2.2", AF_INET));
    }
    CHECK_INT(dns_resolver_threads_started(a), 1);
    CHECK_INT(dns_resolver_threads_started(b), 1);
    CHECK_INT(tasks(), before + 2);
    dns_resolver_free(a);
    CHECK_INT(tasks_settled(before + 1), before + 1);
    dns_resolver_free(b);
    CHECK_INT(tasks_settled(before), before);
}

static void *nothing(void *arg)
{
    return arg;
}

int main(void)
{
    /* a sanitizer runtime may start a helper thread with the process's first
     * pthread_create (TSan does): made to happen before the first count */
    pthread_t t;
    if (pthread_create(&t, NULL, nothing, NULL) == 0)
        pthread_join(t, NULL);
    RUN(test_no_thread_before_the_first_lookup);
    RUN(test_many_lookups_one_worker);
    RUN(test_families_on_one_worker);
    RUN(test_resolvers_are_independent);
    return check_done();
}
