/* handler/sync/reconcile.c against a fake target group, a scripted resolver and a
 * virtual clock: the safety rules, the failover wait and its time limits,
 * error types and messages. No network, no real time. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "check.h"
#include "handler/sync/config.h"
#include "handler/sync/dns.h"
#include "handler/sync/plan.h"
#include "handler/sync/reconcile.h"
#include "handler/sync/reconcile_internal.h"
#include "target_states.h"

#define START_MS 1700000000000LL
#define MAX_T 400

typedef struct phase {
    int64_t until; /* this answer holds until START_MS + until (0: forever) */
    dns_status status;
    const char *addrs[4];
} phase;

typedef struct fake {
    int64_t now;
    elb_target current[8];
    size_t ncurrent;
    phase dns[4];
    int resolves, describes, registers, deregisters;
    char order[16]; /* 'D'escribe, 'R'egister, 'X' deregister, in call order */
    elb_target reg[MAX_T], dereg[MAX_T];
    size_t nreg, ndereg;
    size_t batch[8];
    int64_t first_register_at;
    int64_t last_resolve_at;
    elb_error fail_describe, fail_register, fail_deregister; /* code "" = succeed */
    int advance_on_fail;                                     /* ms the failing call takes */
    int generate;                /* > 0: the resolver answers this many 10.1.x.y addresses */
    rns_error_type failure_type; /* the type the source gives a failure; NONE: ResolveError */
    const char *subject;         /* the source's subject; NULL: DB_ENDPOINT */
    int guard;                   /* the binding's guard_races (fleet mode) */
} fake;

#define TG_ARN "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/tg/0123"

static int64_t f_now(void *ctx)
{
    return ((fake *)ctx)->now;
}

static void f_sleep(void *ctx, long ms)
{
    ((fake *)ctx)->now += ms;
}

static void note(fake *f, char c)
{
    size_t n = strlen(f->order);
    if (n + 1 < sizeof f->order)
        f->order[n] = c;
}

static int f_describe(void *ctx, const char *target_group_arn, int64_t deadline_ms, elb_target_list *out,
                      elb_error *err)
{
    fake *f = ctx;
    (void)deadline_ms;
    CHECK_STR(target_group_arn, TG_ARN);
    f->describes++;
    note(f, 'D');
    f->now += 20;
    if (f->fail_describe.code[0]) {
        f->now += f->advance_on_fail;
        *err = f->fail_describe;
        return -1;
    }
    out->items = malloc(sizeof f->current);
    memcpy(out->items, f->current, sizeof f->current);
    out->count = f->ncurrent;
    return 0;
}

static int f_change(void *ctx, const char *target_group_arn, int deregister, const elb_target *t, size_t n,
                    int64_t deadline_ms, elb_error *err)
{
    fake *f = ctx;
    (void)deadline_ms;
    CHECK_STR(target_group_arn, TG_ARN);
    f->now += 20;
    note(f, deregister ? 'X' : 'R');
    elb_error *fail = deregister ? &f->fail_deregister : &f->fail_register;
    if (fail->code[0]) {
        f->now += f->advance_on_fail;
        *err = *fail;
        return -1;
    }
    if (!deregister) {
        if (f->registers < 8)
            f->batch[f->registers] = n;
        if (!f->registers)
            f->first_register_at = f->now;
        f->registers++;
        for (size_t i = 0; i < n && f->nreg < MAX_T; i++)
            f->reg[f->nreg++] = t[i];
    } else {
        f->deregisters++;
        for (size_t i = 0; i < n && f->ndereg < MAX_T; i++)
            f->dereg[f->ndereg++] = t[i];
    }
    return 0;
}

/* The scripted source. Each answer's detail is the number of the call that
 * gave it, so a test can tell which answer the run used. */
static int f_resolve(void *ctx, const source_query *q, source_answer *out)
{
    fake *f = ctx;
    const phase *p = &f->dns[0];
    for (size_t i = 0; i < 4 && p->until && f->now >= START_MS + p->until; i++)
        p = &f->dns[i + 1];
    f->resolves++;
    CHECK(q->timeout_ms > 0);
    CHECK(q->current != NULL);
    f->now += 5;
    f->last_resolve_at = f->now;
    out->detail = json_integer(f->resolves);
    if (p->status != DNS_OK) {
        rns_error_set(&out->error, f->failure_type ? f->failure_type : RNS_ERR_RESOLVE, "db.example: %s",
                      dns_status_name(p->status));
        out->status = dns_status_name(p->status);
        return -1;
    }
    for (int i = 0; i < f->generate; i++) {
        ip_addr a = {AF_INET, {10, 1, (unsigned char)(i / 200), (unsigned char)(i % 200 + 1)}};
        addr_list_add(&out->addresses, &a);
    }
    for (size_t i = 0; i < 4 && p->addrs[i]; i++) {
        ip_addr a;
        ip_addr_parse(p->addrs[i], &a);
        addr_list_add(&out->addresses, &a);
    }
    addr_list_sort(&out->addresses);
    return 0;
}

/* Which call's answer the run used (f_resolve's detail), 0 for none. */
static long used_answer(const reconcile_report *rep)
{
    return rep->source_detail ? (long)json_integer_value(rep->source_detail) : 0;
}

static elb_target T(const char *id, int port, const char *az, const char *state)
{
    elb_target t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", id);
    t.port = port;
    snprintf(t.az, sizeof t.az, "%s", az ? az : "");
    snprintf(t.state, sizeof t.state, "%s", state ? state : "healthy");
    return t;
}

static void set_state(elb_target *t, const char *state, const char *reason)
{
    snprintf(t->state, sizeof t->state, "%s", state);
    snprintf(t->reason, sizeof t->reason, "%s", reason);
}

static config make_config(int wait_s, int poll_ms)
{
    config c;
    char err[128];
    memset(&c, 0, sizeof c);
    c.target_group_arn = TG_ARN;
    c.target_group_name = "tg";
    c.db_endpoint = "db.example";
    c.db_port = 5432;
    c.db_identifier = "db";
    c.failover_wait_seconds = wait_s;
    c.dns_poll_ms = poll_ms;
    c.max_attempts = 3;
    cidr_list_parse("10.0.0.0/8", &c.allowed, err, sizeof err);
    return c;
}

