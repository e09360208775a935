/* Resolves a name with handler/dns.c and prints one line:
 *   STATUS ms addr,addr,...   or   STATUS ms message
 * usage: handler_resolve NAME [ipv4|ipv6|dual] [TIMEOUT_MS] [REPEAT]
 * (used by tests/integration/test_handler_dns.py inside a private namespace) */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "handler/dns.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: handler_resolve NAME [ipv4|ipv6|dual] [TIMEOUT_MS] [REPEAT]\n");
        return 2;
    }
    const char *fam = argc > 2 ? argv[2] : "ipv4";
    int family = strcmp(fam, "ipv6") == 0 ? AF_INET6 : strcmp(fam, "dual") == 0 ? AF_UNSPEC : AF_INET;
    long timeout = argc > 3 ? atol(argv[3]) : 5000;
    int repeat = argc > 4 ? atoi(argv[4]) : 1;
    dns_resolver *r = dns_resolver_new();
    for (int i = 0; i < repeat; i++) {
        addr_list out;
        char err[512] = "";
        long t0 = now_ms();
        dns_status st = dns_resolve(r, argv[1], family, timeout, &out, err, sizeof err);
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
    dns_resolver_free(r);
    return 0;
}
