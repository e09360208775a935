/* The ELBv2 client (elbv2.h): three actions on the Query layer, batches of
 * at most 100 targets. */
#include "handler/aws/elbv2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/aws/elbv2_internal.h"
#include "handler/aws/query_internal.h"

const query_service elbv2_service = {
    .name = "ELBv2",
    .log_name = "elbv2",
    .signing_name = "elasticloadbalancing",
    .endpoint_prefix = "elasticloadbalancing",
    .api_version = "2015-12-01",
};

struct elb_client {
    query_client *q;
    logger *log;
};

elb_client *elb_client_new(const elb_client_config *cfg, char *err, size_t errlen)
{
    query_client_config qc = {
        .service = &elbv2_service,
        .region = cfg->region,
        .endpoint_url = cfg->endpoint_url,
        .creds = cfg->creds,
        .max_attempts = cfg->max_attempts,
        .ca_bundle = cfg->ca_bundle,
        .log = cfg->log,
    };
    elb_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "ELBv2 client: out of memory");
        return NULL;
    }
    if (!(c->q = query_client_new(&qc, err, errlen))) {
        free(c);
        return NULL;
    }
    c->log = cfg->log;
    return c;
}

void elb_client_free(elb_client *c)
{
    if (!c)
        return;
    query_client_free(c->q);
    free(c);
}

query_client *elb_query_client(elb_client *c)
{
    return c->q;
}

long elb_connections_opened(const elb_client *c)
{
    return c ? query_connections_opened(c->q) : 0;
}

void elb_client_set_attempt_timeout(elb_client *c, long timeout_ms)
{
    if (c)
        query_client_set_attempt_timeout(c->q, timeout_ms);
}

int elb_retry_tokens(const elb_client *c)
{
    return c ? query_retry_tokens(c->q) : 0;
}

int elb_default_endpoint(const char *region, char *out, size_t outlen)
{
    return query_default_endpoint(&elbv2_service, region, out, outlen);
}

/* ---- requests ---- */

char *elbv2_build_body(const char *action, const char *target_group_arn, const elb_target *targets, size_t count)
{
    rns_buf b;
    char num[16];
    size_t i;
    int rc;
    rns_buf_init(&b, 0);
    rc = query_form_init(&b, &elbv2_service, action);
    rc |= query_form_add(&b, "TargetGroupArn", target_group_arn);
    for (i = 0; i < count; i++) {
        const elb_target *t = &targets[i];
        rc |= query_form_addk(&b, t->id, "Targets.member.%zu.Id", i + 1);
        if (t->port > 0) {
            snprintf(num, sizeof num, "%d", t->port);
            rc |= query_form_addk(&b, num, "Targets.member.%zu.Port", i + 1);
        }
        if (t->az[0])
            rc |= query_form_addk(&b, t->az, "Targets.member.%zu.AvailabilityZone", i + 1);
    }
    if (rc != RNS_BUF_OK) {
        rns_buf_free(&b);
        return NULL;
    }
    return rns_buf_take(&b, NULL);
}

static int check_args(const char *arn, const elb_target *targets, size_t count, elb_error *err)
{
    size_t i;
    if (!arn || !*arn) {
        aws_error_set(err, QUERY_CODE_INVALID_PARAMETER, "target group ARN is empty");
        return -1;
    }
    for (i = 0; i < count; i++) {
        if (!targets[i].id[0] || targets[i].port < 0 || targets[i].port > 65535) {
            aws_error_set(err, QUERY_CODE_INVALID_PARAMETER, "target %zu has no Id or an invalid port", i + 1);
            return -1;
        }
    }
    return 0;
}

static int call_with_targets(elb_client *c, const char *action, const char *arn, const elb_target *targets,
                             size_t count, int64_t deadline_ms, elb_target_list *out, elb_error *err)
{
    char *body = elbv2_build_body(action, arn, targets, count);
    elbv2_target_reader reader;
    query_xml_callbacks cb = elbv2_target_callbacks(&reader, out);
    int rc;
    if (!body) {
        aws_error_set(err, QUERY_CODE_NO_MEMORY, "out of memory building the %s request", action);
        return -1;
    }
    rc = query_call(c->q, action, body, deadline_ms, out ? &cb : NULL, err);
    free(body);
    return rc;
}

int elb_describe_target_health(elb_client *c, const char *target_group_arn, int64_t deadline_ms, elb_target_list *out,
                               elb_error *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if (check_args(target_group_arn, NULL, 0, err) != 0)
        return -1;
    return call_with_targets(c, "DescribeTargetHealth", target_group_arn, NULL, 0, deadline_ms, out, err);
}

/* ---- batches ---- */

int elb_for_each_batch(const elb_target *targets, size_t count, int (*fn)(void *ctx, const elb_target *batch, size_t n),
                       void *ctx, size_t *done)
{
    size_t i, n;
    int rc;
    if (done)
        *done = 0;
    for (i = 0; i < count; i += n) {
        n = count - i < ELB_MAX_TARGETS_PER_CALL ? count - i : ELB_MAX_TARGETS_PER_CALL;
        if ((rc = fn(ctx, targets + i, n)) != 0)
            return rc;
        if (done)
            *done += n;
    }
    return 0;
}

typedef struct change_call {
    elb_client *c;
    const char *action, *arn;
    int64_t deadline_ms;
    elb_error *err;
} change_call;

static int change_batch(void *ctx, const elb_target *batch, size_t n)
{
    change_call *k = ctx;
    return call_with_targets(k->c, k->action, k->arn, batch, n, k->deadline_ms, NULL, k->err);
}

static int change_targets(elb_client *c, const char *action, const char *arn, const elb_target *targets, size_t count,
                          int64_t deadline_ms, elb_error *err)
{
    change_call k = {c, action, arn, deadline_ms, err};
    size_t done;
    memset(err, 0, sizeof *err);
    if (check_args(arn, targets, count, err) != 0)
        return -1;
    if (elb_for_each_batch(targets, count, change_batch, &k, &done) == 0)
        return 0;
    if (done && c->log)
        log_msg(c->log, LOG_WARN, "elbv2 %s: %zu of %zu targets done before the failure", action, done, count);
    return -1;
}

int elb_register_targets(elb_client *c, const char *target_group_arn, const elb_target *targets, size_t count,
                         int64_t deadline_ms, elb_error *err)
{
    return change_targets(c, "RegisterTargets", target_group_arn, targets, count, deadline_ms, err);
}

int elb_deregister_targets(elb_client *c, const char *target_group_arn, const elb_target *targets, size_t count,
                           int64_t deadline_ms, elb_error *err)
{
    return change_targets(c, "DeregisterTargets", target_group_arn, targets, count, deadline_ms, err);
}
