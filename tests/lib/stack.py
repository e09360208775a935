"""The local stack of README.md, "Quick start", one harness for the end-to-end tests, the demo and the
benchmarks: in the private namespace (netns.py), dnsmasq serving the database endpoint with a
5-second TTL, the fake ELBv2 and RDS (HTTPS, SigV4 checked by botocore), the fake Lambda Runtime API
and the CloudFormation receiver, with the real ./bootstrap run the way Lambda runs it (environment
only, AWS_LAMBDA_RUNTIME_API).

    # a suite saying `# rns: namespace` (tests/run.py starts it through netns.py)
    import const, events, stack
    with stack.LocalStack() as s:
        r = s.invoke({})                                  # ./bootstrap --invoke -
        proc = s.start_bootstrap()                        # ./bootstrap in the runtime loop
        flip = s.dns.flip_at(2.0, {const.DB_ENDPOINT: [const.NEW_PRIMARY]})
        res = s.lambda_invoke(events.rds_event("RDS-EVENT-0049"))
        lag = s.elb.calls_for("RegisterTargets")[0]["time"] - flip.wait()
        fo = s.failover("aurora-orders-instance-2", after_describes=1, dns_lead_s=4.0)
        r = s.invoke(events.rds_event("RDS-EVENT-0071", const.CLUSTER_ID), env=s.env(**const.CLUSTER_ENV))
        api_moved, dns_moved = fo.wait()

The vocabulary lives in its own modules: const.py (names, addresses, credentials, error types),
events.py (the events), netns.py (the namespace), stack_dns.py (Dns: dnsmasq, its flips and failure
modes; dns_query; resolve), stack_proc.py (spawn: children that die with this process;
BootstrapProcess), stack_failover.py (ClusterFailover), fake_cfn.py (CfnReceiver) and the fakes.

API
    LocalStack(tls=True, records=None, cnames=None, targets=None, target_group=TARGET_GROUP_ARN,
               domains=(DNS_DOMAIN,), wrapper=None, healthy_after=0.2, deregistration_delay=0.3,
               elb_options=None, runtime_options=None, log_queries=True)
      .start() / .close() (or with), .started_in (s), .dir, .task_root, .bootstrap_path (settable)
      .dns (Dns), .elb (FakeElbv2), .rds (FakeRds), .runtime (FakeRuntime), .cfn (CfnReceiver)
      .env(**overrides) -> dict             .lambda_env(env=None, **overrides) -> dict
      .invoke(event, env=None, timeout=60) -> Invocation(code, stdout, json, stderr, elapsed)
      .start_bootstrap(env=None, **overrides) -> BootstrapProcess (Popen + .output(), .lines,
                                               .wait_output(text), .finish())
      .stop_bootstrap(proc) -> exit status   .lambda_invoke(event, deadline_ms=None, timeout=60)
      .reset(targets=None, records=None, cnames=None, **group)   .registered()
      .clear_calls(*fakes)           forgets the fakes' recorded calls, their signatures kept for .scan
      .reset_cluster(members=None)   the fake RDS back to CLUSTER_ID with AURORA_MEMBERS (or members),
                                     no faults, no calls, page size 100
      .move_writer(member_id)        IsClusterWriter moves in the API (None: no writer); DNS unchanged
      .move_cluster_dns(member_id)   the cluster endpoint's CNAME moves to that member's endpoint;
                                     returns the monotonic time dnsmasq served it
      .failover(new_writer, after_describes=None, api_after_s=None, dns_lead_s=4.0, dns_not_before=None,
                dns_cap_s=30) -> ClusterFailover: the writer moves in the API (after the n-th
                DescribeDBClusters answer, or api_after_s from now), then the cluster endpoint's
                DNS dns_lead_s later (and not before the Event dns_not_before, waited at most
                dns_cap_s); .wait() -> (api monotonic time, DNS monotonic time)
      .scan: a SecretScan (secret_scan.py) of every output of every ./bootstrap run here; a secret,
             a signature or the ResponseURL's signature in one is printed at exit as
             `not ok - stack_outputs_hold_no_secret`, a failed case of the suite
    log_record(bootstrap_log, message) -> (time.time() of the line, {key: value}) or None
    build_dir(), bootstrap_path()

Every process (dnsmasq, each ./bootstrap) dies with the Python process even when it is killed;
LocalStack.close() stops them all. One LocalStack at a time per namespace (port 53).
"""
import atexit
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections import namedtuple

from const import (ACCESS_KEY_ID, AURORA_CLUSTER, AURORA_ENDPOINTS, AURORA_MEMBERS, AURORA_READER, CFN_SIGNATURE,
                   CLUSTER_ID, DB_ENDPOINT, DB_PORT, DEFAULT_CNAMES, DEFAULT_RECORDS, DEFAULT_TARGETS, FUNCTION_ARN,
                   FUNCTION_NAME, REGION, SECRET_ACCESS_KEY, SESSION_TOKEN, TARGET_GROUP_ARN, VPC_CIDR)
