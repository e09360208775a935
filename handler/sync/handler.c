/* The handler (handler.h): event -> reconcile or CloudFormation answer ->
 * result, metrics. */
#include "handler/sync/handler.h"

#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "handler/aws/elbv2.h"
#include "handler/aws/rds.h"
#include "handler/sync/binding.h"
#include "handler/sync/cfn.h"
#include "handler/sync/clients.h"
#include "handler/sync/cluster.h"
#include "handler/sync/dns.h"
#include "handler/sync/event.h"
#include "handler/sync/fleet.h"
#include "handler/sync/metrics.h"
#include "handler/sync/proxy.h"
#include "handler/sync/reconcile.h"
#include "handler/sync/result.h"
#include "handler/sync/slots.h"

struct handler {
    const config *cfg;
    logger *log;
    elb_client *elb;
    dns_resolver *dns;
    query_client *rds;          /* the RDS API mode (DB_CLUSTER_IDENTIFIER); NULL: DNS mode */
    cluster_discovery *cluster; /* the RDS API mode; NULL: DNS mode */
    dns_source dns_source;      /* DNS mode: DB_ENDPOINT */
    http_client *cfn_http;      /* created at the first CloudFormation request */
    binding bindings[1];        /* what an invocation reconciles: one outside fleet mode */
    size_t binding_count;
    fleet *fleet; /* fleet mode (FLEET_LOAD_BALANCER_ARNS): its own bindings, clients and workers */
    int proxy;    /* DB_ENDPOINT names an RDS Proxy: its addresses leave after PROXY_MISSES misses */
    proxy_source proxy_source;
};

/* ---- construction ---- */

/* The one binding of a configuration outside fleet mode, around its source. */
static void binding_of_config(binding *b, const config *cfg, addr_source source)
{
    *b = (binding){
        .source = source,
        .target_group_arn = cfg->target_group_arn,
        .listener_arn = cfg->listener_arn,
        .target_group_name = cfg->target_group_name,
        .endpoint = cfg->db_endpoint,
        .identifier = cfg->db_identifier,
        .port = cfg->db_port,
        .az = cfg->target_az,
        .allowed = &cfg->allowed,
        .failover_wait_seconds = cfg->failover_wait_seconds,
        .dns_poll_ms = cfg->dns_poll_ms,
        .dry_run = cfg->dry_run,
        .wait = !cfg->cluster_id               ? BINDING_WAIT_FAILOVER
                : cfg->role == DB_ROLE_READERS ? BINDING_WAIT_NEVER
                                               : BINDING_WAIT_CLUSTER_FAILOVER,
    };
}

