"""The NLB data plane of the local stack (CONTRACT.md section 12): a TCP forwarder on the listener's
address that routes each new connection the way a Network Load Balancer does, from the fake ELBv2's
own state, and the TCP health checker whose results are what DescribeTargetHealth reports.

    import nlb
    dp = nlb.DataPlane(s.elb, ("10.20.0.10", 5432), [(TARGET_GROUP_ARN, 1)], nlb.Timing()).start()
    ... clients connect to 10.20.0.10:5432 ...
    dp.events      # [(monotonic time, target group ARN, "ip:port", state)] every state change
    dp.close()

What it models, per target of each group (the fake holds registration; the data plane the rest):
- registration delay: a target the fake lists as `initial` is unknown to the data plane for
  `registration_delay` seconds (state `initial`, reason Elb.RegistrationInProgress), then health
  checked (reason Elb.InitialHealthChecking);
- TCP health checks every `interval` (connect within `timeout`): `healthy_threshold` successes in a
  row make a target `healthy`, `unhealthy_threshold` failures `unhealthy`; a healthy target that fails
  goes `unhealthy.draining` for `unhealthy_draining` seconds when that is > 0 (it keeps its
  connections, gets no new ones), else `unhealthy` at once; turning `unhealthy` resets its
  connections (the group's unhealthy connection termination, on by default);
- `draining` (the fake's deregistration): no new connections; when the fake drops the target (its
  deregistration delay) the data plane resets the target's connections if `connection_termination`;
- routing of a new connection: a group chosen by smooth weighted round robin over the weights
  (CONTRACT.md section 13; weight 0: no new connections), then round robin over the group's
  `healthy` targets; none healthy: fail open, to every target past its registration delay and not
  draining; none at all: the connection is reset. A target that does not accept is reset too.
- the fast switch's listener (`listener=` ARN): the weights are the fake's listener's, each
  ModifyListener applied `weight_delay` seconds after it was answered; a weighted group without a
  healthy target does `no_healthy`: "fail_open" (as above), "spill" (to the groups of weight 0 that
  have a healthy target) or "reset". AWS publishes neither the delay nor that behaviour
  (reference/nlb-weighted-target-groups.md, open questions 4 and 6): both are choices of the model.
Not modelled: NLB nodes per zone (one forwarder), cross-zone and DNS failover, idle timeouts, client
IP preservation, Proxy Protocol, health checks of a port other than the traffic port.
"""
import math
import select
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HEALTHY, INITIAL, UNHEALTHY, UNHEALTHY_DRAINING, DRAINING = (
    "healthy", "initial", "unhealthy", "unhealthy.draining", "draining")
REASONS = {"registering": "Elb.RegistrationInProgress", "checking": "Elb.InitialHealthChecking",
           UNHEALTHY: "Target.FailedHealthChecks", UNHEALTHY_DRAINING: "Target.FailedHealthChecks"}


NO_HEALTHY = ("fail_open", "spill", "reset")


class Timing:
    """The data plane's delays in seconds. The defaults are the tests' scale, AWS's figures (AWS below)
    times TEST_SCALE; the demo and the bench run at DEMO_SCALE (README.md, "What a database client
    sees")."""

    def __init__(self, registration_delay=1.5, interval=0.25, timeout=0.1, healthy_threshold=2,
                 unhealthy_threshold=2, deregistration_delay=0.5, unhealthy_draining=0.0,
                 connection_termination=True, connect_timeout=0.5, weight_delay=0.05, no_healthy="fail_open"):
        self.registration_delay, self.interval, self.timeout = registration_delay, interval, timeout
        self.healthy_threshold, self.unhealthy_threshold = healthy_threshold, unhealthy_threshold
        self.deregistration_delay, self.unhealthy_draining = deregistration_delay, unhealthy_draining
        self.connection_termination, self.connect_timeout = connection_termination, connect_timeout
        if no_healthy not in NO_HEALTHY:
            raise ValueError("no_healthy must be one of %s" % ", ".join(NO_HEALTHY))
        self.weight_delay, self.no_healthy = weight_delay, no_healthy

    def scaled(self, factor):
        """The same timing with every delay multiplied by factor (thresholds unchanged)."""
        t = Timing(**vars(self))
        for k in ("registration_delay", "interval", "timeout", "deregistration_delay", "unhealthy_draining",
                  "connect_timeout", "weight_delay"):
            setattr(t, k, getattr(self, k) * factor)
        return t

    def describe(self):
        return ("registration %.2g s, checks every %.2g s (timeout %.2g s, healthy after %d, unhealthy after %d), "
                "deregistration delay %.2g s%s" % (
                    self.registration_delay, self.interval, self.timeout, self.healthy_threshold,
                    self.unhealthy_threshold, self.deregistration_delay,
                    ", unhealthy.draining %.2g s" % self.unhealthy_draining if self.unhealthy_draining else ""))


