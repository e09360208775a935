/* Cluster discovery (cluster.h): the RDS API's view of the cluster, the
 * role's choice of members, their instance endpoints resolved. */
#include "handler/sync/cluster.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "handler/aws/rds.h"
#include "handler/sync/reconcile.h"
#include "handler/sync/result.h"

/* One member as one pass saw it. */
typedef struct member {
    char id[RDS_ID_MAX];
    int writer;
    int tier;                    /* PromotionTier */
    int listed;                  /* DescribeDBInstances listed it */
    char status[RDS_STATUS_MAX]; /* DBInstanceStatus when listed */
    char endpoint[RDS_HOST_MAX]; /* "" without an Endpoint */
    int chosen;                  /* picked by the role and resolved */
    addr_list addresses;         /* resolved, chosen members only */
    char why[300];               /* a candidate left out: why */
} member;

typedef struct pass {
    member *items;
    size_t count;
    char status[RDS_STATUS_MAX];
    char endpoint[RDS_HOST_MAX];
    char reader_endpoint[RDS_HOST_MAX];
    int read; /* DescribeDBClusters answered: the members are the cluster's (none included) */
} pass;

struct cluster_discovery {
    cluster_settings set; /* its strings borrowed */
    dns_resolver *dns;
    logger *log;
    query_client *rds;
    char subject[RDS_ID_MAX + 32];
    pass last;                   /* the latest pass */
    rds_instance_list instances; /* DescribeDBInstances of this invocation */
    int have_instances;
    char *logged; /* the decisions last logged, to log only changes */
};

/* ---- lifecycle ---- */

static void pass_free(pass *p)
{
    for (size_t i = 0; i < p->count; i++)
        addr_list_free(&p->items[i].addresses);
    free(p->items);
    memset(p, 0, sizeof *p);
}

cluster_discovery *cluster_discovery_new(const cluster_settings *set, query_client *rds, dns_resolver *dns, logger *log)
{
    cluster_discovery *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->set = *set;
    d->rds = rds;
    d->dns = dns;
    d->log = log;
    snprintf(d->subject, sizeof d->subject, "cluster %s (%s)", set->cluster_id, db_role_name(set->role));
    return d;
}

void cluster_discovery_free(cluster_discovery *d)
{
    if (!d)
        return;
    pass_free(&d->last);
    rds_instance_list_free(&d->instances);
    free(d->logged);
    free(d);
}

/* A new invocation: forgets the previous passes. */
static void cluster_begin(void *ctx)
{
    cluster_discovery *d = ctx;
    pass_free(&d->last);
    rds_instance_list_free(&d->instances);
    d->have_instances = 0;
    free(d->logged);
    d->logged = NULL;
}

/* No answer: the failure's type, a word for logs and the message. */
static int fail(source_answer *out, rns_error_type type, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(source_answer *out, rns_error_type type, const char *status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error.message, sizeof out->error.message, fmt, ap);
    va_end(ap);
    out->error.type = type;
    out->status = status;
    return -1;
}

/* ---- the members ---- */

