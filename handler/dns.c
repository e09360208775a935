/* getaddrinfo with a timeout (dns.h). Each lookup runs getaddrinfo in a
 * thread of its own that the caller waits for with a timeout and joins. A
 * lookup abandoned at the timeout stays on the resolver's list, owned by its
 * thread until that finishes; later calls join and free it. (glibc's
 * getaddrinfo_a would do the waiting too, but its helper thread lingers after
 * every lookup and is still alive when the process exits.) */
#include "handler/dns.h"

#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define DNS_FREE_WAIT_MS 1000

typedef struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    int done;                 /* under mu */
    int rc;                   /* getaddrinfo's result, once done */
    struct addrinfo *res;
    int family;
    pthread_t thread;
    struct lookup *next;      /* on the abandoned list */
    char host[];
} lookup;

struct dns_resolver {
    lookup *abandoned;
};

dns_resolver *dns_resolver_new(void)
{
    return calloc(1, sizeof(dns_resolver));
}

static void *lookup_main(void *arg)
{
    lookup *l = arg;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = l->family;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(l->host, NULL, &hints, &res);
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->res = res;
    l->done = 1;
    pthread_cond_signal(&l->done_cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void lookup_free(lookup *l)
{
    if (l->res)
        freeaddrinfo(l->res);
    pthread_cond_destroy(&l->done_cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static lookup *lookup_start(const char *host, int family)
{
    size_t n = strlen(host);
    lookup *l = calloc(1, sizeof *l + n + 1);
    pthread_condattr_t attr;
    if (!l)
        return NULL;
    memcpy(l->host, host, n + 1);
    l->family = family;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->done_cv, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&l->thread, NULL, lookup_main, l) != 0) {
        lookup_free(l);
        return NULL;
    }
    return l;
}

/* Waits until the lookup is done or timeout_ms passes. 0 when done. */
static int wait_lookup(lookup *l, long timeout_ms)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_ms / 1000;
    end.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    while (!l->done && rc == 0)
        rc = pthread_cond_timedwait(&l->done_cv, &l->mu, &end);
    int done = l->done;
    pthread_mutex_unlock(&l->mu);
    return done ? 0 : -1;
}

/* Joins and frees the abandoned lookups that have finished. */
static void reap(dns_resolver *r)
{
    lookup **pp = &r->abandoned;
    while (*pp) {
        lookup *l = *pp;
        if (wait_lookup(l, 0) != 0) {
            pp = &l->next;
            continue;
        }
        *pp = l->next;
        pthread_join(l->thread, NULL);
        lookup_free(l);
    }
}

static long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits a little for lookups still running; past that their threads are
 * detached and keep their lookup (a small leak rather than a process that
 * lingers for the resolver's own timeouts). */
void dns_resolver_free(dns_resolver *r)
{
    if (!r)
        return;
    long end = monotonic_ms() + DNS_FREE_WAIT_MS;
    for (lookup *l = r->abandoned; l; l = l->next) {
        long left = end - monotonic_ms();
        wait_lookup(l, left > 0 ? left : 0);
    }
    reap(r);
    while (r->abandoned) {
        lookup *l = r->abandoned;
        r->abandoned = l->next;
        pthread_detach(l->thread);
    }
    free(r);
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
        /* errno belongs to the lookup's thread, not to us. */
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
    if (wait_lookup(l, timeout_ms > 0 ? timeout_ms : 0) != 0) {
        l->next = r->abandoned;
        r->abandoned = l;
        snprintf(err, errlen, "%s: no answer within %ld ms", host, timeout_ms);
        return DNS_TIMEOUT;
    }
    pthread_join(l->thread, NULL);
    dns_status st = DNS_OK;
    if (l->rc != 0) {
        st = map_error(l->rc, host, family, err, errlen);
    } else if (collect(l->res, family, out) != 0) {
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
