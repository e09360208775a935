/* Resolving the database endpoint: getaddrinfo semantics (every address,
 * CNAME chains followed, /etc/hosts then DNS, no AI_ADDRCONFIG, which returns
 * nothing in a loopback-only namespace), bounded by a timeout.
 *
 * getaddrinfo runs in a worker thread that the resolver starts at its first
 * lookup and keeps for the next ones, so a resolver that never answers cannot
 * hold the caller past its deadline. A worker still resolving at the timeout
 * is abandoned (it finishes, drops its answer and exits; the resolver joins
 * it later) and the next lookup starts a fresh one. dns_resolver_free stops
 * the idle worker and waits up to a second for abandoned ones, then detaches
 * them. */
#ifndef RNS_DNS_H
#define RNS_DNS_H

#include <stddef.h>

#include "handler/sync/addr.h"
#include "handler/sync/source.h"

typedef enum dns_status {
    DNS_OK = 0,   /* at least one address */
    DNS_NXDOMAIN, /* the name does not exist */
    DNS_NODATA,   /* the name exists, no address of the asked families */
    DNS_TEMPFAIL, /* SERVFAIL, REFUSED, resolver unreachable or silent */
    DNS_TIMEOUT,  /* our own timeout_ms ran out */
    DNS_ERROR     /* anything else (bad name, out of memory, ...) */
} dns_status;

typedef struct dns_resolver dns_resolver;

dns_resolver *dns_resolver_new(void);
/* Waits briefly for lookups that are still running, then frees. */
void dns_resolver_free(dns_resolver *r);

/* family: AF_INET, AF_INET6 or AF_UNSPEC (both). On DNS_OK, *out holds the
 * addresses, deduplicated and in contract order (caller frees); otherwise
 * *out is empty and err names the host and the failure. */
dns_status dns_resolve(dns_resolver *r, const char *host, int family, long timeout_ms, addr_list *out, char *err,
                       size_t errlen);

/* "NXDOMAIN", "NODATA", "TEMPFAIL", ... for logs. */
const char *dns_status_name(dns_status s);

/* A DNS name as an address source (source.h): every failure is a
 * ResolveError naming the host, its status the word for logs. */
typedef struct dns_source {
    dns_resolver *resolver; /* borrowed, serving this source only */
    const char *host;
    int family; /* as dns_resolve */
} dns_source;

/* The source around s (borrowed). */
addr_source dns_source_of(dns_source *s);

#endif