int cluster_status_serves(const char *status)
{
    static const char *const never[] = {
        "creating", "deleting", "failed", "stopped", "stopping", "starting", "insufficient-capacity"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        if (strcmp(status, never[i]) == 0)
            return 0;
    return strncmp(status, "inaccessible-encryption-credentials", 35) != 0 && strncmp(status, "incompatible-", 13) != 0;
}

static int member_compare(const void *a, const void *b)
{
    return strcmp(((const member *)a)->id, ((const member *)b)->id);
}

/* The cluster's members with what DescribeDBInstances says of each, by id. */
static int build_pass(pass *p, const rds_cluster *c, const rds_instance_list *in)
{
    memset(p, 0, sizeof *p);
    if (c->count && !(p->items = calloc(c->count, sizeof *p->items)))
        return -1;
    p->count = c->count;
    p->read = 1;
    snprintf(p->status, sizeof p->status, "%s", c->status);
    snprintf(p->endpoint, sizeof p->endpoint, "%s", c->endpoint);
    snprintf(p->reader_endpoint, sizeof p->reader_endpoint, "%s", c->reader_endpoint);
    for (size_t i = 0; i < c->count; i++) {
        member *m = &p->items[i];
        const rds_instance *found = rds_instance_find(in, c->items[i].id);
        snprintf(m->id, sizeof m->id, "%s", c->items[i].id);
        m->writer = c->items[i].writer;
        m->tier = c->items[i].tier;
        if (found) {
            m->listed = 1;
            snprintf(m->status, sizeof m->status, "%s", found->status);
            snprintf(m->endpoint, sizeof m->endpoint, "%s", found->address);
        }
    }
    if (p->count) /* a cluster of no members has no list to sort (qsort's NULL) */
        qsort(p->items, p->count, sizeof *p->items, member_compare);
    return 0;
}

/* Why a member cannot be a target before any lookup, or NULL. */
static const char *unusable(const member *m, char *buf, size_t buflen)
{
    if (!m->listed)
        return "not listed by DescribeDBInstances";
    if (!cluster_status_serves(m->status)) {
        snprintf(buf, buflen, "status %s", m->status);
        return buf;
    }
    if (!m->endpoint[0])
        return "no endpoint";
    return NULL;
}

/* Resolves a chosen member's endpoint within the pass's deadline. */
static dns_status lookup(cluster_discovery *d, member *m, int64_t deadline, char *err, size_t errlen)
{
    long left = (long)(deadline - rns_wall_ms());
    dns_status st;
    if (left <= 0) {
        snprintf(err, errlen, "%s: no time left to look up %s", m->id, m->endpoint);
        return DNS_TIMEOUT;
    }
    st = dns_resolve(d->dns, m->endpoint, d->set.family, left, &m->addresses, err, errlen);
    m->chosen = st == DNS_OK;
    return st;
}

/* No writer, or one that cannot be a target: no answer, a ResolveError. */
static int choose_writer(cluster_discovery *d, int64_t deadline, source_answer *out)
{
    pass *p = &d->last;
    member *w = NULL;
    size_t writers = 0;
    char buf[RDS_STATUS_MAX + 16];
    const char *why;
    for (size_t i = 0; i < p->count; i++)
        if (p->items[i].writer && writers++ == 0)
            w = &p->items[i];
    char err[SOURCE_ERROR_MAX];
    dns_status st;
    if (writers == 0)
        return fail(out, RNS_ERR_RESOLVE, "ERROR",
                    "no writer among the %zu members of cluster %s (status %s): a failover may be in progress",
                    p->count, d->set.cluster_id, p->status[0] ? p->status : "unknown");
    if (writers > 1)
        return fail(out, RNS_ERR_RESOLVE, "ERROR",
                    "%zu writers in cluster %s (%s, ...): not changing anything until RDS names one", writers,
                    d->set.cluster_id, w->id);
    if ((why = unusable(w, buf, sizeof buf)) != NULL)
        return fail(out, RNS_ERR_RESOLVE, "ERROR", "the writer %s cannot be a target: %s", w->id, why);
    if ((st = lookup(d, w, deadline, err, sizeof err)) != DNS_OK)
        return fail(out, RNS_ERR_RESOLVE, dns_status_name(st), "%s", err);
    return 0;
}

/* No usable reader: no answer, a ResolveError. */
static int choose_readers(cluster_discovery *d, int64_t deadline, source_answer *out)
{
    pass *p = &d->last;
    size_t chosen = 0, candidates = 0;
    char why[256], first[RDS_ID_MAX + 320] = "";
    for (size_t i = 0; i < p->count; i++) {
        member *m = &p->items[i];
        const char *no;
        char buf[RDS_STATUS_MAX + 16];
        if (m->writer)
            continue;
        candidates++;
        if ((no = unusable(m, buf, sizeof buf)) != NULL)
            snprintf(m->why, sizeof m->why, "%s", no);
        else if (lookup(d, m, deadline, why, sizeof why) != DNS_OK)
            snprintf(m->why, sizeof m->why, "lookup failed: %s", why);
        else
            chosen++;
        if (m->why[0] && !first[0])
            snprintf(first, sizeof first, "%s: %s", m->id, m->why);
    }
    if (chosen)
        return 0;
    return fail(out, RNS_ERR_RESOLVE, "ERROR", "no usable reader among the %zu readers of cluster %s%s%s%s", candidates,
                d->set.cluster_id, first[0] ? " (" : "", first,
                !first[0]        ? ""
                : candidates > 1 ? ", ...)"
                                 : ")");
}

/* ---- logs ---- */

/* The pass's decisions as log lines: members read, writer or readers chosen,
 * each member left out. One JSON array of [message, fields] pairs. */
static json_t *decisions(const cluster_discovery *d)
{
    const pass *p = &d->last;
    json_t *out = json_array(), *members = json_array(), *chosen = json_array(), *addrs = json_array();
    for (size_t i = 0; i < p->count; i++) {
        const member *m = &p->items[i];
        json_array_append_new(members,
                              json_pack("{s:s, s:b, s:s?, s:s?}", "id", m->id, "writer", m->writer, "status",
                                        m->listed ? m->status : NULL, "endpoint", m->endpoint[0] ? m->endpoint : NULL));
        if (m->chosen) {
            json_t *a = result_addresses(&m->addresses);
            json_array_append_new(chosen, json_string(m->id));
            json_array_extend(addrs, a);
            json_decref(a);
        }
    }
    json_array_append_new(out, json_pack("[s, {s:s, s:s, s:o}]", "members read", "clusterId", d->set.cluster_id,
                                         "status", p->status, "members", members));
    if (json_array_size(chosen))
        json_array_append_new(out, json_pack("[s, {s:o, s:o}]",
                                             d->set.role == DB_ROLE_WRITER ? "writer chosen" : "readers chosen",
                                             "members", chosen, "addresses", addrs));
    else {
        json_decref(chosen);
        json_decref(addrs);
    }
    for (size_t i = 0; i < p->count; i++)
        if (p->items[i].why[0])
            json_array_append_new(out, json_pack("[s, {s:s, s:s}]", "member left out", "member", p->items[i].id,
                                                 "reason", p->items[i].why));
    return out;
}

/* Logs the pass's decisions when they differ from the last ones logged. */
static void log_decisions(cluster_discovery *d)
{
    json_t *all = decisions(d);
    char *key = all ? json_dumps(all, JSON_COMPACT) : NULL;
    size_t i;
    json_t *line;
    if (key && (!d->logged || strcmp(key, d->logged) != 0)) {
        json_array_foreach(all, i, line)
        {
            const char *message = json_string_value(json_array_get(line, 0));
            log_level level = strcmp(message, "member left out") == 0 ? LOG_WARN : LOG_INFO;
            log_fields(d->log, level, message, json_array_get(line, 1));
        }
        free(d->logged);
        d->logged = key;
        key = NULL;
    }
    free(key);
    json_decref(all);
}

/* ---- the pass ---- */

/* An RDS API failure: no answer, an RdsApiError (OutOfMemory when memory ran out). */
static int api_failed(cluster_discovery *d, const char *action, const aws_error *e, source_answer *out)
{
    char err[SOURCE_ERROR_MAX];
    const char *hint = NULL;
    if (strcmp(e->code, "DBClusterNotFoundFault") == 0)
        hint = "check DB_CLUSTER_IDENTIFIER and the region";
    else if (strncmp(e->code, "AccessDenied", 12) == 0)
        hint = "the function's role needs rds:DescribeDBClusters on the cluster and rds:DescribeDBInstances "
               "on db:* of the account and region";
    else if (strcmp(e->code, "ConnectionError") == 0 || strcmp(e->code, "Timeout") == 0)
        hint = "is the RDS API reachable (NAT gateway or an rds VPC endpoint)?";
    reconcile_format_api_error(action, d->set.cluster_id, e, hint, err, sizeof err);
    return fail(out, query_error_is_no_memory(e) ? RNS_ERR_NO_MEMORY : RNS_ERR_RDS_API, "ERROR", "%s", err);
}

/* Whether this pass must read DescribeDBInstances. A writer-mode wait needs
 * only DescribeDBClusters per pass while the instance list of its first
 * pass has the writer with an endpoint: IsClusterWriter is read fresh each
 * time, an instance endpoint keeps its name across a failover, and its
 * address is looked up each pass. Without exactly one writer the pass
 * fails whatever the instances say. */
static int needs_instances(const cluster_discovery *d, const rds_cluster *c)
{
    const rds_member *w = NULL;
    const rds_instance *in;
    size_t writers = 0;
    if (!d->have_instances || d->set.role == DB_ROLE_READERS)
        return 1;
    for (size_t i = 0; i < c->count; i++)
        if (c->items[i].writer && writers++ == 0)
            w = &c->items[i];
    if (writers != 1)
        return 0;
    return (in = rds_instance_find(&d->instances, w->id)) == NULL || !in->address[0];
}

static int read_cluster(cluster_discovery *d, int64_t deadline, source_answer *out)
{
    rds_cluster c;
    aws_error e;
    if (rds_describe_cluster(d->rds, d->set.cluster_id, deadline, &c, &e) != 0)
        return api_failed(d, "DescribeDBClusters", &e, out);
    if (needs_instances(d, &c)) {
        rds_instance_list_free(&d->instances);
        d->have_instances = 0;
        if (rds_describe_cluster_instances(d->rds, d->set.cluster_id, deadline, &d->instances, NULL, &e) != 0) {
            rds_cluster_free(&c);
            return api_failed(d, "DescribeDBInstances", &e, out);
        }
        d->have_instances = 1;
    }
    int rc = build_pass(&d->last, &c, &d->instances);
    rds_cluster_free(&c);
    if (rc != 0)
        return fail(out, RNS_ERR_NO_MEMORY, "ERROR", "cluster %s: out of memory", d->set.cluster_id);
    return 0;
}

static int collect(const pass *p, addr_list *out)
{
    for (size_t i = 0; i < p->count; i++)
        for (size_t j = 0; p->items[i].chosen && j < p->items[i].addresses.count; j++)
            if (addr_list_add(out, &p->items[i].addresses.items[j]) != 0)
                return -1;
    addr_list_sort(out);
    return 0;
}

/* The pass's record for the result: {"members": [...], "endpoint": the
 * cluster's (Reader)Endpoint or null}; no "members" when the cluster was not
 * read (fleet mode learns a cluster's members from them, none included). */
static json_t *pass_detail(const cluster_discovery *d)
{
    const pass *p = &d->last;
    const char *endpoint = d->set.role == DB_ROLE_WRITER ? p->endpoint : p->reader_endpoint;
    json_t *a = p->read ? json_array() : NULL;
    for (size_t i = 0; i < p->count; i++) {
        const member *m = &p->items[i];
        json_array_append_new(a,
                              json_pack("{s:s, s:b, s:s?, s:s?, s:o, s:b}", "id", m->id, "writer", m->writer, "status",
                                        m->listed ? m->status : NULL, "endpoint", m->endpoint[0] ? m->endpoint : NULL,
                                        "addresses", result_addresses(&m->addresses), "chosen", m->chosen));
    }
    return json_pack("{s:o*, s:s?}", "members", a, "endpoint", endpoint[0] ? endpoint : NULL);
}

/* One pass (the source's resolve): the chosen members' addresses, sorted and
 * deduplicated, or the failure; either way the members seen, in the detail. */
static int cluster_resolve(void *ctx, const source_query *q, source_answer *out)
{
    cluster_discovery *d = ctx;
    int64_t deadline = rns_wall_ms() + q->timeout_ms;
    int rc;
    pass_free(&d->last);
    rc = read_cluster(d, deadline, out);
    if (rc == 0) {
        rc = d->set.role == DB_ROLE_WRITER ? choose_writer(d, deadline, out) : choose_readers(d, deadline, out);
        log_decisions(d);
    }
    if (rc == 0 && collect(&d->last, &out->addresses) != 0) {
        addr_list_free(&out->addresses);
        rc = fail(out, RNS_ERR_NO_MEMORY, "ERROR", "cluster %s: out of memory", d->set.cluster_id);
    }
    out->detail = pass_detail(d);
    return rc;
}

/* The RDS API mode's result fields (README.md, "Clusters (RDS API mode)"):
 * discovery "rds", role, clusterId, the members of the answer used, and the
 * cluster's (Reader)Endpoint as "endpoint" unless DB_ENDPOINT is set. */
static void cluster_add_result(void *ctx, json_t *result, const json_t *detail)
{
    const cluster_discovery *d = ctx;
    json_t *members = json_object_get(detail, "members");
    json_t *endpoint = json_object_get(detail, "endpoint");
    if (!result)
        return;
    if (!d->set.endpoint)
        json_object_set_new(result, "endpoint", endpoint ? json_incref(endpoint) : json_null());
    json_object_set_new(result, "discovery", json_string("rds"));
    json_object_set_new(result, "role", json_string(db_role_name(d->set.role)));
    json_object_set_new(result, "clusterId", json_string(d->set.cluster_id));
    json_object_set_new(result, "members", members ? json_incref(members) : json_array());
}

/* ---- the fast switch's candidates ---- */

/* Promotion order: lowest PromotionTier, then id (what RDS promotes first). */
static int by_promotion(const member *a, const member *b)
{
    return a->tier != b->tier ? (a->tier > b->tier) - (a->tier < b->tier) : strcmp(a->id, b->id);
}

/* The next usable non-writer member in promotion order after `prev`
 * (NULL: the first), or NULL. */
static member *next_candidate(pass *p, const member *prev)
{
    member *best = NULL;
    char buf[RDS_STATUS_MAX + 16];
    for (size_t i = 0; i < p->count; i++) {
        member *m = &p->items[i];
        if (m->writer || unusable(m, buf, sizeof buf) || (prev && by_promotion(m, prev) <= 0))
            continue;
        if (!best || by_promotion(m, best) < 0)
            best = m;
    }
    return best;
}

/* The readers most likely to be promoted next, resolved. A lookup that
 * fails skips the member (logged) and makes the list incomplete: -1, with
 * the others in *out. */
static int cluster_candidates(void *ctx, size_t max, long timeout_ms, addr_list *out)
{
    cluster_discovery *d = ctx;
    int64_t deadline = rns_wall_ms() + timeout_ms;
    size_t taken = 0;
    int rc = 0;
    for (member *m = next_candidate(&d->last, NULL); m && taken < max; m = next_candidate(&d->last, m)) {
        char err[SOURCE_ERROR_MAX];
        addr_list_free(&m->addresses);
        if (lookup(d, m, deadline, err, sizeof err) != DNS_OK || m->addresses.count != 1) {
            log_msg(d->log, LOG_WARN, "standby candidate %s left out: %s", m->id,
                    m->addresses.count > 1 ? "more than one address" : err);
            rc = -1;
            continue;
        }
        if (addr_list_add(out, &m->addresses.items[0]) != 0)
            return -1;
        taken++;
    }
    return rc;
}

static const char *cluster_member_of(void *ctx, const ip_addr *a)
{
    const cluster_discovery *d = ctx;
    for (size_t i = 0; i < d->last.count; i++)
        if (addr_list_contains(&d->last.items[i].addresses, a))
            return d->last.items[i].id;
    return NULL;
}

addr_source cluster_source(cluster_discovery *d)
{
    return (addr_source){
        d, d->subject, cluster_begin, cluster_resolve, cluster_add_result, cluster_candidates, cluster_member_of};
}
