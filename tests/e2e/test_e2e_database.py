# rns: namespace
"""What a database client sees (CONTRACT.md section 12): a real PostgreSQL primary and synchronous hot
standby behind the NLB data plane (tests/lib/nlb.py), writer loops through the NLB's address, and the
real ./bootstrap in its runtime loop. A failover with the event before DNS changes, one with DNS first
and the old primary back read-only, and a target group that drains unhealthy targets. Every case checks
that no acknowledged write is lost. The data plane runs at the tests' scale (nlb.Timing(): registration
1 s, checks every 0.25 s, deregistration delay 0.5 s)."""
import os

import const
import dbstack
import nlb
import pg
import stack
import tap
import writers

S = None
NEW = "%s:%d" % (const.NEW_PRIMARY, const.DB_PORT)
OLD = "%s:%d" % (const.OLD_PRIMARY, const.DB_PORT)


def stack_():
    global S
    if not os.access(stack.bootstrap_path(), os.X_OK):
        tap.skip("%s not built" % stack.bootstrap_path())
    why = pg.missing()
    if why:
        raise AssertionError(why)
    if S is None:
        S = stack.LocalStack().start()
    return S


def when(run, text):
    """The time of the first timeline entry starting with text."""
    hits = [t for t, what in run.timeline if what.startswith(text)]
    tap.ok(hits, "no %r in the timeline: %s" % (text, [w for _, w in run.timeline]))
    return hits[0]


def no_write_lost(run):
    tap.ok(run.acknowledged > 0, "no acknowledged write at all")
    tap.eq(run.lost, [], "acknowledged writes missing on the new primary")


@tap.case
def failover_event_before_dns():
    s = stack_()
    with dbstack.DbStack(s) as d:
        run = d.failover("rds-nlb-sync", order="event-first", lead_s=0.3, gap_s=1.0)
        tap.ok(run.window is not None, "writes never resumed: %s" % run.timeline)
        order = [when(run, w) for w in ("primary stopped", "event", "DNS changed", "RegisterTargets " + NEW,
                                        "target %s initial" % NEW, "first successful write")]
        tap.eq(order, sorted(order), "stop, event, DNS, register, new target known, first write: %s" % run.timeline)
        tap.ok(run.result and run.result["json"]["registered"] == [NEW], "result %s" % run.result)
        tap.eventually(lambda: {t["Id"]: t["State"] for t in s.elb.targets(s.target_group_arn)}.get(const.NEW_PRIMARY)
                       == "healthy", "DescribeTargetHealth reports the new primary healthy")
        tap.eq(run.read_only, 0)
        no_write_lost(run)


@tap.case
def fast_switch_serves_the_warm_standby_once_the_weight_moves():
    """The fast switch (CONTRACT.md section 13): the standby sits healthy in its own slot all along, so
    the failover is one ModifyListener and no registration; the first write after it goes through the
    standby's slot once the data plane has applied the weights."""
    s = stack_()
    with dbstack.DbStack(s, fast=True) as d:
        tap.eq(d.dp.states(const.SLOT_ARNS[1]).get(NEW), "healthy", "the standby's slot is warm before the failover")
        run = d.failover("rds-nlb-sync", order="event-first", lead_s=0.3, gap_s=1.0)
        tap.ok(run.window is not None, "writes never resumed: %s" % run.timeline)
        order = [when(run, w) for w in ("primary stopped", "event", "DNS changed", "ModifyListener weights 0,1",
                                        "weights applied 0,1", "first successful write")]
        tap.eq(order, sorted(order), "stop, event, DNS, weight moved, applied, first write: %s" % run.timeline)
        tap.ok(not any(w.startswith("RegisterTargets") for _, w in run.timeline), "no registration: %s" % run.timeline)
        res = run.result and run.result["json"]
        tap.ok(res and res["routing"] == "weights" and res["weightsChanged"] and res["registered"] == [],
               "result %s" % run.result)
        tap.ok(d.dp.routed.get(NEW, 0) > 0, "new connections went to the standby's slot: %s" % d.dp.routed)
        tap.eq(run.read_only, 0)
        no_write_lost(run)


@tap.case
def failover_dns_first_old_primary_back_read_only():
    s = stack_()
    with dbstack.DbStack(s) as d:
        # The event waits until the health check finds the read-only node healthy again and a client
        # has met it: the failure the function is there to end.
        run = d.failover("rds-nlb-sync", order="dns-first", lead_s=0.3, gap_s=1.5, back_s=0.6,
                         event_when=lambda: d.dp.states(s.target_group_arn).get(OLD) == "healthy"
                         and d.writers.count("read_only") > 0)
        tap.ok(run.window is not None, "writes never resumed: %s" % run.timeline)
        order = [when(run, w) for w in ("primary stopped", "DNS changed", "old primary back read-only",
                                        "event", "RegisterTargets " + NEW, "first successful write")]
        tap.eq(order, sorted(order), "timeline %s" % run.timeline)
        tap.ok(when(run, "target %s healthy" % OLD) < run.acted, "the old primary was never healthy again")
        tap.ok(run.read_only > 0, "no read-only error before the function acted")
        tap.eq(run.read_only_after_acted, 0, "read-only errors after the function acted")
        no_write_lost(run)


@tap.case
def unhealthy_targets_drain_their_connections():
    s = stack_()
    blocked = set()

    def check(address, timeout):
        return address[0] not in blocked and nlb.tcp_check(address, timeout)

    timing = nlb.Timing(unhealthy_draining=1.5)
    with dbstack.DbStack(s, timing=timing, check=check) as d:
        # A generous timeout: only the data plane may break this connection, not a slow commit.
        w = d.writers = writers.Writers((dbstack.NLB_ADDRESS, const.DB_PORT), clients=1, timeout_s=5.0).start()
        tap.eventually(lambda: w.count("ok") >= 3, "writes through the NLB")
        blocked.add(const.OLD_PRIMARY)  # the checks fail; the database still serves
        states = lambda: {t["Id"]: t["State"] for t in s.elb.targets(s.target_group_arn)}
        tap.eventually(lambda: states()[const.OLD_PRIMARY] == "unhealthy.draining", "unhealthy.draining reported")
        draining_since = [e[0] for e in d.dp.events if e[3] == "unhealthy.draining"][-1]
        tap.eventually(lambda: states()[const.OLD_PRIMARY] == "unhealthy", "unhealthy after the draining interval")
        unhealthy_at = [e[0] for e in d.dp.events if e[3] == "unhealthy"][-1]
        tap.eventually(lambda: w.count("ok") > 0 and w.snapshot()[-1].start > unhealthy_at + 0.3, "writes go on")
        w.stop()
        during = [a for a in w.snapshot() if draining_since <= a.start and a.end < unhealthy_at]
        tap.ok(len(during) >= 3, "attempts while draining: %s" % during)
        tap.ok(all(a.outcome == "ok" for a in during), "the established connection broke while draining: %s"
               % [a for a in during if a.outcome != "ok"])
        cut = [a for a in w.snapshot() if a.outcome != "ok" and a.start >= draining_since]
        tap.ok(cut and cut[0].end >= unhealthy_at, "the connection was not reset when the target turned unhealthy")
        # With no healthy target the NLB fails open: the writer reconnects to the unhealthy target.
        tap.ok(any(a.outcome == "ok" and a.start > cut[0].end for a in w.snapshot()), "no write after the reset")
        tap.eq(w.lost(d.db.rows(const.OLD_PRIMARY)), [])


tap.main()
if S is not None:
    S.close()
