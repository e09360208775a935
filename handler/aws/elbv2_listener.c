/* The ELBv2 client's listener actions (elbv2.h): DescribeListeners for one
 * listener and ModifyListener of its default forward action's weights
 * (CONTRACT.md section 13; reference/nlb-weighted-target-groups.md, section
 * 5). The reader tolerates what the reference says a real answer may do: an
 * action-level TargetGroupArn, a missing Weight, no stickiness block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/aws/elbv2.h"
#include "handler/aws/elbv2_internal.h"

typedef struct listener_reader {
    elb_listener *out;
    int listener_depth; /* depth of the first Listeners/member while open, else 0 */
    int action_depth;   /* depth of the first DefaultActions/member while open, else 0 */
} listener_reader;

static void reset(void *ctx)
{
    listener_reader *r = ctx;
    memset(r->out, 0, sizeof *r->out);
    r->out->stickiness = -1;
    r->out->stickiness_secs = -1;
    r->listener_depth = r->action_depth = 0;
}

static int is_listener_member(query_xml *x)
{
    return query_xml_is(x, 0, "member") && query_xml_is(x, 1, "Listeners") &&
           (query_xml_is(x, 2, "DescribeListenersResult") || query_xml_is(x, 2, "ModifyListenerResult"));
}

static void on_start(query_xml *x, void *ctx)
{
    listener_reader *r = ctx;
    elb_listener *l = r->out;
    if (is_listener_member(x)) {
        if (l->listeners++ == 0)
            r->listener_depth = query_xml_depth(x);
        return;
    }
    if (!r->listener_depth)
        return;
    if (query_xml_is(x, 0, "member") && query_xml_is(x, 1, "DefaultActions") &&
        query_xml_depth(x) == r->listener_depth + 2) {
        if (l->actions++ == 0)
            r->action_depth = query_xml_depth(x);
        return;
    }
    if (r->action_depth && query_xml_is(x, 0, "member") && query_xml_is(x, 1, "TargetGroups") &&
        query_xml_is(x, 2, "ForwardConfig") && query_xml_depth(x) == r->action_depth + 3) {
        if (l->group_count == ELB_LISTENER_MAX_GROUPS) {
            query_xml_fail(x, "the forward action has more than %d target groups", ELB_LISTENER_MAX_GROUPS);
            return;
        }
        l->groups[l->group_count].arn[0] = '\0';
        l->groups[l->group_count++].weight = -1;
    }
}

/* Listeners/member/<name> */
static void end_listener_field(query_xml *x, elb_listener *l)
{
    long port;
    if (query_xml_is(x, 0, "ListenerArn"))
        query_xml_take(x, l->arn, sizeof l->arn, "Listener/ListenerArn");
    else if (query_xml_is(x, 0, "LoadBalancerArn"))
        query_xml_take(x, l->load_balancer_arn, sizeof l->load_balancer_arn, "Listener/LoadBalancerArn");
    else if (query_xml_is(x, 0, "Protocol"))
        query_xml_take(x, l->protocol, sizeof l->protocol, "Listener/Protocol");
    else if (query_xml_is(x, 0, "Port") &&
             query_xml_take_long(x, 1, 65535, &port, "Listener/Port", "a port number") == 0)
        l->port = (int)port;
}

/* DefaultActions/member/..., the first action only. */
static void end_action_field(query_xml *x, elb_listener *l, int rel)
{
    long v;
    elb_weighted_group *g = l->group_count ? &l->groups[l->group_count - 1] : NULL;
    if (rel == 1 && query_xml_is(x, 0, "Type"))
        query_xml_take(x, l->action_type, sizeof l->action_type, "Action/Type");
    else if (rel == 1 && query_xml_is(x, 0, "TargetGroupArn"))
        query_xml_take(x, l->action_target_group, sizeof l->action_target_group, "Action/TargetGroupArn");
    else if (rel == 4 && g && query_xml_is(x, 1, "member") && query_xml_is(x, 2, "TargetGroups")) {
        if (query_xml_is(x, 0, "TargetGroupArn"))
            query_xml_take(x, g->arn, sizeof g->arn, "TargetGroupTuple/TargetGroupArn");
        else if (query_xml_is(x, 0, "Weight") &&
                 query_xml_take_long(x, 0, ELB_WEIGHT_MAX, &v, "TargetGroupTuple/Weight", "a weight") == 0)
            g->weight = (int)v;
    } else if (rel == 3 && query_xml_is(x, 1, "TargetGroupStickinessConfig")) {
        if (query_xml_is(x, 0, "Enabled")) {
            char b[8];
            if (query_xml_take(x, b, sizeof b, "TargetGroupStickinessConfig/Enabled") == 0)
                l->stickiness = strcmp(b, "true") == 0;
        } else if (query_xml_is(x, 0, "DurationSeconds") &&
                   query_xml_take_long(x, 0, 1000000000L, &v, "TargetGroupStickinessConfig/DurationSeconds",
                                       "a duration") == 0) {
            l->stickiness_secs = v;
        }
    }
}

