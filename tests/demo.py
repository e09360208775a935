#!/usr/bin/python3
"""make demo: a Multi-AZ failover of orders-db, an Aurora failover of aurora-orders, a fleet of
databases behind one NLB, an Aurora-like cluster of real databases with and without the fast switch,
and a real database's clients, told as they happen on the local stack.

The real ./bootstrap runs in the Lambda runtime loop inside a private network namespace, against
dnsmasq (the database endpoints, 5 s TTL), the fake ELBv2 and the fake RDS API (HTTPS, every
signature checked by botocore) and the fake Lambda Runtime API.
1. Multi-AZ (DNS mode): the target group starts on the old primary; the failover-completed event
   arrives before DNS changes; DNS flips a couple of seconds later; the function follows it.
2. Aurora (RDS API mode, DB_CLUSTER_IDENTIFIER): the failover-started event arrives while the
   cluster has no writer; RDS then reports the new writer, and the cluster endpoint's DNS record
   follows 4 s later; the function follows the API, before DNS. A second function with
   DB_ROLE=readers then keeps a reader target group on both readers.
3. A fleet (FLEET_LOAD_BALANCER_ARNS): three tagged target groups on one NLB, kept by one function
   running in two execution environments; two databases fail over within a second and each group
   follows its own DNS change; a fourth database is added by tagging a new target group, and the next
   sweep registers it with no redeployment. The summary says how many bindings converged and how long
   each took after its own change.
4. An Aurora-like cluster of three real PostgreSQL servers, the writer moved by the fake RDS, told
   twice: with one target group, then with the fast switch (LISTENER_ARN, three slots behind the
   listener). It ends with both write windows.
5. A real database (PostgreSQL 15: a primary and a synchronous hot standby) behind the NLB data plane
   (tests/lib/nlb.py, at a tenth of AWS's delays), with writer loops through the NLB's address: the
   primary stops, the event arrives, DNS changes, the function registers the new primary, the NLB
   passes it its health checks, and writes resume. It ends with the write window, the read-only errors
   and the acknowledged writes lost.
Exit status 0 when the five stories end as they should.

    /usr/bin/python3 tests/lib/netns.py tests/demo.py [--build DIR] [--flip-after S] [--poll-ms MS] [--wait-s S]
    (make demo; the build folder: --build, else $RNS_BUILD, else make's BUILD, else build/)
"""
import argparse
import json
import os
import sys
import threading
import time
import zlib

import const
import events
import stack
import stack_dns


def parse_args():
    p = argparse.ArgumentParser(description="Narrated failover on the local stack.")
    p.add_argument("--build", help="build folder holding bootstrap (default: build)")
    p.add_argument("--flip-after", type=float, default=2.4, help="seconds between the event and the DNS flip (between two polls)")
    p.add_argument("--poll-ms", type=int, default=1000, help="DNS_POLL_MS (the template's default: 1000)")
    p.add_argument("--wait-s", type=int, default=60, help="FAILOVER_WAIT_SECONDS (default 60)")
    p.add_argument("--writer-after", type=float, default=2.4,
                   help="Aurora: seconds between the failover-started event and RDS reporting the new writer")
    p.add_argument("--dns-lead", type=float, default=4.0,
                   help="Aurora: seconds by which the RDS API leads the cluster endpoint's DNS record")
    p.add_argument("--storm-gap", type=float, default=0.6,
                   help="fleet story: seconds between the two databases' failover events (within a second)")
    p.add_argument("--db-scale", type=float, default=None,
                   help="database story: the NLB data plane's delays as a fraction of AWS's (default 0.1)")
    p.add_argument("--db-gap", type=float, default=2.4,
                   help="database story: seconds between the event and the DNS change (between two polls)")
    return p.parse_args()


class Out:
    """Timestamped lines, coloured only on a terminal (and never with NO_COLOR)."""
    COLOURS = {"title": "1", "dns": "36", "elb": "33", "lambda": "35", "fn": "2", "ok": "32", "bad": "31",
               "rds": "34", "note": "0"}

    def __init__(self):
        self.t0 = time.monotonic()
        self.colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        self.lock = threading.Lock()

    def paint(self, kind, text):
        code = self.COLOURS[kind]
        return "\033[%sm%s\033[0m" % (code, text) if self.colour and code != "0" else text

    def line(self, kind, who, text, t=None):
        stamp = "%+8.3fs" % ((time.monotonic() if t is None else t) - self.t0)
        with self.lock:
            print("%s  %s %s" % (stamp, self.paint(kind, "%-8s" % who), text), flush=True)

    def title(self, text):
        with self.lock:
            print("\n" + self.paint("title", text), flush=True)

    def block(self, text):
        with self.lock:
            print("\n".join("            " + l for l in text.splitlines()), flush=True)


def targets_text(s):
    ts = s.elb.targets(s.target_group_arn)
    return ", ".join("%s:%d %s" % (t["Id"], t["Port"], t["State"]) for t in ts) or "(empty)"