typedef struct outcome {
    int rc;
    rns_error err;
    reconcile_report rep;
    char *log;
} outcome;

static outcome run(fake *f, const config *cfg, int failover, int dry_run, int64_t budget_ms)
{
    outcome o;
    size_t loglen = 0;
    FILE *mem = open_memstream(&o.log, &loglen);
    logger lg;
    memset(&lg, 0, sizeof lg);
    lg.out = mem;
    lg.threshold = LOG_DEBUG;
    f->now = START_MS;
    reconcile_io io = {.ctx = f, .describe = f_describe, .change = f_change, .now_ms = f_now, .sleep_ms = f_sleep};
    binding b = {
        .source = {.ctx = f, .subject = f->subject ? f->subject : cfg->db_endpoint, .resolve = f_resolve},
        .target_group_arn = cfg->target_group_arn,
        .port = cfg->db_port,
        .az = cfg->target_az,
        .allowed = &cfg->allowed,
        .failover_wait_seconds = cfg->failover_wait_seconds,
        .dns_poll_ms = cfg->dns_poll_ms,
        .guard_races = f->guard,
    };
    reconcile_request req = {&b, failover, dry_run, START_MS + budget_ms, &lg};
    rns_error_clear(&o.err);
    o.rc = reconcile_run(&io, &req, &o.rep, &o.err);
    fclose(mem);
    return o;
}

static void done(outcome *o, config *cfg)
{
    reconcile_report_free(&o->rep);
    free(o->log);
    cidr_list_free(&cfg->allowed);
}

static fake one_target(const char *held)
{
    fake f;
    memset(&f, 0, sizeof f);
    f.current[0] = T(held, 5432, "eu-west-1a", "healthy");
    f.ncurrent = 1;
    return f;
}

static void test_rule1_no_answer_changes_nothing(void)
{
    static const dns_status bad[] = {DNS_NXDOMAIN, DNS_NODATA, DNS_TEMPFAIL, DNS_TIMEOUT, DNS_ERROR};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fake f = one_target("10.0.0.1");
        config cfg = make_config(60, 1000);
        f.dns[0].status = bad[i];
        outcome o = run(&f, &cfg, 0, 0, 30000);
        CHECK_INT(o.rc, -1);
        CHECK_STR(rns_error_name(&o.err), "ResolveError");
        CHECK(strstr(o.err.message, "no usable address for db.example") != NULL);
        CHECK(strstr(o.err.message, dns_status_name(bad[i])) != NULL);
        CHECK(strstr(o.err.message, "nothing was changed") != NULL);
        CHECK_INT(f.registers + f.deregisters, 0);
        CHECK_STR(f.order, "D");
        done(&o, &cfg);
    }
}

static void test_rule1_all_rejected(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "54.239.1.9";
    f.dns[0].addrs[1] = "3.5.0.1";
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_INT(o.rc, -1);
    CHECK_STR(rns_error_name(&o.err), "ResolveError");
    CHECK(strstr(o.err.message, "every address is outside ALLOWED_CIDRS (3.5.0.1, ...)") != NULL);
    CHECK_INT(o.rep.rejected.count, 2);
    CHECK_INT(o.rep.resolved.count, 2);
    CHECK_INT(f.registers + f.deregisters, 0);
    CHECK(strstr(o.log, "addresses rejected") != NULL);
    done(&o, &cfg);
}

static void test_some_rejected_rest_registered(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.2";
    f.dns[0].addrs[1] = "54.239.1.9";
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(o.rep.resolved.count, 2);
    CHECK_INT(o.rep.rejected.count, 1);
    CHECK_INT(f.nreg, 1);
    CHECK_STR(f.reg[0].id, "10.0.0.2");
    done(&o, &cfg);
}

static void test_rule2_register_then_deregister(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    cfg.target_az = "all";
    f.dns[0].addrs[0] = "10.0.0.2";
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_INT(o.rc, 0);
    CHECK_STR(f.order, "DRX");
    CHECK_STR(f.reg[0].id, "10.0.0.2");
    CHECK_INT(f.reg[0].port, 5432);
    CHECK_STR(f.reg[0].az, "all");
    /* rule 3: the exact Id, Port and AZ */
    CHECK_STR(f.dereg[0].id, "10.0.0.1");
    CHECK_INT(f.dereg[0].port, 5432);
    CHECK_STR(f.dereg[0].az, "eu-west-1a");
    CHECK_INT(o.rep.registered.count, 1);
    CHECK_INT(o.rep.deregistered.count, 1);
    CHECK_INT(o.rep.converged, 1);
    CHECK_INT(o.rep.dns_changed, 0);
    CHECK_INT(o.rep.waited, 0);
    CHECK_INT(o.rep.api_calls, 3);
    CHECK(strstr(o.log, "registering targets") && strstr(o.log, "deregistering targets"));
    done(&o, &cfg);
}

static void test_rule2_register_failure_deregisters_nothing(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.2";
    f.fail_register = (elb_error){400, "Throttling", "Rate exceeded", "b5f0c2d1-rid", 3, 0};
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_INT(o.rc, -1);
    CHECK_STR(rns_error_name(&o.err), "ElbApiError");
    CHECK_STR(o.err.message, "RegisterTargets failed for 10.0.0.2:5432: Throttling: Rate exceeded (HTTP 400, "
                             "request id b5f0c2d1-rid, 3 attempts); nothing was deregistered");
    CHECK_STR(f.order, "DR");
    CHECK_INT(f.deregisters, 0);
    CHECK_INT(o.rep.converged, 0);
    done(&o, &cfg);
}

/* Out of memory in the ELBv2 client is the one out-of-memory type, not an API error. */
static void test_out_of_memory_is_its_own_type(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.2";
    f.fail_register =
        (elb_error){0, QUERY_CODE_NO_MEMORY, "out of memory building the RegisterTargets request", "", 0, 0};
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_INT(o.rc, -1);
    CHECK_INT(o.err.type, RNS_ERR_NO_MEMORY);
    CHECK_STR(rns_error_name(&o.err), "Runtime.OutOfMemory");
    CHECK_INT(f.deregisters, 0);
    done(&o, &cfg);
}

