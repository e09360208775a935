/* Resolves names with handler/sync/dns.c and prints one line per lookup:
 *   STATUS ms addr,addr,...   or   STATUS ms message
 * usage: handler_resolve NAME [ipv4|ipv6|dual] [TIMEOUT_MS] [REPEAT]
 *        handler_resolve -    (commands on stdin, one a line, all on one resolver:)
 *   resolve NAME FAMILY TIMEOUT_MS [REPEAT]   the lookup lines above
 *   threads   "threads STARTED TASKS": dns_resolver_threads_started, entries of /proc/self/task
 *             (TSan's helper thread included: it is started before the first command)
 *   free      frees the resolver, "freed MS TASKS" (the next command gets a new resolver)
 * (used by tests/integration/test_handler_dns.py inside a private namespace) */
#include <dirent.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "handler/sync/dns.h"
#include "handler/sync/dns_internal.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int family_of(const char *fam)
{
    return strcmp(fam, "ipv6") == 0 ? AF_INET6 : strcmp(fam, "dual") == 0 ? AF_UNSPEC : AF_INET;
}

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

static void *nothing(void *arg)
{
    return arg;
}

/* A sanitizer runtime may start a helper thread with the process's first
 * pthread_create (TSan does): made to happen before the first count. */
static void start_helper_threads(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, nothing, NULL) == 0)
        pthread_join(t, NULL);
}

static void resolve(dns_resolver *r, const char *name, int family, long timeout, int repeat)
{
    for (int i = 0; i < repeat; i++) {
        addr_list out;
        char err[512] = "";
        long t0 = now_ms();
        dns_status st = dns_resolve(r, name, family, timeout, &out, err, sizeof err);
        printf("%s %ld ", dns_status_name(st), now_ms() - t0);
        if (st == DNS_OK) {
            for (size_t j = 0; j < out.count; j++) {
                char text[ADDR_TEXT_MAX];
                ip_addr_format(&out.items[j], text, sizeof text);
                printf("%s%s", j ? "," : "", text);
            }
        } else {
            printf("%s", err);
        }
        printf("\n");
        fflush(stdout);
        addr_list_free(&out);
    }
}

/* One stdin command; returns the resolver to use next. */
static dns_resolver *command(dns_resolver *r, char *line)
{
    char name[1024], fam[16];
    long timeout;
    int repeat = 1;
    if (!r && (r = dns_resolver_new()) == NULL) {
        printf("out of memory\n");
        return NULL;
    }
    if (sscanf(line, "resolve %1023s %15s %ld %d", name, fam, &timeout, &repeat) >= 3) {
        resolve(r, name, family_of(fam), timeout, repeat);
    } else if (strncmp(line, "threads", 7) == 0) {
        printf("threads %lu %d\n", dns_resolver_threads_started(r), tasks());
    } else if (strncmp(line, "free", 4) == 0) {
        long t0 = now_ms();
        dns_resolver_free(r);
        r = NULL;
        long took = now_ms() - t0;
        printf("freed %ld %d\n", took, tasks());
    } else {
        printf("bad command: %s", line);
    }
    fflush(stdout);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: handler_resolve NAME [ipv4|ipv6|dual] [TIMEOUT_MS] [REPEAT] | -\n");
        return 2;
    }
    dns_resolver *r = NULL;
    if (strcmp(argv[1], "-") == 0) {
        char line[1200];
        start_helper_threads();
        while (fgets(line, sizeof line, stdin))
            r = command(r, line);
    } else {
        r = dns_resolver_new();
        if (!r)
            return 1;
        resolve(r, argv[1], family_of(argc > 2 ? argv[2] : "ipv4"), argc > 3 ? atol(argv[3]) : 5000,
                argc > 4 ? atoi(argv[4]) : 1);
    }
    dns_resolver_free(r);
    return 0;
}
