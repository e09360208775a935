/* handler/sync/plan.c: what to register, deregister and leave alone, under the
 * safety rules of README.md, "Result". */
#include <stdlib.h>

#include "check.h"
#include "handler/sync/internal.h"
#include "handler/sync/plan.h"
#include "target_states.h"

/* A target as DescribeTargetHealth reports it. */
static elb_target T(const char *id, int port, const char *az, const char *state, const char *reason)
{
    elb_target t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", id);
    t.port = port;
    snprintf(t.az, sizeof t.az, "%s", az ? az : "");
    snprintf(t.state, sizeof t.state, "%s", state ? state : "healthy");
    snprintf(t.reason, sizeof t.reason, "%s", reason ? reason : "");
    return t;
}

static addr_list addrs(const char *const *texts, size_t n)
{
    addr_list l = {NULL, 0};
    for (size_t i = 0; i < n; i++) {
        ip_addr a;
        if (ip_addr_parse(texts[i], &a) == 0)
            addr_list_add(&l, &a);
    }
    addr_list_sort(&l);
    return l;
}

/* "a,b,c" of formatted targets. */
static const char *joined(const elb_target_list *l, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->count && used < len; i++) {
        char t[300];
        target_format(&l->items[i], t, sizeof t);
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", t);
    }
    return buf;
}

typedef struct outcome {
    char reg[512], dereg[512], same[512];
} outcome;

static outcome run(const char *const *desired, size_t nd, int port, const char *az, elb_target *cur, size_t nc,
                   target_plan *keep)
{
    addr_list d = addrs(desired, nd);
    elb_target_list current = {cur, nc};
    target_plan p;
    outcome o;
    memset(&o, 0, sizeof o);
    CHECK_INT(plan_targets(&d, port, az, &current, &p), 0);
    joined(&p.to_register, o.reg, sizeof o.reg);
    joined(&p.to_deregister, o.dereg, sizeof o.dereg);
    joined(&p.unchanged, o.same, sizeof o.same);
    if (keep)
        *keep = p;
    else
        target_plan_free(&p);
    addr_list_free(&d);
    return o;
}

static void test_empty_group_registers(void)
{
    const char *d[] = {"10.20.1.9"};
    target_plan p;
    outcome o = run(d, 1, 5432, NULL, NULL, 0, &p);
    CHECK_STR(o.reg, "10.20.1.9:5432");
    CHECK_STR(o.dereg, "");
    CHECK_STR(o.same, "");
    CHECK(plan_has_changes(&p));
    CHECK_STR(p.to_register.items[0].az, "");
    CHECK_STR(p.to_register.items[0].state, "");
    target_plan_free(&p);
}

static void test_failover_swaps(void)
{
    const char *d[] = {"10.20.2.118"};
    elb_target cur[] = {T("10.20.1.9", 5432, "eu-west-1a", "healthy", NULL)};
    target_plan p;
    outcome o = run(d, 1, 5432, NULL, cur, 1, &p);
    CHECK_STR(o.reg, "10.20.2.118:5432");
    CHECK_STR(o.dereg, "10.20.1.9:5432");
    CHECK_STR(o.same, "");
    /* rule 3: the exact Id, Port and AvailabilityZone that were returned */
    CHECK_STR(p.to_deregister.items[0].id, "10.20.1.9");
    CHECK_INT(p.to_deregister.items[0].port, 5432);
    CHECK_STR(p.to_deregister.items[0].az, "eu-west-1a");
    target_plan_free(&p);
}

static void test_already_right(void)
{
    const char *d[] = {"10.20.1.9"};
    elb_target cur[] = {T("10.20.1.9", 5432, "eu-west-1a", "initial", "Elb.RegistrationInProgress")};
    target_plan p;
    outcome o = run(d, 1, 5432, "all", cur, 1, &p);
    CHECK_STR(o.reg, "");
    CHECK_STR(o.dereg, "");
    CHECK_STR(o.same, "10.20.1.9:5432");
    CHECK(!plan_has_changes(&p));
    target_plan_free(&p);
}

static elb_target in_state(const char *id, const char *az, size_t i)
{
    return T(id, 5432, az, registered_states[i].state, registered_states[i].reason);
}

static void test_every_state_but_draining_is_registered(void)
{
    for (size_t i = 0; i < N_REGISTERED_STATES; i++) {
        int failed = check_case_failed;
        const char *d[] = {"10.0.0.1"};
        elb_target cur[] = {in_state("10.0.0.1", "eu-west-1a", i)};
        target_plan p;
        outcome o = run(d, 1, 5432, NULL, cur, 1, &p);
        /* the answer is what the group holds: no change, so no end to a
         * failover wait (its baseline) and nothing registered again */
        CHECK_STR(o.reg, "");
        CHECK_STR(o.dereg, "");
        CHECK_STR(o.same, "10.0.0.1:5432");
        CHECK(!plan_has_changes(&p));
        target_plan_free(&p);
        CHECK(target_is_registered(&cur[0]));
        CHECK(!target_is_draining(&cur[0]));
        registered_state_context(failed, i);
    }
}

