/* Cluster discovery (cluster.h): the RDS API's view of the cluster, the
 * role's choice of members, their instance endpoints resolved. */
#include "handler/sync/cluster.h"

#include <jansson.h>
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
} pass;

struct cluster_discovery {
    const config *cfg;
    dns_resolver *dns;
    logger *log;
    query_client *rds;
    char subject[RDS_ID_MAX + 32];
    pass last;                   /* the latest pass */
    pass kept;                   /* the pass the run uses */
    rds_instance_list instances; /* DescribeDBInstances of this invocation */
    int have_instances;
    char *logged; /* the decisions last logged, to log only changes */
    rns_error_type failure_type;
};

/* ---- lifecycle ---- */

static void pass_free(pass *p)
{
    for (size_t i = 0; i < p->count; i++)
        addr_list_free(&p->items[i].addresses);
    free(p->items);
    memset(p, 0, sizeof *p);
}

cluster_discovery *cluster_discovery_new(const config *cfg, dns_resolver *dns, logger *log, char *err,
                                         size_t errlen)
{
    query_client_config qc = {
        .service = &rds_service,
        .region = cfg->region,
        .endpoint_url = cfg->rds_endpoint_url,
        .creds = {cfg->access_key_id, cfg->secret_access_key, cfg->session_token},
        .max_attempts = cfg->max_attempts,
        .ca_bundle = cfg->ca_bundle,
        .log = log,
    };
    cluster_discovery *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    d->dns = dns;
    d->log = log;
    snprintf(d->subject, sizeof d->subject, "cluster %s (%s)", cfg->cluster_id, db_role_name(cfg->role));
    if (!(d->rds = query_client_new(&qc, err, errlen))) {
        free(d);
        return NULL;
    }
    return d;
}

void cluster_discovery_free(cluster_discovery *d)
{
    if (!d)
        return;
    query_client_free(d->rds);
    pass_free(&d->last);
    pass_free(&d->kept);
    rds_instance_list_free(&d->instances);
    free(d->logged);
    free(d);
}

void cluster_begin(cluster_discovery *d)
{
    pass_free(&d->last);
    pass_free(&d->kept);
    rds_instance_list_free(&d->instances);
    d->have_instances = 0;
    free(d->logged);
    d->logged = NULL;
    d->failure_type = RNS_ERR_NONE;
}

rns_error_type cluster_failure_type(const cluster_discovery *d)
{
    return d->failure_type;
}

const char *cluster_subject(const cluster_discovery *d)
{
    return d->subject;
}

void cluster_keep(cluster_discovery *d)
{
    pass_free(&d->kept);
    d->kept = d->last;
    memset(&d->last, 0, sizeof d->last);
}

/* ---- the members ---- */

int cluster_status_serves(const char *status)
{
    static const char *const never[] = {"creating", "deleting", "failed", "stopped", "stopping", "starting",
                                        "insufficient-capacity"};
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
    snprintf(p->status, sizeof p->status, "%s", c->status);
    snprintf(p->endpoint, sizeof p->endpoint, "%s", c->endpoint);
    snprintf(p->reader_endpoint, sizeof p->reader_endpoint, "%s", c->reader_endpoint);
    for (size_t i = 0; i < c->count; i++) {
        member *m = &p->items[i];
        const rds_instance *found = rds_instance_find(in, c->items[i].id);
        snprintf(m->id, sizeof m->id, "%s", c->items[i].id);
        m->writer = c->items[i].writer;
        if (found) {
            m->listed = 1;
            snprintf(m->status, sizeof m->status, "%s", found->status);
            snprintf(m->endpoint, sizeof m->endpoint, "%s", found->address);
        }
    }
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
    st = dns_resolve(d->dns, m->endpoint, config_address_family(d->cfg), left, &m->addresses, err, errlen);
    m->chosen = st == DNS_OK;
    return st;
}

static dns_status choose_writer(cluster_discovery *d, int64_t deadline, char *err, size_t errlen)
{
    pass *p = &d->last;
    member *w = NULL;
    size_t writers = 0;
    char buf[RDS_STATUS_MAX + 16];
    const char *why;
    for (size_t i = 0; i < p->count; i++)
        if (p->items[i].writer && writers++ == 0)
            w = &p->items[i];
    if (writers == 0) {
        snprintf(err, errlen, "no writer among the %zu members of cluster %s (status %s): a failover may be in "
                              "progress",
                 p->count, d->cfg->cluster_id, p->status[0] ? p->status : "unknown");
        return DNS_ERROR;
    }
    if (writers > 1) {
        snprintf(err, errlen, "%zu writers in cluster %s (%s, ...): not changing anything until RDS names one",
                 writers, d->cfg->cluster_id, w->id);
        return DNS_ERROR;
    }
    if ((why = unusable(w, buf, sizeof buf)) != NULL) {
        snprintf(err, errlen, "the writer %s cannot be a target: %s", w->id, why);
        return DNS_ERROR;
    }
    return lookup(d, w, deadline, err, errlen);
}

