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
#include "handler/sync/cfn.h"
#include "handler/sync/cluster.h"
#include "handler/sync/dns.h"
#include "handler/sync/event.h"
#include "handler/sync/metrics.h"
#include "handler/sync/reconcile.h"
#include "handler/sync/result.h"

struct handler {
    const config *cfg;
    logger *log;
    elb_client *elb;
    dns_resolver *dns;
    cluster_discovery *cluster; /* the RDS API mode (DB_CLUSTER_IDENTIFIER); NULL: DNS mode */
    http_client *cfn_http;      /* created at the first CloudFormation request */
};

/* ---- the real I/O for reconcile_run ---- */

static int io_describe(void *ctx, int64_t deadline_ms, elb_target_list *out, elb_error *err)
{
    handler *h = ctx;
    return elb_describe_target_health(h->elb, h->cfg->target_group_arn, deadline_ms, out, err);
}

static int io_change(void *ctx, int deregister, const elb_target *targets, size_t count,
                     int64_t deadline_ms, elb_error *err)
{
    handler *h = ctx;
    if (deregister)
        return elb_deregister_targets(h->elb, h->cfg->target_group_arn, targets, count, deadline_ms, err);
    return elb_register_targets(h->elb, h->cfg->target_group_arn, targets, count, deadline_ms, err);
}

/* DNS mode: the endpoint's answer; the RDS API mode: one discovery pass. */
static dns_status io_resolve(void *ctx, long timeout_ms, addr_list *out, char *err, size_t errlen)
{
    handler *h = ctx;
    if (h->cluster)
        return cluster_pass(h->cluster, timeout_ms, out, err, errlen);
    return dns_resolve(h->dns, h->cfg->db_endpoint, config_address_family(h->cfg), timeout_ms, out, err, errlen);
}

static rns_error_type io_failure_type(void *ctx)
{
    handler *h = ctx;
    return h->cluster ? cluster_failure_type(h->cluster) : RNS_ERR_NONE;
}

static void io_kept(void *ctx)
{
    handler *h = ctx;
    if (h->cluster)
        cluster_keep(h->cluster);
}

static int64_t io_now(void *ctx)
{
    (void)ctx;
    return rns_wall_ms();
}

static void io_sleep(void *ctx, long ms)
{
    (void)ctx;
    rns_sleep_ms(ms);
}

/* ---- construction ---- */

handler *handler_new(const config *cfg, logger *lg, char *err, size_t errlen)
{
    handler *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = cfg;
    h->log = lg;
    elb_client_config ec = {
        .region = cfg->region,
        .endpoint_url = cfg->endpoint_url,
        .creds = {cfg->access_key_id, cfg->secret_access_key, cfg->session_token},
        .max_attempts = cfg->max_attempts,
        .ca_bundle = cfg->ca_bundle,
        .log = lg,
    };
    h->elb = elb_client_new(&ec, err, errlen);
    h->dns = dns_resolver_new();
    if (!h->elb || !h->dns) {
        if (h->elb)
            snprintf(err, errlen, "out of memory");
        handler_free(h);
        return NULL;
    }
    if (cfg->cluster_id && !(h->cluster = cluster_discovery_new(cfg, h->dns, lg, err, errlen))) {
        handler_free(h);
        return NULL;
    }
    return h;
}

void handler_free(handler *h)
{
    if (!h)
        return;
    elb_client_free(h->elb);
    cluster_discovery_free(h->cluster);
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
    json_t *f = json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:b}", "trigger", event_trigger_name(ev->trigger),
                          "kind", ev->kind, "eventId", ev->event_id[0] ? ev->event_id : NULL, "sourceId",
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
static void emit_metrics(handler *h, const event_info *ev, const reconcile_report *rep, const rns_error *e,
                         int dry_run)
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
    metrics_emit(h->log, h->cfg->metrics_namespace, h->cfg->target_group_name, &v, rns_wall_ms());
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

static int reconcile(handler *h, int dry_run, int failover, int64_t deadline, reconcile_report *rep,
                     rns_error *e)
{
    reconcile_io io = {h, io_describe, io_change, io_resolve, io_now, io_sleep, io_failure_type, io_kept};
    reconcile_request req = {h->cfg, failover, dry_run, deadline, h->log,
                             h->cluster ? cluster_subject(h->cluster) : NULL};
    if (h->cluster)
        cluster_begin(h->cluster);
    return reconcile_run(&io, &req, rep, e);
}