# AWS's figures as the template sets them: checks every 5 s with a 2 s timeout, 2 in a row either way,
# deregistration delay 10 s; registration "can take a few minutes" (AWS), users report 30 to 120 s: 30 s.
# How long a weight change takes to reach every NLB node is not published (reference
# nlb-weighted-target-groups.md, open question 4): 1 s is this model's assumption, not a measurement.
AWS = Timing(registration_delay=30.0, interval=5.0, timeout=2.0, deregistration_delay=10.0, connect_timeout=10.0,
             weight_delay=1.0)
TEST_SCALE, DEMO_SCALE = 0.05, 0.1


# ------------------------------------------------------------ target health ---

class TargetHealth:
    """One target's health as the data plane sees it; step() takes one check's result."""

    def __init__(self, seen_at, timing, state=INITIAL):
        self.seen_at, self.timing, self.state = seen_at, timing, state
        self.ok = self.failed = 0
        self.since = seen_at

    def checkable(self, now):
        return self.state != INITIAL or now - self.seen_at >= self.timing.registration_delay

    def reason(self, now):
        if self.state == INITIAL:
            return REASONS["checking" if self.checkable(now) else "registering"]
        return REASONS.get(self.state)

    def step(self, passed, now):
        """Takes one check; returns the new state when it changed, else None."""
        if passed:
            self.ok, self.failed = self.ok + 1, 0
        else:
            self.ok, self.failed = 0, self.failed + 1
        t = self.timing
        new = None
        if self.state != HEALTHY and self.ok >= t.healthy_threshold:
            new = HEALTHY
        elif self.state in (INITIAL, HEALTHY) and self.failed >= t.unhealthy_threshold:
            new = UNHEALTHY_DRAINING if self.state == HEALTHY and t.unhealthy_draining > 0 else UNHEALTHY
        return self._enter(new, now)

    def tick(self, now):
        """Time-driven change: unhealthy.draining ends in unhealthy."""
        if self.state == UNHEALTHY_DRAINING and now - self.since >= self.timing.unhealthy_draining:
            return self._enter(UNHEALTHY, now)
        return None

    def _enter(self, state, now):
        if state is None or state == self.state:
            return None
        self.state, self.since = state, now
        return state


def routable(states, registered_at=None):
    """The keys a new connection may go to, of {key: state} of one group: the healthy ones; none
    healthy, fail open to every target past registration (registered_at: {key: bool}) that is not
    draining."""
    healthy = [k for k, s in states.items() if s == HEALTHY]
    if healthy:
        return healthy
    return [k for k, s in states.items() if s != DRAINING and (registered_at is None or registered_at.get(k))]


class Router:
    """Picks a group by smooth weighted round robin (over N picks a group of weight w gets exactly
    N*w/sum of them, evenly spread), then a target of it by round robin."""

    def __init__(self):
        self._current = {}
        self._next = {}

    def pick_group(self, weights):
        """weights: [(group, weight)] -> a group, or None when every weight is 0."""
        live = [(g, w) for g, w in weights if w > 0]
        if not live:
            return None
        total = sum(w for _, w in live)
        for g, w in live:
            self._current[g] = self._current.get(g, 0) + w
        best = max(live, key=lambda gw: self._current[gw[0]])[0]
        self._current[best] -= total
        return best

    def pick_target(self, group, keys):
        if not keys:
            return None
        keys = sorted(keys)
        n = self._next.get(group, 0)
        self._next[group] = n + 1
        return keys[n % len(keys)]


# ---------------------------------------------------------------- forwarding ---