static void test_deregister_failure_reported(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.2";
    f.fail_deregister = (elb_error){403, "AccessDenied", "not authorized", "rid-2", 1, 0};
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_INT(o.rc, -1);
    CHECK_STR(rns_error_name(&o.err), "ElbApiError");
    CHECK(strstr(o.err.message, "DeregisterTargets failed for 10.0.0.1:5432: AccessDenied: not authorized "
                                "(HTTP 403, request id rid-2, 1 attempt)") != NULL);
    CHECK(strstr(o.err.message, "the function's role needs") != NULL);
    CHECK(strstr(o.err.message, "the new targets are registered") != NULL);
    CHECK_INT(o.rep.registered.count, 1);
    CHECK_INT(o.rep.deregistered.count, 0);
    CHECK_INT(o.rep.converged, 0);
    done(&o, &cfg);
}

static void test_describe_failure(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.2";
    f.fail_describe = (elb_error){400, "TargetGroupNotFound", "One or more target groups not found", "rid-3", 1, 0};
    outcome o = run(&f, &cfg, 1, 0, 30000);
    CHECK_INT(o.rc, -1);
    CHECK_STR(rns_error_name(&o.err), "ElbApiError");
    CHECK(strstr(o.err.message, "DescribeTargetHealth failed: TargetGroupNotFound") != NULL);
    CHECK(strstr(o.err.message, "check TARGET_GROUP_ARN and the region") != NULL);
    CHECK_INT(f.resolves, 0);
    CHECK_INT(f.registers + f.deregisters, 0);
    done(&o, &cfg);
}

static void test_timeouts(void)
{
    /* the client stopped retrying because of the deadline: Timeout */
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.2";
    f.fail_register = (elb_error){400, "Throttling", "Rate exceeded", "rid-4", 1, 1};
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_STR(rns_error_name(&o.err), "Timeout");
    CHECK(strstr(o.err.message, "deadline reached before the target group converged") != NULL);
    CHECK_INT(f.deregisters, 0);
    done(&o, &cfg);
    /* ... but not because its retry quota ran dry, with time left: ElbApiError */
    f = one_target("10.0.0.1");
    cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.2";
    f.fail_register = (elb_error){500, "InternalFailure", "oops", "rid-5", 1, 0};
    o = run(&f, &cfg, 0, 0, 30000);
    CHECK_STR(rns_error_name(&o.err), "ElbApiError");
    CHECK_INT(f.deregisters, 0);
    done(&o, &cfg);
    /* a call that ran into the deadline itself */
    f = one_target("10.0.0.1");
    cfg = make_config(60, 1000);
    f.fail_describe = (elb_error){0, "Timeout", "no response within 900 ms", "", 1, 0};
    f.advance_on_fail = 5000;
    o = run(&f, &cfg, 0, 0, 3000);
    CHECK_STR(rns_error_name(&o.err), "Timeout");
    done(&o, &cfg);
    /* a non-retryable error is never a Timeout */
    f = one_target("10.0.0.1");
    cfg = make_config(60, 1000);
    f.fail_describe = (elb_error){400, "ValidationError", "bad", "rid", 1, 0};
    o = run(&f, &cfg, 0, 0, 30000);
    CHECK_STR(rns_error_name(&o.err), "ElbApiError");
    done(&o, &cfg);
}

static void test_dry_run_only_describes(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.2";
    outcome o = run(&f, &cfg, 0, 1, 30000);
    CHECK_INT(o.rc, 0);
    CHECK_STR(f.order, "D");
    CHECK_INT(o.rep.dry_run, 1);
    CHECK_INT(o.rep.registered.count, 1);
    CHECK_STR(o.rep.registered.items[0].id, "10.0.0.2");
    CHECK_INT(o.rep.deregistered.count, 1);
    CHECK_STR(o.rep.deregistered.items[0].id, "10.0.0.1");
    CHECK_INT(o.rep.converged, 1);
    CHECK(strstr(o.log, "dry run") != NULL);
    done(&o, &cfg);
}

static void test_failover_wait_until_flip(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0] = (phase){3500, DNS_OK, {"10.0.0.1"}};
    f.dns[1] = (phase){0, DNS_OK, {"10.0.0.2"}};
    outcome o = run(&f, &cfg, 1, 0, 900000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(o.rep.waited, 1);
    CHECK_INT(o.rep.dns_changed, 1);
    /* polls at ~0, 1000, 2000, 3000, 4000 ms: the flip is seen within one interval */
    CHECK_INT(f.resolves, 5);
    CHECK(f.first_register_at - START_MS >= 3500);
    CHECK(f.first_register_at - START_MS <= 3500 + 1000 + 100);
    CHECK(o.rep.waited_ms >= 3000 && o.rep.waited_ms <= 4100);
    CHECK_STR(f.order, "DRX");
    CHECK(strstr(o.log, "waiting for DNS to change") && strstr(o.log, "DNS changed"));
    done(&o, &cfg);
}

static void test_failover_wait_from_every_registered_state(void)
{
    /* the old primary failing its checks (or unused) is still registered:
     * it is the wait's baseline, so its address is no change; the wait ends
     * on the flip, and the old target leaves with its own Port and zone */
    for (size_t i = 0; i < N_REGISTERED_STATES; i++) {
        int failed = check_case_failed;
        fake f = one_target("10.0.0.1");
        f.current[0].port = 5433;
        set_state(&f.current[0], registered_states[i].state, registered_states[i].reason);
        config cfg = make_config(60, 1000);
        cfg.db_port = 5433;
        f.dns[0] = (phase){2500, DNS_OK, {"10.0.0.1"}};
        f.dns[1] = (phase){0, DNS_OK, {"10.0.0.2"}};
        outcome o = run(&f, &cfg, 1, 0, 900000);
        CHECK_INT(o.rc, 0);
        CHECK_INT(o.rep.dns_changed, 1);
        CHECK(o.rep.waited_ms >= 2000);
        CHECK(f.first_register_at - START_MS >= 2500);
        CHECK_STR(f.order, "DRX");
        CHECK_INT(f.nreg, 1);
        CHECK_STR(f.reg[0].id, "10.0.0.2");
        CHECK_INT(f.ndereg, 1);
        CHECK_STR(f.dereg[0].id, "10.0.0.1");
        CHECK_INT(f.dereg[0].port, 5433);
        CHECK_STR(f.dereg[0].az, "eu-west-1a");
        done(&o, &cfg);
        registered_state_context(failed, i);
    }
}