/* Whether the event starts the failover wait: a failover-completion event
 * for DB_IDENTIFIER; in the RDS API mode's writer role also the cluster's
 * failover-started events; readers reconcile once on every event. */
static int waits(const handler *h, const event_info *ev)
{
    if (h->cluster && h->cfg->role == DB_ROLE_READERS)
        return 0;
    return ev->failover || (h->cluster && ev->ours && event_is_cluster_failover_start(ev->event_id));
}

static json_t *build_result(handler *h, const event_info *ev, const reconcile_report *rep)
{
    json_t *result = result_build(h->cfg, ev, rep);
    if (h->cluster)
        result_add_cluster(result, h->cfg, cluster_members_json(h->cluster), cluster_endpoint(h->cluster));
    return result;
}

static void handle_cloudformation(handler *h, const event_info *ev, int64_t start, int64_t deadline,
                                  reconcile_report *rep, rns_error *e, handler_output *out)
{
    int64_t work_deadline = reserve(start, deadline, HANDLER_CFN_RESERVE_MAX_MS, 4);
    char host[256];
    cfn_url_host(ev->cfn.response_url, host, sizeof host);
    log_msg(h->log, LOG_INFO, "CloudFormation %s request; the answer goes to %s", ev->cfn.request_type, host);
    if (ev->cfn.type == CFN_CREATE || ev->cfn.type == CFN_UPDATE)
        reconcile(h, h->cfg->dry_run, 0, work_deadline, rep, e);
    else if (ev->cfn.type == CFN_OTHER)
        rns_error_set(e, RNS_ERR_INVALID_EVENT, "unknown CloudFormation RequestType \"%.40s\"",
                      ev->cfn.request_type);
    if (!h->cfn_http)
        h->cfn_http = http_client_new(h->cfg->ca_bundle, h->log);
    rns_error put_err;
    rns_error_clear(&put_err);
    if (!h->cfn_http)
        rns_error_nomem(&put_err, "creating the HTTP client for the CloudFormation answer");
    else
        cfn_answer(h->cfn_http, &ev->cfn, h->cfg->target_group_name, rep, e,
                   reserve(start, deadline, HANDLER_POST_RESERVE_MAX_MS, 10), h->log, &put_err);
    if (rns_error_failed(&put_err)) {
        *e = put_err;
        set_error_output(out, e);
        return;
    }
    json_t *result = build_result(h, ev, rep);
    result_add_cloudformation(result, cfn_status(e), e);
    set_result_output(out, result);
    json_decref(result);
}

void handler_invoke(handler *h, const char *payload, size_t len, int64_t deadline_ms, handler_output *out)
{
    int64_t start = rns_wall_ms();
    event_info ev;
    reconcile_report rep;
    rns_error e;
    char why[512];
    memset(out, 0, sizeof *out);
    memset(&rep, 0, sizeof rep);
    rns_error_clear(&e);
    int parsed = event_parse(payload, len, h->cfg->db_identifier, &ev, why, sizeof why);
    if (parsed != 0) {
        rns_error_set(&e, parsed == -2 ? RNS_ERR_NO_MEMORY : RNS_ERR_INVALID_EVENT, "%s", why);
        json_t *f = json_pack("{s:s}", "error", why);
        log_fields(h->log, LOG_ERROR, "invalid event", f);
        json_decref(f);
        set_error_output(out, &e);
    } else {
        int dry_run = h->cfg->dry_run || ev.dry_run;
        log_event(h, &ev, ev.trigger != TRIGGER_CLOUDFORMATION && waits(h, &ev), dry_run);
        if (ev.trigger == TRIGGER_CLOUDFORMATION) {
            handle_cloudformation(h, &ev, start, deadline_ms, &rep, &e, out);
        } else {
            int64_t work_deadline = reserve(start, deadline_ms, HANDLER_POST_RESERVE_MAX_MS, 10);
            if (reconcile(h, dry_run, waits(h, &ev), work_deadline, &rep, &e) == 0) {
                json_t *result = build_result(h, &ev, &rep);
                set_result_output(out, result);
                json_decref(result);
            } else {
                set_error_output(out, &e);
            }
        }
    }
    log_result(h, &rep, &e);
    emit_metrics(h, &ev, &rep, &e, rep.dry_run);
    reconcile_report_free(&rep);
    event_info_free(&ev);
}

void handler_output_free(handler_output *out)
{
    free(out->payload);
    out->payload = NULL;
    out->payload_len = 0;
}
