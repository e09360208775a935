/* The fast switch in units: the plan of handler/sync/slots.c rule by rule
 * (CONTRACT.md section 13), and the listener reader and ModifyListener body
 * of handler/aws/elbv2_listener.c. */
#include <sys/socket.h>

#include "check.h"
#include "handler/aws/elbv2_internal.h"
#include "handler/sync/slots.h"

#define SLOT_A "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/pg-slot-a/73e2d6bc24d8a067"
#define SLOT_B "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/pg-slot-b/09bdcb2a1c5e7d3f"
#define LISTENER \
    "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/net/pg-nlb/50dc6c495c0c9188/f2f7dc8efc522ab2"

/* Up to three slots, each with at most two targets "ip/state". */
typedef struct layout {
    int weight[3];
    const char *targets[3][2];
} layout;

typedef struct built {
    slot slots[3];
    elb_target items[3][2];
} built;

static void build(const layout *l, built *b)
{
    static const char *const arns[3] = {"tg-1", "tg-2", "tg-3"};
    memset(b, 0, sizeof *b);
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        for (int j = 0; j < 2 && l->targets[i][j]; j++, n++) {
            elb_target *t = &b->items[i][j];
            const char *slash = strchr(l->targets[i][j], '/');
            snprintf(t->id, sizeof t->id, "%.*s", (int)(slash - l->targets[i][j]), l->targets[i][j]);
            snprintf(t->state, sizeof t->state, "%s", slash + 1);
            t->port = 5432;
        }
        b->slots[i] = (slot){arns[i], l->weight[i], {b->items[i], n}};
    }
}

static ip_addr addr(const char *text)
{
    ip_addr a;
    CHECK_INT(ip_addr_parse(text, &a), 0);
    return a;
}

static int plan_of(const layout *l, const char *desired, const addr_list *candidates, int complete, slot_plan *p)
{
    built b;
    char why[256];
    ip_addr d = addr(desired);
    build(l, &b);
    return slots_plan(b.slots, 3, &d, 5432, NULL, candidates, complete, p, why, sizeof why);
}

static int plan(const layout *l, const char *desired, const addr_list *candidates, slot_plan *p)
{
    return plan_of(l, desired, candidates, 0, p);
}

static void check_weights(const slot_plan *p, int a, int b, int c)
{
    CHECK_INT(p->weights[0], a);
    CHECK_INT(p->weights[1], b);
    CHECK_INT(p->weights[2], c);
}

static void test_warm_slot_gets_the_weight(void)
{
    layout l = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {"10.0.0.2/healthy"}, {NULL}}};
    slot_plan p;
    CHECK_INT(plan(&l, "10.0.0.2", NULL, &p), 0);
    CHECK_INT(p.target, 1);
    CHECK_INT(p.fill, 0);
    check_weights(&p, 0, 1, 0);
    CHECK_INT(p.weights_change, 1);
    CHECK_INT(p.release[0], 1); /* the demoted primary, after the move */
    CHECK_INT(p.release[1] + p.release[2], 0);
}

static void test_right_weights_change_nothing(void)
{
    layout l = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {"10.0.0.2/healthy"}, {NULL}}};
    slot_plan p;
    CHECK_INT(plan(&l, "10.0.0.1", NULL, &p), 0);
    CHECK_INT(p.weights_change, 0);
    CHECK_INT(p.release[0] + p.release[1] + p.release[2], 0);
    /* a weight other than 1 is put right: the contract's weight is 1 */
    l.weight[0] = 999;
    CHECK_INT(plan(&l, "10.0.0.1", NULL, &p), 0);
    CHECK_INT(p.weights_change, 1);
    CHECK_INT(p.release[0], 0);
}

static void test_fill_prefers_an_empty_standby(void)
{
    layout l = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {"10.0.0.2/healthy"}, {NULL}}};
    slot_plan p;
    CHECK_INT(plan(&l, "10.0.0.9", NULL, &p), 0);
    CHECK_INT(p.fill, 1);
    CHECK_INT(p.target, 2);
    CHECK_STR(p.desired.id, "10.0.0.9");
    CHECK_INT(p.clear[2], 0);
    check_weights(&p, 0, 0, 1);
}