def log_text(line):
    """A function log line without its timestamp and request id; metrics (EMF) in short."""
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            return line
        if "_aws" in obj:
            names = [m["Name"] for d in obj["_aws"].get("CloudWatchMetrics", []) for m in d.get("Metrics", [])]
            return "metrics " + " ".join("%s=%s" % (n, obj.get(n)) for n in names)
        return line
    parts = line.split("\t")
    return "%-5s %s" % (parts[1], parts[3]) if len(parts) == 4 else line


def call_targets(params):
    out, n = [], 1
    while "Targets.member.%d.Id" % n in params:
        out.append("%s:%s" % (params["Targets.member.%d.Id" % n], params.get("Targets.member.%d.Port" % n, "")))
        n += 1
    return " ".join(out)


class Watcher:
    """Prints what happens at the fakes, in dnsmasq and in the function's log, in time order."""

    def __init__(self, out, s, *procs):
        self.out, self.s, self.procs = out, s, procs
        self.seen_calls = self.seen_requests = self.seen_rds = 0
        self.seen_lines = [0] * len(procs)
        self.flips = []
        self.notes = []  # (ready(), time(), kind, who, text()) shown once ready() is true
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def from_now(self, runtime_requests=None):
        """Shows only what happens from now on (a second story on the same stack); the Runtime
        API's requests from runtime_requests on, when the count was taken before the start."""
        self.seen_calls, self.seen_requests = len(self.s.elb.calls), len(self.s.runtime.requests)
        if runtime_requests is not None:
            self.seen_requests = runtime_requests
        self.seen_rds = len(self.s.rds.calls)
        return self

    def close(self):
        self.stop.set()
        self.thread.join()
        self.pump()

    def run(self):
        while not self.stop.wait(0.02):
            self.pump()

    def pump(self):
        items = []
        calls = self.s.elb.calls
        while self.seen_calls < len(calls) and calls[self.seen_calls]["status"] is not None:
            c = calls[self.seen_calls]
            self.seen_calls += 1
            sig = "signature verified" if c["signature_ok"] else "BAD SIGNATURE (%s)" % c["signature_error"]
            items.append((c["time"], "elb", "ELBv2", "%s -> HTTP %d, %s" % (
                " ".join(filter(None, [c["action"], call_targets(c["params"])])), c["status"], sig)))
        reqs = self.s.runtime.requests
        while self.seen_requests < len(reqs):
            r = reqs[self.seen_requests]
            self.seen_requests += 1
            what = {"GET": "GET /next: waiting for an event"}.get(r["method"], "POST %s" % r["path"].split("/")[-1])
            items.append((r["time_ns"] / 1e9, "lambda", "Runtime", "function %s" % what))
        for i, proc in enumerate(self.procs):
            # Several runtime loops are Lambda's execution environments side by side.
            who = "function" if len(self.procs) == 1 else "fn %d" % (i + 1)
            while self.seen_lines[i] < len(proc.lines):
                t, _, text = proc.lines[self.seen_lines[i]]
                self.seen_lines[i] += 1
                items.append((t, "fn", who, log_text(text)))
        for flip in list(self.flips):
            if flip.event.is_set():
                self.flips.remove(flip)
                if flip.error:
                    items.append((time.monotonic(), "bad", "DNS", "flip failed: %s" % flip.error))
                else:
                    items.append((flip.time, "dns", "DNS", getattr(flip, "label", None) or
                                  "%s now answers %s (dnsmasq reloaded)" % (const.DB_ENDPOINT, const.NEW_PRIMARY)))
        rds = self.s.rds.calls
        while self.seen_rds < len(rds) and rds[self.seen_rds]["status"] is not None:
            items.append(rds_item(rds[self.seen_rds]))
            self.seen_rds += 1
        for note in list(self.notes):
            if note[0]():
                self.notes.remove(note)
                items.append((note[1](), note[2], note[3], note[4]()))
        for t, kind, who, text in sorted(items, key=lambda i: i[0]):
            self.out.line(kind, who, text, t)


def rds_item(c):
    sig = "signature verified" if c["signature_ok"] else "BAD SIGNATURE (%s)" % c["signature_error"]
    if c["status"] != 200:
        what = "%s -> HTTP %d %s" % (c["action"], c["status"], c.get("error_code", ""))
    elif c["action"] == "DescribeDBClusters":
        writers = c.get("writers") or []
        what = "DescribeDBClusters -> writer %s" % (", ".join(writers) if writers else "none (failing-over)")
    else:
        what = "DescribeDBInstances -> instance endpoints"
    return c["time"], "rds", "RDS API", "%s, %s" % (what, sig)


def expect(problems, cond, what):
    if not cond:
        problems.append(what)