static dns_status choose_readers(cluster_discovery *d, int64_t deadline, char *err, size_t errlen)
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
        return DNS_OK;
    snprintf(err, errlen, "no usable reader among the %zu readers of cluster %s%s%s", candidates,
             d->cfg->cluster_id, first[0] ? " (" : "", first);
    if (first[0])
        snprintf(err + strlen(err), errlen - strlen(err), "%s", candidates > 1 ? ", ...)" : ")");
    return DNS_ERROR;
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
        json_array_append_new(members, json_pack("{s:s, s:b, s:s?, s:s?}", "id", m->id, "writer", m->writer,
                                                 "status", m->listed ? m->status : NULL, "endpoint",
                                                 m->endpoint[0] ? m->endpoint : NULL));
        if (m->chosen) {
            json_t *a = result_addresses(&m->addresses);
            json_array_append_new(chosen, json_string(m->id));
            json_array_extend(addrs, a);
            json_decref(a);
        }
    }
    json_array_append_new(out, json_pack("[s, {s:s, s:s, s:o}]", "members read", "clusterId", d->cfg->cluster_id,
                                         "status", p->status, "members", members));
    if (json_array_size(chosen))
        json_array_append_new(out, json_pack("[s, {s:o, s:o}]", d->cfg->role == DB_ROLE_WRITER ? "writer chosen" : "readers chosen", "members", chosen,
                                             "addresses", addrs));
    else {
        json_decref(chosen);
        json_decref(addrs);
    }
    for (size_t i = 0; i < p->count; i++)
        if (p->items[i].why[0])
            json_array_append_new(out, json_pack("[s, {s:s, s:s}]", "member left out", "member",
                                                 p->items[i].id, "reason", p->items[i].why));
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

static dns_status api_failed(cluster_discovery *d, const char *action, const aws_error *e, char *err,
                             size_t errlen)
{
    const char *hint = NULL;
    if (strcmp(e->code, "DBClusterNotFoundFault") == 0)
        hint = "check DB_CLUSTER_IDENTIFIER and the region";
    else if (strncmp(e->code, "AccessDenied", 12) == 0)
        hint = "the function's role needs rds:DescribeDBClusters on the cluster and rds:DescribeDBInstances "
               "on db:* of the account and region";
    else if (strcmp(e->code, "ConnectionError") == 0 || strcmp(e->code, "Timeout") == 0)
        hint = "is the RDS API reachable (NAT gateway or an rds VPC endpoint)?";
    reconcile_format_api_error(action, d->cfg->cluster_id, e, hint, err, errlen);
    d->failure_type = query_error_is_no_memory(e) ? RNS_ERR_NO_MEMORY : RNS_ERR_RDS_API;
    return DNS_ERROR;
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
    if (!d->have_instances || d->cfg->role == DB_ROLE_READERS)
        return 1;
    for (size_t i = 0; i < c->count; i++)
        if (c->items[i].writer && writers++ == 0)
            w = &c->items[i];
    if (writers != 1)
        return 0;
    return (in = rds_instance_find(&d->instances, w->id)) == NULL || !in->address[0];
}

static dns_status read_cluster(cluster_discovery *d, int64_t deadline, char *err, size_t errlen)
{
    rds_cluster c;
    aws_error e;
    if (rds_describe_cluster(d->rds, d->cfg->cluster_id, deadline, &c, &e) != 0)
        return api_failed(d, "DescribeDBClusters", &e, err, errlen);
    if (needs_instances(d, &c)) {
        rds_instance_list_free(&d->instances);
        d->have_instances = 0;
        if (rds_describe_cluster_instances(d->rds, d->cfg->cluster_id, deadline, &d->instances, NULL, &e) != 0) {
            rds_cluster_free(&c);
            return api_failed(d, "DescribeDBInstances", &e, err, errlen);
        }
        d->have_instances = 1;
    }
    int rc = build_pass(&d->last, &c, &d->instances);
    rds_cluster_free(&c);
    if (rc != 0) {
        snprintf(err, errlen, "cluster %s: out of memory", d->cfg->cluster_id);
        d->failure_type = RNS_ERR_NO_MEMORY;
        return DNS_ERROR;
    }
    return DNS_OK;
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

dns_status cluster_pass(cluster_discovery *d, long timeout_ms, addr_list *out, char *err, size_t errlen)
{
    int64_t deadline = rns_wall_ms() + timeout_ms;
    dns_status st;
    memset(out, 0, sizeof *out);
    d->failure_type = RNS_ERR_NONE;
    pass_free(&d->last);
    if ((st = read_cluster(d, deadline, err, errlen)) != DNS_OK)
        return st;
    if (d->cfg->role == DB_ROLE_WRITER)
        st = choose_writer(d, deadline, err, errlen);
    else
        st = choose_readers(d, deadline, err, errlen);
    log_decisions(d);
    if (st == DNS_OK && collect(&d->last, out) != 0) {
        addr_list_free(out);
        snprintf(err, errlen, "cluster %s: out of memory", d->cfg->cluster_id);
        d->failure_type = RNS_ERR_NO_MEMORY;
        st = DNS_ERROR;
    }
    return st;
}

/* ---- the result ---- */

json_t *cluster_members_json(const cluster_discovery *d)
{
    const pass *p = &d->kept;
    json_t *a = json_array();
    for (size_t i = 0; i < p->count; i++) {
        const member *m = &p->items[i];
        json_array_append_new(a, json_pack("{s:s, s:b, s:s?, s:s?, s:o, s:b}", "id", m->id, "writer", m->writer,
                                           "status", m->listed ? m->status : NULL, "endpoint",
                                           m->endpoint[0] ? m->endpoint : NULL, "addresses",
                                           result_addresses(&m->addresses), "chosen", m->chosen));
    }
    return a;
}

const char *cluster_endpoint(const cluster_discovery *d)
{
    const char *e = d->cfg->role == DB_ROLE_WRITER ? d->kept.endpoint : d->kept.reader_endpoint;
    return e[0] ? e : NULL;
}
