"""What a database client sees across a failover (CONTRACT.md section 12): the local stack (stack.py)
plus a real PostgreSQL pair (pg.py), the NLB data plane (nlb.py) on the listener's address, and writer
loops (writers.py) through it; one staged failover per run, told as a timeline.

    import dbstack
    with stack.LocalStack() as s, dbstack.DbStack(s, timing=nlb.Timing()) as d:
        run = d.failover("rds-nlb-sync", order="event-first", gap_s=1.0)
        run.window, run.read_only, run.lost, run.timeline

DbStack(s, fast=True): the fast switch (CONTRACT.md section 13): the listener forwards to one slot per
server, const.SLOT_ARNS[0] holding the primary (weight 1) and the others a standby each (weight 0,
registered and health-checked all along); the function runs with LISTENER_ARN, and the data plane
follows the listener's weights (nlb.Timing's weight_delay and no_healthy).

DbStack(s, cluster=True): an Aurora-like cluster of three servers on the stack's cluster addresses
(const.AURORA_ADDRESSES: instance-1 the writer, instance-2 its synchronous standby, instance-3 a third,
asynchronous one); the function runs in cluster mode, the event is the cluster's failover-started
RDS-EVENT-0073, and the staged "dns" step is the fake RDS naming instance-2 the writer.

Systems: "rds-nlb-sync" (./bootstrap in the runtime loop), "reference" (the Python/boto3 port of the
AWS sample, tests/bench/reference/, in its runtime loop) and "none" (nothing keeps the target group).
The stack's addresses on lo: the primary const.OLD_PRIMARY (the endpoint's first answer), the standby
const.NEW_PRIMARY, the NLB NLB_ADDRESS (named NLB_NAME in the stack's DNS).
"""
import os
import subprocess
import threading
import time

import const
import events
import nlb
import pg
import writers
from stack_proc import end, spawn

NLB_ADDRESS = "10.20.0.10"
NLB_NAME = "orders-db-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com"
SYSTEMS = ("rds-nlb-sync", "reference", "none")
REFERENCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "reference",
                         "bootstrap.py")