static void test_unused_target_warned_with_its_zone(void)
{
    fake f = one_target("10.0.0.1");
    set_state(&f.current[0], "unused", "Target.NotInUse");
    f.current[f.ncurrent++] = T("10.0.0.3", 5432, "eu-west-1b", "unhealthy.draining");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.1";
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_INT(o.rc, 0);
    const char *w = strstr(o.log, "registered target unused by the load balancer");
    CHECK(w != NULL);
    if (w) {
        const char *eol = strchr(w, '\n');
        char line[1024];
        snprintf(line, sizeof line, "%.*s", eol ? (int)(eol - w) : (int)strlen(w), w);
        CHECK(strstr(line, "10.0.0.1:5432") && strstr(line, "eu-west-1a") && strstr(line, "Target.NotInUse"));
        CHECK(strstr(line, "Availability Zone") != NULL);
        /* one line, for the unused target only */
        CHECK(strstr(w + 1, "registered target unused") == NULL);
    }
    /* unused is registered: the answer is unchanged, the other target stale */
    CHECK_INT(o.rep.unchanged.count, 1);
    CHECK_INT(f.ndereg, 1);
    CHECK_STR(f.dereg[0].id, "10.0.0.3");
    done(&o, &cfg);
}

static void test_failover_first_answer_differs(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.2";
    outcome o = run(&f, &cfg, 1, 0, 900000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(f.resolves, 1);
    CHECK_INT(o.rep.dns_changed, 1);
    CHECK_INT(o.rep.waited_ms, 0);
    CHECK_INT(f.nreg, 1);
    done(&o, &cfg);
}

static void test_failover_wait_runs_out(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(5, 1000);
    f.dns[0].addrs[0] = "10.0.0.1";
    outcome o = run(&f, &cfg, 1, 0, 900000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(o.rep.waited, 1);
    CHECK_INT(o.rep.dns_changed, 0);
    CHECK_INT(o.rep.converged, 1);
    CHECK(o.rep.waited_ms >= 3900 && o.rep.waited_ms <= 5000);
    CHECK(f.last_resolve_at <= START_MS + 5000);
    CHECK_INT(f.registers + f.deregisters, 0);
    CHECK_INT(o.rep.unchanged.count, 1);
    CHECK(strstr(o.log, "DNS wait over without a change") != NULL);
    done(&o, &cfg);
}

static void test_failover_wait_capped_by_deadline(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.1";
    /* 10 s budget: margin min(3 s, 10/3 s) = 3 s, so polling stops before 7 s */
    outcome o = run(&f, &cfg, 1, 0, 10000);
    CHECK_INT(o.rc, 0);
    CHECK(f.last_resolve_at <= START_MS + 7000);
    CHECK(f.last_resolve_at >= START_MS + 6000);
    CHECK(f.now <= START_MS + 7100);
    done(&o, &cfg);
    /* 3 s budget (Lambda's default timeout): margin 1 s, wait about 2 s */
    f = one_target("10.0.0.1");
    cfg = make_config(60, 500);
    f.dns[0].addrs[0] = "10.0.0.1";
    o = run(&f, &cfg, 1, 0, 3000);
    CHECK_INT(o.rc, 0);
    CHECK(f.last_resolve_at <= START_MS + 2000);
    CHECK(o.rep.waited_ms <= 2000);
    done(&o, &cfg);
}

static void test_failover_errors_while_waiting(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0] = (phase){1500, DNS_OK, {"10.0.0.1"}};
    f.dns[1] = (phase){2500, DNS_TEMPFAIL, {NULL}};
    f.dns[2] = (phase){0, DNS_OK, {"10.0.0.3"}};
    outcome o = run(&f, &cfg, 1, 0, 900000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(o.rep.dns_changed, 1);
    CHECK_STR(f.reg[0].id, "10.0.0.3");
    CHECK(strstr(o.log, "resolution failed while waiting; still polling") != NULL);
    done(&o, &cfg);
}

static void test_failover_never_usable(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(3, 1000);
    f.dns[0].status = DNS_NXDOMAIN;
    outcome o = run(&f, &cfg, 1, 0, 900000);
    CHECK_INT(o.rc, -1);
    CHECK_STR(rns_error_name(&o.err), "ResolveError");
    CHECK(strstr(o.err.message, "during the failover wait") != NULL);
    CHECK(strstr(o.err.message, "NXDOMAIN") != NULL);
    CHECK_INT(f.registers + f.deregisters, 0);
    CHECK(f.resolves >= 3);
    done(&o, &cfg);
}

static void test_failover_last_usable_answer_kept(void)
{
    /* an answer that flips back to an error at the end: the last usable one counts */
    fake f = one_target("10.0.0.1");
    config cfg = make_config(4, 1000);
    f.dns[0] = (phase){1500, DNS_OK, {"10.0.0.1"}};
    f.dns[1] = (phase){0, DNS_NXDOMAIN, {NULL}};
    outcome o = run(&f, &cfg, 1, 0, 900000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(o.rep.dns_changed, 0);
    CHECK_INT(f.registers + f.deregisters, 0);
    CHECK_INT(o.rep.unchanged.count, 1);
    CHECK(f.resolves >= 3);
    CHECK_INT(used_answer(&o.rep), 2); /* the last usable answer, not the NXDOMAIN ones after it */
    done(&o, &cfg);
}

/* A failure the source types itself (the cluster discovery's RDS API
 * failure) keeps its errorType, with its message as the error; inside a
 * wait it is no answer yet. */
static void test_failure_type(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].status = DNS_ERROR;
    f.failure_type = RNS_ERR_RDS_API;
    outcome o = run(&f, &cfg, 0, 0, 900000);
    CHECK_INT(o.rc, -1);
    CHECK_STR(rns_error_name(&o.err), "RdsApiError");
    CHECK_STR(o.err.message, "db.example: ERROR; nothing was changed");
    CHECK_INT(f.registers + f.deregisters, 0);
    done(&o, &cfg);

    f = one_target("10.0.0.1");
    cfg = make_config(60, 1000);
    f.failure_type = RNS_ERR_RDS_API;
    f.dns[0] = (phase){1500, DNS_OK, {"10.0.0.1"}};
    f.dns[1] = (phase){2500, DNS_ERROR, {NULL}};
    f.dns[2] = (phase){0, DNS_OK, {"10.0.0.3"}};
    o = run(&f, &cfg, 1, 0, 900000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(o.rep.dns_changed, 1);
    CHECK_STR(f.reg[0].id, "10.0.0.3");
    CHECK_INT(used_answer(&o.rep), f.resolves); /* the changed answer is the one used */
    done(&o, &cfg);
}

static void test_subject(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(4, 1000);
    f.subject = "cluster c (writer)";
    f.dns[0].status = DNS_NXDOMAIN;
    outcome o = run(&f, &cfg, 0, 0, 900000);
    CHECK_STR(rns_error_name(&o.err), "ResolveError");
    CHECK_STR(o.err.message, "no usable address for cluster c (writer): db.example: NXDOMAIN; nothing was changed");
    CHECK(strstr(o.log, "cluster c (writer)") != NULL);
    done(&o, &cfg);
}

static void test_no_wait_without_failover(void)
{
    fake f = one_target("10.0.0.1");
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.1";
    outcome o = run(&f, &cfg, 0, 0, 900000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(f.resolves, 1);
    CHECK_INT(o.rep.waited, 0);
    CHECK_INT(o.rep.dns_changed, 0);
    CHECK_INT(o.rep.waited_ms, 0);
    done(&o, &cfg);
    /* FAILOVER_WAIT_SECONDS=0 turns the wait off */
    f = one_target("10.0.0.1");
    cfg = make_config(0, 1000);
    f.dns[0].addrs[0] = "10.0.0.1";
    o = run(&f, &cfg, 1, 0, 900000);
    CHECK_INT(f.resolves, 1);
    CHECK_INT(o.rep.waited, 0);
    done(&o, &cfg);
}

static void test_draining_and_wrong_port(void)
{
    fake f;
    memset(&f, 0, sizeof f);
    f.current[0] = T("10.0.0.1", 5432, "", "draining");
    f.current[1] = T("10.0.0.1", 3306, "", "healthy");
    f.current[2] = T("10.0.0.7", 5432, "", "draining");
    f.ncurrent = 3;
    config cfg = make_config(60, 1000);
    f.dns[0].addrs[0] = "10.0.0.1";
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(f.nreg, 1);
    CHECK_STR(f.reg[0].id, "10.0.0.1");
    CHECK_INT(f.reg[0].port, 5432);
    CHECK_INT(f.ndereg, 1);
    CHECK_INT(f.dereg[0].port, 3306);
    done(&o, &cfg);
}

static void test_batches_of_100(void)
{
    fake f;
    memset(&f, 0, sizeof f);
    config cfg = make_config(60, 1000);
    f.generate = 230;
    outcome o = run(&f, &cfg, 0, 0, 30000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(f.registers, 3);
    CHECK_INT(f.batch[0], 100);
    CHECK_INT(f.batch[1], 100);
    CHECK_INT(f.batch[2], 30);
    CHECK_INT(f.nreg, 230);
    CHECK_INT(o.rep.registered.count, 230);
    done(&o, &cfg);
}

static void test_margin(void)
{
    CHECK_INT(reconcile_margin_ms(900000), 3000);
    CHECK_INT(reconcile_margin_ms(9000), 3000);
    CHECK_INT(reconcile_margin_ms(3000), 1000);
    CHECK_INT(reconcile_margin_ms(600), 200);
    CHECK_INT(reconcile_margin_ms(-5), 0);
}

static void test_error_format(void)
{
    char out[600];
    elb_target t[2] = {T("10.0.0.2", 5432, NULL, NULL), T("fd00::2", 5432, NULL, NULL)};
    elb_error e = {0, "ConnectionError", "Failed to connect", "", 3, 0};
    reconcile_format_elb_error("RegisterTargets", t, 2, &e, out, sizeof out);
    CHECK_STR(out, "RegisterTargets failed for 10.0.0.2:5432, [fd00::2]:5432: ConnectionError: Failed to connect "
                   "(no response, request id none, 3 attempts); is the ELBv2 endpoint reachable (NAT gateway or "
                   "an elasticloadbalancing VPC endpoint)?");
    elb_error inv = {400, "InvalidTarget", "outside the VPC", "r1", 1, 0};
    reconcile_format_elb_error("RegisterTargets", t, 1, &inv, out, sizeof out);
    CHECK(strstr(out, "TARGET_AVAILABILITY_ZONE=all") != NULL);
    /* fuzz_elbv2_xml finding: Ids of 255 bytes from an answer overran the
     * target list (the count went past the buffer, then a write did). */
    elb_target lng[3];
    for (int i = 0; i < 3; i++) {
        memset(&lng[i], 0, sizeof lng[i]);
        memset(lng[i].id, 'a' + i, sizeof lng[i].id - 1);
        lng[i].port = 5432;
    }
    for (size_t n = 1; n <= 3; n++) {
        reconcile_format_elb_error("DeregisterTargets", lng, n, &e, out, sizeof out);
        CHECK(strncmp(out, "DeregisterTargets failed for aaaa", 33) == 0);
        CHECK(strstr(out, ", ...: ConnectionError: Failed to connect") != NULL);
        CHECK(strlen(out) < sizeof out);
    }
    lng[0].id[40] = '\0';
    reconcile_format_elb_error("DeregisterTargets", lng, 2, &e, out, sizeof out);
    CHECK(strstr(out, "aaaa:5432, bbbb") != NULL && strstr(out, "b, ...: ConnectionError") != NULL);
}

/* Races (reconcile.h): run A read DNS before run B moved the group to Y. */
static void test_race_guard_keeps_a_recent_registration(void)
{
    config cfg = make_config(0, 100);
    static fake f; /* static: a fake is 340 KB, and the sanitizer build inlines every case into main */
    f = one_target("10.0.0.20");
    set_state(&f.current[0], "initial", "Elb.RegistrationInProgress"); /* B's registration */
    f.dns[0] = (phase){0, DNS_OK, {"10.0.0.10"}};                      /* A's stale answer */
    f.guard = 1;
    outcome o = run(&f, &cfg, 0, 0, 10000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(f.ndereg, 0);
    CHECK_STR(f.order, "DRD");
    CHECK_INT(f.resolves, 3); /* the answer, once more before registering (still the same), the guard's */
    CHECK(strstr(o.log, "asked the source again") != NULL);
    CHECK_INT(o.rep.unchanged.count, 1);
    CHECK(!o.rep.converged);
    CHECK(strstr(o.log, "stale targets kept") != NULL);
    done(&o, &cfg);
    /* without the guard (one binding, reserved concurrency 1) the plan deregisters it */
    cfg = make_config(0, 100);
    f = one_target("10.0.0.20");
    set_state(&f.current[0], "initial", "Elb.RegistrationInProgress");
    f.dns[0] = (phase){0, DNS_OK, {"10.0.0.10"}};
    o = run(&f, &cfg, 0, 0, 10000);
    CHECK_INT(f.ndereg, 1);
    CHECK_INT(f.resolves, 1); /* and asks the source once: no second look before registering */
    done(&o, &cfg);
}

static void test_race_guard_keeps_what_a_fresher_answer_holds(void)
{
    config cfg = make_config(0, 100);
    static fake f; /* static: a fake is 340 KB, and the sanitizer build inlines every case into main */
    f = one_target("10.0.0.20");
    f.dns[0] = (phase){50, DNS_OK, {"10.0.0.10"}}; /* the first answer */
    f.dns[1] = (phase){0, DNS_OK, {"10.0.0.20"}};  /* the guard's fresh one */
    f.guard = 1;
    outcome o = run(&f, &cfg, 0, 0, 10000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(f.nreg, 1);
    CHECK_INT(f.ndereg, 0);
    CHECK_INT(f.resolves, 2);
    done(&o, &cfg);
    /* a fresh answer that fails deregisters nothing */
    cfg = make_config(0, 100);
    f = one_target("10.0.0.20");
    f.dns[0] = (phase){50, DNS_OK, {"10.0.0.10"}};
    f.dns[1] = (phase){0, DNS_NXDOMAIN, {NULL}};
    f.guard = 1;
    o = run(&f, &cfg, 0, 0, 10000);
    CHECK_INT(o.rc, 0);
    CHECK_INT(f.ndereg, 0);
    done(&o, &cfg);
}

static void test_race_guard_still_deregisters_the_stale(void)
{
    config cfg = make_config(0, 100);
    static fake f; /* static: a fake is 340 KB, and the sanitizer build inlines every case into main */
    f = one_target("10.0.0.20");
    f.dns[0] = (phase){0, DNS_OK, {"10.0.0.10"}};
    f.guard = 1;
    outcome o = run(&f, &cfg, 0, 0, 10000);
    CHECK_INT(o.rc, 0);
    CHECK_STR(f.order, "DRDX");
    CHECK_INT(f.resolves, 2); /* no sign of a race (nothing "initial"): no look before registering */
    CHECK_INT(f.ndereg, 1);
    CHECK_STR(f.dereg[0].id, "10.0.0.20");
    CHECK(o.rep.converged);
    done(&o, &cfg);
    /* nothing to deregister: no second read */
    cfg = make_config(0, 100);
    f = one_target("10.0.0.10");
    f.guard = 1;
    f.dns[0] = (phase){0, DNS_OK, {"10.0.0.10"}};
    o = run(&f, &cfg, 0, 0, 10000);
    CHECK_STR(f.order, "D");
    CHECK_INT(f.resolves, 1);
    done(&o, &cfg);
}

/* ---- two runs racing on one group (reconcile.h, "Races") ----
 *
 * Each run is a thread with its own clock and scripted source; the group is
 * shared. Every call a run makes (DescribeTargetHealth 'D', the source 'S',
 * RegisterTargets 'R', DeregisterTargets 'X') waits for its turn in the
 * schedule, one run's letter a call, so an interleaving is written down
 * exactly; past the schedule's end (or once a run is done) calls go in any
 * order. The group registers as ELBv2 does: a new target is "initial", a
 * deregistered one "draining". */

#define OLD "10.0.0.10" /* the old primary */
#define NEW "10.0.0.20" /* the new primary */

typedef struct race_group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *sched; /* whose call is next, one letter ('A', 'B', 'C') a call; spaces are read past */
    size_t pos;
    int finished[3];
    elb_target t[8];
    size_t n;
    size_t fewest;   /* the fewest registered targets after any change */
    char trace[128]; /* "BD BS BR ...": who called what, in order */
    int bad_call;    /* a call the scripted io refused (checked after the join) */
} race_group;

typedef struct racer {
    race_group *g;
    char name;
    const char *answers[4]; /* the source's answer per call; the last one repeats */
    int resolves, registers, deregisters;
    int64_t now;
    outcome o;
} racer;

static int racer_index(char name)
{
    return name - 'A';
}

/* Waits for this run's turn; returns with the lock held. */
static void race_turn(racer *x)
{
    race_group *g = x->g;
    size_t len = strlen(g->sched);
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (g->pos < len && (g->sched[g->pos] == ' ' || g->finished[racer_index(g->sched[g->pos])]))
            g->pos++;
        if (g->pos >= len || g->sched[g->pos] == x->name)
            return;
        pthread_cond_wait(&g->cv, &g->mu);
    }
}

static void race_done(racer *x, char call)
{
    race_group *g = x->g;
    size_t t = strlen(g->trace);
    if (t + 4 < sizeof g->trace)
        snprintf(g->trace + t, sizeof g->trace - t, "%s%c%c", t ? " " : "", x->name, call);
    if (g->pos < strlen(g->sched) && g->sched[g->pos] == x->name)
        g->pos++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static elb_target *race_find(race_group *g, const elb_target *t)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->t[i].port == t->port && strcmp(g->t[i].id, t->id) == 0)
            return &g->t[i];
    return NULL;
}

static size_t race_registered(const race_group *g)
{
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++)
        k += strcmp(g->t[i].state, "draining") != 0;
    return k;
}

static int r_describe(void *ctx, const char *arn, int64_t deadline_ms, elb_target_list *out, elb_error *err)
{
    racer *x = ctx;
    (void)deadline_ms;
    (void)err;
    race_turn(x);
    x->g->bad_call |= strcmp(arn, TG_ARN) != 0;
    out->items = malloc(sizeof x->g->t);
    memcpy(out->items, x->g->t, sizeof x->g->t);
    out->count = x->g->n;
    x->now += 20;
    race_done(x, 'D');
    return 0;
}

static void race_register(race_group *g, const elb_target *t)
{
    elb_target *held = race_find(g, t);
    if (!held && g->n < sizeof g->t / sizeof g->t[0]) {
        held = &g->t[g->n++];
        *held = *t;
        set_state(held, "initial", "Elb.RegistrationInProgress");
    } else if (held && strcmp(held->state, "draining") == 0) {
        set_state(held, "initial", "Elb.RegistrationInProgress");
    }
}

static int r_change(void *ctx, const char *arn, int deregister, const elb_target *t, size_t n, int64_t deadline_ms,
                    elb_error *err)
{
    racer *x = ctx;
    race_group *g = x->g;
    (void)deadline_ms;
    (void)err;
    race_turn(x);
    g->bad_call |= strcmp(arn, TG_ARN) != 0;
    for (size_t i = 0; i < n; i++) {
        elb_target *held = race_find(g, &t[i]);
        if (!deregister)
            race_register(g, &t[i]);
        else if (held)
            set_state(held, "draining", "Target.DeregistrationInProgress");
    }
    if (race_registered(g) < g->fewest)
        g->fewest = race_registered(g);
    *(deregister ? &x->deregisters : &x->registers) += 1;
    x->now += 20;
    race_done(x, deregister ? 'X' : 'R');
    return 0;
}

static int r_resolve(void *ctx, const source_query *q, source_answer *out)
{
    racer *x = ctx;
    race_turn(x);
    x->g->bad_call |= q->timeout_ms <= 0 || q->current == NULL;
    int k = x->resolves < 3 ? x->resolves : 3;
    while (k > 0 && !x->answers[k])
        k--;
    ip_addr a;
    ip_addr_parse(x->answers[k], &a);
    addr_list_add(&out->addresses, &a);
    x->resolves++;
    out->detail = json_integer(x->resolves);
    x->now += 5;
    race_done(x, 'S');
    return 0;
}

static int64_t r_now(void *ctx)
{
    return ((racer *)ctx)->now;
}

static void r_sleep(void *ctx, long ms)
{
    ((racer *)ctx)->now += ms;
}

/* One run of reconcile_run in fleet mode (guard_races), a thread's body. */
static void *race_run(void *arg)
{
    racer *x = arg;
    size_t loglen = 0;
    logger lg;
    cidr_list allowed = {0};
    char err[128];
    cidr_list_parse("10.0.0.0/8", &allowed, err, sizeof err);
    memset(&lg, 0, sizeof lg);
    lg.out = open_memstream(&x->o.log, &loglen);
    lg.threshold = LOG_DEBUG;
    x->now = START_MS;
    reconcile_io io = {.ctx = x, .describe = r_describe, .change = r_change, .now_ms = r_now, .sleep_ms = r_sleep};
    binding b = {.source = {.ctx = x, .subject = "db.example", .resolve = r_resolve},
                 .target_group_arn = TG_ARN,
                 .port = 5432,
                 .allowed = &allowed,
                 .dns_poll_ms = 100,
                 .guard_races = 1};
    reconcile_request req = {&b, 0, 0, START_MS + 10000, &lg};
    rns_error_clear(&x->o.err);
    x->o.rc = reconcile_run(&io, &req, &x->o.rep, &x->o.err);
    fclose(lg.out);
    cidr_list_free(&allowed);
    pthread_mutex_lock(&x->g->mu);
    x->g->finished[racer_index(x->name)] = 1;
    pthread_cond_broadcast(&x->g->cv);
    pthread_mutex_unlock(&x->g->mu);
    return NULL;
}

/* The group holds the old primary, healthy (or nothing). */
static void race_init(race_group *g, const char *sched, int empty)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->sched = sched;
    g->t[0] = T(OLD, 5432, "eu-west-1a", "healthy");
    g->n = empty ? 0 : 1;
    g->fewest = empty ? SIZE_MAX : 1; /* counted from the first registration */
}

/* Runs the racers side by side, each on the schedule, to their end. */
static void race(race_group *g, racer *xs, size_t n)
{
    pthread_t th[3];
    for (size_t i = 0; i < n; i++) {
        xs[i].g = g;
        pthread_create(&th[i], NULL, race_run, &xs[i]);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    for (size_t i = 0; i < n; i++)
        CHECK_INT(xs[i].o.rc, 0);
    CHECK(!g->bad_call);
}

/* "10.0.0.20:5432" for one registered target, "a, b" for more, "" for none. */
static const char *race_final(race_group *g, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0, used = 0; i < g->n; i++) {
        char t[64];
        if (strcmp(g->t[i].state, "draining") == 0)
            continue;
        target_format(&g->t[i], t, sizeof t);
        used += (size_t)snprintf(out + used, len - used, "%s%s", used ? ", " : "", t);
    }
    return out;
}

static void race_free(race_group *g, racer *xs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        reconcile_report_free(&xs[i].o.rep);
        free(xs[i].o.log);
    }
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

/* One interleaving of run A (stale: its first answer is the old primary)
 * and run B (fresh: it moves the group to the new primary), and the group
 * they leave. */
typedef struct race_case {
    const char *name;
    const char *sched;
    const char *a[4], *b[4];
    const char *final;   /* the registered targets at the end */
    int a_registers;     /* RegisterTargets calls of A */
    const char *a_trace; /* A's calls, in order (its letters of the trace) */
    int empty;           /* the group starts empty (a new binding) */
} race_case;

/* What is left transiently goes with the next fresh run once the health
 * checks are done (no target "initial" any more). */
static void race_then_fresh(race_group *g)
{
    racer c;
    char final[128];
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->t[i].state, "initial") == 0)
            set_state(&g->t[i], "healthy", "");
    memset(&c, 0, sizeof c);
    c.name = 'C';
    c.answers[0] = NEW;
    g->sched = "";
    race(g, &c, 1);
    CHECK_STR(race_final(g, final, sizeof final), NEW ":5432");
    CHECK(g->fewest >= 1);
    reconcile_report_free(&c.o.rep);
    free(c.o.log);
}

