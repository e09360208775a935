"""The local stack of README.md, "Quick start", one harness for the end-to-end tests, the demo and the
benchmarks: a private network and mount namespace, dnsmasq serving the database endpoint with a
5-second TTL, the fake ELBv2 (HTTPS, SigV4 checked by botocore) and the fake Lambda Runtime API,
with the real ./bootstrap run the way Lambda runs it (environment only, AWS_LAMBDA_RUNTIME_API).

    import stack
    stack.enter_namespace()            # first thing in the script: re-runs it under `unshare -n -m`
    with stack.LocalStack() as s:
        r = s.invoke({})                                  # ./bootstrap --invoke -
        proc = s.start_bootstrap()                        # ./bootstrap in the runtime loop
        flip = s.dns.flip_at(2.0, {stack.DB_ENDPOINT: [stack.NEW_PRIMARY]})
        res = s.lambda_invoke(stack.rds_event("RDS-EVENT-0049"))
        lag = s.elb.calls_for("RegisterTargets")[0]["time"] - flip.wait()
        fo = s.failover("aurora-orders-instance-2", after_describes=1, dns_lead_s=4.0)
        r = s.invoke(stack.rds_event("RDS-EVENT-0071", stack.CLUSTER_ID), env=s.env(**stack.CLUSTER_ENV))
        api_moved, dns_moved = fo.wait()

Parts: stack_dns.py (Dns: dnsmasq, its flips and failure modes; dns_query; resolve) and
stack_proc.py (spawn: children that die with this process; BootstrapProcess). Their public names
are re-exported here.

API
    enter_namespace() -> folder          inside_namespace(), namespace_dir()
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
    Dns: .set_records(records, cnames=None, replace=False) .nxdomain(name) .refuse() .servfail()
         .serve() .stop() .start() .restart() .pause() .resume() .flip_at(delay_s, records,
         cnames=None) -> Flip(.wait() -> monotonic time, .wall, .event) .query(name, qtype)
         .log(since=0) .log_mark() .records .cnames .mode .restarts .pid
    queries_after_answer(dns_log, name, address) -> A queries of name after the first answer giving
         address (None: never answered)
    log_record(bootstrap_log, message) -> (time.time() of the line, {key: value}) or None
    resolver_wait(attempt_s): with-block in which glibc waits attempt_s once for a silent server
    dns_query(name, qtype="A") -> DnsReply(rcode, [DnsRecord(name, type, ttl, data)])
    resolve(name, family=0) -> sorted addresses (getaddrinfo, no AI_ADDRCONFIG)
    rds_event(event_id, source_id, via="sns"|"eventbridge"), schedule_event(),
    cluster_event(event_id="RDS-EVENT-0071", cluster_id=CLUSTER_ID, new_writer=..., via="sns"|"eventbridge"),
    cloudformation_event(request_type, response_url, physical_id=None)

Every process (dnsmasq, each ./bootstrap) dies with the Python process even when it is killed;
LocalStack.close() stops them all. One LocalStack at a time per namespace (port 53).
"""
import atexit
import ctypes
import fcntl
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import namedtuple

from stack_dns import (DNS_ADDRESS, DNS_ADDRESSES, DNS_DOMAIN, DNS_TTL, DNSMASQ, GENERATION_NAME,  # noqa: F401
                       Dns, DnsRecord, DnsReply, Flip, dns_query, queries_after_answer, resolve)
from stack_proc import BootstrapProcess, end, spawn  # noqa: F401
from secret_scan import SecretScan

# ----------------------------------------------------------------- constants ---

REGION = "eu-west-1"
ACCOUNT = "111122223333"
DB_PORT = 5432
DB_IDENTIFIER = "orders-db"
DB_ENDPOINT = "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com"
OLD_PRIMARY = "10.20.1.9"
NEW_PRIMARY = "10.20.2.118"
AURORA_CLUSTER = "aurora-orders.cluster-abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_INSTANCE_1 = "aurora-orders-instance-1.abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_INSTANCE_2 = "aurora-orders-instance-2.abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_ADDRESS_1 = "10.20.1.21"
AURORA_ADDRESS_2 = "10.20.2.22"
# The cluster of the RDS API mode (README.md, "Clusters (RDS API mode)"): instance 1 the writer, 2 and 3 readers.
CLUSTER_ID = "aurora-orders"
AURORA_READER = "aurora-orders.cluster-ro-abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_INSTANCE_3 = "aurora-orders-instance-3.abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_ADDRESS_3 = "10.20.3.23"
AURORA_IDS = ["aurora-orders-instance-1", "aurora-orders-instance-2", "aurora-orders-instance-3"]
AURORA_ENDPOINTS = dict(zip(AURORA_IDS, (AURORA_INSTANCE_1, AURORA_INSTANCE_2, AURORA_INSTANCE_3)))
AURORA_ADDRESSES = dict(zip(AURORA_IDS, (AURORA_ADDRESS_1, AURORA_ADDRESS_2, AURORA_ADDRESS_3)))
PROXY_ENDPOINT = "orders-proxy.proxy-abc123xyz.eu-west-1.rds.amazonaws.com"
PROXY_ADDRESSES = ["10.20.1.31", "10.20.2.32", "10.20.3.33"]
TARGET_GROUP_ARN = ("arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
                    "targetgroup/orders-db-tg/5d2c7e41a9b3f086")
