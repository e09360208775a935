/* RDS Proxy endpoints (CONTRACT.md section 14, "RDS Proxy"): a proxy's name
 * answers several addresses, which change as it scales, and no event says
 * so. The proxy source keeps an address the target group holds until it
 * has been missing from PROXY_MISSES consecutive answers; a new one is
 * registered at once. Fleet mode's proxy: bindings and, outside fleet mode,
 * a DB_ENDPOINT that names a proxy (handler.c) use it.
 *
 * The counts live on the target group, so that they survive a cold start
 * and are shared by the containers Lambda runs side by side: the tag
 * rds-nlb-sync:misses ("10.0.0.5=2 10.0.0.6=1"), continued in
 * rds-nlb-sync:misses:2 .. :PROXY_MISSES_TAGS when one value (256
 * characters) is too short. A run reads them just before it counts (or
 * takes them from the discovery of the same invocation) and writes them
 * back when they change. When they cannot be read, stored or written, no
 * address leaves the group on a count and the run fails, naming the group. */
#ifndef RNS_SYNC_PROXY_H
#define RNS_SYNC_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "handler/aws/elbv2.h"
#include "handler/sync/addr.h"
#include "handler/sync/error.h"
#include "handler/sync/source.h"

#define FLEET_MISSES_TAG "rds-nlb-sync:misses"
/* The tags the counts may take: FLEET_MISSES_TAG, then FLEET_MISSES_TAG ":2"
 * and on. 16 values hold at least 80 IPv6 or 208 IPv4 addresses (a proxy
 * uses at most 215 addresses, only the missing ones are counted) and leave
 * 30 of a group's 50 tags to their owner. */
#define PROXY_MISSES_TAGS 16
#define PROXY_MISSES_COUNT_MAX 99 /* a larger count in a tag is unreadable (PROXY_MISSES is at most 20) */

/* An address and the consecutive answers it has missed. */
typedef struct fleet_miss {
    ip_addr addr;
    int misses;
} fleet_miss;

typedef struct fleet_miss_list {
    fleet_miss *items; /* sorted by address, each once */
    size_t count;
} fleet_miss_list;

/* The counts as a group's tags hold them. */
typedef struct proxy_misses {
    fleet_miss_list list;
    unsigned keys; /* bit k: the group has the k-th tag (bit 0: FLEET_MISSES_TAG) */
    int garbage;   /* a tag held something unreadable: skipped (that address starts over), rewritten */
    int known;     /* 0: the tags were not read */
} proxy_misses;

/* One tag value, "10.0.0.5=2 fd00::1=1" (commas are read too) -> the list,
 * sorted; returns how many items were unreadable (skipped). Each address
 * once: the smaller count is kept. */
size_t fleet_misses_parse(const char *text, fleet_miss_list *out);
void fleet_miss_list_free(fleet_miss_list *l);

/* The counts among a group's tags (others are ignored): known. */
void proxy_misses_from_tags(const elb_tag_set *tags, proxy_misses *out);
/* The counts of one group, read now (DescribeTags of its ARN): 0, or -1
 * with out->known 0 and why (whylen bytes) says why. */
int proxy_misses_load(elb_client *c, const char *arn, int64_t deadline_ms, proxy_misses *out, char *why, size_t whylen);
/* The tags that hold a sorted list, filled in order: how many (1 at least,
 * FLEET_MISSES_TAG "" for none), or -1 when PROXY_MISSES_TAGS are too few. */
int proxy_misses_to_tags(const fleet_miss_list *l, elb_tag tags[PROXY_MISSES_TAGS]);
/* Frees the list; m is then unknown. */
void proxy_misses_free(proxy_misses *m);

/* The proxy source: a DNS name whose answers are combined with the targets
 * the group holds. A held address missing from the answer stays until it
 * has missed `limit` consecutive reconciles; `next` receives the counts of
 * the last answer. When prev is not known, or next does not fit in the
 * tags, every held address stays (unstored says how many did not fit). */
typedef struct proxy_source {
    addr_source dns; /* the DNS name's own source */
    const proxy_misses *prev;
    fleet_miss_list next;
    int limit;
    int port;
    size_t unstored; /* the last answer: this many missing addresses did not fit in the tags (0: they did) */
    char why[640];   /* why prev is not known (proxy_misses_load) */
} proxy_source;

addr_source proxy_source_of(proxy_source *p);

/* After a run of the proxy source on the group arn, whose outcome is *err:
 * when the run succeeded and is no dry run, the counts of its answer are
 * written if they differ from p->prev (RemoveTags of the numbered tags no
 * longer needed, then AddTags). *err, when still clear, gets why the counts
 * could not be read, stored or written (ElbApiError, or Timeout): the
 * binding fails. The calls made are added to *calls; p->next is freed. */
void proxy_misses_finish(elb_client *c, const char *arn, proxy_source *p, int dry_run, int64_t deadline_ms, logger *log,
                         int *calls, rns_error *err);

/* Whether a DNS name is an RDS Proxy endpoint: one of its labels starts
 * with "proxy-" (name.proxy-abc123.region.rds.amazonaws.com). */
int fleet_is_proxy_endpoint(const char *host);

#endif
