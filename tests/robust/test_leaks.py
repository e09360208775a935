# rns: no-asan (valgrind and ASan do not mix; the asan/ pass runs the other robustness suites)
"""Leaks and growth of the real ./bootstrap in the Lambda runtime loop, over a mix of every kind of
invocation (RDS events through SNS and EventBridge with a failover wait, schedules, console tests,
dry runs, CloudFormation Create/Delete and an undeliverable answer, invalid events, NXDOMAIN,
ELBv2 errors and retried faults, a hung ELBv2 call that meets the deadline, a 2 MB event):

- 1,000 invocations under valgrind (memcheck, --leak-check=full --show-leak-kinds=all
  --errors-for-leak-kinds=all): no memory error and no byte lost or still reachable at exit
  (the loop ends the way Lambda ends it: GET /next answers 500). No suppression is needed:
  libcurl, OpenSSL and jansson free their global state at exit (curl_global_cleanup, OpenSSL's
  atexit cleanup), and the resolver's lookups are joined;
- 10,000 invocations natively (the same cycle, with three in four invocations a console test
  or an invalid event to keep it quick) with VmRSS sampled every 500: after the first 1,000 (warm-up:
  connection, TLS session, signing key, allocator arenas) it grows by at most RSS_GROWTH_LIMIT_KB.
The two run at once, each in a namespace of its own.
"""
import os
import re
import time

import const
import events
import robust_common as rc
import stack
import tap

SHARD, NSHARDS = rc.sharded(__file__, 2)  # the two cases at once, each in its own namespace

S = stack.LocalStack().start()
VALGRIND_ERROR = 99
VALGRIND_INVOCATIONS = int(os.environ.get("RNS_LEAK_INVOCATIONS", "1000"))
RSS_INVOCATIONS = int(os.environ.get("RNS_RSS_INVOCATIONS", "10000"))
RSS_WARMUP = 1000
RSS_EVERY = 500
RSS_GROWTH_LIMIT_KB = 256
ENV = dict(FAILOVER_WAIT_SECONDS="5", DNS_POLL_MS="50")
OLD_RECORDS = dict(const.DEFAULT_RECORDS)
NEW_RECORDS = rc.FLIPPED
BIG = {"padding": "x" * (2 * 1024 * 1024)}
TIMEOUT_DEADLINE_MS = 500  # a hung DescribeTargetHealth meets it


class Mix:
    """The invocations, in a fixed cycle; prepare(i) sets the stack up for invocation i and
    returns (event, expected kind: "response" or the errorType)."""

    KINDS = ["flip-schedule", "flip-sns-failover", "flip-eventbridge-failover", "console", "dry-run",
             "not-json", "array", "cfn-create", "cfn-delete", "nxdomain", "tg-not-found", "retried-500",
             "cfn-undeliverable", "sns-text", "flip-schedule"]

    def __init__(self, cheap=False):
        self.primary_new = False
        self.counts = {}
        self.cheap = cheap

    def flip(self):
        self.primary_new = not self.primary_new
        S.dns.set_records(NEW_RECORDS if self.primary_new else OLD_RECORDS)

    def prepare(self, i):
        S.elb.clear_faults()
        if S.dns.mode != "serve" or const.DB_ENDPOINT not in S.dns.records:
            S.dns.set_records(NEW_RECORDS if self.primary_new else OLD_RECORDS)
        if self.cheap:  # three in four a console test or an invalid event: the mix, faster
            if i % 4:
                kind = "console" if i % 2 else "array"
                self.counts[kind] = self.counts.get(kind, 0) + 1
                return ({}, "response") if kind == "console" else ([1, 2, 3], "InvalidEvent")
            i //= 4
        kind = "big" if i % 97 == 96 else "timeout" if i % 89 == 88 else self.KINDS[i % len(self.KINDS)]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind.startswith("flip-"):
            self.flip()
        if kind == "flip-schedule":
            return events.schedule_event(), "response"
        if kind == "flip-sns-failover":
            return events.rds_event("RDS-EVENT-0049"), "response"
        if kind == "flip-eventbridge-failover":
            return events.rds_event("RDS-EVENT-0049", via="eventbridge"), "response"
        if kind == "console":
            return {}, "response"
        if kind == "dry-run":
            return {"dryRun": True}, "response"
        if kind == "not-json":
            return "this is not JSON {", "InvalidEvent"
        if kind == "array":
            return [1, 2, 3], "InvalidEvent"
        if kind == "cfn-create":
            return events.cloudformation_event("Create", S.cfn.url()), "response"
        if kind == "cfn-delete":
            return events.cloudformation_event("Delete", S.cfn.url(), physical_id="p-1"), "response"
        if kind == "cfn-undeliverable":
            S.cfn.fail_next(403)
            return events.cloudformation_event("Delete", S.cfn.url(), physical_id="p-1"), \
                "CloudFormationResponseError"
        if kind == "nxdomain":
            S.dns.nxdomain(const.DB_ENDPOINT)
            return events.schedule_event(), "ResolveError"
        if kind == "tg-not-found":
            S.elb.inject("tg_not_found", action="DescribeTargetHealth")
            return events.schedule_event(), "ElbApiError"
        if kind == "retried-500":
            S.elb.inject("500", action="DescribeTargetHealth")
            return {}, "response"
        if kind == "sns-text":
            ev = events.rds_event()
            ev["Records"][0]["Sns"]["Message"] = "You have chosen to subscribe to the topic."
            return ev, "response"
        if kind == "timeout":  # with a deadline of TIMEOUT_DEADLINE_MS (run_loop)
            S.elb.inject("hang", action="DescribeTargetHealth")
            return events.schedule_event(), "Timeout"
        return BIG, "response"