class _Conn:
    """One client connection and its upstream, relayed by one thread until either side ends or the
    data plane resets it."""

    def __init__(self, client, upstream, group, key):
        self.client, self.upstream, self.group, self.key = client, upstream, group, key
        self.reset = threading.Event()

    def relay(self, done):
        peers = {self.client: self.upstream, self.upstream: self.client}
        try:
            while not self.reset.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except OSError:
            pass
        finally:
            for s in (self.client, self.upstream):
                if self.reset.is_set():
                    _set_rst(s)
                s.close()
            done(self)


def _set_rst(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


def tcp_check(address, timeout):
    """The NLB's TCP health check: does the target accept a connection within timeout?"""
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


class DataPlane:
    """The forwarder and the health checker of one listener (see the module's text)."""

    def __init__(self, elb, listen, groups=None, timing=None, check=tcp_check, listener=None):
        self.elb, self.listen, self.timing = elb, listen, timing or Timing()
        self.listener = listener
        if listener:
            groups = elb.weights(listener)
            elb.on_weights = self._weights_modified
        self._weights = list(groups)
        self._pending = []  # [(apply at, weights)] of the listener's changes, in order
        self.weight_changes = []  # (monotonic time applied, weights)
        self._check = check
        self._health = {arn: {} for arn, _ in groups}  # arn -> {key: TargetHealth}
        self._draining = {arn: set() for arn, _ in groups}
        self._conns = set()
        self._lock = threading.Lock()
        self._router = Router()
        self._stop = threading.Event()
        self._threads = []
        self._sock = None
        self.events = []  # (monotonic time, arn, "ip:port", state)
        self.routed = {}  # "ip:port" -> new connections sent there
        self.refused = 0  # new connections reset: no routable target, or the target did not accept

    # -- life --
    def start(self):
        for arn, _ in self._weights:
            self.elb.set_delays(arn, math.inf, self.timing.deregistration_delay)  # initial -> healthy is ours
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(self.listen)
        self._sock.listen(128)
        self._sock.settimeout(0.1)
        self.poll()
        for fn, name in ((self._accept_loop, "nlb-accept"), (self._health_loop, "nlb-health")):
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def close(self):
        if self.listener and getattr(self.elb, "on_weights", None) == self._weights_modified:
            self.elb.on_weights = None
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self._threads = []
        if self._sock:
            self._sock.close()
            self._sock = None
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.reset.set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def set_weights(self, groups):
        with self._lock:
            self._weights = list(groups)

    def _weights_modified(self, listener, weights):
        """The fake's ModifyListener hook: the change applies weight_delay seconds from now."""
        if listener == self.listener:
            with self._lock:
                self._pending.append((time.monotonic() + self.timing.weight_delay, list(weights)))

    def _apply_due_weights(self, now):
        """Under the lock."""
        while self._pending and self._pending[0][0] <= now:
            _, self._weights = self._pending.pop(0)
            self.weight_changes.append((now, list(self._weights)))

    def states(self, arn):
        """{"ip:port": state} of the group as the data plane holds it (draining ones included)."""
        with self._lock:
            out = {k: h.state for k, h in self._health[arn].items()}
            out.update({k: DRAINING for k in self._draining[arn]})
            return out

    def connections(self, key=None):
        with self._lock:
            return sum(1 for c in self._conns if key is None or c.key == key)

    # -- health --
    def _health_loop(self):
        pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nlb-check")
        try:
            while not self._stop.wait(self.timing.interval):
                self.poll(pool)
        finally:
            pool.shutdown(wait=False)

    def poll(self, pool=None):
        """One round: follow the fake's registrations, check every checkable target, report states."""
        now = time.monotonic()
        due = []
        for arn, _ in list(self._weights):
            due += [(arn, key) for key in self._follow(arn, now)]
        if pool is None or not due:
            return
        results = pool.map(lambda ak: self._check(_address(ak[1]), self.timing.timeout), due)
        now = time.monotonic()
        for (arn, key), passed in zip(due, results):
            with self._lock:
                h = self._health[arn].get(key)
                changed = h.step(passed, now) if h else None
            if changed:
                self._changed(arn, key, changed, now)

    def _follow(self, arn, now):
        """Takes the fake's targets of one group; returns the keys to check now."""
        try:
            listed = {"%s:%d" % (t["Id"], t["Port"]): t["State"] for t in self.elb.targets(arn)}
        except KeyError:
            listed = {}
        due = []
        for key, state in listed.items():
            h = self._health[arn].get(key)
            if state == DRAINING:
                if key not in self._draining[arn]:
                    with self._lock:
                        self._health[arn].pop(key, None)
                        self._draining[arn].add(key)
                    self.events.append((now, arn, key, DRAINING))
                continue
            if h is None or key in self._draining[arn]:
                self._adopt(arn, key, state, now)
                h = self._health[arn][key]
            if h.tick(now):
                self._changed(arn, key, h.state, now)
            if h.checkable(now):
                if h.state == INITIAL and h.since == h.seen_at:
                    h.since = now  # reported once: the check phase started
                    self._report(arn, key, h, now)
                due.append(key)
        for key in [k for k in self._draining[arn] if k not in listed]:
            with self._lock:
                self._draining[arn].discard(key)
            self.events.append((now, arn, key, "removed"))
            if self.timing.connection_termination:
                self._reset_connections(key)
        for key in [k for k in self._health[arn] if k not in listed]:
            with self._lock:
                self._health[arn].pop(key, None)
        return due

    def _adopt(self, arn, key, state, now):
        """A target seen for the first time (or registered again while draining): a new one is in
        registration; one the group already held (a stack's starting targets) keeps its state."""
        h = TargetHealth(now, self.timing, INITIAL if state == INITIAL else state)
        if state != INITIAL:
            h.ok = self.timing.healthy_threshold if state == HEALTHY else 0
        with self._lock:
            self._draining[arn].discard(key)
            self._health[arn][key] = h
        self.events.append((now, arn, key, h.state))
        self._report(arn, key, h, now)

    def _changed(self, arn, key, state, now):
        self.events.append((now, arn, key, state))
        with self._lock:
            h = self._health[arn].get(key)
        if h:
            self._report(arn, key, h, now)
        if state == UNHEALTHY and self.timing.connection_termination:
            self._reset_connections(key)

    def _report(self, arn, key, h, now):
        ip, port = _address(key)
        try:
            self.elb.set_health(arn, ip, port, h.state, h.reason(now))
        except KeyError:
            pass  # deregistered meanwhile: the next round sees it

    def _reset_connections(self, key):
        with self._lock:
            for c in self._conns:
                if c.key == key:
                    c.reset.set()

    # -- forwarding --
    def route(self):
        """(group, "ip:port") for a new connection, or (None, None)."""
        with self._lock:
            self._apply_due_weights(time.monotonic())
            group = self._router.pick_group(self._weights)
            weights = list(self._weights)
        if group is None:
            return None, None
        key = self._pick(group)
        if key is not None or self.timing.no_healthy != "spill":
            return group, key
        for other, w in weights:  # spill: a standby group with a healthy target
            if w == 0 and other != group:
                key = self._pick(other, healthy_only=True)
                if key is not None:
                    return other, key
        return group, None

    def _pick(self, group, healthy_only=False):
        """A target of the group for a new connection (no_healthy "fail_open": fail open), or None."""
        # Deregistration takes effect at once: the fake's own list, not the last health round's.
        try:
            listed = {"%s:%d" % (t["Id"], t["Port"]) for t in self.elb.targets(group) if t["State"] != DRAINING}
        except KeyError:
            listed = set()
        with self._lock:
            now = time.monotonic()
            held = {k: h for k, h in self._health[group].items() if k in listed}
            states = {k: h.state for k, h in held.items()}
            past = {k: h.checkable(now) for k, h in held.items()}
            keys = routable(states, past)
            if (healthy_only or self.timing.no_healthy != "fail_open") and HEALTHY not in [states[k] for k in keys]:
                keys = []
            return self._router.pick_target(group, keys)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="nlb-conn", daemon=True).start()

    def _serve(self, client):
        group, key = self.route()
        upstream = None
        if key is not None:
            try:
                upstream = socket.create_connection(_address(key), timeout=self.timing.connect_timeout)
            except OSError:
                upstream = None
        if upstream is None:
            self.refused += 1
            _set_rst(client)
            client.close()
            return
        self.routed[key] = self.routed.get(key, 0) + 1
        client.settimeout(None)
        upstream.settimeout(None)
        conn = _Conn(client, upstream, group, key)
        with self._lock:
            self._conns.add(conn)
        conn.relay(self._forget)

    def _forget(self, conn):
        with self._lock:
            self._conns.discard(conn)


def _address(key):
    ip, _, port = key.rpartition(":")
    return ip, int(port)