static void test_failover_from_every_registered_state(void)
{
    /* the old primary failing its checks (or in a zone the NLB does not
     * serve) is still in the group: the new address is registered and the
     * old one deregistered with its own Port and AvailabilityZone */
    for (size_t i = 0; i < N_REGISTERED_STATES; i++) {
        int failed = check_case_failed;
        const char *d[] = {"10.20.2.118"};
        elb_target cur[] = {in_state("10.20.1.9", "eu-west-1b", i)};
        cur[0].port = 5433;
        target_plan p;
        outcome o = run(d, 1, 5432, NULL, cur, 1, &p);
        CHECK_STR(o.reg, "10.20.2.118:5432");
        CHECK_STR(o.dereg, "10.20.1.9:5433");
        CHECK_STR(o.same, "");
        CHECK_INT(p.to_deregister.count, 1);
        if (p.to_deregister.count == 1) {
            CHECK_STR(p.to_deregister.items[0].id, "10.20.1.9");
            CHECK_INT(p.to_deregister.items[0].port, 5433);
            CHECK_STR(p.to_deregister.items[0].az, "eu-west-1b");
        }
        target_plan_free(&p);
        registered_state_context(failed, i);
    }
}

static void test_draining_counts_as_absent(void)
{
    /* rule 4: a draining desired target is registered again; a draining stale
     * one is already leaving and is not deregistered again */
    const char *d[] = {"10.0.0.1"};
    elb_target cur[] = {T("10.0.0.1", 5432, NULL, "draining", "Target.DeregistrationInProgress"),
                        T("10.0.0.2", 5432, NULL, "draining", "Target.DeregistrationInProgress")};
    target_plan p;
    outcome o = run(d, 1, 5432, NULL, cur, 2, &p);
    CHECK_STR(o.reg, "10.0.0.1:5432");
    CHECK_STR(o.dereg, "");
    CHECK_STR(o.same, "");
    CHECK(plan_has_changes(&p));
    target_plan_free(&p);
    /* only draining targets and no desired change: the answer differs from the
     * group (which holds nothing) */
    const char *d2[] = {"10.0.0.2"};
    o = run(d2, 1, 5432, NULL, cur, 2, NULL);
    CHECK_STR(o.reg, "10.0.0.2:5432");
}

static void test_unhealthy_draining_is_not_leaving(void)
{
    /* "unhealthy.draining" keeps its connections and turns healthy again if
     * it recovers: a stale one is deregistered, a desired one left alone,
     * beside a draining target that is left alone either way */
    const char *d[] = {"10.0.0.1"};
    elb_target cur[] = {T("10.0.0.1", 5432, NULL, "unhealthy.draining", "Target.FailedHealthChecks"),
                        T("10.0.0.2", 5432, "eu-west-1c", "unhealthy.draining", "Target.FailedHealthChecks"),
                        T("10.0.0.3", 5432, NULL, "draining", "Target.DeregistrationInProgress")};
    target_plan p;
    outcome o = run(d, 1, 5432, NULL, cur, 3, &p);
    CHECK_STR(o.reg, "");
    CHECK_STR(o.dereg, "10.0.0.2:5432");
    CHECK_STR(o.same, "10.0.0.1:5432");
    CHECK_STR(p.to_deregister.items[0].az, "eu-west-1c");
    target_plan_free(&p);
}

static void test_wrong_port_is_stale(void)
{
    const char *d[] = {"10.0.0.1"};
    elb_target cur[] = {T("10.0.0.1", 3306, "eu-west-1b", "healthy", NULL)};
    target_plan p;
    outcome o = run(d, 1, 5432, NULL, cur, 1, &p);
    CHECK_STR(o.reg, "10.0.0.1:5432");
    CHECK_STR(o.dereg, "10.0.0.1:3306");
    CHECK_INT(p.to_deregister.items[0].port, 3306);
    CHECK_STR(p.to_deregister.items[0].az, "eu-west-1b");
    target_plan_free(&p);
}

static void test_az_never_decides_a_match(void)
{
    const char *d[] = {"10.0.0.1"};
    elb_target cur[] = {T("10.0.0.1", 5432, "eu-west-1a", "healthy", NULL)};
    outcome o = run(d, 1, 5432, "all", cur, 1, NULL);
    CHECK_STR(o.reg, "");
    CHECK_STR(o.dereg, "");
    CHECK_STR(o.same, "10.0.0.1:5432");
    /* and the configured zone goes with a registration */
    target_plan p;
    const char *d2[] = {"172.31.4.5"};
    run(d2, 1, 5432, "all", cur, 1, &p);
    CHECK_INT(p.to_register.count, 1);
    CHECK_STR(p.to_register.items[0].az, "all");
    CHECK_STR(p.to_deregister.items[0].az, "eu-west-1a");
    target_plan_free(&p);
    /* an empty zone is no zone */
    run(d2, 1, 5432, "", cur, 1, &p);
    CHECK_STR(p.to_register.items[0].az, "");
    target_plan_free(&p);
}

