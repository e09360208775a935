"""make demo's stories (tests/demo.py) run to their end: the target group follows the DNS flip, the
summary line reports the lag; in the Aurora story the writer group follows the RDS API before the
cluster endpoint's DNS record changes, the summary says by how much, and the reader group holds both
readers; in the fleet story both databases of the storm and the one added by its tags converge, each
timed from its own change, and the untouched one is left alone; in the cluster story the fast
switch moves the weight with one ModifyListener, registers nothing, and its write window is the
shorter; the real database's story ends the demo with its write window line; the output carries no colour codes
when it is not a terminal."""
import os
import re
import subprocess

import const
import netns
import stack
import tap

DEMO = [os.path.join(tap.root(), "tests", "lib", "netns.py"), os.path.join(tap.root(), "tests", "demo.py")]


def run_demo(*args):
    if not os.access(stack.bootstrap_path(), os.X_OK):
        tap.skip("%s not built" % stack.bootstrap_path())
    env = {k: v for k, v in os.environ.items() if k != netns.NS_VAR}  # the demo gets a namespace of its own
    r = subprocess.run(["/usr/bin/python3"] + DEMO + ["--build", stack.build_dir()] + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


@tap.case
def demo_tells_the_failover():
    code, out, err = run_demo("--flip-after", "1.0", "--poll-ms", "200", "--writer-after", "1.0", "--dns-lead", "2.0",
                              "--db-scale", "0.05", "--db-gap", "1.0")
    tap.eq(code, 0, "demo exit status; output:\n%s\n%s" % (out[-3000:], err[-2000:]))
    steps = [l for l in out.splitlines() if re.match(r"^\d+\. ", l)]
    tap.eq(len(steps), 15, "story steps: %s" % steps)
    out, database = out.split("rds-nlb-sync demo, part 5: what a database client sees", 1)
    out, cluster = out.split("rds-nlb-sync demo, part 4: an Aurora-like cluster of three PostgreSQL servers", 1)
    out, fleet = out.split("part 3: a fleet of databases", 1)
    out, aurora = out.split("part 2: an Aurora failover", 1)
    order = [out.index(s) for s in ("RDS-EVENT-0049", "now answers %s" % const.NEW_PRIMARY,
                                    "RegisterTargets %s:%d" % (const.NEW_PRIMARY, const.DB_PORT),
                                    "DeregisterTargets %s:%d" % (const.OLD_PRIMARY, const.DB_PORT))]
    tap.eq(order, sorted(order), "event, DNS flip, register, deregister in that order")
    lag = re.search(r"the target group followed (\d+) ms later", out)
    tap.ok(lag, "no lag summary line")
    tap.ok(int(lag.group(1)) >= 0, "lag %s" % lag.group(1))
    tap.ok('"dnsChanged": true' in out, "result JSON shown")
    tap.ok("FAILED" not in out and "BAD SIGNATURE" not in out, out[-2000:])
    tap.ok("\033[" not in out, "colour codes in output that is not a terminal")
    new, old = "%s:%d" % (const.AURORA_ADDRESS_2, const.DB_PORT), "%s:%d" % (const.AURORA_ADDRESS_1, const.DB_PORT)
    order = [aurora.index(s) for s in ("RDS-EVENT-0073", "writer none (failing-over)",
                                       "now reports aurora-orders-instance-2 as the writer",
                                       "RegisterTargets %s" % new, "DeregisterTargets %s" % old,
                                       "cluster endpoint now -> %s" % const.AURORA_INSTANCE_2)]
    tap.eq(order, sorted(order), "event, no writer, new writer in the API, register, deregister, DNS in that order")
    ahead = re.search(r"the writer group followed (\d+) ms later \(RegisterTargets\), (\d+\.\d+) s before the "
                      r"cluster endpoint's DNS record changed", aurora)
    tap.ok(ahead, "no 'ahead of DNS' summary line")
    tap.ok(float(ahead.group(2)) > 0, "followed before DNS: %s" % ahead.group(0))
    tap.ok("the reader group holds both readers: 10.20.1.21:5432, 10.20.3.23:5432" in aurora, aurora[-1500:])
    tap.ok("FAILED" not in aurora and "BAD SIGNATURE" not in aurora, aurora[-2000:])
    order = [fleet.index(s) for s in ("RDS-EVENT-0049 for payments-db", "RDS-EVENT-0049 for billing-db",
                                      "payments-db.abc123xyz.eu-west-1.rds.amazonaws.com now answers 10.20.2.31",
                                      "RegisterTargets 10.20.2.31:5432", "tags a new target group",
                                      "RegisterTargets 10.20.1.61:5432")]
    tap.eq(order, sorted(order), "the storm's events, a DNS change, its registration, the new group, its registration")
    summary = re.search(r"(\d) of (\d) bindings converged; each after its own change: (.*)", fleet)
    tap.ok(summary, "the fleet summary line: %s" % fleet[-1500:])
    tap.eq(summary.group(1, 2), ("4", "4"), "every binding converged")
    lags = re.findall(r"([a-z]+-db) (\d+\.\d\d) s after (its DNS change|its tags)", summary.group(3))
    tap.eq(sorted(n for n, _, _ in lags), ["billing-db", "payments-db", "search-db"], "a time per changed binding")
    tap.ok("ledger-db" not in summary.group(3) and "FAILED" not in fleet and "BAD SIGNATURE" not in fleet,
           fleet[-2000:])
    order = [database.index(s) for s in ("primary stopped", "event RDS-EVENT-0049", "DNS changed",
                                         "RegisterTargets %s:%d" % (const.NEW_PRIMARY, const.DB_PORT),
                                         "target %s:%d initial" % (const.NEW_PRIMARY, const.DB_PORT),
                                         "first successful write")]
    tap.eq(order, sorted(order), "stop, event, DNS, register, new target known, first write in that order")
    tap.ok("target %s:%d healthy" % (const.NEW_PRIMARY, const.DB_PORT) in database, database[-2000:])
    check_cluster_switch(cluster)
    last = database.rstrip("\n").splitlines()[-1]
    m = re.match(r"^\+(\d+\.\d{3})s  writes   resumed (\d+\.\d{3}) s after the primary stopped; (\d+) read-only errors; "
                 r"(\d+) of (\d+) acknowledged writes lost$", last)
    tap.ok(m, "the demo's last line: %r" % last)
    tap.eq(m.group(1), m.group(2), "the line's time is the window")
    tap.eq((m.group(3), m.group(4)), ("0", "0"), "read-only errors, writes lost")
    tap.ok(int(m.group(5)) > 0, "no acknowledged write")


def check_cluster_switch(text):
    """Part 4: the same cluster failover with one target group, then with the fast switch; the last line
    gives both write windows."""
    classic, fast = text.split("14. The fast switch", 1)
    new, old = "%s:%d" % (const.AURORA_ADDRESS_2, const.DB_PORT), "%s:%d" % (const.AURORA_ADDRESS_1, const.DB_PORT)
    order = [classic.index(s) for s in ("primary stopped", "event RDS-EVENT-0073", "writer moved in the RDS API",
                                        "RegisterTargets " + new, "first successful write")]
    tap.eq(order, sorted(order), "one group: stop, event, API, register, first write")
    order = [fast.index(s) for s in ("primary stopped", "event RDS-EVENT-0073", "writer moved in the RDS API",
                                     "ModifyListener weights 0,1,0", "weights applied 0,1,0", "DeregisterTargets " + old,
                                     "first successful write")]
    tap.eq(sorted(order[:5]) + [order[6]], order[:5] + [order[6]], "fast switch: stop, event, API, weight, write")
    tap.ok("RegisterTargets" not in fast, "the fast switch registers nothing: %s" % fast[-1500:])
    tap.ok("FAILED" not in text, text[-2000:])
    last = text.rstrip("\n").splitlines()[-1]
    m = re.match(r"^write window: (\d+\.\d{3}) s with one target group, (\d+\.\d{3}) s with the fast switch "
                 r"\((-?\d+\.\d{3}) s sooner\)$", last)
    tap.ok(m, "part 4's last line: %r" % last)
    tap.ok(abs(float(m.group(1)) - float(m.group(2)) - float(m.group(3))) < 0.0015,
           "the difference of the two windows: %s" % last)
    return m


@tap.case
def demo_without_bootstrap_says_what_to_do():
    r = subprocess.run(["/usr/bin/python3"] + DEMO + ["--build", "/nonexistent-build"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    tap.eq(r.returncode, 2)
    tap.ok(b"/nonexistent-build/bootstrap is missing" in r.stderr and b"make" in r.stderr, r.stderr.decode())


tap.main()