def show_result(out, problems, title, result):
    """Prints the function's result under title and expects a response; returns its JSON
    when it is one, else None."""
    out.title(title)
    body = result["json"]
    out.block(json.dumps(body, indent=2) if body is not None else result["body"].decode(errors="replace"))
    expect(problems, result["kind"] == "response", "the invocation failed: %s" % result["body"][:300])
    return body if result["kind"] == "response" else None


def main():
    args = parse_args()
    if args.build:
        os.environ["RNS_BUILD"] = os.path.abspath(args.build)
    elif not os.environ.get("RNS_BUILD") and os.environ.get("BUILD"):
        # `make BUILD=dir demo`: make passes its command-line variables to the recipe's environment.
        os.environ["RNS_BUILD"] = os.path.join(stack.ROOT, os.environ["BUILD"])
    if not os.access(stack.bootstrap_path(), os.X_OK):
        sys.stderr.write("demo: %s is missing; run `make` first\n" % stack.bootstrap_path())
        return 2
    out = Out()
    with stack.LocalStack(healthy_after=1.0, deregistration_delay=2.0) as s:
        first = story(out, s, args)
        second = aurora_story(out, s, args)
        fleet = fleet_story(out, s, args)
        cluster = cluster_switch_story(out, s, args)
        database = database_story(out, s, args)
        return first or second or fleet or cluster or database


def story(out, s, args):
    problems = []
    out.title("rds-nlb-sync demo: a Multi-AZ failover of %s" % const.DB_IDENTIFIER)
    out.line("note", "stack", "private network namespace; dnsmasq on 127.0.0.1:53, fake ELBv2 at %s "
             "(SigV4 checked by botocore), fake Runtime API at %s" % (s.elb.url, s.runtime.address))
    answer = s.dns.query(const.DB_ENDPOINT)
    out.line("dns", "DNS", "%s -> %s (TTL %s s)" % (const.DB_ENDPOINT, ", ".join(r.data for r in answer.records),
                                                     ", ".join(str(r.ttl) for r in answer.records)))
    out.line("elb", "ELBv2", "target group orders-db-tg: %s" % targets_text(s))

    out.title("1. Lambda starts the function (./bootstrap, runtime loop)")
    env = s.env(DNS_POLL_MS=args.poll_ms, FAILOVER_WAIT_SECONDS=args.wait_s)
    out.line("note", "config", "DB_ENDPOINT=%s DB_PORT=%d DNS_POLL_MS=%d FAILOVER_WAIT_SECONDS=%d"
             % (const.DB_ENDPOINT, const.DB_PORT, args.poll_ms, args.wait_s))
    spawned = time.monotonic()
    proc = s.start_bootstrap(env=env)
    watcher = Watcher(out, s, proc).start()
    try:
        s.runtime.wait_requests(1, timeout=60)
        init_ms = (s.runtime.requests[0]["time_ns"] / 1e9 - spawned) * 1000
        time.sleep(0.05)

        out.title("2. RDS fails over; the failover-completed event arrives before DNS changes")
        timeout_s = args.wait_s + 60  # the template's function timeout for this wait
        deadline_ms = int(time.time() * 1000) + timeout_s * 1000
        sent = time.monotonic()
        rid = s.runtime.enqueue(events.rds_event("RDS-EVENT-0049"), deadline_ms=deadline_ms)
        flip = s.dns.flip_at(args.flip_after, {const.DB_ENDPOINT: [const.NEW_PRIMARY]})
        watcher.flips.append(flip)
        out.line("rds", "RDS", "RDS-EVENT-0049 \"Multi-AZ instance failover completed\" for %s, through SNS"
                 % const.DB_IDENTIFIER, sent)
        out.line("lambda", "Lambda", "invokes the function (request %s, timeout %d s)" % (rid[:8], timeout_s), sent)
        out.line("dns", "DNS", "still %s; it will change in %.1f s" % (const.OLD_PRIMARY, args.flip_after), sent)
        result = s.runtime.wait_result(rid, timeout=args.flip_after + args.wait_s + 30)
        flip_time = flip.wait(5)
        time.sleep(0.05)
        watcher.pump()

        body = show_result(out, problems, "3. The function's result", result)
        if body:
            expect(problems, body.get("registered") == ["%s:%d" % (const.NEW_PRIMARY, const.DB_PORT)],
                   "registered %s" % body.get("registered"))
            expect(problems, body.get("deregistered") == ["%s:%d" % (const.OLD_PRIMARY, const.DB_PORT)],
                   "deregistered %s" % body.get("deregistered"))
            expect(problems, body.get("dnsChanged") is True and body.get("converged") is True,
                   "dnsChanged %s, converged %s" % (body.get("dnsChanged"), body.get("converged")))
        out.line("elb", "ELBv2", "target group now: %s" % targets_text(s))
        time.sleep(1.2)
        out.line("elb", "ELBv2", "target group a moment later: %s" % targets_text(s))

        out.title("4. The safety-net schedule runs later: nothing left to change")
        res2 = s.lambda_invoke(events.schedule_event(), timeout=30)
        time.sleep(0.05)
        watcher.pump()
        body2 = res2["json"] or {}
        out.line("ok" if res2["kind"] == "response" else "bad", "result",
                 "trigger=%s registered=%s deregistered=%s unchanged=%s" % (
                     body2.get("trigger"), body2.get("registered"), body2.get("deregistered"), body2.get("unchanged")))
        expect(problems, res2["kind"] == "response" and body2.get("registered") == [] and
               body2.get("deregistered") == [], "the scheduled run changed something: %s" % res2["body"][:300])
    finally:
        watcher.close()
        s.stop_bootstrap(proc)

    registers = s.elb.calls_for("RegisterTargets")
    signed = all(c["signature_ok"] for c in s.elb.calls)
    expect(problems, signed, "a request failed signature verification")
    expect(problems, len(registers) == 1, "%d RegisterTargets calls" % len(registers))
    expect(problems, s.registered() == ["%s:%d" % (const.NEW_PRIMARY, const.DB_PORT)],
           "target group ends as %s" % s.registered())

    out.title("Summary")
    out.line("note", "function", "init %.0f ms; %d ELBv2 calls over %d connection(s), %d Runtime API connection(s); "
             "all signatures %s" % (init_ms, len(s.elb.calls), s.elb.connections_opened, s.runtime.connections,
                                    "verified" if signed else "NOT verified"))
    if registers:
        lag = registers[0]["time"] - flip_time
        line = ("DNS flipped %.2f s after the event; the target group followed %.0f ms later "
                "(RegisterTargets; the function re-resolves every %d ms, so the lag is at most about "
                "one interval)" % (flip_time - sent, lag * 1000, args.poll_ms))
        out.line("ok" if not problems else "bad", "lag", line)
    for p in problems:
        out.line("bad", "FAILED", p)
    if not problems:
        out.line("ok", "done", "the target group follows the primary: %s" % ", ".join(s.registered()))
    return 1 if problems else 0