static void test_unknown_weight_counts_as_weighted(void)
{
    /* a slot the listener gave no Weight may carry traffic: never filled, released after the move */
    layout l = {{-1, 0, 0}, {{"10.0.0.1/healthy"}, {NULL}, {NULL}}};
    layout all = {{-1, -1, -1}, {{"10.0.0.1/healthy"}, {NULL}, {NULL}}};
    slot_plan p;
    CHECK_INT(plan(&l, "10.0.0.9", NULL, &p), 0);
    CHECK_INT(p.fill, 1);
    CHECK_INT(p.target, 1);
    CHECK_INT(p.release[0], 1);
    CHECK_INT(p.weights_change, 1);
    check_weights(&p, 0, 1, 0);
    /* none of them known to be idle, and none holds the primary: no plan */
    CHECK_INT(plan(&all, "10.0.0.9", NULL, &p), -1);
}

static void test_fill_never_in_the_weighted_slot(void)
{
    /* every standby holds something: the least wanted one is replaced, never slot 1 */
    layout l = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {"10.0.0.2/healthy"}, {"10.0.0.3/healthy"}}};
    addr_list cands = {NULL, 0};
    ip_addr c2 = addr("10.0.0.2"), c3 = addr("10.0.0.3");
    slot_plan p;
    CHECK_INT(plan(&l, "10.0.0.9", NULL, &p), 0);
    CHECK(p.target == 1 || p.target == 2);
    CHECK_INT(p.clear[p.target], 1);
    addr_list_add(&cands, &c3);
    addr_list_add(&cands, &c2); /* 10.0.0.3 is the better candidate: 10.0.0.2 goes */
    CHECK_INT(plan(&l, "10.0.0.9", &cands, &p), 0);
    CHECK_INT(p.target, 1);
    CHECK_INT(p.clear[1], 1);
    check_weights(&p, 0, 1, 0);
    addr_list_free(&cands);
}

static void test_never_to_a_draining_slot(void)
{
    layout l = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {"10.0.0.2/draining"}, {NULL}}};
    slot_plan p;
    CHECK_INT(plan(&l, "10.0.0.2", NULL, &p), 0);
    CHECK_INT(p.target, 2);
    CHECK_INT(p.fill, 1);
    /* no other slot free: no plan rather than the draining slot */
    layout full = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {"10.0.0.2/draining"}, {"10.0.0.2/draining"}}};
    CHECK_INT(plan(&full, "10.0.0.2", NULL, &p), -1);
}

static void test_not_exactly_the_primary_is_not_its_slot(void)
{
    /* a slot holding the primary and another target is not the primary's slot */
    layout l = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {"10.0.0.2/healthy", "10.0.0.5/healthy"}, {NULL}}};
    slot_plan p;
    CHECK_INT(plan(&l, "10.0.0.2", NULL, &p), 0);
    CHECK_INT(p.target, 2);
    CHECK_INT(p.fill, 1);
}

static void test_never_every_slot_at_zero(void)
{
    static const layout ls[] = {
        {{0, 0, 0}, {{"10.0.0.1/healthy"}, {NULL}, {NULL}}},
        {{1, 1, 1}, {{"10.0.0.1/healthy"}, {"10.0.0.2/healthy"}, {NULL}}},
        {{-1, -1, 0}, {{NULL}, {NULL}, {"10.0.0.7/initial"}}},
    };
    static const char *const desired[] = {"10.0.0.1", "10.0.0.2", "10.0.0.7"};
    for (size_t i = 0; i < sizeof ls / sizeof *ls; i++) {
        slot_plan p;
        CHECK_INT(plan(&ls[i], desired[i], NULL, &p), 0);
        CHECK_INT(p.weights[0] + p.weights[1] + p.weights[2], 1);
        CHECK_INT(p.weights[p.target], 1);
        CHECK_INT(p.fill, 0);
    }
}

static void test_every_slot_weighted_and_none_holds_it(void)
{
    layout l = {{1, 1, 1}, {{"10.0.0.1/healthy"}, {"10.0.0.2/healthy"}, {"10.0.0.3/healthy"}}};
    slot_plan p;
    CHECK_INT(plan(&l, "10.0.0.9", NULL, &p), -1);
}

