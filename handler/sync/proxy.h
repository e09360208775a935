/* RDS Proxy endpoints (CONTRACT.md section 14, "RDS Proxy"): a proxy's name
 * answers several addresses, which change as it scales, and no event says
 * so. The proxy source keeps an address the target group holds until it
 * has been missing from PROXY_MISSES consecutive answers; a new one is
 * registered at once. The counts live in the group's tag
 * rds-nlb-sync:misses ("10.0.0.5=2,10.0.0.6=1"), so they survive a cold
 * start: fleet mode's proxy: bindings and, outside fleet mode, a
 * DB_ENDPOINT that names a proxy (handler.c). */
#ifndef RNS_SYNC_PROXY_H
#define RNS_SYNC_PROXY_H

#include <stddef.h>

#include "handler/aws/elbv2.h"
#include "handler/sync/addr.h"
#include "handler/sync/source.h"

#define FLEET_MISSES_TAG "rds-nlb-sync:misses"

/* An address and the consecutive answers it has missed (proxy: bindings). */
typedef struct fleet_miss {
    ip_addr addr;
    int misses;
} fleet_miss;

typedef struct fleet_miss_list {
    fleet_miss *items;
    size_t count;
} fleet_miss_list;

/* "10.0.0.5=2,10.0.0.6=1" <-> the list; an unparsable item is skipped. */
void fleet_misses_parse(const char *text, fleet_miss_list *out);
int fleet_misses_format(const fleet_miss_list *l, char *out, size_t outlen);
void fleet_miss_list_free(fleet_miss_list *l);

/* The proxy source: a DNS name whose answers are combined with the targets
 * the group holds. A held address missing from the answer stays until it
 * has missed `limit` consecutive reconciles; `next` receives the counts of
 * the last answer (committed by the caller after the run). */
typedef struct proxy_source {
    addr_source dns; /* the DNS name's own source */
    const fleet_miss_list *prev;
    fleet_miss_list next;
    int limit;
    int port;
} proxy_source;

addr_source proxy_source_of(proxy_source *p);

/* After a run of the proxy source: when the counts of its answer differ
 * from *kept, they replace them, *tag is the rds-nlb-sync:misses tag to
 * write, and 1 is returned; else 0 (nothing to write). */
int proxy_misses_commit(fleet_miss_list *kept, proxy_source *p, elb_tag *tag);

/* Whether a DNS name is an RDS Proxy endpoint: one of its labels starts
 * with "proxy-" (name.proxy-abc123.region.rds.amazonaws.com). */
int fleet_is_proxy_endpoint(const char *host);

#endif