READER_GROUP_ARN = const.TARGET_GROUP_ARN.replace("orders-db-tg/5d2c7e41a9b3f086", "orders-db-ro-tg/7a91c3e5b2d4f608")


def ip_port(member_id):
    return "%s:%d" % (const.AURORA_ADDRESSES[member_id], const.DB_PORT)


def aurora_story(out, s, args):
    """The second story: an Aurora failover where the group follows the API before DNS."""
    problems = []
    old_id, new_id, other_id = const.AURORA_IDS
    s.reset(targets=[ip_port(old_id)])
    s.elb.add_target_group(READER_GROUP_ARN, [], vpc_cidr=const.VPC_CIDR, port=const.DB_PORT)
    out.title("rds-nlb-sync demo, part 2: an Aurora failover of %s, followed through the RDS API" % const.CLUSTER_ID)
    answer = s.dns.query(const.AURORA_CLUSTER)
    out.line("dns", "DNS", "cluster endpoint %s -> %s (TTL %d s)" % (
        const.AURORA_CLUSTER, " -> ".join(r.data for r in answer.records), stack_dns.DNS_TTL))
    out.line("rds", "RDS API", "cluster %s: writer %s, readers %s and %s (fake RDS at %s)"
             % (const.CLUSTER_ID, old_id, new_id, other_id, s.rds.url))
    out.line("elb", "ELBv2", "writer target group orders-db-tg: %s" % targets_text(s))

    out.title("5. Lambda starts the writer function (DB_CLUSTER_IDENTIFIER=%s, DB_ROLE=writer)" % const.CLUSTER_ID)
    env = s.env(DNS_POLL_MS=args.poll_ms, FAILOVER_WAIT_SECONDS=args.wait_s, DB_CLUSTER_IDENTIFIER=const.CLUSTER_ID,
                DB_ENDPOINT=None)
    # counted before the start: the first GET /next can arrive before the next line runs
    before = len(s.runtime.requests)
    proc = s.start_bootstrap(env=env)
    watcher = Watcher(out, s, proc).from_now(runtime_requests=before).start()
    try:
        s.runtime.wait_requests(before + 1, timeout=60)
        out.title("6. Aurora fails over: the failover-started event arrives while the cluster has no writer")
        s.move_writer(None)
        deadline_ms = int(time.time() * 1000) + (args.wait_s + 60) * 1000
        sent = time.monotonic()
        rid = s.runtime.enqueue(events.cluster_event("RDS-EVENT-0073", new_writer=new_id), deadline_ms=deadline_ms)
        fo = s.failover(new_id, api_after_s=args.writer_after, dns_lead_s=args.dns_lead)
        watcher.notes.append((lambda: fo.api_time is not None, lambda: fo.api_time, "rds", "RDS API",
                              lambda: "now reports %s as the writer (IsClusterWriter)" % new_id))
        watcher.notes.append((lambda: fo.dns_time is not None, lambda: fo.dns_time, "dns", "DNS",
                              lambda: "cluster endpoint now -> %s (dnsmasq restarted)" % const.AURORA_ENDPOINTS[new_id]))
        out.line("rds", "RDS", "RDS-EVENT-0073 \"Started cross AZ failover to DB instance: %s\" for %s, through SNS"
                 % (new_id, const.CLUSTER_ID), sent)
        out.line("note", "stage", "RDS will report the new writer in %.1f s; the cluster endpoint's DNS record "
                 "follows %.1f s after that" % (args.writer_after, args.dns_lead), sent)
        result = s.runtime.wait_result(rid, timeout=args.wait_s + 30)
        api_time, dns_time = fo.wait(args.writer_after + args.dns_lead + 30)
        time.sleep(0.05)
        watcher.pump()
        body = show_result(out, problems, "7. The writer function's result", result)
        if body:
            expect(problems, body.get("registered") == [ip_port(new_id)], "registered %s" % body.get("registered"))
            expect(problems, body.get("deregistered") == [ip_port(old_id)], "deregistered %s" % body.get("deregistered"))
            expect(problems, body.get("discovery") == "rds", "discovery %s" % body.get("discovery"))
        out.line("elb", "ELBv2", "writer target group now: %s" % targets_text(s))
    finally:
        watcher.close()
        s.stop_bootstrap(proc)

    out.title("8. A second function keeps the reader target group (DB_ROLE=readers, its own schedule)")
    readers_env = dict(env, DB_ROLE="readers", TARGET_GROUP_ARN=READER_GROUP_ARN)
    before = len(s.runtime.requests)
    proc = s.start_bootstrap(env=readers_env)
    watcher = Watcher(out, s, proc).from_now(runtime_requests=before).start()
    try:
        res = s.lambda_invoke(events.schedule_event(), timeout=30)
        time.sleep(0.05)
        watcher.pump()
    finally:
        watcher.close()
        s.stop_bootstrap(proc)
    readers = s.elb.registered(READER_GROUP_ARN)
    want_readers = sorted([ip_port(old_id), ip_port(other_id)])
    rbody = res["json"] or {}
    out.line("ok" if res["kind"] == "response" else "bad", "result", "role=%s registered=%s members chosen=%s" % (
        rbody.get("role"), rbody.get("registered"),
        [m["id"] for m in rbody.get("members", []) if m.get("chosen")]))
    out.line("elb", "ELBv2", "reader target group orders-db-ro-tg: %s" % ", ".join(
        "%s:%d %s" % (t["Id"], t["Port"], t["State"]) for t in s.elb.targets(READER_GROUP_ARN)))
    expect(problems, readers == want_readers, "reader group holds %s, want %s" % (readers, want_readers))

    registers = [c for c in s.elb.calls_for("RegisterTargets")
                 if c["params"].get("Targets.member.1.Id") == const.AURORA_ADDRESSES[new_id]]
    signed = all(c["signature_ok"] for c in s.elb.calls + s.rds.calls)
    expect(problems, signed, "a request failed signature verification")
    expect(problems, len(registers) == 1, "%d RegisterTargets calls for the new writer" % len(registers))
    if registers:
        expect(problems, registers[0]["time"] < dns_time, "the group followed only after DNS changed")
    expect(problems, s.registered() == [ip_port(new_id)], "writer group ends as %s" % s.registered())

    out.title("Summary, part 2")
    out.line("note", "function", "%d RDS API calls over %d connection(s), %d ELBv2 calls; all signatures %s"
             % (len(s.rds.calls), s.rds.connections_opened, len(s.elb.calls), "verified" if signed else "NOT verified"))
    if registers:
        ahead = dns_time - registers[0]["time"]
        line = ("RDS reported the new writer %.2f s after the event; the writer group followed %.0f ms later "
                "(RegisterTargets), %.2f s before the cluster endpoint's DNS record changed (the function polls "
                "the RDS API every %d ms)" % (api_time - sent, (registers[0]["time"] - api_time) * 1000, ahead,
                                              args.poll_ms))
        out.line("ok" if not problems else "bad", "ahead", line)
    out.line("ok" if readers == want_readers else "bad", "readers",
             "the reader group holds both readers: %s" % ", ".join(readers))
    for p in problems:
        out.line("bad", "FAILED", p)
    if not problems:
        out.line("ok", "done", "the writer group follows the writer RDS reports: %s" % ", ".join(s.registered()))
    return 1 if problems else 0


