"""make bench, the client-visible failover table (CONTRACT.md section 12): for each system, rds-nlb-sync,
the Python/boto3 reference port of the AWS sample and no sync at all, a real PostgreSQL failover
behind the NLB data plane with writer loops through it, once with the event before the DNS change and
once with DNS first; the old primary comes back read-only (as an Aurora writer turned reader). The
write window is from the primary stopping to the last client's first acknowledged write; a window
still open when the run ends reads `>X s`.

    /usr/bin/python3 tests/lib/netns.py tests/bench/bench.py --only failover [--quick]
"""
import dbstack
import nlb

ORDERS = (("event-first", "event before DNS"), ("dns-first", "DNS before event"))
FULL = dict(scale=nlb.DEMO_SCALE, bound_s=20.0, systems=dbstack.SYSTEMS, orders=("event-first", "dns-first"))
QUICK = dict(scale=nlb.TEST_SCALE, bound_s=6.0, systems=("rds-nlb-sync",), orders=("event-first",))
LEAD_S, GAP_S, PROMOTE_S, BACK_S, POLL_MS = 0.5, 2.4, 0.3, 1.0, 1000


def measure(s, quick=False, say=print):
    """{"runs": {system: {order: figures}}, and the staging} for every system and order."""
    n = QUICK if quick else FULL
    timing = nlb.AWS.scaled(n["scale"])
    res = {"scale": n["scale"], "timing": timing.describe(), "lead_s": LEAD_S, "gap_s": GAP_S,
           "promote_s": PROMOTE_S, "back_s": BACK_S, "poll_ms": POLL_MS, "bound_s": n["bound_s"], "runs": {}}
    for system in n["systems"]:
        for order in n["orders"]:
            say("client-visible failover: %s, %s" % (system, dict(ORDERS)[order]))
            s.reset()
            with dbstack.DbStack(s, timing=timing) as d:
                run = d.failover(system, order=order, lead_s=LEAD_S, gap_s=GAP_S, promote_s=PROMOTE_S,
                                 back_s=BACK_S, bound_s=n["bound_s"], poll_ms=POLL_MS)
            res["runs"].setdefault(system, {})[order] = {
                "window_s": run.window, "observed_s": run.observed_s, "window": run.window_text(),
                "read_only": run.read_only, "read_only_after_acted": run.read_only_after_acted,
                "failed": run.failed, "acknowledged": run.acknowledged, "lost": len(run.lost),
                "timeline": [(round(t - run.stopped, 3), what) for t, what in run.timeline]}
    return res


def table(res):
    """The Markdown table, one row per system, and the notes that go with it."""
    orders = [o for o, _ in ORDERS if any(o in r for r in res["runs"].values())]
    head = ["system"] + ["write window, %s" % dict(ORDERS)[o] for o in orders] + \
        ["read-only errors (%s)" % ", ".join(dict(ORDERS)[o] for o in orders),
         "acknowledged writes lost (of)"]
    lines = ["| %s |" % " | ".join(head), "|" + " --- |" * len(head)]
    for system, runs in res["runs"].items():
        cells = ["write window: %s" % system]
        cells += [runs[o]["window"] if o in runs else "—" for o in orders]
        cells.append(" / ".join(str(runs[o]["read_only"]) for o in orders if o in runs))
        cells.append(" / ".join("%d (of %d)" % (runs[o]["lost"], runs[o]["acknowledged"]) for o in orders if o in runs))
        lines.append("| %s |" % " | ".join(cells))
    return lines


def notes(res):
    aws = nlb.AWS
    return [
        "Time scale: the NLB data plane runs at %g of AWS's delays (%s; AWS: registration taken as %.0f s, "
        "checks every %.0f s, deregistration delay %.0f s); the failover's own steps are not scaled: the event "
        "%.1f s after the primary stops and the DNS change %.1f s after it (or the reverse order), the standby "
        "promoted after %.1f s, the old primary back read-only after %.1f s, DNS_POLL_MS %d. A run ends %.0f s "
        "after the stop at most." % (res["scale"], res["timing"], aws.registration_delay, aws.interval,
                                     aws.deregistration_delay, res["lead_s"], res["gap_s"], res["promote_s"],
                                     res["back_s"], res["poll_ms"], res["bound_s"]),
        "Not modelled: NLB nodes per Availability Zone, cross-zone routing and DNS failover of the NLB, idle "
        "timeouts, RDS's own failover time (the standby is promoted at once), client-side DNS caching (clients "
        "connect to the NLB's address), a replacement standby after the promotion.",
    ]