VPC_CIDR = "10.20.0.0/16"
FUNCTION_NAME = "rds-nlb-sync"
FUNCTION_ARN = "arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, FUNCTION_NAME)


# Test credentials: distinctive, so a test can grep logs for them.
ACCESS_KEY_ID = "ASIAQSTACKTESTKEY0001"
SECRET_ACCESS_KEY = "stackTestSecret/K7MDENG+bPxRfiCYSTACKKEY"
SESSION_TOKEN = ("IQoJb3JpZ2luX2VjEStackTestSessionToken/"
                 "xmNotARealTokenButLongEnoughToLookLikeOne==")

DEFAULT_RECORDS = {
    DB_ENDPOINT: [OLD_PRIMARY],
    AURORA_INSTANCE_1: [AURORA_ADDRESS_1],
    AURORA_INSTANCE_2: [AURORA_ADDRESS_2],
    AURORA_INSTANCE_3: [AURORA_ADDRESS_3],
    PROXY_ENDPOINT: list(PROXY_ADDRESSES),
}
DEFAULT_CNAMES = {AURORA_CLUSTER: AURORA_INSTANCE_1, AURORA_READER: AURORA_INSTANCE_2}
DEFAULT_TARGETS = ["%s:%d" % (OLD_PRIMARY, DB_PORT)]

# Small waits for tests: the failover wait re-resolves every 100 ms for at most 10 s.
TEST_DNS_POLL_MS = "100"
TEST_FAILOVER_WAIT_SECONDS = "10"
LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
# Variables of the test host passed to ./bootstrap although Lambda would not set them: they only
# steer sanitizers and valgrind, never the function.
PASS_THROUGH = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")

# The namespace's resolver configuration (copy it into any other root that uses the stack's DNS):
# dnsmasq moves between the two addresses on a restart, and timeouts stay short and bounded.
RESOLV_CONF = "".join("nameserver %s\n" % a for a in DNS_ADDRESSES) + "options timeout:1 attempts:2\n"
NS_VAR = "RNS_STACK_NS"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# The configuration of cluster mode for the stack's cluster.
CLUSTER_ENV = {"DB_CLUSTER_IDENTIFIER": CLUSTER_ID, "DB_ENDPOINT": None}
AURORA_MEMBERS = [(AURORA_IDS[0], True, "available", AURORA_INSTANCE_1),
                  (AURORA_IDS[1], False, "available", AURORA_INSTANCE_2),
                  (AURORA_IDS[2], False, "available", AURORA_INSTANCE_3)]


def build_dir():
    return os.path.abspath(os.environ.get("RNS_BUILD") or os.path.join(ROOT, "build"))


def bootstrap_path():
    return os.path.join(build_dir(), "bootstrap")


# ----------------------------------------------------------------- namespace ---

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_entered = False


class NamespaceError(RuntimeError):
    pass


def inside_namespace():
    return bool(os.environ.get(NS_VAR))


def namespace_dir():
    """The namespace's private tmpfs (None outside): resolv.conf, hosts, the stacks' work folders."""
    return os.environ.get(NS_VAR) or None


def enter_namespace():
    """Outside: re-runs this script (same interpreter flags, argv and environment plus RNS_STACK_NS)
    under `unshare -n -m` and exits with its status. Inside: brings lo up and bind-mounts a private
    resolv.conf (nameservers 127.0.0.1 and 127.0.0.2, timeout:1 attempts:2), hosts and
    nsswitch.conf (hosts: files dns). Returns the namespace's private folder."""
    global _entered
    ns = os.environ.get(NS_VAR)
    if not ns:
        sys.exit(_run_in_namespace())
    if not _entered:
        try:
            _set_up_inside(ns)
        except OSError as e:
            sys.stderr.write("stack: cannot set up the private namespace: %s\n" % e)
            sys.exit(2)
        _entered = True
    return ns