TIMELINE_KINDS = (("primary stopped", "bad"), ("standby", "rds"), ("event", "rds"), ("DNS", "dns"),
                  ("old primary", "rds"), ("writer moved", "rds"), ("first successful write", "ok"))


def print_timeline(out, run):
    """The run's timeline, from the primary's stop."""
    t0 = run.stopped
    for t, what in run.timeline:
        kind = next((k for prefix, k in TIMELINE_KINDS if what.startswith(prefix)), "elb")
        first = what.split()[0]
        who = "writes" if what.startswith("first") else "function" if first.endswith(("Targets", "Listener")) \
            else "NLB" if first in ("target", "weights") else "stage"
        print("%+8.3fs  %s %s" % (t - t0, out.paint(kind, "%-8s" % who), what), flush=True)


# ---------------------------------------------------------------- fleet story ---

FLEET_LB = "arn:aws:elasticloadbalancing:%s:%s:loadbalancer/net/db-fleet/50dc6c495c0c9188" % (const.REGION,
                                                                                              const.ACCOUNT)
# name, listener port, old primary, new primary (None: no failover in the story)
FLEET_DBS = [("payments-db", 5432, "10.20.1.31", "10.20.2.31"),
             ("billing-db", 5433, "10.20.1.41", "10.20.2.41"),
             ("ledger-db", 5434, "10.20.1.51", None)]