/* The RDS API mode: the RDS client (one kept connection) and the discovery. */
static int start_cluster(handler *h, char *err, size_t errlen)
{
    const config *cfg = h->cfg;
    cluster_settings set = {cfg->cluster_id, cfg->role, config_address_family(cfg), cfg->db_endpoint};
    if (!(h->rds = clients_new_rds(cfg, h->log, err, errlen)))
        return -1;
    if (!(h->cluster = cluster_discovery_new(&set, h->rds, h->dns, h->log))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

handler *handler_new(const config *cfg, logger *lg, char *err, size_t errlen)
{
    handler *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = cfg;
    h->log = lg;
    if (cfg->fleet_lbs) {
        if (!(h->fleet = fleet_new(cfg, lg, err, errlen))) {
            free(h);
            return NULL;
        }
        return h;
    }
    h->elb = clients_new_elb(cfg, lg, err, errlen);
    h->dns = dns_resolver_new();
    if (!h->elb || !h->dns) {
        if (h->elb)
            snprintf(err, errlen, "out of memory");
        handler_free(h);
        return NULL;
    }
    if (cfg->cluster_id && start_cluster(h, err, errlen) != 0) {
        handler_free(h);
        return NULL;
    }
    /* DNS mode: DB_ENDPOINT's answer; the RDS API mode: the cluster's members. */
    h->dns_source = (dns_source){h->dns, cfg->db_endpoint, config_address_family(cfg)};
    /* The fast switch follows one address (CONTRACT.md section 13): a proxy's
     * several are its ResolveError, with no counts to keep. */
    h->proxy = !h->cluster && !cfg->listener_arn && fleet_is_proxy_endpoint(cfg->db_endpoint);
    h->proxy_source =
        (proxy_source){dns_source_of(&h->dns_source), NULL, {NULL, 0}, cfg->proxy_misses, cfg->db_port, 0, ""};
    binding_of_config(&h->bindings[0], cfg,
                      h->cluster ? cluster_source(h->cluster)
                      : h->proxy ? proxy_source_of(&h->proxy_source)
                                 : dns_source_of(&h->dns_source));
    h->binding_count = 1;
    return h;
}

void handler_free(handler *h)
{
    if (!h)
        return;
    fleet_free(h->fleet);
    fleet_miss_list_free(&h->proxy_source.next);
    elb_client_free(h->elb);
    cluster_discovery_free(h->cluster);
    query_client_free(h->rds);
    dns_resolver_free(h->dns);
    http_client_free(h->cfn_http);
    free(h);
}

/* ---- output ---- */

static void set_error_output(handler_output *out, const rns_error *e)
{
    json_t *j = result_error(e);
    out->ok = 0;
    out->error = *e;
    out->payload = j ? result_dump(j, &out->payload_len) : NULL;
    if (!out->payload) {
        /* Without jansson's help: the names and this message need no escaping. */
        char text[160];
        rns_error_nomem(&out->error, "encoding the error");
        snprintf(text, sizeof text, "{\"errorType\":\"%s\",\"errorMessage\":\"%.60s\"}", rns_error_name(&out->error),
                 out->error.message);
        out->payload = strdup(text);
        out->payload_len = out->payload ? strlen(out->payload) : 0;
    }
    json_decref(j);
}

static void set_result_output(handler_output *out, json_t *result)
{
    out->ok = 1;
    out->payload = result ? result_dump(result, &out->payload_len) : NULL;
    if (!out->payload) {
        rns_error e;
        rns_error_nomem(&e, "encoding the result");
        set_error_output(out, &e);
    }
}

/* failover: whether the event starts the failover wait (waits()). */
static void log_event(handler *h, const event_info *ev, int failover, int dry_run)
{
    json_t *f = json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:b}", "trigger", event_trigger_name(ev->trigger), "kind",
                          ev->kind, "eventId", ev->event_id[0] ? ev->event_id : NULL, "sourceId",
                          ev->source_id[0] ? ev->source_id : NULL, "failover", failover, "dryRun", dry_run);
    if (f && ev->trigger == TRIGGER_CLOUDFORMATION)
        json_object_set_new(f, "requestType", json_string(ev->cfn.request_type));
    log_fields(h->log, LOG_INFO, "event recognised", f);
    json_decref(f);
}

static void log_result(handler *h, const reconcile_report *rep, const rns_error *e)
{
    json_t *f = json_pack("{s:i, s:i, s:i, s:b, s:b, s:I, s:I}", "registered", (int)rep->registered.count,
                          "deregistered", (int)rep->deregistered.count, "unchanged", (int)rep->unchanged.count,
                          "converged", rep->converged, "dnsChanged", rep->dns_changed, "waitedMs",
                          (json_int_t)rep->waited_ms, "durationMs", (json_int_t)rep->duration_ms);
    if (f && rns_error_failed(e)) {
        json_object_set_new(f, "errorType", json_string(rns_error_name(e)));
        json_object_set_new(f, "errorMessage", json_string(e->message));
    }
    log_fields(h->log, rns_error_failed(e) ? LOG_ERROR : LOG_INFO, rns_error_failed(e) ? "failed" : "done", f);
    json_decref(f);
}

/* A dry run registers nothing: its would-be changes are not counted. */
static void emit_metrics(handler *h, const binding *b, const event_info *ev, const reconcile_report *rep,
                         const rns_error *e, int dry_run)
{
    metrics_values v = {
        .registered = dry_run ? 0 : (long)rep->registered.count,
        .deregistered = dry_run ? 0 : (long)rep->deregistered.count,
        .dns_wait_ms = rep->waited_ms,
        .reconcile_ms = rep->duration_ms,
        .errors = rns_error_failed(e) ? 1 : 0,
        .trigger = event_trigger_name(ev->trigger),
        .event_id = ev->event_id,
        .error_type = rns_error_name(e),
    };
    metrics_emit(h->log, h->cfg->metrics_namespace, b->target_group_name, &v, rns_wall_ms());
}

/* ---- the two paths ---- */

static int64_t reserve(int64_t start, int64_t deadline, long max_ms, int divisor)
{
    int64_t budget = deadline - start;
    int64_t r = budget / divisor;
    if (r > max_ms)
        r = max_ms;
    return deadline - (r > 0 ? r : 0);
}