from fake_cfn import CfnReceiver
from netns import NamespaceError, inside_namespace, namespace_dir
from secret_scan import SecretScan
from stack_dns import DNS_DOMAIN, Dns
from stack_failover import ClusterFailover
from stack_proc import BootstrapProcess, end, spawn

# Small waits for tests: the failover wait re-resolves every 100 ms for at most 10 s.
TEST_DNS_POLL_MS = "100"
TEST_FAILOVER_WAIT_SECONDS = "10"
LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
# Variables of the test host passed to ./bootstrap although Lambda would not set them: they only
# steer sanitizers and valgrind, never the function.
PASS_THROUGH = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_dir():
    return os.path.abspath(os.environ.get("RNS_BUILD") or os.path.join(ROOT, "build"))


def bootstrap_path():
    return os.path.join(build_dir(), "bootstrap")


def log_record(text, message):
    """The first line of a ./bootstrap log (README.md, "Logs and metrics": time, level, request id,
    message, then key=value fields) whose message is `message`: (its time as time.time() gives it,
    {key: value text}); None when no line has it. The times order the program's own steps against
    a Flip's .wall without a wall-clock budget."""
    import datetime
    import re
    for line in text.splitlines():
        parts = line.split("\t", 3)
        if len(parts) == 4 and (parts[3] == message or parts[3].startswith(message + " ")):
            when = datetime.datetime.strptime(parts[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            rest = parts[3][len(message):]
            return when, dict(re.findall(r"(\w+)=(\[[^\]]*\]|\S+)", rest))
    return None


# ------------------------------------------------------------------ the stack ---

Invocation = namedtuple("Invocation", "code stdout json stderr elapsed")


class LocalStack:
    """dnsmasq + FakeElbv2 + FakeRds + FakeRuntime + CfnReceiver, and ./bootstrap run as Lambda runs
    it. Runs inside the private namespace (netns.py) only. All parts are stopped by close() / the with-block's end."""

    def __init__(self, tls=True, records=None, cnames=None, targets=None, target_group=TARGET_GROUP_ARN,
                 domains=(DNS_DOMAIN,), wrapper=None, healthy_after=0.2, deregistration_delay=0.3,
                 elb_options=None, runtime_options=None, log_queries=True):
        if not inside_namespace():
            raise NamespaceError("LocalStack runs dnsmasq on 127.0.0.1:53: run the suite inside the private "
                                 "namespace (tests/run.py does; by hand: /usr/bin/python3 tests/lib/netns.py SUITE)")
        self.tls = tls
        self.target_group_arn = target_group
        self.wrapper = list(wrapper or [])
        self.bootstrap_path = bootstrap_path()
        self._records = dict(DEFAULT_RECORDS if records is None else records)
        self._cnames = dict(DEFAULT_CNAMES if cnames is None else cnames)
        self._targets = list(DEFAULT_TARGETS if targets is None else targets)
        self._domains = domains
        self._elb_options = dict(healthy_after=healthy_after, deregistration_delay=deregistration_delay,
                                 **(elb_options or {}))
        self._runtime_options = dict(runtime_options or {})
        self._log_queries = log_queries
        self._procs = []
        self._closed = False
        # Every output of every ./bootstrap run here, searched at exit (README.md, "Logs and metrics").
        self.scan = SecretScan({SECRET_ACCESS_KEY: "the secret access key", SESSION_TOKEN: "the session token"})
        self.scan.secret(CFN_SIGNATURE, "the signature of the stack's ResponseURL")
        self.dir = self.dns = self.elb = self.rds = self.runtime = self.cfn = None
        self.task_root = None
        self.started_in = None  # seconds start() took

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self):
        from fake_elbv2 import FakeElbv2
        from fake_rds import FakeRds
        from fake_runtime import FakeRuntime
        t0 = time.monotonic()
        try:
            self.dir = tempfile.mkdtemp(prefix="stack-", dir=namespace_dir())
            self.task_root = os.path.join(self.dir, "task")
            os.mkdir(self.task_root)
            self.dns = Dns(self.dir, self._records, self._cnames, self._domains, log_queries=self._log_queries)
            self.dns.start()
            self.elb = FakeElbv2(region=REGION, access_key=ACCESS_KEY_ID, secret_key=SECRET_ACCESS_KEY,
                                 session_token=SESSION_TOKEN, tls=self.tls, **self._elb_options)
            self.elb.start()
            if self.target_group_arn:
                self.elb.add_target_group(self.target_group_arn, self._targets, vpc_cidr=VPC_CIDR,
                                          port=DB_PORT)
            self.rds = FakeRds(region=REGION, access_key=ACCESS_KEY_ID, secret_key=SECRET_ACCESS_KEY,
                               session_token=SESSION_TOKEN, tls=self.tls)
            self.rds.start()
            self.reset_cluster()
            self.runtime = FakeRuntime(function_arn=FUNCTION_ARN, **self._runtime_options)
            self.runtime.start()
            self.cfn = CfnReceiver()
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - t0
        atexit.register(self._report_leaks)
        return self

    def _report_leaks(self):
        """At exit: a secret in any output of the bootstrap is a failed case of the suite, and so is
        a signature the fakes received that never reached the scan (a reset that forgot the
        recorded calls without clear_calls()): the search would not have covered that case."""
        missed = set()
        for fake in (self.elb, self.rds):
            if fake:
                self.scan.harvest(fake.calls)
                missed |= self.scan.missed(fake.authorizations)
        if missed:
            print("not ok - stack_scan_saw_every_signature: %d signature(s) the fakes received never reached "
                  "the secret scan; forget recorded calls with LocalStack.clear_calls()" % len(missed), flush=True)
        if self.scan.found():
            print("not ok - stack_outputs_hold_no_secret: %s" % self.scan.report(), flush=True)

    def close(self):
        """Stops every part (idempotent); .elb.calls, .runtime.requests and .dns stay readable."""
        for p in self._procs:
            end(p)
        self._procs = []
        if self._closed:
            return
        self._closed = True
        if self.cfn:
            self.cfn.stop()
        if self.runtime:
            self.runtime.stop()
        if self.elb:
            self.elb.stop()
        if self.rds:
            self.rds.stop()
        if self.dns:
            self.dns.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # -- environments --
    def env(self, **overrides):
        """The function's configuration and credentials, as the template sets them, plus PATH;
        nothing else from the host. A None value removes the variable."""
        env = {
            "PATH": LAMBDA_PATH,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_SESSION_TOKEN": SESSION_TOKEN,
            "AWS_REGION": REGION,
            "TARGET_GROUP_ARN": self.target_group_arn or TARGET_GROUP_ARN,
            "DB_ENDPOINT": DB_ENDPOINT,
            "DB_PORT": str(DB_PORT),
            "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": self.elb.url,
            "AWS_ENDPOINT_URL_RDS": self.rds.url,
            "DNS_POLL_MS": TEST_DNS_POLL_MS,
            "FAILOVER_WAIT_SECONDS": TEST_FAILOVER_WAIT_SECONDS,
        }
        if self.elb.ca_file:
            env["AWS_CA_BUNDLE"] = self.elb.ca_file
        for name in PASS_THROUGH:
            if os.environ.get(name):
                env[name] = os.environ[name]
        return _apply_overrides(env, overrides)

    def lambda_env(self, env=None, **overrides):
        """env (default self.env()) plus what Lambda itself sets for a provided.al2023 function:
        AWS_LAMBDA_RUNTIME_API, function name, memory, version, log group and stream, task root,
        AWS_DEFAULT_REGION, LANG, TZ, LD_LIBRARY_PATH. Variables already in env win."""
        env = dict(self.env() if env is None else env)
        stream = time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + "%032x" % random.getrandbits(128)
        provided = {
            "AWS_LAMBDA_RUNTIME_API": self.runtime.address,
            "_HANDLER": "bootstrap",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + FUNCTION_NAME,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            "LAMBDA_TASK_ROOT": self.task_root,
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LD_LIBRARY_PATH": "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        }
        for k, v in provided.items():
            env.setdefault(k, v)
        return _apply_overrides(env, overrides)

    # -- running ./bootstrap --
    def _argv(self, *args):
        if not os.access(self.bootstrap_path, os.X_OK):
            raise FileNotFoundError("%s is missing: build it first (make BUILD=%s)"
                                    % (self.bootstrap_path, os.path.relpath(build_dir(), ROOT)))
        return self.wrapper + [self.bootstrap_path] + list(args)

    def invoke(self, event, env=None, timeout=60, args=("--invoke", "-")):
        """./bootstrap --invoke - with the event on stdin (dict/list -> JSON, str/bytes as they are)
        and env (a whole environment, default self.env()). Returns Invocation(code, stdout, json,
        stderr, elapsed)."""
        data = event if isinstance(event, bytes) else \
            event.encode() if isinstance(event, str) else json.dumps(event).encode()
        t0 = time.monotonic()
        proc = spawn(self._argv(*args), env=self.env() if env is None else env, cwd=self.task_root,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise TimeoutError("bootstrap --invoke ran over %ss; stderr:\n%s" % (timeout, err.decode(errors="replace")[-3000:]))
        elapsed = time.monotonic() - t0
        text = out.decode(errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        self.scan.add("--invoke", text + err.decode(errors="replace"))
        return Invocation(proc.returncode, text, parsed, err.decode(errors="replace"), elapsed)

    def start_bootstrap(self, env=None, **overrides):
        """./bootstrap in the runtime loop, as Lambda starts it: no arguments, cwd the (empty) task
        root, stdin /dev/null, environment only: self.lambda_env(env, **overrides).
        Returns a BootstrapProcess (a Popen with .output(), .wait_output(), .finish())."""
        proc = spawn(self._argv(), cls=BootstrapProcess, env=self.lambda_env(env, **overrides),
                     cwd=self.task_root, stdin=subprocess.DEVNULL)
        self._procs.append(proc)
        self.scan.add_proc("runtime loop", proc)
        return proc

    def lambda_invoke(self, event, deadline_ms=None, timeout=60, **enqueue_options):
        """Queues the event at the fake Runtime API and waits for the function's result:
        dict(kind "response"|"error", request_id, headers, body, json, status_sent, time_ns).
        deadline_ms: absolute Unix ms, or None for now + the runtime's timeout_ms."""
        rid = self.runtime.enqueue(event, deadline_ms=deadline_ms, **enqueue_options)
        return self.runtime.wait_result(rid, timeout)

    def stop_bootstrap(self, proc, timeout=60.0):
        """Ends a runtime loop the way the fake can (GET /next answers 500 once the queue is empty)
        and waits; kills it if it does not exit. Returns its exit status."""
        self.runtime.exit_when_drained()
        try:
            return proc.finish(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.finish(timeout)
        finally:
            self.runtime.exit_when_drained(None)  # GET /next long-polls again for the next loop

    def reset(self, targets=None, records=None, cnames=None, **group):
        """Back to the starting state between cases: DNS serving `records`/`cnames` (default the
        DEFAULT_ ones) and nothing else, the default target group holding `targets` (default
        DEFAULT_TARGETS), no ELBv2 faults, no recorded ELBv2 or RDS calls or CloudFormation responses.
        `group`: add_target_group options (state, healthy_after, ...)."""
        self.dns.set_records(dict(DEFAULT_RECORDS if records is None else records),
                             dict(DEFAULT_CNAMES if cnames is None else cnames), replace=True)
        self.elb.clear_faults()
        self.elb.add_target_group(self.target_group_arn, list(DEFAULT_TARGETS if targets is None else targets),
                                  **dict(dict(vpc_cidr=VPC_CIDR, port=DB_PORT), **group))
        self.clear_calls()
        self.reset_cluster()
        self.cfn.reset()

    def clear_calls(self, *fakes):
        """Forgets the recorded calls of fakes (default: the ELBv2 and the RDS); their signatures stay
        with .scan, so that the search at exit covers every case, not only the last one."""
        for fake in fakes or (self.elb, self.rds):
            self.scan.harvest(fake.calls)
            fake.reset_calls()

    # -- the cluster (RDS API mode) --
    def reset_cluster(self, members=None, **cluster):
        """The fake RDS holding only CLUSTER_ID (members default AURORA_MEMBERS; cluster: add_cluster
        options), no faults, no on_call hooks, no recorded calls (their signatures kept for the scan), page
        size 100."""
        self.rds.clear_faults()
        self.scan.harvest(self.rds.calls)
        self.rds.reset_calls()
        self.rds.page_size = 100
        self.rds.clear_hooks()
        self.rds.clear_clusters()
        opts = dict(dict(endpoint=AURORA_CLUSTER, reader_endpoint=AURORA_READER, port=DB_PORT), **cluster)
        self.rds.add_cluster(CLUSTER_ID, AURORA_MEMBERS if members is None else members, **opts)

    def move_writer(self, member_id):
        self.rds.set_writer(CLUSTER_ID, member_id)

    def move_cluster_dns(self, member_id):
        return self.dns.set_records({}, cnames={AURORA_CLUSTER: AURORA_ENDPOINTS[member_id]})

    def failover(self, new_writer, after_describes=None, api_after_s=None, dns_lead_s=4.0,
                 dns_not_before=None, dns_cap_s=30.0):
        fo = ClusterFailover(self, new_writer, dns_lead_s, dns_not_before, dns_cap_s)
        if after_describes is not None:
            self.rds.on_call("DescribeDBClusters", after_describes, fo.move_api)
        else:
            timer = threading.Timer(api_after_s or 0.0, fo.move_api)
            timer.daemon = True
            timer.start()
        return fo

    def registered(self):
        """Sorted "ip:port" of the default target group's targets that are not draining."""
        return self.elb.registered(self.target_group_arn)


def _apply_overrides(env, overrides):
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env