FLEET_NEW_DB = ("search-db", 5435, "10.20.1.61")


def fleet_endpoint(name):
    return "%s.abc123xyz.%s.rds.amazonaws.com" % (name, const.REGION)


def fleet_group(name):
    return "arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s-tg/%016x" % (const.REGION, const.ACCOUNT, name,
                                                                          zlib.crc32(name.encode()) << 16)


def fleet_tags(name):
    return {"rds-nlb-sync:source": "dns:" + fleet_endpoint(name), "rds-nlb-sync:role": "writer"}


def fleet_registered(s, name):
    return sorted("%s:%d" % (t["Id"], t["Port"]) for t in s.elb.targets(fleet_group(name))
                  if t["State"] != "draining")


def first_register(s, name, after):
    for c in s.elb.calls_for("RegisterTargets"):
        if c["params"].get("TargetGroupArn") == fleet_group(name) and c["time"] >= after:
            return c["time"]
    return None


def fleet_story(out, s, args):
    """Three databases behind one NLB, two failing over within a second, then a fourth added by
    tagging a new target group; the fleet function keeps them all."""
    problems = []
    port = const.DB_PORT
    out.title("rds-nlb-sync demo, part 3: a fleet of databases behind one NLB, kept by one function")
    s.dns.set_records({fleet_endpoint(n): [old] for n, _, old, _ in FLEET_DBS})
    for name, listener, old, _ in FLEET_DBS:
        s.elb.add_target_group(fleet_group(name), ["%s:%d" % (old, port)], vpc_cidr=const.VPC_CIDR, port=port,
                               load_balancers=[FLEET_LB], tags=fleet_tags(name))
        out.line("elb", "ELBv2", "listener %d -> %s-tg, tagged rds-nlb-sync:source=dns:%s; holds %s:%d"
                 % (listener, name, fleet_endpoint(name), old, port))
    out.line("note", "ELBv2", "the stack's own group orders-db-tg is on no fleet load balancer: never read")

    out.title("9. Lambda starts the fleet function, twice (two execution environments)")
    env = s.env(TARGET_GROUP_ARN=None, DB_ENDPOINT=None, DB_PORT=None, FLEET_LOAD_BALANCER_ARNS=FLEET_LB,
                DNS_POLL_MS=args.poll_ms, FAILOVER_WAIT_SECONDS=args.wait_s)
    out.line("note", "config", "FLEET_LOAD_BALANCER_ARNS=%s DNS_POLL_MS=%d FAILOVER_WAIT_SECONDS=%d"
             % (FLEET_LB, args.poll_ms, args.wait_s))
    requests = len(s.runtime.requests)
    procs = [s.start_bootstrap(env=env), s.start_bootstrap(env=env)]
    watcher = Watcher(out, s, *procs).from_now(requests).start()
    changes = {}
    try:
        s.runtime.wait_requests(requests + 2, timeout=60)
        out.title("10. A storm: %s and %s fail over within a second" % (FLEET_DBS[0][0], FLEET_DBS[1][0]))
        deadline_ms = int(time.time() * 1000) + (args.wait_s + 120) * 1000
        rids, flips = [], []
        for i, (name, _, _, new) in enumerate(FLEET_DBS[:2]):
            if i:
                time.sleep(args.storm_gap)
            sent = time.monotonic()
            event = events.rds_event("RDS-EVENT-0049", source_id=name)
            rids.append(s.runtime.enqueue(event, deadline_ms=deadline_ms))
            flip = s.dns.flip_at(args.flip_after + 0.7 * i, {fleet_endpoint(name): [new]})
            flip.label = "%s now answers %s (dnsmasq reloaded)" % (fleet_endpoint(name), new)
            watcher.flips.append(flip)
            flips.append(flip)
            out.line("rds", "RDS", "RDS-EVENT-0049 for %s, through SNS; Lambda invokes the function" % name, sent)
        results = [s.runtime.wait_result(rid, timeout=args.flip_after + args.wait_s + 30) for rid in rids]
        for (name, _, _, _), flip in zip(FLEET_DBS[:2], flips):
            flip.wait(5)
            changes[name] = ("its DNS change", flip.began)  # no lookup sees the new answer before
        time.sleep(0.05)
        watcher.pump()
        for (name, _, _, _), result in zip(FLEET_DBS[:2], results):
            body = result["json"] or {}
            expect(problems, result["kind"] == "response",
                   "%s's invocation failed: %s" % (name, result["body"][:300]))
            out.line("ok" if result["kind"] == "response" else "bad", "result",
                     "%s's event: %s" % (name, json.dumps(body.get("summary", body))[:200]))

        out.title("11. A fourth database: a platform team tags a new target group (Terraform, no redeployment)")
        name, listener, address = FLEET_NEW_DB
        s.dns.set_records({fleet_endpoint(name): [address]})
        s.elb.add_target_group(fleet_group(name), [], vpc_cidr=const.VPC_CIDR, port=port, load_balancers=[FLEET_LB],
                               tags=fleet_tags(name))
        changes[name] = ("its tags", time.monotonic())
        out.line("elb", "ELBv2", "listener %d -> %s-tg (empty), tagged rds-nlb-sync:source=dns:%s"
                 % (listener, name, fleet_endpoint(name)), changes[name][1])
        out.title("12. The next sweep (the schedule) finds it by its tags")
        out.line("note", "schedule", "a scheduled event, sent now (every SchedulePeriodMinutes in AWS)")
        sweep = s.lambda_invoke(events.schedule_event(), timeout=60)
        time.sleep(0.05)
        watcher.pump()
        body = sweep["json"] or {}
        expect(problems, sweep["kind"] == "response", "the sweep failed: %s" % sweep["body"][:300])
        out.line("ok" if sweep["kind"] == "response" else "bad", "result",
                 "sweep: %s" % json.dumps(body.get("summary", body))[:200])
    finally:
        watcher.close()
        s.runtime.exit_when_drained()
        for proc in procs:
            try:
                proc.finish(60)
            except Exception:  # a loop that does not end by itself is killed
                proc.kill()
                proc.finish(60)
        s.runtime.exit_when_drained(None)

    want = {n: ["%s:%d" % (new or old, port)] for n, _, old, new in FLEET_DBS}
    want[FLEET_NEW_DB[0]] = ["%s:%d" % (FLEET_NEW_DB[2], port)]
    converged = [n for n in want if fleet_registered(s, n) == want[n]]
    for n in want:
        expect(problems, n in converged, "%s holds %s, not %s" % (n, fleet_registered(s, n), want[n]))
    touched = [c for c in s.elb.calls if c["action"] in ("RegisterTargets", "DeregisterTargets")
               and c["params"].get("TargetGroupArn") == fleet_group(FLEET_DBS[2][0])]
    expect(problems, not touched, "%s had no change, yet %d calls changed it" % (FLEET_DBS[2][0], len(touched)))
    expect(problems, all(c["signature_ok"] for c in s.elb.calls), "a request failed signature verification")

    out.title("Summary, part 3")
    lags = []
    for name, (what, at) in changes.items():
        reg = first_register(s, name, at)
        expect(problems, reg is not None, "no RegisterTargets for %s after %s" % (name, what))
        if reg is not None:
            lags.append("%s %.2f s after %s" % (name, reg - at, what))
    out.line("ok" if not problems else "bad", "fleet",
             "%d of %d bindings converged; each after its own change: %s"
             % (len(converged), len(want), "; ".join(lags)))
    for p in problems:
        out.line("bad", "FAILED", p)
    return 1 if problems else 0


