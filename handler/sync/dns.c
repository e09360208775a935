/* getaddrinfo with a timeout (dns.h). One worker thread, started by the first
 * lookup and kept for the next ones, runs getaddrinfo; the caller hands it
 * each request under the worker's mutex and waits for the answer on a
 * CLOCK_MONOTONIC condition variable, up to its timeout. (A thread per lookup
 * cost most of a warm invocation's own time; glibc's getaddrinfo_a would do
 * the waiting too, but its helper thread lingers after every lookup and is
 * still alive when the process exits.)
 *
 * A worker still resolving at the timeout is abandoned: it is told to stop,
 * finishes its getaddrinfo on its own, frees that answer and exits. It stays
 * on the resolver's list and is joined once it has exited; the next lookup
 * starts a fresh worker. */
#include "handler/sync/dns.h"
#include "handler/sync/dns_internal.h"

#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define DNS_FREE_WAIT_MS 1000

typedef enum worker_state {
    W_IDLE,     /* waiting for a request */
    W_BUSY,     /* resolving w->host */
    W_ANSWERED, /* rc and res hold the answer for the caller */
    W_EXITED    /* told to stop and past its last getaddrinfo */
} worker_state;

typedef struct worker {
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* to the worker: a request, or stop */
    pthread_cond_t settled; /* to the caller: answered or exited */
    worker_state state;     /* under mu, as are stop, detached, rc and res */
    int stop;               /* exit when not resolving; an answer still to come is dropped */
    int detached;           /* nobody will join: the thread frees the worker itself */
    int rc;                 /* getaddrinfo's result */
    struct addrinfo *res;
    char *host; /* the request: set under mu while W_IDLE, read by the worker while W_BUSY */
    int family;
    pthread_t thread;
    struct worker *next; /* on the abandoned list (the resolver's thread only) */
} worker;

struct dns_resolver {
    worker *idle;      /* the live worker, W_IDLE between lookups; NULL before the first */
    worker *abandoned; /* workers left resolving at a timeout */
    unsigned long threads_started;
};

dns_resolver *dns_resolver_new(void)
{
    return calloc(1, sizeof(dns_resolver));
}

unsigned long dns_resolver_threads_started(const dns_resolver *r)
{
    return r->threads_started;
}

static int lookup(const char *host, int family, struct addrinfo **res)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    return getaddrinfo(host, NULL, &hints, res);
}

static void worker_free(worker *w)
{
    if (w->res)
        freeaddrinfo(w->res);
    free(w->host);
    pthread_cond_destroy(&w->settled);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        if (w->state != W_BUSY) {
            pthread_cond_wait(&w->wake, &w->mu);
            continue;
        }
        pthread_mutex_unlock(&w->mu);
        struct addrinfo *res = NULL;
        int rc = lookup(w->host, w->family, &res);
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        w->res = res;
        w->state = W_ANSWERED;
        pthread_cond_signal(&w->settled);
    }
    if (w->res) { /* abandoned: nobody will take this answer */
        freeaddrinfo(w->res);
        w->res = NULL;
    }
    w->state = W_EXITED;
    int detached = w->detached;
    pthread_cond_signal(&w->settled);
    pthread_mutex_unlock(&w->mu);
    if (detached)
        worker_free(w);
    return NULL;
}

static worker *worker_start(void)
{
    worker *w = calloc(1, sizeof *w);
    pthread_condattr_t attr;
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->settled, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        worker_free(w);
        return NULL;
    }
    return w;
}

/* Hands an idle worker its next request. */
static int worker_ask(worker *w, const char *host, int family)
{
    char *copy = strdup(host); /* an abandoned worker may outlive the caller's string */
    if (!copy)
        return -1;
    pthread_mutex_lock(&w->mu);
    free(w->host);
    w->host = copy;
    w->family = family;
    w->state = W_BUSY;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Waits until the worker is no longer resolving or timeout_ms passes. 0 when
 * it has settled (answered, or exited if it was told to stop). */
static int worker_wait(worker *w, long timeout_ms)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_ms / 1000;
    end.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (w->state == W_BUSY && rc == 0)
        rc = pthread_cond_timedwait(&w->settled, &w->mu, &end);
    int settled = w->state != W_BUSY;
    pthread_mutex_unlock(&w->mu);
    return settled ? 0 : -1;
}