static int reconcile(handler *h, const binding *b, int dry_run, int failover, int64_t deadline, reconcile_report *rep,
                     rns_error *e)
{
    reconcile_io io = reconcile_io_of_elb(h->elb);
    reconcile_request req = {b, failover, dry_run, deadline, h->log};
    proxy_misses misses = {.known = 0};
    if (b->source.begin)
        b->source.begin(b->source.ctx);
    /* A proxy endpoint: the counts as the group's tags hold them now
     * (another container may have run since this one's last invocation). */
    if (h->proxy) {
        h->proxy_source.why[0] = '\0';
        proxy_misses_load(h->elb, b->target_group_arn, deadline, &misses, h->proxy_source.why,
                          sizeof h->proxy_source.why);
        h->proxy_source.prev = &misses;
    }
    int rc = reconcile_run(&io, &req, rep, e);
    if (h->proxy) {
        rep->api_calls++;
        proxy_misses_finish(h->elb, b->target_group_arn, &h->proxy_source, dry_run, deadline, h->log, &rep->api_calls,
                            e);
        h->proxy_source.prev = NULL;
        proxy_misses_free(&misses);
        rc = rns_error_failed(e) ? -1 : 0;
    }
    return rc;
}

static void handle_cloudformation(handler *h, const binding *b, const event_info *ev, int64_t start, int64_t deadline,
                                  reconcile_report *rep, rns_error *e, handler_output *out)
{
    int64_t work_deadline = reserve(start, deadline, HANDLER_CFN_RESERVE_MAX_MS, 4);
    char host[256];
    cfn_url_host(ev->cfn.response_url, host, sizeof host);
    log_msg(h->log, LOG_INFO, "CloudFormation %s request; the answer goes to %s", ev->cfn.request_type, host);
    if (ev->cfn.type == CFN_CREATE || ev->cfn.type == CFN_UPDATE)
        reconcile(h, b, b->dry_run, 0, work_deadline, rep, e);
    else if (ev->cfn.type == CFN_OTHER)
        rns_error_set(e, RNS_ERR_INVALID_EVENT, "unknown CloudFormation RequestType \"%.40s\"", ev->cfn.request_type);
    if (!h->cfn_http)
        h->cfn_http = http_client_new(h->cfg->ca_bundle, h->log);
    rns_error put_err;
    rns_error_clear(&put_err);
    if (!h->cfn_http)
        rns_error_nomem(&put_err, "creating the HTTP client for the CloudFormation answer");
    else
        cfn_answer(h->cfn_http, &ev->cfn, b->target_group_name, rep, e,
                   reserve(start, deadline, HANDLER_POST_RESERVE_MAX_MS, 10), h->log, &put_err);
    if (rns_error_failed(&put_err)) {
        *e = put_err;
        set_error_output(out, e);
        return;
    }
    json_t *result = result_build(b, ev, rep);
    result_add_cloudformation(result, cfn_status(e), e);
    set_result_output(out, result);
    json_decref(result);
}

/* One binding's part of an invocation: its event, its reconcile or
 * CloudFormation answer, its result, logs and metrics. */
static void invoke_binding(handler *h, const binding *b, const char *payload, size_t len, int64_t start,
                           int64_t deadline_ms, handler_output *out)
{
    event_info ev;
    reconcile_report rep;
    rns_error e;
    char why[512];
    memset(&rep, 0, sizeof rep);
    rns_error_clear(&e);
    int parsed = event_parse(payload, len, b->identifier, &ev, why, sizeof why);
    if (parsed != 0) {
        rns_error_set(&e, parsed == -2 ? RNS_ERR_NO_MEMORY : RNS_ERR_INVALID_EVENT, "%s", why);
        json_t *f = json_pack("{s:s}", "error", why);
        log_fields(h->log, LOG_ERROR, "invalid event", f);
        json_decref(f);
        set_error_output(out, &e);
    } else {
        int dry_run = b->dry_run || ev.dry_run;
        log_event(h, &ev, ev.trigger != TRIGGER_CLOUDFORMATION && binding_waits(b, &ev), dry_run);
        if (ev.trigger == TRIGGER_CLOUDFORMATION) {
            handle_cloudformation(h, b, &ev, start, deadline_ms, &rep, &e, out);
        } else {
            int64_t work_deadline = reserve(start, deadline_ms, HANDLER_POST_RESERVE_MAX_MS, 10);
            if (reconcile(h, b, dry_run, binding_waits(b, &ev), work_deadline, &rep, &e) == 0) {
                json_t *result = result_build(b, &ev, &rep);
                set_result_output(out, result);
                json_decref(result);
            } else {
                set_error_output(out, &e);
            }
        }
    }
    log_result(h, &rep, &e);
    emit_metrics(h, b, &ev, &rep, &e, rep.dry_run);
    reconcile_report_free(&rep);
    event_info_free(&ev);
}

/* Fleet mode's metrics: one fixed set for the whole fleet, whatever the
 * number of bindings (CONTRACT.md section 14). */