def database_story(out, s, args):
    """The fifth story, the last: what a database client sees across the failover."""
    import dbstack
    import nlb
    import pg
    problems = []
    why = pg.missing()
    if why:
        out.line("bad", "FAILED", why)
        return 1
    s.reset()
    scale = nlb.DEMO_SCALE if args.db_scale is None else args.db_scale
    timing = nlb.AWS.scaled(scale)
    out.title("rds-nlb-sync demo, part 5: what a database client sees, with a real PostgreSQL behind the NLB")
    with dbstack.DbStack(s, timing=timing) as d:
        out.line("note", "database", "PostgreSQL %s as the postgres user: primary %s, synchronous hot standby %s "
                 "(%s -> %s)" % (pg.version(), const.OLD_PRIMARY, const.NEW_PRIMARY, const.DB_ENDPOINT, const.OLD_PRIMARY))
        out.line("elb", "NLB", "%s:%d (%s) forwards to target group orders-db-tg: %s"
                 % (dbstack.NLB_ADDRESS, const.DB_PORT, dbstack.NLB_NAME, targets_text(s)))
        out.line("note", "scale", "the NLB data plane runs at %g of AWS's delays: %s" % (scale, timing.describe()))
        out.line("note", "clients", "%d writer loops insert through the NLB (timeout %.1f s each, reconnect after "
                 "any error)" % (d.clients, d.client_timeout_s))
        out.title("15. The primary stops; the event arrives first, DNS changes %.1f s later" % args.db_gap)
        run = d.failover("rds-nlb-sync", order="event-first", lead_s=0.5, gap_s=args.db_gap,
                         poll_ms=args.poll_ms, wait_s=args.wait_s, bound_s=60.0 * max(scale, 0.05) * 10)
        print_timeline(out, run)
        body = run.result["json"] if run.result and run.result["kind"] == "response" else {}
        expect(problems, body.get("registered") == ["%s:%d" % (const.NEW_PRIMARY, const.DB_PORT)],
               "the function registered %s" % body.get("registered"))
        expect(problems, run.window is not None, "writes did not resume within %.0f s" % run.observed_s)
        expect(problems, run.read_only == 0, "%d read-only errors" % run.read_only)
        expect(problems, not run.lost, "acknowledged writes lost: %s" % run.lost[:10])
        out.line("note", "clients", "first write after the stop: %s; %d attempts failed meanwhile; %d writes "
                 "acknowledged in all, %s" % (
                     ", ".join("%s %.3f s" % cw for cw in run.windows.items()) or "none", run.failed,
                     run.acknowledged, "every one found on the new primary" if not run.lost
                     else "%d missing on the new primary" % len(run.lost)))
    for p in problems:
        out.line("bad", "FAILED", p)
    if run.window is not None:
        print("%+.3fs  writes   %s" % (run.window, dbstack.summary_line(run)), flush=True)
    return 1 if problems else 0


