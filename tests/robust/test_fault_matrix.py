"""The fault matrix on the local stack: ELBv2 faults x DNS faults x Runtime API faults, each cell one
invocation of the real ./bootstrap in the runtime loop, then a clean invocation.

Axes
  ELBv2 (10): none, throttling, 500, 503, hang (past the deadline), drop (connection closed
              unanswered), malformed (XML), signature (403 SignatureDoesNotMatch), tg_not_found,
              tls (the function trusts another CA)
  DNS (6):    none (the endpoint moved to NEW), nxdomain, refused, timeout (resolver silent),
              empty (no A record), public_only (only addresses outside ALLOWED_CIDRS)
  Runtime (4): none, 413 (to the result), 500 (to the result), refused (the API goes away: the
              result's connection is cut and new ones are refused)

Which cells. A DNS fault is only reached once DescribeTargetHealth has answered, and a failed
DescribeTargetHealth stops the run before DNS; the Runtime API faults act on the result post
alone, whatever the result. So the product is degenerate and is not run by default: the cells
are every ELBv2 x DNS pair (60), each with a Runtime API fault chosen as (elb + dns) mod 4, which
covers every ELBv2 x Runtime and DNS x Runtime pair as well (a pairwise covering design, so every
single fault and every pair of faults runs), plus, for each ELBv2 fault, the fault kept on
DescribeTargetHealth and on DeregisterTargets (16). Where the ELBv2 fault meets a DNS fault it
hits DescribeTargetHealth once (a retryable fault is retried, then DNS decides); with a clean DNS
it hits every RegisterTargets (safety rule 2). RNS_FULL_MATRIX=1 runs the whole product (240
cells plus the 16). The cells run in RNS_MATRIX_SHARDS (3) namespaces at once.

After each cell: the target group is not empty and holds only allowed addresses (OLD and/or NEW),
it is exactly what the safety rules leave, the error type is the contract's one for the fault
(from the posted result and from the "done"/"failed" log line), the process is alive (413, none)
or has exited with status 1 (500, refused), and a clean invocation then converges.
"""
import json
import os
import socket
import sys
import threading
import time

import const
import events
import robust_common as rc
import stack
import tap
from fake_elbv2 import make_test_pki

SHARD, NSHARDS = rc.sharded(__file__, int(os.environ.get("RNS_MATRIX_SHARDS", "3")))

ELB = ["none", "throttling", "500", "503", "hang", "drop", "malformed", "signature", "tg_not_found", "tls"]
DNS = ["none", "nxdomain", "refused", "timeout", "empty", "public_only"]
RT = ["none", "413", "500", "refused"]
# The code an ElbApiError message must carry for each fault (the contract: "the AWS error code").
ELB_CODES = {"throttling": "Throttling", "500": "InternalFailure", "503": "ServiceUnavailable",
             "drop": "ConnectionError", "malformed": "MalformedResponse", "signature": "SignatureDoesNotMatch",
             "tg_not_found": "TargetGroupNotFound", "tls": "TlsError"}
DEADLINE_MS = 4000

S = stack.LocalStack(elb_options=dict(quiet=True)).start()
OTHER_CA = make_test_pki(os.path.join(S.dir, "other-ca"), name="not the ELBv2 endpoint's CA")["ca"]
LEAKS = rc.Leaks(S)
STATE = {"proc": None}
TIMES = []


# ------------------------------------------------------------ Runtime API proxy ---

class RefusingProxy:
    """A TCP proxy in front of the fake Runtime API that lets GET /next through and, at the first
    POST, closes that connection unanswered and stops listening: from then on the Runtime API
    refuses connections, as when it has gone away."""

    def __init__(self, upstream):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.refused = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.refused.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, up, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, client, False), daemon=True).start()

    def _pump(self, src, dst, from_client):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client and data.startswith(b"POST "):
                    self.refuse()
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def refuse(self):
        self.refused.set()
        try:
            self.listener.close()
        except OSError:
            pass


# ------------------------------------------------------------------- the cells ---

def cells():
    """(elb, dns, rt, placement) of every cell to run."""
    full = os.environ.get("RNS_FULL_MATRIX") == "1"
    out = []
    for e, elb in enumerate(ELB):
        for d, dns in enumerate(DNS):
            rts = RT if full else [RT[(e + d) % len(RT)]]
            for rt in rts:
                out.append((elb, dns, rt, "register" if dns == "none" else "describe_once"))
    for elb in ELB[1:-1]:  # tls is not per action
        out.append((elb, "none", "none", "describe"))
        out.append((elb, "none", "none", "deregister"))
    return out