static void emit_fleet_metrics(handler *h, const json_t *result, const rns_error *e, int64_t start)
{
    const json_t *summary = json_object_get(result, "summary"), *b;
    long registered = 0, deregistered = 0, waited = 0;
    size_t i;
    json_array_foreach(json_object_get(result, "bindings"), i, b)
    {
        if (json_is_true(json_object_get(b, "dryRun")))
            continue;
        registered += (long)json_array_size(json_object_get(b, "registered"));
        deregistered += (long)json_array_size(json_object_get(b, "deregistered"));
        if (json_integer_value(json_object_get(b, "waitedMs")) > waited)
            waited = (long)json_integer_value(json_object_get(b, "waitedMs"));
    }
    metrics_values v = {
        .registered = registered,
        .deregistered = deregistered,
        .dns_wait_ms = waited,
        .reconcile_ms = (long)(rns_wall_ms() - start),
        .errors = (long)json_integer_value(json_object_get(summary, "failed")) + (result ? 0 : rns_error_failed(e)),
        .trigger = json_string_value(json_object_get(result, "trigger")),
        .error_type = rns_error_name(e),
    };
    metrics_emit(h->log, h->cfg->metrics_namespace, "fleet", &v, rns_wall_ms());
}

/* A CloudFormation request in fleet mode: the answer after the sweep (or
 * the named binding), FAILED when a binding failed. */
static void answer_fleet_cloudformation(handler *h, const char *payload, size_t len, int64_t deadline, json_t *result,
                                        rns_error *e, handler_output *out)
{
    event_info ev;
    reconcile_report rep;
    rns_error put_err;
    char why[64];
    memset(&rep, 0, sizeof rep);
    rns_error_clear(&put_err);
    if (event_parse(payload, len, NULL, &ev, why, sizeof why) != 0)
        return;
    if (ev.trigger != TRIGGER_CLOUDFORMATION) {
        event_info_free(&ev);
        return;
    }
    if (!h->cfn_http)
        h->cfn_http = http_client_new(h->cfg->ca_bundle, h->log);
    if (!h->cfn_http)
        rns_error_nomem(&put_err, "creating the HTTP client for the CloudFormation answer");
    else
        cfn_answer(h->cfn_http, &ev.cfn, "fleet", &rep, e, deadline, h->log, &put_err);
    if (rns_error_failed(&put_err)) {
        *e = put_err;
        set_error_output(out, e);
    } else {
        result_add_cloudformation(result, cfn_status(e), e);
        set_result_output(out, result);
    }
    event_info_free(&ev);
}

static void invoke_fleet(handler *h, const char *payload, size_t len, int64_t deadline_ms, handler_output *out)
{
    int64_t start = rns_wall_ms();
    json_t *result = NULL;
    rns_error e;
    int64_t work_deadline = reserve(start, deadline_ms, HANDLER_CFN_RESERVE_MAX_MS, 4);
    int rc = fleet_invoke(h->fleet, payload, len, work_deadline, &result, &e);
    emit_fleet_metrics(h, result, &e, start);
    if (result && json_string_value(json_object_get(result, "trigger")) &&
        strcmp(json_string_value(json_object_get(result, "trigger")), "cloudformation") == 0) {
        answer_fleet_cloudformation(h, payload, len, reserve(start, deadline_ms, HANDLER_POST_RESERVE_MAX_MS, 10),
                                    result, &e, out);
    } else if (rc == 0) {
        set_result_output(out, result);
    } else {
        json_t *f = result ? json_pack("{s:O, s:O*}", "summary", json_object_get(result, "summary"), "unread",
                                       json_object_get(result, "unread"))
                           : NULL;
        if (f)
            log_fields(h->log, LOG_ERROR, e.message, f);
        json_decref(f);
        set_error_output(out, &e);
    }
    json_decref(result);
}

/* A run is a loop over the bindings. Outside fleet mode there is one, and
 * its output is the invocation's; fleet mode (CONTRACT.md section 14,
 * fleet.h) combines its bindings' outputs. */
void handler_invoke(handler *h, const char *payload, size_t len, int64_t deadline_ms, handler_output *out)
{
    int64_t start = rns_wall_ms();
    memset(out, 0, sizeof *out);
    if (h->fleet) {
        invoke_fleet(h, payload, len, deadline_ms, out);
        return;
    }
    for (size_t i = 0; i < h->binding_count; i++)
        invoke_binding(h, &h->bindings[i], payload, len, start, deadline_ms, out);
}

void handler_output_free(handler_output *out)
{
    free(out->payload);
    out->payload = NULL;
    out->payload_len = 0;
}