static void race_trace_of(const char *trace, char who, char *out, size_t len)
{
    size_t k = 0;
    for (const char *p = trace; *p && k + 1 < len; p++)
        if (p[0] == who && p[1] && (p == trace || p[-1] == ' '))
            out[k++] = p[1];
    out[k] = '\0';
}

static void test_race_two_runs_every_order(void)
{
    static const race_case cases[] = {
        /* A reads the group before B changes it: it holds the old primary, A's answer: nothing to do */
        {"A first", "AA BBBBBB", {OLD}, {NEW}, NEW ":5432", 0, "DS", 0},
        /* A reads the group between B's registration and deregistration: A would deregister the new
         * primary only; the guard keeps it (initial), B takes the old one out */
        {"A between B's register and deregister", "BBB AA BBB", {OLD}, {NEW}, NEW ":5432", 0, "DSDS", 0},
        /* A's guard falls between B's guard and B's deregistration */
        {"A's guard inside B's", "BBB AA BB AA B", {OLD, NEW}, {NEW}, NEW ":5432", 0, "DSDS", 0},
        /* A reads the group after B moved it: the new primary (initial) is a sign of a race, A asks again
         * before registering, and the fresher answer holds the new primary: A changes nothing */
        {"A after B, fresh on asking again", "BBBBBB AAA", {OLD, NEW}, {NEW}, NEW ":5432", 0, "DSS", 0},
        /* ... still stale when asking again, fresh at the guard: A deregisters its own registration */
        {"A after B, stale until its guard", "BBBBBB AAAAAAA", {OLD, OLD, NEW}, {NEW}, NEW ":5432", 1, "DSSRDSX", 0},
        /* A stale on every answer: A registers the old primary and keeps B's (initial): both, for now */
        {"A stale on every answer", "BBBBBB AAAAAA", {OLD}, {NEW}, OLD ":5432, " NEW ":5432", 1, "DSSRDS", 0},
        /* B's guard answer flaps back to the old primary: B keeps it, and A (stale) keeps B's: both, for
         * now; no run removes its own registration without another run's recent one that its fresh
         * answer holds */
        {"B's guard flaps back", "BBBBB AA", {OLD}, {NEW, OLD}, OLD ":5432, " NEW ":5432", 0, "DSDS", 0},
        /* A new binding: both runs read the empty group before either registers; no sign of a race shows
         * to either (reconcile.h, "Races"): both stay until a later run */
        {"both read the empty group", "ABAB AB", {OLD}, {NEW}, OLD ":5432, " NEW ":5432", 1, "DSR", 1},
        /* ... B reads it after A's registration: B keeps A's (initial); A never looks again */
        {"B reads A's registration", "AAA BBBBB", {OLD}, {NEW}, OLD ":5432, " NEW ":5432", 1, "DSR", 1},
        /* ... A reads it after B's registration: a sign of a race, A asks again */
        {"A reads B's registration", "BBB AAA", {OLD, NEW}, {NEW}, NEW ":5432", 0, "DSS", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const race_case *c = &cases[i];
        int before = check_case_failed;
        race_group g;
        racer xs[2];
        char final[128], a_trace[32];
        race_init(&g, c->sched, c->empty);
        memset(xs, 0, sizeof xs);
        xs[0].name = 'A';
        xs[1].name = 'B';
        memcpy(xs[0].answers, c->a, sizeof c->a);
        memcpy(xs[1].answers, c->b, sizeof c->b);
        race(&g, xs, 2);
        CHECK_STR(race_final(&g, final, sizeof final), c->final);
        CHECK(g.fewest >= 1); /* never an empty group */
        CHECK_INT(xs[0].registers, c->a_registers);
        race_trace_of(g.trace, 'A', a_trace, sizeof a_trace);
        CHECK_STR(a_trace, c->a_trace);
        race_then_fresh(&g);
        if (check_case_failed != before)
            fprintf(stderr, "  in case \"%s\": %s\n", c->name, g.trace);
        race_free(&g, xs, 2);
    }
}

int main(void)
{
    RUN(test_rule1_no_answer_changes_nothing);
    RUN(test_rule1_all_rejected);
    RUN(test_some_rejected_rest_registered);
    RUN(test_rule2_register_then_deregister);
    RUN(test_rule2_register_failure_deregisters_nothing);
    RUN(test_deregister_failure_reported);
    RUN(test_out_of_memory_is_its_own_type);
    RUN(test_describe_failure);
    RUN(test_timeouts);
    RUN(test_dry_run_only_describes);
    RUN(test_failover_wait_until_flip);
    RUN(test_failover_wait_from_every_registered_state);
    RUN(test_unused_target_warned_with_its_zone);
    RUN(test_failover_first_answer_differs);
    RUN(test_failover_wait_runs_out);
    RUN(test_failover_wait_capped_by_deadline);
    RUN(test_failover_errors_while_waiting);
    RUN(test_failover_never_usable);
    RUN(test_failover_last_usable_answer_kept);
    RUN(test_failure_type);
    RUN(test_subject);
    RUN(test_no_wait_without_failover);
    RUN(test_draining_and_wrong_port);
    RUN(test_batches_of_100);
    RUN(test_margin);
    RUN(test_error_format);
    RUN(test_race_guard_keeps_a_recent_registration);
    RUN(test_race_guard_keeps_what_a_fresher_answer_holds);
    RUN(test_race_guard_still_deregisters_the_stale);
    RUN(test_race_two_runs_every_order);
    return check_done();
}