def expected_error(elb, dns, placement):
    """The set of contract error types the cell may end with; an empty set: a success."""
    if elb == "tls":
        return {"ElbApiError"}
    if elb != "none" and placement != "describe_once":
        if elb == "hang":
            return {"Timeout"}
        if elb == "throttling":  # three attempts with 1 s-based backoff may meet the deadline
            return {"ElbApiError", "Timeout"}
        return {"ElbApiError"}
    if elb == "hang":  # once on DescribeTargetHealth: the attempt outlives the deadline
        return {"Timeout"}
    if elb in ("signature", "tg_not_found"):
        return {"ElbApiError"}
    return {"ResolveError"} if dns != "none" else set()


def expected_group(elb, dns, placement, errors):
    if not errors:
        return [rc.NEW]
    if elb not in ("none", "tls") and placement == "deregister":
        return sorted([rc.NEW, rc.OLD])  # registered first, the stale one failed to leave
    return [rc.OLD]


def apply_dns(dns):
    if dns == "nxdomain":
        S.dns.nxdomain(const.DB_ENDPOINT)
    elif dns == "refused":
        S.dns.refuse()
    elif dns == "timeout":
        S.dns.pause()
    elif dns == "empty":
        S.dns.set_records({const.DB_ENDPOINT: ["fd00::5"]})
    elif dns == "public_only":
        S.dns.set_records({const.DB_ENDPOINT: ["203.0.113.10", "54.239.28.85"]})


def apply_elb(elb, placement):
    if elb in ("none", "tls"):
        return
    # A hang never answers (a late answer would still change the group, in the next cell).
    action = {"register": "RegisterTargets", "deregister": "DeregisterTargets"}.get(placement,
                                                                                   "DescribeTargetHealth")
    S.elb.inject(elb, action=action, count=1 if placement == "describe_once" else None)


def clean_state():
    LEAKS.harvest()  # the signatures of the calls so far, before the reset forgets them
    S.elb.clear_faults()
    S.dns.resume()
    S.dns.serve()
    S.reset(records=rc.FLIPPED)


def started(env=None, **overrides):
    """A new runtime loop, blocked in its first GET /next (so a queued Runtime fault meets the
    result post, not the GET)."""
    n = len(S.runtime.requests)
    proc = S.start_bootstrap(env, AWS_LAMBDA_LOG_FORMAT="JSON", **overrides)
    S.runtime.wait_for(lambda rt: any(r["method"] == "GET" for r in rt.requests[n:]), 10)
    return proc


def retire(proc, expect_exit=None, timeout=15.0):
    """Collects the output of a loop that is exiting (or stops it) and returns its exit status."""
    if proc.poll() is None and expect_exit is None:
        code = S.stop_bootstrap(proc)
    else:
        code = proc.finish(timeout)
    out, err = proc.output()
    LEAKS.add("runtime loop", out + err)
    LEAKS.harvest()
    rc.check_exit(code, "runtime loop")
    return code


def default_proc():
    proc = STATE["proc"]
    if proc is None or proc.poll() is not None:
        if proc is not None:
            retire(proc, expect_exit=True)
        proc = STATE["proc"] = started()
    return proc