static void test_non_ip_ids_are_stale(void)
{
    const char *d[] = {"10.0.0.1"};
    elb_target cur[] = {T("i-0123456789abcdef0", 5432, NULL, "healthy", NULL), T("10.0.0.1", 5432, NULL, NULL, NULL),
                        T("not an ip", 0, NULL, "healthy", NULL)};
    outcome o = run(d, 1, 5432, NULL, cur, 3, NULL);
    CHECK_STR(o.reg, "");
    CHECK_STR(o.dereg, "i-0123456789abcdef0:5432,not an ip");
    CHECK_STR(o.same, "10.0.0.1:5432");
}

static void test_ipv6_and_textual_forms(void)
{
    const char *d[] = {"fd00:0:0:0::1", "10.0.0.1"};
    elb_target cur[] = {T("FD00::0001", 5432, NULL, "healthy", NULL), T("fd00::2", 5432, NULL, "healthy", NULL)};
    target_plan p;
    outcome o = run(d, 2, 5432, NULL, cur, 2, &p);
    CHECK_STR(o.reg, "10.0.0.1:5432");
    CHECK_STR(o.dereg, "[fd00::2]:5432");
    CHECK_STR(o.same, "[fd00::1]:5432");
    /* the exact Id as returned, even in its own spelling */
    CHECK_STR(p.to_deregister.items[0].id, "fd00::2");
    target_plan_free(&p);
    elb_target odd[] = {T("FD00::0002", 5432, NULL, "healthy", NULL)};
    run(d, 2, 5432, NULL, odd, 1, &p);
    CHECK_STR(p.to_deregister.items[0].id, "FD00::0002");
    target_plan_free(&p);
}

static void test_contract_order(void)
{
    const char *d[] = {"fd00::1", "192.168.0.1", "10.0.0.10", "10.0.0.9"};
    elb_target cur[] = {T("fd00::9", 5432, NULL, NULL, NULL), T("10.0.0.200", 6000, NULL, NULL, NULL),
                        T("10.0.0.200", 80, NULL, NULL, NULL), T("9.0.0.1", 5432, NULL, NULL, NULL)};
    outcome o = run(d, 4, 5432, NULL, cur, 4, NULL);
    CHECK_STR(o.reg, "10.0.0.9:5432,10.0.0.10:5432,192.168.0.1:5432,[fd00::1]:5432");
    CHECK_STR(o.dereg, "9.0.0.1:5432,10.0.0.200:80,10.0.0.200:6000,[fd00::9]:5432");
}

static void test_three_proxy_addresses(void)
{
    const char *d[] = {"10.1.3.3", "10.1.1.1", "10.1.2.2"};
    elb_target cur[] = {T("10.1.1.1", 5432, NULL, NULL, NULL), T("10.1.9.9", 5432, NULL, NULL, NULL)};
    outcome o = run(d, 3, 5432, NULL, cur, 2, NULL);
    CHECK_STR(o.reg, "10.1.2.2:5432,10.1.3.3:5432");
    CHECK_STR(o.dereg, "10.1.9.9:5432");
    CHECK_STR(o.same, "10.1.1.1:5432");
}

static void test_format(void)
{
    char out[300];
    elb_target t = T("10.0.0.1", 5432, NULL, NULL, NULL);
    target_format(&t, out, sizeof out);
    CHECK_STR(out, "10.0.0.1:5432");
    t = T("2001:DB8::1", 443, NULL, NULL, NULL);
    target_format(&t, out, sizeof out);
    CHECK_STR(out, "[2001:db8::1]:443");
    t = T("arn:aws:lambda:x", 0, NULL, NULL, NULL);
    target_format(&t, out, sizeof out);
    CHECK_STR(out, "arn:aws:lambda:x");
    CHECK(target_is_draining(&(elb_target){.state = "draining"}));
    CHECK(!target_is_registered(&(elb_target){.state = "draining"}));
    CHECK(!target_is_draining(&(elb_target){.state = "unhealthy.draining"}));
    CHECK(!target_is_draining(&(elb_target){.state = "unhealthy"}));
    CHECK(target_is_registered(&(elb_target){.state = "healthy"}));
}

static void test_nothing_desired_plans_removal(void)
{
    /* planning alone would remove everything; reconcile never calls it
     * without a usable answer (rule 1, tested in test_reconcile) */
    elb_target cur[] = {T("10.0.0.1", 5432, NULL, NULL, NULL)};
    outcome o = run(NULL, 0, 5432, NULL, cur, 1, NULL);
    CHECK_STR(o.dereg, "10.0.0.1:5432");
}

int main(void)
{
    RUN(test_empty_group_registers);
    RUN(test_failover_swaps);
    RUN(test_already_right);
    RUN(test_every_state_but_draining_is_registered);
    RUN(test_failover_from_every_registered_state);
    RUN(test_draining_counts_as_absent);
    RUN(test_unhealthy_draining_is_not_leaving);
    RUN(test_wrong_port_is_stale);
    RUN(test_az_never_decides_a_match);
    RUN(test_non_ip_ids_are_stale);
    RUN(test_ipv6_and_textual_forms);
    RUN(test_contract_order);
    RUN(test_three_proxy_addresses);
    RUN(test_format);
    RUN(test_nothing_desired_plans_removal);
    return check_done();
}