static void test_refill_with_candidates_not_held_or_draining(void)
{
    /* the move releases slot 1; slots 1 and 3 are then empty: the best free candidates go there */
    layout l = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {"10.0.0.2/healthy"}, {"10.0.0.1/draining"}}};
    addr_list cands = {NULL, 0};
    const char *const order[] = {"10.0.0.2", "10.0.0.1", "10.0.0.4", "10.0.0.5"};
    for (size_t i = 0; i < 4; i++) {
        ip_addr a = addr(order[i]);
        addr_list_add(&cands, &a);
    }
    slot_plan p;
    CHECK_INT(plan(&l, "10.0.0.2", &cands, &p), 0);
    CHECK_INT(p.target, 1);
    CHECK_INT(p.release[0], 1);
    /* 10.0.0.2 is the primary, 10.0.0.1 held (and draining): 10.0.0.4, then 10.0.0.5 */
    CHECK_INT(p.refill[0], 3);
    CHECK_INT(p.refill[1], 0);
    CHECK_INT(p.refill[2], 4);
    addr_list_free(&cands);
}

static void test_stale_standby_replaced_only_by_a_complete_choice(void)
{
    /* slot 3 holds 10.0.0.7, no longer a candidate (a member gone) */
    layout l = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {"10.0.0.2/healthy"}, {"10.0.0.7/healthy"}}};
    addr_list cands = {NULL, 0};
    ip_addr c2 = addr("10.0.0.2"), c3 = addr("10.0.0.3");
    slot_plan p;
    addr_list_add(&cands, &c2);
    addr_list_add(&cands, &c3);
    CHECK_INT(plan_of(&l, "10.0.0.1", &cands, 1, &p), 0);
    CHECK_INT(p.refill[2], 2); /* 10.0.0.3 */
    CHECK_INT(p.replace[2], 1);
    CHECK_INT(p.refill[1] + p.replace[1], 0); /* 10.0.0.2 is a candidate: kept */
    CHECK_INT(p.weights_change, 0);
    /* an incomplete choice (a lookup failed) replaces nothing */
    CHECK_INT(plan_of(&l, "10.0.0.1", &cands, 0, &p), 0);
    CHECK_INT(p.refill[2] + p.replace[2], 0);
    /* nor does a complete one without a free candidate */
    addr_list_free(&cands);
    addr_list_add(&cands, &c2);
    CHECK_INT(plan_of(&l, "10.0.0.1", &cands, 1, &p), 0);
    CHECK_INT(p.refill[2] + p.replace[2], 0);
    addr_list_free(&cands);
}

static void test_slot_count_limits(void)
{
    built b;
    layout l = {{1, 0, 0}, {{"10.0.0.1/healthy"}, {NULL}, {NULL}}};
    ip_addr d = addr("10.0.0.1");
    slot_plan p;
    char why[256];
    build(&l, &b);
    CHECK_INT(slots_plan(b.slots, 1, &d, 5432, NULL, NULL, 0, &p, why, sizeof why), -1);
    CHECK(strstr(why, "2 to") != NULL);
}

/* ---- the listener ---- */

static const char describe_xml[] =
    "<DescribeListenersResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">"
    "<DescribeListenersResult><Listeners><member>"
    "<ListenerArn>" LISTENER "</ListenerArn><LoadBalancerArn>lb</LoadBalancerArn><Port>5432</Port>"
    "<Protocol>TCP</Protocol><DefaultActions><member><Type>forward</Type><TargetGroupArn>" SLOT_A
    "</TargetGroupArn><ForwardConfig><TargetGroups>"
    "<member><TargetGroupArn>" SLOT_A "</TargetGroupArn><Weight>0</Weight></member>"
    "<member><TargetGroupArn>" SLOT_B "</TargetGroupArn></member>"
    "</TargetGroups><TargetGroupStickinessConfig><Enabled>false</Enabled><DurationSeconds>30</DurationSeconds>"
    "</TargetGroupStickinessConfig></ForwardConfig></member></DefaultActions></member></Listeners>"
    "</DescribeListenersResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
    "</DescribeListenersResponse>";