def outcome_in_log(proc, rid, timeout=10.0):
    """(errorType, errorMessage) of the "done"/"failed" line of invocation rid ("" for done)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for line in proc.output()[1].splitlines():
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if isinstance(j, dict) and j.get("requestId") == rid and j.get("message") in ("done", "failed"):
                return j.get("errorType", ""), j.get("errorMessage", "")
        time.sleep(0.05)
    raise AssertionError("no done/failed log line for %s:\n%s" % (rid, proc.output()[1][-2000:]))


def run_cell(elb, dns, rt, placement):
    clean_state()
    errors = expected_error(elb, dns, placement)
    proxy = None
    env = {}
    if elb == "tls":
        env["AWS_CA_BUNDLE"] = OTHER_CA
    if rt == "refused":
        proxy = RefusingProxy(S.runtime.address)
        env["AWS_LAMBDA_RUNTIME_API"] = proxy.address
    if env:  # a loop of its own for this cell: the default one must not take the event
        if STATE["proc"] is not None:
            retire(STATE["proc"])
            STATE["proc"] = None
        proc = started(**env)
    else:
        proc = default_proc()
    apply_dns(dns)
    apply_elb(elb, placement)
    if rt in ("413", "500"):  # on the result post, never on a GET /next
        S.runtime.fail_next(int(rt), on="error" if errors else "response")
    t0 = time.monotonic()
    rid = S.runtime.enqueue(events.schedule_event(), deadline_ms=int(time.time() * 1000) + DEADLINE_MS)
    logged, message = outcome_in_log(proc, rid, timeout=DEADLINE_MS / 1000.0 + 10)
    what = "cell elb=%s dns=%s rt=%s (%s)" % (elb, dns, rt, placement)
    if logged == "ElbApiError":
        tap.ok(ELB_CODES[elb] in message and "request id" in message, "%s: message %r" % (what, message))
    if errors:
        tap.ok(logged in errors, "%s: error %r, want one of %s" % (what, logged, sorted(errors)))
    else:
        tap.eq(logged, "", "%s: a success" % what)
    if rt == "refused":
        tap.ok(rid not in S.runtime.results, "%s: the result cannot have arrived" % what)
    else:
        res = S.runtime.wait_result(rid, 10)
        ok, body = rc.check_result(res)
        tap.eq(ok, not errors, "%s: result kind %s" % (what, res["kind"]))
        if errors:
            tap.eq(body["errorType"], logged, "%s: posted and logged error types" % what)
        else:
            tap.eq(body["converged"], True, "%s: converged" % what)
        tap.eq(res["status_sent"], int(rt) if rt != "none" else 202, "%s: status the fake answered" % what)
    group = rc.check_group(S)
    tap.eq(group, expected_group(elb, dns, placement, errors), "%s: target group" % what)
    if errors == {"ResolveError"}:
        tap.ok(not S.elb.calls_for("RegisterTargets") and not S.elb.calls_for("DeregisterTargets"),
               "%s: a run without an address changes nothing" % what)
    # The process: alive after a 413 and without Runtime fault, exited (1) after 500 and refused.
    if rt in ("500", "refused"):
        code = retire(proc, expect_exit=True)
        tap.eq(code, 1, "%s: exit status" % what)
        tap.ok(time.monotonic() - t0 < DEADLINE_MS / 1000.0 + 8, "%s: exited promptly" % what)
        if proc is STATE["proc"]:
            STATE["proc"] = None
    else:
        tap.ok(proc.poll() is None, "%s: the loop is alive (exit %s)" % (what, proc.poll()))
        if env:
            retire(proc)
    clean_run(what)
    TIMES.append((time.monotonic() - t0, what))


def clean_run(what):
    """After the fault: no fault left, DNS on NEW; the next invocation converges."""
    S.elb.clear_faults()
    S.dns.resume()
    S.dns.serve()
    S.dns.set_records(rc.FLIPPED, dict(const.DEFAULT_CNAMES), replace=True)
    proc = default_proc()
    res = S.lambda_invoke(events.schedule_event(), timeout=30)
    ok, body = rc.check_result(res)
    tap.ok(ok and body.get("converged") is True, "%s: the clean run after it converged: %s" % (what, res["body"][:300]))
    tap.eq(S.registered(), [rc.NEW], "%s: the clean run left NEW only" % what)
    LEAKS.harvest()
    tap.ok(proc.poll() is None, "%s: alive after the clean run" % what)


def case_for(cell):
    def case():
        run_cell(*cell)
    case.__name__ = "elb_%s__dns_%s__rt_%s__%s" % cell
    return case


CELLS = cells()
for _cell in CELLS[SHARD::NSHARDS]:
    tap.case(case_for(_cell))


def matrix_covers_every_pair():
    pairs = set()
    for elb, dns, rt, _ in CELLS:
        pairs |= {("e", elb, "d", dns), ("e", elb, "r", rt), ("d", dns, "r", rt)}
    want = {("e", e, "d", d) for e in ELB for d in DNS} | {("e", e, "r", r) for e in ELB for r in RT} | \
           {("d", d, "r", r) for d in DNS for r in RT}
    tap.eq(sorted(want - pairs), [], "pairs not covered")


if SHARD == 0:
    tap.case(matrix_covers_every_pair)


def loops_exit_cleanly_and_logs_hold_no_secret():
    if STATE["proc"] is not None:
        code = retire(STATE["proc"])
        tap.eq(code, 1, "exit status when GET /next answers 500")
    slow = sorted(TIMES, reverse=True)[:3]
    sys.stderr.write("fault matrix shard %d: %d cells in %.1f s; slowest: %s\n"
                     % (SHARD, len(TIMES), sum(t for t, _ in TIMES), ", ".join("%.1f s %s" % s for s in slow)))
    tap.ok(LEAKS.check() > 0, "log lines scanned")


loops_exit_cleanly_and_logs_hold_no_secret.__name__ += "_shard%d" % SHARD
tap.case(loops_exit_cleanly_and_logs_hold_no_secret)
tap.main()