def cluster_switch_story(out, s, args):
    """The fourth story, told twice: an Aurora-like cluster of three PostgreSQL servers, the writer
    moved by the fake RDS; first with the single target group, then with the fast switch (CONTRACT.md
    section 13). Ends with both write windows."""
    import dbstack
    import nlb
    scale = nlb.DEMO_SCALE if args.db_scale is None else args.db_scale
    timing = nlb.AWS.scaled(scale)
    problems, windows = [], {}
    n1, n2, n3 = (const.AURORA_ADDRESSES[i] for i in const.AURORA_IDS)
    out.title("rds-nlb-sync demo, part 4: an Aurora-like cluster of three PostgreSQL servers, told twice")
    out.line("note", "database", "writer %s (instance-1), synchronous hot standby %s (instance-2), hot standby %s "
             "(instance-3); the fake RDS names the writer" % (n1, n2, n3))
    out.line("note", "scale", "the NLB data plane runs at %g of AWS's delays: %s; a weight change applies after "
             "%.2g s (AWS publishes no figure)" % (scale, timing.describe(), timing.weight_delay))
    for step, fast in ((13, False), (14, True)):
        s.reset()
        out.title("%d. %s: the writer stops; the failover-started event, then RDS names instance-2 %.1f s later"
                  % (step, "The fast switch (StandbySlots=3)" if fast else "One target group (StandbySlots=0)",
                     args.db_gap))
        with dbstack.DbStack(s, timing=timing, cluster=True, fast=fast) as d:
            if fast:
                out.line("elb", "NLB", "the listener forwards to 3 slots, weights 1,0,0: %s" % ", ".join(
                    "%s:%d" % (a, const.DB_PORT) for a in (n1, n2, n3)))
            else:
                out.line("elb", "NLB", "the listener forwards to orders-db-tg: %s" % targets_text(s))
            run = d.failover("rds-nlb-sync", order="event-first", lead_s=0.5, gap_s=args.db_gap,
                             poll_ms=args.poll_ms, wait_s=args.wait_s, bound_s=60.0 * max(scale, 0.05) * 10)
            print_timeline(out, run)
        body = run.result["json"] if run.result and run.result["kind"] == "response" else {}
        if fast:
            expect(problems, body.get("weightsChanged") is True and body.get("registered") == [],
                   "the fast switch moved the weight without registering: %s" % body)
        else:
            expect(problems, body.get("registered") == ["%s:%d" % (n2, const.DB_PORT)],
                   "the function registered %s" % body.get("registered"))
        expect(problems, run.window is not None, "writes did not resume within %.0f s" % run.observed_s)
        expect(problems, not run.lost, "acknowledged writes lost: %s" % run.lost[:10])
        print("%+.3fs  writes   %s" % (run.window or 0.0, dbstack.summary_line(run)), flush=True)
        windows[fast] = run.window
    for p in problems:
        out.line("bad", "FAILED", p)
    if None not in windows.values():
        print("write window: %.3f s with one target group, %.3f s with the fast switch (%.3f s sooner)"
              % (windows[False], windows[True], windows[False] - windows[True]), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