def add_addresses(addresses):
    """Adds each address (/32) to lo; one already there is fine."""
    for a in addresses:
        r = subprocess.run(["ip", "addr", "add", "%s/32" % a, "dev", "lo"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode and b"File exists" not in r.stdout and b"already assigned" not in r.stdout:
            raise OSError("ip addr add %s dev lo: %s" % (a, r.stdout.decode(errors="replace").strip()))


class Run:
    """One failover's figures. Times are monotonic; the timeline is [(time, what)] in time order."""

    def __init__(self, system, order):
        self.system, self.order = system, order
        self.stopped = self.promoted = self.event = self.dns = self.back = None
        self.timeline = []
        self.window = None  # seconds from the primary stopping to the last client's first write after
        self.windows = {}  # client -> seconds from the stop to its own first acknowledged write
        self.observed_s = None  # how long the run watched for the window to close
        self.read_only = self.failed = self.acknowledged = 0
        self.lost = []
        self.result = None  # the function's result (rds-nlb-sync), when it came
        self.read_only_after_acted = 0  # read-only errors of attempts begun after the group changed
        self.acted = None  # monotonic time of the function's last ELBv2 change (None: none)

    def window_text(self):
        return "%.2f s" % self.window if self.window is not None else ">%.0f s" % self.observed_s


class DbStack:
    """The database, the data plane and the clients on a started LocalStack; close() stops them all."""

    def __init__(self, s, timing=None, clients=2, client_timeout_s=1.0, check=nlb.tcp_check, fast=False,
                 cluster=False):
        self.s, self.timing, self.check, self.fast, self.cluster = s, timing or nlb.Timing(), check, fast, cluster
        addresses = [const.AURORA_ADDRESSES[i] for i in const.AURORA_IDS] if cluster else \
            [const.OLD_PRIMARY, const.NEW_PRIMARY]
        self.old, self.new, self.others = addresses[0], addresses[1], addresses[2:]
        self.clients, self.client_timeout_s = clients, client_timeout_s
        self.db = self.dp = self.writers = None
        self._fn = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self):
        try:
            add_addresses([self.old, self.new] + self.others + [NLB_ADDRESS])
            self.s.dns.set_records({NLB_NAME: [NLB_ADDRESS], const.DB_ENDPOINT: [const.OLD_PRIMARY]})
            self.db = pg.PgPair(self.old, self.new, others=self.others).start()
            self.dp = self._data_plane()
        except BaseException:
            self.close()
            raise
        return self

    def _data_plane(self):
        """The single group of section 5, or the fast switch's listener and slots."""
        elb, old = self.s.elb, "%s:%d" % (self.old, const.DB_PORT)
        listen = (NLB_ADDRESS, const.DB_PORT)
        if not self.fast:
            elb.add_target_group(self.s.target_group_arn, [old], vpc_cidr=const.VPC_CIDR, port=const.DB_PORT)
            return nlb.DataPlane(elb, listen, [(self.s.target_group_arn, 1)], self.timing, self.check).start()
        servers = [self.old, self.new] + self.others
        slots = const.SLOT_ARNS[:len(servers)]
        for arn, address in zip(slots, servers):
            elb.add_target_group(arn, ["%s:%d" % (address, const.DB_PORT)], vpc_cidr=const.VPC_CIDR, port=const.DB_PORT)
        elb.add_listener(const.LISTENER_ARN, const.LOAD_BALANCER_ARN, [(a, 1 if i == 0 else 0) for i, a in enumerate(slots)])
        return nlb.DataPlane(elb, listen, timing=self.timing, check=self.check, listener=const.LISTENER_ARN).start()

    def close(self):
        if self.writers:
            self.writers.stop()
        self._stop_function()
        if self.dp:
            self.dp.close()
        if self.db:
            self.db.close()

    # -- the function --
    def _start_function(self, system, poll_ms, wait_s):
        s = self.s
        if system == "rds-nlb-sync":
            extra = dict(LISTENER_ARN=const.LISTENER_ARN, TARGET_GROUP_ARN=None) if self.fast else {}
            if self.cluster:
                extra.update(const.CLUSTER_ENV)
            self._fn = s.start_bootstrap(env=s.env(DNS_POLL_MS=poll_ms, FAILOVER_WAIT_SECONDS=wait_s, **extra))
        elif system == "reference":
            env = s.lambda_env(s.env(Cluster_EndPoint=const.DB_ENDPOINT, NLB_TG_ARN=s.target_group_arn,
                                     RDS_Port=const.DB_PORT, PYTHONDONTWRITEBYTECODE=1),
                               _HANDLER="handler.lambda_handler")
            self._fn = spawn(["/usr/bin/python3", REFERENCE], env=env, cwd=s.task_root, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif system != "none":
            raise ValueError("system %r: one of %s" % (system, ", ".join(SYSTEMS)))

    def _stop_function(self):
        if self._fn is None:
            return
        if hasattr(self._fn, "finish"):
            self.s.stop_bootstrap(self._fn)
        else:
            self.s.runtime.exit_when_drained()
            try:
                self._fn.wait(10)
            except subprocess.TimeoutExpired:
                end(self._fn)
            finally:
                self.s.runtime.exit_when_drained(None)
        self._fn = None

    # -- the failover --
    def failover(self, system, order="event-first", lead_s=0.5, gap_s=2.0, promote_s=0.3, back_s=None,
                 bound_s=20.0, settle_s=1.0, poll_ms=100, wait_s=30, event_when=None):
        """Stages one failover and watches the clients: the primary stops; the standby is promoted
        promote_s later; lead_s after the stop comes the event (order "event-first") or the DNS
        change ("dns-first"), the other gap_s after it; back_s (if set) after the stop the old primary
        comes back read-only. event_when: a condition the event also waits for (at most 60 s), so
        that a case can order it after a state rather than a time. Ends settle_s after the last
        client's first write, or at bound_s."""
        if order not in ("event-first", "dns-first"):
            raise ValueError("order %r" % order)
        run = Run(system, order)
        s = self.s
        self._start_function(system, poll_ms, wait_s)
        self.writers = writers.Writers((NLB_ADDRESS, const.DB_PORT), self.clients, self.client_timeout_s)
        self.writers.start()
        marks = len(s.elb.calls), len(self.dp.events)
        try:
            self._await_steady()
            marks = len(s.elb.calls), len(self.dp.events)
            run.stopped = self.db.stop_primary()
            staged = self._stage(run, order, lead_s, gap_s, promote_s, back_s, event_when)
            end_at = run.stopped + bound_s
            while time.monotonic() < end_at:
                w = self.writers.window(run.stopped)
                if w is not None and time.monotonic() >= run.stopped + w + settle_s and staged.is_set():
                    break
                time.sleep(0.05)
            run.observed_s = time.monotonic() - run.stopped
        finally:
            self.writers.stop()
        self._stop_function()
        self._figures(run, marks)
        return run

    def _await_steady(self, bound_s=60.0):
        """Every client has had an acknowledged write (the run starts from a working system)."""
        start = time.monotonic()
        end_at = start + bound_s
        while time.monotonic() < end_at:
            if len(self.writers.first_success_after(start)) == self.clients:
                return
            time.sleep(0.02)
        raise RuntimeError("the writers never wrote through the NLB: %s" % self.writers.snapshot()[-3:])

    def _stage(self, run, order, lead_s, gap_s, promote_s, back_s, event_when):
        """Starts the staged steps in a thread; returns an Event set when all have happened."""
        done = threading.Event()
        s = self.s
        steps = [(promote_s, "promote")]
        first, second = ("event", "dns") if order == "event-first" else ("dns", "event")
        steps += [(lead_s, first), (lead_s + gap_s, second)]
        if back_s is not None:
            steps.append((back_s, "back"))

        def do(what):
            if what == "promote":
                run.promoted = self.db.promote()
            elif what == "event":
                run.event = time.monotonic()
                if system_runs(run.system):
                    rid = s.runtime.enqueue(events.cluster_event("RDS-EVENT-0073") if self.cluster
                                            else events.rds_event("RDS-EVENT-0049"))
                    threading.Thread(target=self._result, args=(run, rid), daemon=True).start()
            elif what == "dns" and self.cluster:
                s.move_writer(const.AURORA_IDS[1])
                run.dns = time.monotonic()
            elif what == "dns":
                run.dns = s.dns.set_records({const.DB_ENDPOINT: [const.NEW_PRIMARY]})
            elif what == "back":
                self.db.back_read_only()
                run.back = time.monotonic()

        def play():
            try:
                for at, what in sorted(steps):
                    time.sleep(max(0.0, run.stopped + at - time.monotonic()))
                    end_at = time.monotonic() + 60.0
                    while what == "event" and event_when and not event_when() and time.monotonic() < end_at:
                        time.sleep(0.02)
                    do(what)
            finally:
                done.set()

        threading.Thread(target=play, name="failover-stage", daemon=True).start()
        return done

    def _result(self, run, rid):
        try:
            run.result = self.s.runtime.wait_result(rid, timeout=120)
        except TimeoutError:
            pass

    def _figures(self, run, marks):
        w = self.writers
        run.window = w.window(run.stopped)
        run.windows = {c: t - run.stopped for c, t in sorted(w.first_success_after(run.stopped).items())}
        run.read_only = w.count("read_only", after=run.stopped)
        run.failed = w.failed_since(run.stopped)
        run.acknowledged = len(w.acknowledged())
        run.lost = w.lost(self.db.rows(self.new))
        calls = [c for c in self.s.elb.calls[marks[0]:] if c["status"] == 200 and c["action"] in (
            "RegisterTargets", "DeregisterTargets", "ModifyListener")]
        if calls:
            run.acted = max(c["time"] for c in calls)
            run.read_only_after_acted = sum(1 for a in w.snapshot() if a.outcome == "read_only" and a.start >= run.acted)
        tl = [(run.stopped, "primary stopped (%s, immediate shutdown)" % self.old)]
        if run.promoted:
            tl.append((run.promoted, "standby promoted (%s)" % self.new))
        if run.event:
            tl.append((run.event, "event %s delivered (%s)" % (
                "RDS-EVENT-0073" if self.cluster else "RDS-EVENT-0049",
                "the function is invoked" if system_runs(run.system) else "nothing subscribed")))
        if run.dns and self.cluster:
            tl.append((run.dns, "writer moved in the RDS API: %s (%s)" % (const.AURORA_IDS[1], self.new)))
        elif run.dns:
            tl.append((run.dns, "DNS changed: %s -> %s" % (const.DB_ENDPOINT, const.NEW_PRIMARY)))
        if run.back:
            tl.append((run.back, "old primary back read-only on %s" % self.old))
        for c in calls:
            if c["action"] == "ModifyListener":
                tl.append((c["time"], "ModifyListener weights %s" % ",".join(
                    c["params"].get("DefaultActions.member.1.ForwardConfig.TargetGroups.member.%d.Weight" % i)
                    for i in range(1, 11)
                    if "DefaultActions.member.1.ForwardConfig.TargetGroups.member.%d.Weight" % i in c["params"])))
                continue
            targets = " ".join("%s:%s" % (c["params"].get("Targets.member.%d.Id" % i),
                                          c["params"].get("Targets.member.%d.Port" % i, ""))
                               for i in range(1, 101) if "Targets.member.%d.Id" % i in c["params"])
            tl.append((c["time"], "%s %s" % (c["action"], targets)))
        for t, _, key, state in self.dp.events[marks[1]:]:
            tl.append((t, "target %s %s" % (key, state)))
        for t, weights in self.dp.weight_changes:
            if t >= run.stopped:
                tl.append((t, "weights applied %s" % ",".join(str(w) for _, w in weights)))
        first = w.first_success_after(run.stopped)
        if first:
            tl.append((min(first.values()), "first successful write"))
        run.timeline = sorted(tl)


def system_runs(system):
    return system in ("rds-nlb-sync", "reference")


def summary_line(run):
    """The demo's closing words after `writes` (issue 21): W, R, L and A of one run."""
    return ("resumed %s after the primary stopped; %d read-only errors; %d of %d acknowledged writes lost"
            % ("%.3f s" % run.window if run.window is not None else "never (%s)" % run.window_text(),
               run.read_only, len(run.lost), run.acknowledged))