def run_loop(n, wrapper=(), sample=None, cheap=False):
    """n invocations through one runtime loop; returns (exit status, stdout+stderr, mix)."""
    S.reset(records=OLD_RECORDS)
    S.wrapper = list(wrapper)
    mix = Mix(cheap)
    proc = S.start_bootstrap(**ENV)
    try:
        for i in range(n):
            event, want = mix.prepare(i)
            deadline = int(time.time() * 1000) + TIMEOUT_DEADLINE_MS if want == "Timeout" else None
            res = S.lambda_invoke(event, deadline_ms=deadline, timeout=120)
            got = "response" if res["kind"] == "response" else res["json"]["errorType"]
            if got != want:
                raise AssertionError("invocation %d: %s, want %s: %s" % (i, got, want, res["body"][:300]))
            if sample:
                sample(i, proc)
        code = S.stop_bootstrap(proc, timeout=120)
    finally:
        S.wrapper = []
        if proc.poll() is None:
            proc.kill()
            proc.finish(60)
    out, err = proc.output()
    return code, out + err, mix


def valgrind_argv(log):
    vg = tap.need("valgrind", "valgrind")
    return [vg, "--leak-check=full", "--show-leak-kinds=all", "--errors-for-leak-kinds=all",
            "--error-exitcode=%d" % VALGRIND_ERROR, "--num-callers=30", "--log-file=" + log]


LEAK_LINE = re.compile(r"(definitely lost|indirectly lost|possibly lost|still reachable|suppressed): "
                       r"([\d,]+) bytes in ([\d,]+) blocks")


def valgrind_1000_mixed_invocations_lose_nothing():
    log = os.path.join(S.dir, "valgrind.log")
    t0 = time.monotonic()
    code, output, mix = run_loop(VALGRIND_INVOCATIONS, valgrind_argv(log))
    text = open(log).read()
    figures = {k: int(b.replace(",", "")) for k, b, _ in LEAK_LINE.findall(text)}
    tap.ok(code != VALGRIND_ERROR, "valgrind found errors:\n" + text[-6000:])
    tap.eq(code, 1, "exit status when GET /next answers 500")
    tap.ok("ERROR SUMMARY: 0 errors" in text, text[-6000:])
    tap.ok("All heap blocks were freed -- no leaks are possible" in text or
           all(figures.get(k, 0) == 0 for k in ("definitely lost", "indirectly lost", "possibly lost",
                                                   "still reachable")), "leaks:\n" + text[-6000:])
    tap.ok(sum(mix.counts.values()) == VALGRIND_INVOCATIONS and len(mix.counts) == len(set(Mix.KINDS)) + 2,
           "every kind ran: %s" % mix.counts)
    tap.ok(const.SECRET_ACCESS_KEY not in output and const.SESSION_TOKEN not in output, "no secret in the logs")
    summary = re.search(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees, ([\d,]+) bytes allocated", text)
    sys_note = "valgrind: %d invocations in %.0f s; %s; %s" % (
        VALGRIND_INVOCATIONS, time.monotonic() - t0, summary.group(0) if summary else "no heap summary",
        ", ".join("%s %d B" % kv for kv in sorted(figures.items())) or "no leak lines")
    print("# " + sys_note, flush=True)


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def rss_flat_over_10000_invocations():
    samples = []

    def sample(i, proc):
        if (i + 1) % RSS_EVERY == 0:
            samples.append((i + 1, vm_rss_kb(proc.pid)))

    t0 = time.monotonic()
    code, output, mix = run_loop(RSS_INVOCATIONS, sample=sample, cheap=True)
    tap.ok(len(mix.counts) == len(set(Mix.KINDS)) + 2, "every kind ran: %s" % mix.counts)
    tap.eq(code, 1, "exit status when GET /next answers 500")
    after = [kb for n, kb in samples if n >= RSS_WARMUP]
    growth = max(after) - after[0]
    print("# RSS over %d invocations in %.0f s (KB at every %d): %s" % (
        RSS_INVOCATIONS, time.monotonic() - t0, RSS_EVERY, " ".join(str(kb) for _, kb in samples)), flush=True)
    tap.ok(growth <= RSS_GROWTH_LIMIT_KB, "VmRSS grew by %d KB after the warm-up (limit %d): %s"
           % (growth, RSS_GROWTH_LIMIT_KB, samples))


for _i, _case in enumerate((valgrind_1000_mixed_invocations_lose_nothing, rss_flat_over_10000_invocations)):
    if _i % NSHARDS == SHARD:
        tap.case(_case)
tap.main()