def _run_in_namespace():
    parent = tempfile.mkdtemp(prefix="rns-stack-ns-")
    argv = ["unshare", "-n", "-m"]
    if os.geteuid() != 0:
        argv.append("-r")  # a user namespace grants the capabilities to mount and bind port 53
    argv += ["--", sys.executable] + sys.orig_argv[1:]
    env = dict(os.environ)
    env[NS_VAR] = parent
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child handles ^C and cleans up
    try:
        proc = subprocess.Popen(argv, env=env)
        code = proc.wait()
    except FileNotFoundError:
        code, proc = 127, None
    finally:
        signal.signal(signal.SIGINT, old)
    entered = os.path.exists(os.path.join(parent, ".entered"))
    shutil.rmtree(parent, ignore_errors=True)
    if not entered:
        sys.stderr.write(
            "stack: cannot create a private network and mount namespace: `%s` %s.\n"
            "stack: the local stack needs `unshare -n -m` (util-linux), which needs root or "
            "unprivileged user namespaces; in a container it needs CAP_SYS_ADMIN "
            "(e.g. docker run --privileged).\n"
            % (" ".join(argv[:argv.index("--")]),
               "was not found" if proc is None else "failed with status %d" % code))
        return code or 1
    return 128 - code if code < 0 else code


def _set_up_inside(ns):
    if os.path.ismount(ns):
        return  # a child process of the script: the namespace is ready
    # Visible to the parent before the tmpfs hides it: proof that unshare worked.
    open(os.path.join(ns, ".entered"), "w").close()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _loopback_up()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", ns, "tmpfs", 0, "mode=0700,size=256m")
    _bind_file(ns, "resolv.conf", RESOLV_CONF)
    _bind_file(ns, "hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    if os.path.exists("/etc/nsswitch.conf"):
        # Only files and dns: no nss module (resolve, mdns) may reach a resolver outside.
        with open("/etc/nsswitch.conf") as f:
            lines = [l for l in f.read().splitlines() if not l.startswith("hosts:")]
        _bind_file(ns, "nsswitch.conf", "\n".join(lines + ["hosts: files dns"]) + "\n")


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None
    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount %s on %s: %s" % (source or fstype or "", target, os.strerror(err)))


def _bind_file(ns, name, text):
    path = os.path.join(ns, name)
    with open(path, "w") as f:
        f.write(text)
    _mount(path, os.path.realpath(os.path.join("/etc", name)), None, MS_BIND)


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH22x", b"lo", 0))
        flags = struct.unpack("16sH", ifr[:18])[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


# ------------------------------------------------------------------ events ---

def rds_event(event_id="RDS-EVENT-0049", source_id=DB_IDENTIFIER, via="sns"):
    """An RDS event notification as RDS sends it, through SNS (via="sns") or EventBridge
    (via="eventbridge")."""
    number = event_id.rsplit("-", 1)[-1]
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    if via == "eventbridge":
        return {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                "detail-type": "RDS DB Instance Event", "source": "aws.rds", "account": ACCOUNT,
                "time": now[:19] + "Z", "region": REGION,
                "resources": ["arn:aws:rds:%s:%s:db:%s" % (REGION, ACCOUNT, source_id)],
                "detail": {"EventCategories": ["failover"], "SourceType": "DB_INSTANCE",
                           "SourceArn": "arn:aws:rds:%s:%s:db:%s" % (REGION, ACCOUNT, source_id),
                           "Date": now, "Message": "Multi-AZ instance failover completed.",
                           "SourceIdentifier": source_id, "EventID": event_id}}
    message = {"Event Source": "db-instance", "Event Time": now.replace("T", " ")[:23],
               "Identifier Link": "https://console.aws.amazon.com/rds/home?region=%s#dbinstance:id=%s"
               % (REGION, source_id),
               "Source ID": source_id, "Source ARN": "arn:aws:rds:%s:%s:db:%s" % (REGION, ACCOUNT, source_id),
               "Event ID": "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/"
                           "USER_Events.html#RDS-EVENT-%s" % number,
               "Event Message": "Multi-AZ instance failover completed."}
    topic = "arn:aws:sns:%s:%s:rds-failover" % (REGION, ACCOUNT)
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "EventSubscriptionArn": topic + ":0f3c8e2a-5b7d-4c19-9e6a-2d8b1f4a7c30",
                         "Sns": {"Type": "Notification",
                                 "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                                 "TopicArn": topic, "Subject": "RDS Notification Message",
                                 "Message": json.dumps(message), "Timestamp": now,
                                 "SignatureVersion": "1", "Signature": "EXAMPLE",
                                 "SigningCertUrl": "https://sns.%s.amazonaws.com/cert.pem" % REGION,
                                 "UnsubscribeUrl": "https://sns.%s.amazonaws.com/?Action=Unsubscribe"
                                 % REGION, "MessageAttributes": {}}}]}