static void on_end(query_xml *x, void *ctx)
{
    listener_reader *r = ctx;
    int d = query_xml_depth(x);
    if (!r->listener_depth)
        return;
    if (d == r->listener_depth) {
        r->listener_depth = 0;
        return;
    }
    if (r->action_depth && d == r->action_depth) {
        r->action_depth = 0;
        return;
    }
    if (d == r->listener_depth + 1)
        end_listener_field(x, r->out);
    else if (r->action_depth && d > r->action_depth)
        end_action_field(x, r->out, d - r->action_depth);
}

int elbv2_listener_parse(const char *xml, size_t len, const char *root, elb_listener *out, elb_error *err)
{
    listener_reader r = {out, 0, 0};
    query_xml_callbacks cb = {&r, on_start, on_end, reset};
    reset(&r);
    return query_xml_parse(xml, len, root, &cb, err);
}

char *elbv2_listener_body(const elb_listener *l, const int *weights)
{
    rns_buf b;
    char num[24];
    const char *fc = "DefaultActions.member.1.ForwardConfig";
    int rc;
    rns_buf_init(&b, 0);
    rc = query_form_init(&b, &elbv2_service, "ModifyListener");
    rc |= query_form_add(&b, "ListenerArn", l->arn);
    rc |= query_form_add(&b, "DefaultActions.member.1.Type", "forward");
    for (size_t i = 0; i < l->group_count; i++) {
        rc |= query_form_addk(&b, l->groups[i].arn, "%s.TargetGroups.member.%zu.TargetGroupArn", fc, i + 1);
        snprintf(num, sizeof num, "%d", weights[i]);
        rc |= query_form_addk(&b, num, "%s.TargetGroups.member.%zu.Weight", fc, i + 1);
    }
    if (l->stickiness >= 0)
        rc |= query_form_addk(&b, l->stickiness ? "true" : "false", "%s.TargetGroupStickinessConfig.Enabled", fc);
    if (l->stickiness_secs >= 0) {
        snprintf(num, sizeof num, "%ld", l->stickiness_secs);
        rc |= query_form_addk(&b, num, "%s.TargetGroupStickinessConfig.DurationSeconds", fc);
    }
    if (rc != RNS_BUF_OK) {
        rns_buf_free(&b);
        return NULL;
    }
    return rns_buf_take(&b, NULL);
}

/* query_call with the listener reader. */
static int listener_call(elb_client *c, const char *action, const char *body, int64_t deadline_ms, elb_listener *out,
                         elb_error *err)
{
    elb_listener scratch;
    listener_reader r = {out ? out : &scratch, 0, 0};
    query_xml_callbacks cb = {&r, on_start, on_end, reset};
    reset(&r);
    return query_call(elb_query_client(c), action, body, deadline_ms, &cb, err);
}

int elb_describe_listener(elb_client *c, const char *listener_arn, int64_t deadline_ms, elb_listener *out,
                          elb_error *err)
{
    rns_buf b;
    int rc;
    memset(err, 0, sizeof *err);
    if (!listener_arn || !*listener_arn) {
        aws_error_set(err, QUERY_CODE_INVALID_PARAMETER, "listener ARN is empty");
        return -1;
    }
    rns_buf_init(&b, 0);
    rc = query_form_init(&b, &elbv2_service, "DescribeListeners");
    rc |= query_form_add(&b, "ListenerArns.member.1", listener_arn);
    char *body = rc == RNS_BUF_OK ? rns_buf_take(&b, NULL) : NULL;
    if (!body) {
        rns_buf_free(&b);
        aws_error_set(err, QUERY_CODE_NO_MEMORY, "out of memory building the DescribeListeners request");
        return -1;
    }
    rc = listener_call(c, "DescribeListeners", body, deadline_ms, out, err);
    free(body);
    return rc;
}

int elb_modify_listener_weights(elb_client *c, const elb_listener *l, const int *weights, int64_t deadline_ms,
                                elb_listener *out, elb_error *err)
{
    memset(err, 0, sizeof *err);
    for (size_t i = 0; i < l->group_count; i++)
        if (weights[i] < 0 || weights[i] > ELB_WEIGHT_MAX) {
            aws_error_set(err, QUERY_CODE_INVALID_PARAMETER, "weight %d of target group %zu is outside 0..%d",
                          weights[i], i + 1, ELB_WEIGHT_MAX);
            return -1;
        }
    char *body = elbv2_listener_body(l, weights);
    if (!body) {
        aws_error_set(err, QUERY_CODE_NO_MEMORY, "out of memory building the ModifyListener request");
        return -1;
    }
    int rc = listener_call(c, "ModifyListener", body, deadline_ms, out, err);
    free(body);
    return rc;
}