static void test_listener_parse(void)
{
    elb_listener l;
    elb_error e;
    CHECK_INT(elbv2_listener_parse(describe_xml, strlen(describe_xml), "DescribeListenersResponse", &l, &e), 0);
    CHECK_STR(l.arn, LISTENER);
    CHECK_STR(l.load_balancer_arn, "lb");
    CHECK_STR(l.protocol, "TCP");
    CHECK_INT(l.port, 5432);
    CHECK_INT(l.listeners, 1);
    CHECK_INT(l.actions, 1);
    CHECK_STR(l.action_type, "forward");
    CHECK_STR(l.action_target_group, SLOT_A);
    CHECK_INT(l.group_count, 2);
    CHECK_STR(l.groups[0].arn, SLOT_A);
    CHECK_INT(l.groups[0].weight, 0);
    CHECK_STR(l.groups[1].arn, SLOT_B);
    CHECK_INT(l.groups[1].weight, -1); /* a missing Weight is told apart from 0 */
    CHECK_INT(l.stickiness, 0);
    CHECK_INT(l.stickiness_secs, 30);
}

/* describe_xml with its first `from` replaced by `to`. */
static void replaced(const char *from, const char *to, char *out, size_t outlen)
{
    const char *at = strstr(describe_xml, from);
    snprintf(out, outlen, "%.*s%s%s", (int)(at - describe_xml), describe_xml, to, at + strlen(from));
}

static void test_listener_parse_rejects(void)
{
    elb_listener l;
    elb_error e;
    char xml[4096];
    /* a weight outside 0..999 is no answer the reader trusts */
    replaced("<Weight>0</Weight>", "<Weight>1000</Weight>", xml, sizeof xml);
    CHECK_INT(elbv2_listener_parse(xml, strlen(xml), "DescribeListenersResponse", &l, &e), -1);
    CHECK_STR(e.code, "MalformedResponse");
    /* another action's answer */
    CHECK_INT(elbv2_listener_parse(describe_xml, strlen(describe_xml), "ModifyListenerResponse", &l, &e), -1);
}

static void test_modify_body_repeats_every_slot(void)
{
    elb_listener l;
    elb_error e;
    int weights[2] = {1, 0};
    CHECK_INT(elbv2_listener_parse(describe_xml, strlen(describe_xml), NULL, &l, &e), 0);
    char *body = elbv2_listener_body(&l, weights);
    CHECK_STR(body, "Action=ModifyListener&Version=2015-12-01&ListenerArn="
                    "arn%3Aaws%3Aelasticloadbalancing%3Aeu-west-1%3A111122223333%3Alistener%2Fnet%2Fpg-nlb%2F"
                    "50dc6c495c0c9188%2Ff2f7dc8efc522ab2&DefaultActions.member.1.Type=forward"
                    "&DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn="
                    "arn%3Aaws%3Aelasticloadbalancing%3Aeu-west-1%3A111122223333%3Atargetgroup%2Fpg-slot-a%2F"
                    "73e2d6bc24d8a067&DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.Weight=1"
                    "&DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn="
                    "arn%3Aaws%3Aelasticloadbalancing%3Aeu-west-1%3A111122223333%3Atargetgroup%2Fpg-slot-b%2F"
                    "09bdcb2a1c5e7d3f&DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.Weight=0"
                    "&DefaultActions.member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled=false"
                    "&DefaultActions.member.1.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds=30");
    free(body);
}

static void test_modify_rejects_weights_out_of_range(void)
{
    elb_listener l;
    elb_error e;
    int weights[2] = {1000, 0};
    CHECK_INT(elbv2_listener_parse(describe_xml, strlen(describe_xml), NULL, &l, &e), 0);
    /* refused before any request: no client is needed */
    CHECK_INT(elb_modify_listener_weights(NULL, &l, weights, 0, NULL, &e), -1);
    CHECK(strstr(e.message, "outside 0..999") != NULL);
}

int main(void)
{
    RUN(test_warm_slot_gets_the_weight);
    RUN(test_right_weights_change_nothing);
    RUN(test_fill_prefers_an_empty_standby);
    RUN(test_unknown_weight_counts_as_weighted);
    RUN(test_fill_never_in_the_weighted_slot);
    RUN(test_never_to_a_draining_slot);
    RUN(test_not_exactly_the_primary_is_not_its_slot);
    RUN(test_never_every_slot_at_zero);
    RUN(test_every_slot_weighted_and_none_holds_it);
    RUN(test_refill_with_candidates_not_held_or_draining);
    RUN(test_stale_standby_replaced_only_by_a_complete_choice);
    RUN(test_slot_count_limits);
    RUN(test_listener_parse);
    RUN(test_listener_parse_rejects);
    RUN(test_modify_body_repeats_every_slot);
    RUN(test_modify_rejects_weights_out_of_range);
    return check_done();
}