/* Takes the answer of a settled worker and makes it idle again. */
static int worker_take(worker *w, struct addrinfo **res)
{
    pthread_mutex_lock(&w->mu);
    int rc = w->rc;
    *res = w->res;
    w->res = NULL;
    w->state = W_IDLE;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Tells the worker to exit as soon as it is not resolving. */
static void worker_stop(worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

/* Joins and frees the abandoned workers that have exited. */
static void reap(dns_resolver *r)
{
    worker **pp = &r->abandoned;
    while (*pp) {
        worker *w = *pp;
        if (worker_wait(w, 0) != 0) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        pthread_join(w->thread, NULL);
        worker_free(w);
    }
}

static long monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Lets go of an abandoned worker: joined if it has exited, otherwise given to
 * its own thread, which frees it on exit (a resolver that never answers must
 * not make the process linger). */
static void worker_release(worker *w)
{
    pthread_mutex_lock(&w->mu);
    pthread_t t = w->thread; /* w may be gone once unlocked */
    int exited = w->state == W_EXITED;
    w->detached = !exited;
    pthread_mutex_unlock(&w->mu);
    if (exited) {
        pthread_join(t, NULL);
        worker_free(w);
    } else {
        pthread_detach(t);
    }
}

/* Stops the idle worker; waits up to DNS_FREE_WAIT_MS in all for abandoned
 * ones, then lets them go. */
void dns_resolver_free(dns_resolver *r)
{
    if (!r)
        return;
    if (r->idle) {
        worker_stop(r->idle);
        pthread_join(r->idle->thread, NULL);
        worker_free(r->idle);
    }
    long end = monotonic_ms() + DNS_FREE_WAIT_MS;
    for (worker *w = r->abandoned; w; w = w->next) {
        long left = end - monotonic_ms();
        worker_wait(w, left > 0 ? left : 0);
    }
    while (r->abandoned) {
        worker *w = r->abandoned;
        r->abandoned = w->next;
        worker_release(w);
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
    case EAI_NONAME: snprintf(err, errlen, "%s: NXDOMAIN (no such name)", host); return DNS_NXDOMAIN;
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        snprintf(err, errlen, "%s: the name has no %s address", host, family_words(family));
        return DNS_NODATA;
    case EAI_AGAIN:
        snprintf(err, errlen, "%s: temporary DNS failure (SERVFAIL, REFUSED or no answer from the resolver)", host);
        return DNS_TEMPFAIL;
    case EAI_SYSTEM:
        /* errno belongs to the lookup's thread, not to us. */
        snprintf(err, errlen, "%s: resolver system error (cannot read resolv.conf or open a socket?)", host);
        return DNS_ERROR;
    default: snprintf(err, errlen, "%s: resolver error: %s", host, gai_strerror(rc)); return DNS_ERROR;
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

dns_status dns_resolve(dns_resolver *r, const char *host, int family, long timeout_ms, addr_list *out, char *err,
                       size_t errlen)
{
    out->items = NULL;
    out->count = 0;
    reap(r);
    if (!r->idle && (r->idle = worker_start()) != NULL)
        r->threads_started++;
    worker *w = r->idle;
    if (!w || worker_ask(w, host, family) != 0) {
        snprintf(err, errlen, "%s: could not start the lookup", host);
        return DNS_ERROR;
    }
    if (worker_wait(w, timeout_ms > 0 ? timeout_ms : 0) != 0) {
        worker_stop(w);
        w->next = r->abandoned;
        r->abandoned = w;
        r->idle = NULL;
        snprintf(err, errlen, "%s: no answer within %ld ms", host, timeout_ms);
        return DNS_TIMEOUT;
    }
    struct addrinfo *res;
    int rc = worker_take(w, &res);
    dns_status st = DNS_OK;
    if (rc != 0) {
        st = map_error(rc, host, family, err, errlen);
    } else if (collect(res, family, out) != 0) {
        addr_list_free(out);
        snprintf(err, errlen, "%s: out of memory", host);
        st = DNS_ERROR;
    } else if (out->count == 0) {
        snprintf(err, errlen, "%s: the name has no %s address", host, family_words(family));
        st = DNS_NODATA;
    }
    if (res)
        freeaddrinfo(res);
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

static int dns_source_resolve(void *ctx, const source_query *q, source_answer *out)
{
    const dns_source *s = ctx;
    char err[SOURCE_ERROR_MAX];
    dns_status st = dns_resolve(s->resolver, s->host, s->family, q->timeout_ms, &out->addresses, err, sizeof err);
    if (st == DNS_OK)
        return 0;
    rns_error_set(&out->error, RNS_ERR_RESOLVE, "%s", err);
    out->status = dns_status_name(st);
    return -1;
}

addr_source dns_source_of(dns_source *s)
{
    return (addr_source){.ctx = s, .subject = s->host, .resolve = dns_source_resolve};
}