CLUSTER_EVENT_MESSAGES = {
    "RDS-EVENT-0071": "Completed failover to DB instance: %s",
    "RDS-EVENT-0072": "Started same AZ failover to DB instance: %s",
    "RDS-EVENT-0073": "Started cross AZ failover to DB instance: %s",
    "RDS-EVENT-0069": "Cluster failover failed, check the health of your cluster instances and try again.",
}


def cluster_event(event_id="RDS-EVENT-0071", cluster_id=CLUSTER_ID, new_writer=AURORA_IDS[1], via="sns"):
    """A DB cluster event (Event Source db-cluster, SourceType CLUSTER) through SNS or EventBridge;
    the failover messages name new_writer, as RDS's do."""
    text = CLUSTER_EVENT_MESSAGES.get(event_id, "DB cluster event.")
    text = text % new_writer if "%s" in text else text
    ev = rds_event(event_id, cluster_id, via)
    arn = "arn:aws:rds:%s:%s:cluster:%s" % (REGION, ACCOUNT, cluster_id)
    if via == "eventbridge":
        ev["detail-type"] = "RDS DB Cluster Event"
        ev["resources"] = [arn]
        ev["detail"].update(SourceType="CLUSTER", SourceArn=arn, Message=text)
        return ev
    sns = ev["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    message.update({"Event Source": "db-cluster", "Source ARN": arn, "Event Message": text,
                    "Identifier Link": "https://console.aws.amazon.com/rds/home?region=%s#database:id=%s;"
                                       "is-cluster=true" % (REGION, cluster_id)})
    sns["Message"] = json.dumps(message)
    return ev


class resolver_wait:
    """with stack.resolver_wait(10): glibc waits attempt_s seconds, once, for a silent server
    (resolv.conf rewritten in place: /etc/resolv.conf is a bind mount of it), instead of the
    stack's timeout:1 attempts:2. A case that tells a cut of ours from glibc's own answer makes that
    answer come late, so its bound can leave room for a busy machine."""

    def __init__(self, attempt_s):
        self.path = os.path.join(namespace_dir(), "resolv.conf")
        self.text = RESOLV_CONF.replace("timeout:1 attempts:2", "timeout:%d attempts:1" % attempt_s)
        self.saved = None

    def __enter__(self):
        with open(self.path) as f:
            self.saved = f.read()
        with open(self.path, "w") as f:
            f.write(self.text)
        return self

    def __exit__(self, *exc):
        with open(self.path, "w") as f:
            f.write(self.saved)


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


def schedule_event():
    return {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": ACCOUNT, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION, "resources": ["arn:aws:events:%s:%s:rule/rds-nlb-sync-schedule" % (REGION, ACCOUNT)],
            "detail": {}}


CFN_SIGNATURE = "cfnPresignedSignatureStackTest0123456789abcdef"


def cloudformation_event(request_type, response_url, physical_id=None, request_id=None):
    """A CloudFormation custom resource request (Create, Update or Delete) for our function."""
    ev = {"RequestType": request_type, "ServiceToken": FUNCTION_ARN, "ResponseURL": response_url,
          "StackId": "arn:aws:cloudformation:%s:%s:stack/orders-privatelink/"
                     "1c2d3e4f-0000-4000-8000-000000000001" % (REGION, ACCOUNT),
          "RequestId": request_id or "req-%s-%08x" % (request_type.lower(), random.getrandbits(32)),
          "ResourceType": "Custom::TargetSync", "LogicalResourceId": "InitialTargets",
          "ResourceProperties": {"ServiceToken": FUNCTION_ARN}}
    if physical_id is not None:
        ev["PhysicalResourceId"] = physical_id
    if request_type == "Update":
        ev["OldResourceProperties"] = {"ServiceToken": FUNCTION_ARN}
    return ev


