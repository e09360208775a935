/* getaddrinfo_a with a timeout (dns.h). glibc cannot cancel a lookup that
 * has started, so one abandoned at the timeout stays on the resolver's list
 * until it completes; its memory belongs to glibc's worker until then. */
#include "handler/dns.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

typedef struct lookup {
    struct gaicb cb;
    struct addrinfo hints;
    struct lookup *next;   /* on the abandoned list */
    char host[];
} lookup;

struct dns_resolver {
    lookup *abandoned;
};

#define DNS_FREE_WAIT_MS 1000

static long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

dns_resolver *dns_resolver_new(void)
{
    return calloc(1, sizeof(dns_resolver));
}

static void lookup_free(lookup *l)
{
    if (l->cb.ar_result)
        freeaddrinfo(l->cb.ar_result);
    free(l);
}

/* Frees the abandoned lookups that have finished. */
static void reap(dns_resolver *r)
{
    lookup **pp = &r->abandoned;
    while (*pp) {
        lookup *l = *pp;
        if (gai_error(&l->cb) == EAI_INPROGRESS) {
            pp = &l->next;
            continue;
        }
        *pp = l->next;
        lookup_free(l);
    }
}

static int wait_lookup(lookup *l, long timeout_ms);

/* Waits a little for lookups still running; past that, they are left to
 * glibc's worker (it writes into them when it finishes), which costs their
 * memory rather than a process that lingers for the resolver's timeouts. */
void dns_resolver_free(dns_resolver *r)
{
    if (!r)
        return;
    long end = monotonic_ms() + DNS_FREE_WAIT_MS;
    while (r->abandoned) {
        long left = end - monotonic_ms();
        if (left <= 0 || wait_lookup(r->abandoned, left) != 0)
            break;
        reap(r);
    }
    free(r);
}

static struct timespec ms_to_timespec(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    return ts;
}

/* Waits until the lookup completes or timeout_ms passes. 0 when complete. */
static int wait_lookup(lookup *l, long timeout_ms)
{
    const struct gaicb *list[1] = { &l->cb };
    long end = monotonic_ms() + timeout_ms;
    while (gai_error(&l->cb) == EAI_INPROGRESS) {
        long left = end - monotonic_ms();
        if (left <= 0)
            return -1;
        struct timespec ts = ms_to_timespec(left);
        gai_suspend(list, 1, &ts);
    }
    return 0;
}

static const char *family_words(int family)
{
    return family == AF_INET ? "IPv4 (A)" : family == AF_INET6 ? "IPv6 (AAAA)" : "IPv4 or IPv6";
}

static dns_status map_error(int rc, const char *host, int family, char *err, size_t errlen)
{
    switch (rc) {
    case EAI_NONAME:
        snprintf(err, errlen, "%s: NXDOMAIN (no such name)", host);
        return DNS_NXDOMAIN;
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        snprintf(err, errlen, "%s: the name has no %s address", host, family_words(family));
        return DNS_NODATA;
    case EAI_AGAIN:
        snprintf(err, errlen, "%s: temporary DNS failure (SERVFAIL, REFUSED or no answer from the resolver)",
                 host);
        return DNS_TEMPFAIL;
    case EAI_SYSTEM:
        /* errno belongs to glibc's worker thread, not to us. */
        snprintf(err, errlen, "%s: resolver system error (cannot read resolv.conf or open a socket?)", host);
        return DNS_ERROR;
    default:
        snprintf(err, errlen, "%s: resolver error: %s", host, gai_strerror(rc));
        return DNS_ERROR;
    }
}

static int collect(const struct addrinfo *ai, int family, addr_list *out)
{
    for (; ai; ai = ai->ai_next) {
        ip_addr a;
        memset(&a, 0, sizeof a);
        if (ai->ai_family == AF_INET && family != AF_INET6) {
            const struct sockaddr_in *sin = (const void *)ai->ai_addr;
            a.family = AF_INET;
            memcpy(a.bytes, &sin->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6 && family != AF_INET) {
            const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;
            a.family = AF_INET6;
            memcpy(a.bytes, &sin6->sin6_addr, 16);
        } else {
            continue;
        }
        if (addr_list_add(out, &a) != 0)
            return -1;
    }
    addr_list_sort(out);
    return 0;
}

static lookup *lookup_start(const char *host, int family)
{
    size_t n = strlen(host);
    lookup *l = calloc(1, sizeof *l + n + 1);
    if (!l)
        return NULL;
    memcpy(l->host, host, n + 1);
    l->hints.ai_family = family;
    l->hints.ai_socktype = SOCK_STREAM;
    l->cb.ar_name = l->host;
    l->cb.ar_request = &l->hints;
    struct gaicb *list[1] = { &l->cb };
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
        free(l);
        return NULL;
    }
    return l;
}

dns_status dns_resolve(dns_resolver *r, const char *host, int family, long timeout_ms,
                       addr_list *out, char *err, size_t errlen)
{
    out->items = NULL;
    out->count = 0;
    reap(r);
    lookup *l = lookup_start(host, family);
    if (!l) {
        snprintf(err, errlen, "%s: could not start the lookup", host);
        return DNS_ERROR;
    }
    if (wait_lookup(l, timeout_ms) != 0) {
        if (gai_cancel(&l->cb) == EAI_CANCELED) {
            lookup_free(l);
        } else {
            l->next = r->abandoned;
            r->abandoned = l;
            reap(r);
        }
        snprintf(err, errlen, "%s: no answer within %ld ms", host, timeout_ms);
        return DNS_TIMEOUT;
    }
    int rc = gai_error(&l->cb);
    dns_status st = DNS_OK;
    if (rc != 0) {
        st = map_error(rc, host, family, err, errlen);
    } else if (collect(l->cb.ar_result, family, out) != 0) {
        addr_list_free(out);
        snprintf(err, errlen, "%s: out of memory", host);
        st = DNS_ERROR;
    } else if (out->count == 0) {
        snprintf(err, errlen, "%s: the name has no %s address", host, family_words(family));
        st = DNS_NODATA;
    }
    lookup_free(l);
    return st;
}

const char *dns_status_name(dns_status s)
{
    switch (s) {
    case DNS_OK: return "OK";
    case DNS_NXDOMAIN: return "NXDOMAIN";
    case DNS_NODATA: return "NODATA";
    case DNS_TEMPFAIL: return "TEMPFAIL";
    case DNS_TIMEOUT: return "TIMEOUT";
    default: return "ERROR";
    }
}
