/* Private to dns.c and its tests. */
#ifndef RNS_SYNC_DNS_INTERNAL_H
#define RNS_SYNC_DNS_INTERNAL_H

#include "handler/sync/dns.h"

/* Worker threads this resolver has started: 1 while every lookup is answered
 * in time, one more for each lookup after a timeout. */
unsigned long dns_resolver_threads_started(const dns_resolver *r);

#endif