class CfnReceiver:
    """Stands in for the presigned S3 URL a custom resource answers to: records every request
    (dict method, path, headers, body, json, time) and answers 200, or a status queued with
    fail_next()."""

    def __init__(self):
        import http.server
        receiver = self
        self.responses = []
        self._fail = []
        self._cond = threading.Condition()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                with receiver._cond:
                    status = receiver._fail.pop(0) if receiver._fail else 200
                    receiver.responses.append(dict(method=self.command, path=self.path, body=body, json=parsed,
                                                   headers={k.lower(): v for k, v in self.headers.items()},
                                                   time=time.monotonic(), status=status))
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_PUT

        self._server = http.server.ThreadingHTTPServer((DNS_ADDRESS, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="stack-cfn", daemon=True)
        self._thread.start()

    def url(self, path="/cfn-response"):
        """A URL shaped like a presigned S3 URL; its signature must never reach a log line."""
        return "http://%s:%d%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=%s" % (
            DNS_ADDRESS, self.port, path, CFN_SIGNATURE)

    def fail_next(self, status, count=1):
        with self._cond:
            self._fail += [status] * count

    def wait(self, count=1, timeout=60.0):
        """The first `count` requests received, once they have arrived."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.responses) >= count, timeout):
                raise TimeoutError("%d CloudFormation response(s) within %.1fs, want %d"
                                   % (len(self.responses), timeout, count))
            return list(self.responses[:count])

    def reset(self):
        with self._cond:
            self.responses, self._fail = [], []

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


# ------------------------------------------------------------------ the stack ---

Invocation = namedtuple("Invocation", "code stdout json stderr elapsed")


class ClusterFailover:
    """A failover staged on the stack: the writer moves in the fake RDS, then the cluster
    endpoint's DNS record follows dns_lead_s later (see LocalStack.failover)."""

    def __init__(self, s, new_writer, dns_lead_s, dns_not_before, dns_cap_s):
        self.s, self.new_writer, self.dns_lead_s = s, new_writer, dns_lead_s
        self.dns_not_before, self.dns_cap_s = dns_not_before, dns_cap_s
        self.api_time = self.dns_time = self.error = None
        self.dns_capped = False  # the DNS move came at dns_cap_s, not after dns_not_before
        self.done = threading.Event()

    def move_api(self):
        try:
            self.s.move_writer(self.new_writer)
            self.api_time = time.monotonic()
            threading.Thread(target=self._move_dns, name="stack-failover", daemon=True).start()
        except Exception as e:  # handed to wait()
            self.error = e
            self.done.set()

    def _move_dns(self):
        try:
            time.sleep(max(0.0, self.api_time + self.dns_lead_s - time.monotonic()))
            if self.dns_not_before is not None:
                self.dns_capped = not self.dns_not_before.wait(max(0.0, self.api_time + self.dns_cap_s
                                                                   - time.monotonic()))
            self.dns_time = self.s.move_cluster_dns(self.new_writer)
        except Exception as e:  # handed to wait()
            self.error = e
        self.done.set()

    def wait(self, timeout=60):
        """(monotonic time the API moved, monotonic time dnsmasq served the new cluster record)."""
        if not self.done.wait(timeout):
            raise TimeoutError("the staged failover did not finish within %s s (API moved: %s)"
                               % (timeout, self.api_time is not None))
        if self.error:
            raise self.error
        return self.api_time, self.dns_time


class LocalStack:
    """dnsmasq + FakeElbv2 + FakeRuntime, and ./bootstrap run as Lambda runs it. Needs
    enter_namespace() first. All parts are stopped by close() / the with-block's end."""

    def __init__(self, tls=True, records=None, cnames=None, targets=None, target_group=TARGET_GROUP_ARN,
                 domains=(DNS_DOMAIN,), wrapper=None, healthy_after=0.2, deregistration_delay=0.3,
                 elb_options=None, runtime_options=None, log_queries=True):
        if not inside_namespace():
            raise NamespaceError("LocalStack runs dnsmasq on 127.0.0.1:53: call stack.enter_namespace() first")
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
        """At exit: a secret in any output of the bootstrap is a failed case of the suite."""
        for fake in (self.elb, self.rds):
            if fake:
                self.scan.harvest(fake.calls)
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
        DEFAULT_TARGETS), no ELBv2 faults, no recorded ELBv2 calls or CloudFormation responses.
        `group`: add_target_group options (state, healthy_after, ...)."""
        self.dns.set_records(dict(DEFAULT_RECORDS if records is None else records),
                             dict(DEFAULT_CNAMES if cnames is None else cnames), replace=True)
        self.elb.clear_faults()
        self.elb.add_target_group(self.target_group_arn, list(DEFAULT_TARGETS if targets is None else targets),
                                  **dict(dict(vpc_cidr=VPC_CIDR, port=DB_PORT), **group))
        self.scan.harvest(self.elb.calls)
        self.elb.reset_calls()
        self.reset_cluster()
        self.cfn.reset()

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
