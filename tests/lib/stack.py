"""The local stack of CONTRACT.md section 8, one harness for the end-to-end tests, the demo and the
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

DNS (s.dns, class Dns): dnsmasq on 127.0.0.1:53 with --no-resolv --no-hosts --local-ttl=5. Names
under DNS_DOMAIN without a record answer NXDOMAIN; other unknown names answer REFUSED (no upstream).
Address records live in an addn-hosts file that dnsmasq re-reads on SIGHUP; CNAMEs are command-line
data dnsmasq reads only at start, so a CNAME change restarts it. A restart leaves a gap of a few
milliseconds in which queries fail at once (connection refused -> EAI_AGAIN); Dns.restarts counts them.
Every change is confirmed before the call returns: the hosts file carries a generation marker record
(GENERATION_NAME) that is queried until dnsmasq serves the new generation, so the returned monotonic
time is a moment at which the new answer is already being served.

getaddrinfo sees the failure modes as: nxdomain() -> EAI_NONAME at once; refuse(), servfail() and
stop() -> EAI_AGAIN at once; pause() -> EAI_AGAIN after the resolver timeout (timeout:1 attempts:2
in the namespace's resolv.conf, so about 2 s). dns_query() tells REFUSED, SERVFAIL, CONNREFUSED and
TIMEOUT apart on the wire.

Processes: dnsmasq and every ./bootstrap are started through setpriv --pdeathsig KILL from one
long-lived thread, so they die with the Python process even when it is killed; LocalStack.close()
stops them all.
"""
import atexit
import ctypes
import errno
import fcntl
import ipaddress
import json
import os
import queue
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
PROXY_ENDPOINT = "orders-proxy.proxy-abc123xyz.eu-west-1.rds.amazonaws.com"
PROXY_ADDRESSES = ["10.20.1.31", "10.20.2.32", "10.20.3.33"]
TARGET_GROUP_ARN = ("arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
                    "targetgroup/orders-db-tg/5d2c7e41a9b3f086")
VPC_CIDR = "10.20.0.0/16"
FUNCTION_NAME = "rds-nlb-sync"
FUNCTION_ARN = "arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, FUNCTION_NAME)

DNS_DOMAIN = "rds.amazonaws.com"
DNS_TTL = 5
DNS_ADDRESS = "127.0.0.1"
GENERATION_NAME = "rns-stack-generation.invalid"

# Test credentials: distinctive, so a test can grep logs for them.
ACCESS_KEY_ID = "ASIAQSTACKTESTKEY0001"
SECRET_ACCESS_KEY = "stackTestSecret/K7MDENG+bPxRfiCYSTACKKEY"
SESSION_TOKEN = ("IQoJb3JpZ2luX2VjEStackTestSessionToken/"
                 "xmNotARealTokenButLongEnoughToLookLikeOne==")

DEFAULT_RECORDS = {
    DB_ENDPOINT: [OLD_PRIMARY],
    AURORA_INSTANCE_1: [AURORA_ADDRESS_1],
    AURORA_INSTANCE_2: [AURORA_ADDRESS_2],
    PROXY_ENDPOINT: list(PROXY_ADDRESSES),
}
DEFAULT_CNAMES = {AURORA_CLUSTER: AURORA_INSTANCE_1}
DEFAULT_TARGETS = ["%s:%d" % (OLD_PRIMARY, DB_PORT)]

# Small waits for tests: the failover wait re-resolves every 100 ms for at most 10 s.
TEST_DNS_POLL_MS = "100"
TEST_FAILOVER_WAIT_SECONDS = "10"
LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
# Variables of the test host passed to ./bootstrap although Lambda would not set them: they only
# steer sanitizers and valgrind, never the function.
PASS_THROUGH = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")

NS_VAR = "RNS_STACK_NS"
DNSMASQ = "/usr/sbin/dnsmasq"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_dir():
    return os.path.abspath(os.environ.get("RNS_BUILD") or os.path.join(ROOT, "build"))


def bootstrap_path():
    return os.path.join(build_dir(), "bootstrap")


def log(msg):
    sys.stderr.write("stack: %s\n" % msg)
    sys.stderr.flush()


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
    resolv.conf (nameserver 127.0.0.1, timeout:1 attempts:2), hosts and nsswitch.conf. Returns the
    namespace's private folder."""
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
    _bind_file(ns, "resolv.conf", "nameserver %s\noptions timeout:1 attempts:2\n" % DNS_ADDRESS)
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


# ------------------------------------------------------------------ processes ---

class _Spawner:
    """Starts every child from one thread that lives as long as the process: a parent-death signal
    fires when the creating *thread* ends, and a flip_at timer thread ends at once."""

    def __init__(self):
        self._jobs = queue.Queue()
        self.pdeathsig = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []
        self._thread = threading.Thread(target=self._run, name="stack-spawner", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            fn, box, done = self._jobs.get()
            try:
                box.append((True, fn()))
            except BaseException as e:  # handed to the caller
                box.append((False, e))
            done.set()

    def popen(self, argv, cls=subprocess.Popen, **kw):
        argv = self.pdeathsig + list(argv)
        if threading.current_thread() is self._thread:
            return cls(argv, **kw)
        box, done = [], threading.Event()
        self._jobs.put((lambda: cls(argv, **kw), box, done))
        done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        return value


_spawner = None
_spawner_lock = threading.Lock()


def spawn(argv, cls=subprocess.Popen, **kw):
    """subprocess.Popen that dies with this process (parent-death signal KILL)."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.popen(argv, cls=cls, **kw)


def _end(proc, grace=1.0):
    """Stops a child (also a stopped one) and reaps it."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass


# ------------------------------------------------------------------ DNS wire ---

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
DnsRecord = namedtuple("DnsRecord", "name type ttl data")
DnsReply = namedtuple("DnsReply", "rcode records")  # rcode: RCODES name, "TIMEOUT" or "CONNREFUSED"


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _decode_name(msg, off):
    labels, end, hops = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            hops += 1
            if hops > 32:
                raise ValueError("DNS name compression loop")
            continue
        if n == 0:
            return ".".join(labels), (end if end is not None else off + 1)
        labels.append(msg[off + 1:off + 1 + n].decode("ascii"))
        off += 1 + n


def _parse_reply(msg, qid):
    rid, flags, qd, an = struct.unpack(">HHHH", msg[:8])
    if rid != qid:
        raise ValueError("DNS reply id %d, want %d" % (rid, qid))
    off = 12
    for _ in range(qd):
        _, off = _decode_name(msg, off)
        off += 4
    names = {v: k for k, v in QTYPES.items()}
    records = []
    for _ in range(an):
        name, off = _decode_name(msg, off)
        rtype, _, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        if rtype == 1:
            data = socket.inet_ntop(socket.AF_INET, rdata)
        elif rtype == 28:
            data = socket.inet_ntop(socket.AF_INET6, rdata)
        elif rtype == 5:
            data = _decode_name(msg, off)[0]
        else:
            data = rdata
        records.append(DnsRecord(name, names.get(rtype, rtype), ttl, data))
        off += rdlen
    return DnsReply(RCODES.get(flags & 0xF, str(flags & 0xF)), records)


def dns_query(name, qtype="A", server=(DNS_ADDRESS, 53), timeout=1.0):
    """One query over UDP; DnsReply(rcode, [DnsRecord(name, type, ttl, data)])."""
    qid = random.randrange(1 << 16)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name) + \
        struct.pack(">HH", QTYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect(server)  # connected: a closed port shows as ECONNREFUSED
        s.send(packet)
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = s.recv(4096)
            except socket.timeout:
                return DnsReply("TIMEOUT", [])
            except ConnectionRefusedError:
                return DnsReply("CONNREFUSED", [])
            try:
                return _parse_reply(msg, qid)
            except ValueError:  # a late answer to an earlier query
                s.settimeout(max(0.01, deadline - time.monotonic()))


def resolve(name, family=0):
    """Sorted unique addresses from getaddrinfo (no AI_ADDRCONFIG); raises socket.gaierror."""
    infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
    return sorted({i[4][0] for i in infos}, key=lambda a: (":" in a, ipaddress.ip_address(a)))


class _ServfailResponder:
    """A UDP server that answers SERVFAIL to everything: dnsmasq's upstream in servfail mode."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((DNS_ADDRESS, 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self._thread = threading.Thread(target=self._run, name="stack-servfail", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            try:
                msg, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if len(msg) < 12:
                continue
            self.queries += 1
            flags = 0x8180 | (struct.unpack(">H", msg[2:4])[0] & 0x0100) | 2  # QR RA [RD] SERVFAIL
            try:
                self.sock.sendto(msg[:2] + struct.pack(">H", flags) + msg[4:6] + b"\0" * 6 + msg[12:], peer)
            except OSError:
                return

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(1)


# ---------------------------------------------------------------------- dnsmasq ---

class Flip:
    """A scheduled DNS change. .time: monotonic time at which dnsmasq served it (None before);
    .wall: the same moment as time.time(); .error: the exception if the change failed."""

    def __init__(self):
        self.event = threading.Event()
        self.time = self.wall = self.error = None
        self.timer = None

    def wait(self, timeout=None):
        """The monotonic time of the change, once it happened; raises on failure or timeout."""
        if not self.event.wait(timeout):
            raise TimeoutError("DNS flip did not happen within %s s" % timeout)
        if self.error:
            raise self.error
        return self.time

    def cancel(self):
        self.timer.cancel()


def _norm(name):
    return name.lower().rstrip(".")


def _check_address(a):
    try:
        return str(ipaddress.ip_address(a))
    except ValueError:
        raise ValueError("not an IP address: %r" % (a,))


class Dns:
    """dnsmasq on 127.0.0.1:53 serving `records` (name -> addresses) and `cnames` (alias -> target)."""

    def __init__(self, workdir, records=None, cnames=None, domains=(DNS_DOMAIN,), ttl=DNS_TTL,
                 log_queries=True):
        self.dir = workdir
        self.domains = tuple(domains)
        self.ttl = ttl
        self.log_queries = log_queries
        self.records = {}
        self.cnames = {}
        self.nx_names = set()   # names outside self.domains that answer NXDOMAIN
        self.mode = "serve"     # serve | refuse | servfail
        self.paused = False
        self.restarts = 0       # restarts after the first start (each a short gap)
        self.generation = 0
        self.hosts_file = os.path.join(workdir, "dns.hosts")
        self.conf_file = os.path.join(workdir, "dnsmasq.conf")
        self.log_file = os.path.join(workdir, "dnsmasq.log")
        self._proc = None
        self._servfail = None
        self._flips = []
        self._lock = threading.RLock()
        self._merge(records or {}, cnames or {})

    # -- lifecycle --
    @property
    def pid(self):
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def running(self):
        return self.pid is not None

    def start(self):
        """Starts dnsmasq with the current data (no-op when running); returns the monotonic time it
        answered its first query."""
        with self._lock:
            if self.running():
                return time.monotonic()
            if self.mode == "servfail" and self._servfail is None:
                self._servfail = _ServfailResponder()
            self._write_files()
            with open(self.log_file, "ab") as logf:
                self._proc = spawn([DNSMASQ, "--keep-in-foreground", "--conf-file=" + self.conf_file],
                                   stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
            self.paused = False
            return self._confirm(started=True)

    def stop(self):
        """Stops dnsmasq: queries are refused by the kernel (EAI_AGAIN at once)."""
        with self._lock:
            _end(self._proc)
            self._proc = None
            self.paused = False

    def close(self):
        with self._lock:
            for f in self._flips:
                f.timer.cancel()
            self.stop()
            if self._servfail:
                self._servfail.close()
                self._servfail = None

    def restart(self):
        with self._lock:
            paused = self.paused
            if self._proc:
                self.restarts += 1
            self.stop()
            t = self.start()
            if paused:
                self.pause()
            return t

    def pause(self):
        """SIGSTOP: queries time out (getaddrinfo: EAI_AGAIN after the resolver's 2 s)."""
        with self._lock:
            if self.running() and not self.paused:
                self._proc.send_signal(signal.SIGSTOP)
                self.paused = True

    def resume(self):
        with self._lock:
            if self.running() and self.paused:
                self._proc.send_signal(signal.SIGCONT)
                self.paused = False
                return self._confirm()

    # -- data --
    def set_records(self, records, cnames=None, replace=False):
        """Sets the addresses of the names given ([] or None removes a name), and CNAMEs the same
        way; other names keep theirs unless replace=True. Always leaves dnsmasq serving (ends
        refuse()/servfail()). Returns the monotonic time the new data was served (None while
        stopped or paused: then it applies at start()/resume())."""
        with self._lock:
            old = (dict(self.cnames), set(self.nx_names), self.mode)
            if replace:
                self.records, self.cnames = {}, ({} if cnames is not None else self.cnames)
            self._merge(records, cnames or {})
            for name in list(records) + list(cnames or {}):
                self.nx_names.discard(_norm(name))
            self.mode = "serve"
            return self._apply(old != (self.cnames, self.nx_names, self.mode))

    def nxdomain(self, name):
        """Removes every record of name: it answers NXDOMAIN (a name outside the local domains
        is added to them, which restarts dnsmasq)."""
        name = _norm(name)
        with self._lock:
            old = (dict(self.cnames), set(self.nx_names), self.mode)
            self.records.pop(name, None)
            self.cnames.pop(name, None)
            if not self._is_local(name):
                self.nx_names.add(name)
            self.mode = "serve"
            return self._apply(old != (self.cnames, self.nx_names, self.mode))

    def refuse(self):
        """Every query answers REFUSED (dnsmasq restarted with no local data and no upstream)."""
        return self._set_mode("refuse")

    def servfail(self):
        """Every query answers SERVFAIL (dnsmasq restarted forwarding everything to an upstream
        that answers SERVFAIL)."""
        return self._set_mode("servfail")

    def serve(self):
        """Back to serving the records after refuse() or servfail()."""
        return self._set_mode("serve")

    def flip_at(self, delay_s, records, cnames=None, replace=False):
        """Schedules set_records(records, cnames) in delay_s seconds; returns a Flip whose
        .wait() gives the monotonic time the new answer was served."""
        flip = Flip()

        def fire():
            try:
                flip.time = self.set_records(records, cnames, replace)
                flip.wall = time.time() - (time.monotonic() - flip.time)
            except Exception as e:  # handed to flip.wait()
                flip.error = e
            flip.event.set()

        flip.timer = threading.Timer(delay_s, fire)
        flip.timer.daemon = True
        with self._lock:
            self._flips.append(flip)
        flip.timer.start()
        return flip

    def query(self, name, qtype="A", timeout=1.0):
        return dns_query(name, qtype, timeout=timeout)

    def log(self):
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # -- internals --
    def _is_local(self, name):
        return any(name == d or name.endswith("." + d) for d in self.domains)

    def _merge(self, records, cnames):
        for name, addrs in records.items():
            name = _norm(name)
            if isinstance(addrs, str):
                addrs = [addrs]
            if addrs:
                self.records[name] = [_check_address(a) for a in addrs]
            else:
                self.records.pop(name, None)
        for alias, target in cnames.items():
            alias = _norm(alias)
            if target:
                self.cnames[alias] = _norm(target)
            else:
                self.cnames.pop(alias, None)

    def _set_mode(self, mode):
        with self._lock:
            if self.mode == mode and self.running():
                return time.monotonic()
            self.mode = mode
            if mode != "servfail" and self._servfail:
                self._servfail.close()
                self._servfail = None
            return self._apply(True)

    def _apply(self, needs_restart):
        self.generation += 1
        if not self.running():
            self._write_files()
            return None
        if needs_restart:
            return self.restart()
        self._write_files()
        self._proc.send_signal(signal.SIGHUP)
        return None if self.paused else self._confirm()

    def _write_files(self):
        g = self.generation
        lines = ["127.%d.%d.%d %s" % ((g >> 16) & 255, (g >> 8) & 255, g & 255, GENERATION_NAME)]
        if self.mode == "serve":
            for name, addrs in sorted(self.records.items()):
                lines += ["%s %s" % (a, name) for a in addrs]
        _write_atomic(self.hosts_file, "\n".join(lines) + "\n")
        conf = ["no-resolv", "no-hosts", "bind-interfaces", "listen-address=" + DNS_ADDRESS, "port=53",
                "user=root", "group=", "pid-file=", "local-ttl=%d" % self.ttl, "log-facility=" + self.log_file,
                "addn-hosts=" + self.hosts_file]
        if self.log_queries:
            conf.append("log-queries")
        if self.mode == "serve":
            conf += ["local=/%s/" % d for d in self.domains]
            conf += ["address=/%s/" % n for n in sorted(self.nx_names)]
            conf += ["cname=%s,%s,%d" % (a, t, self.ttl) for a, t in sorted(self.cnames.items())]
        elif self.mode == "servfail":
            conf += ["no-negcache", "server=%s#%d" % (DNS_ADDRESS, self._servfail.port if self._servfail else 9)]
        _write_atomic(self.conf_file, "\n".join(conf) + "\n")

    def _confirm(self, started=False, timeout=5.0):
        """Waits until dnsmasq serves the current generation (in serve mode) or answers at all;
        returns the monotonic time it did."""
        want = "127.%d.%d.%d" % ((self.generation >> 16) & 255, (self.generation >> 8) & 255,
                                  self.generation & 255)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._proc.poll() is not None:
                text = self.log()[-2000:]
                hint = ("\nanother LocalStack (or DNS server) holds %s:53 in this namespace: run one "
                        "LocalStack at a time" % DNS_ADDRESS) if "Address already in use" in text else ""
                raise RuntimeError("dnsmasq exited with status %d:\n%s%s" % (self._proc.returncode, text, hint))
            r = dns_query(GENERATION_NAME, timeout=0.2)
            if r.rcode not in ("TIMEOUT", "CONNREFUSED"):
                if self.mode != "serve" or [x.data for x in r.records] == [want]:
                    return time.monotonic()
            if r.rcode != "TIMEOUT":
                time.sleep(0.001 if not started else 0.002)
        raise RuntimeError("dnsmasq did not serve generation %d within %.0f s (%s):\n%s"
                           % (self.generation, timeout, "start" if started else "reload", self.log()[-2000:]))


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


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

    def wait(self, count=1, timeout=10.0):
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


class BootstrapProcess(subprocess.Popen):
    """A ./bootstrap in the runtime loop; its stdout and stderr are collected as they arrive."""

    def __init__(self, argv, **kw):
        super().__init__(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
        self._out, self._err = [], []
        self.lines = []  # (monotonic arrival time, "stdout"|"stderr", text without the newline)
        self._cond = threading.Condition()
        self._readers = [threading.Thread(target=self._pump, args=(self.stdout, self._out, "stdout"), daemon=True),
                         threading.Thread(target=self._pump, args=(self.stderr, self._err, "stderr"), daemon=True)]
        for t in self._readers:
            t.start()

    def _pump(self, pipe, sink, name):
        for line in iter(pipe.readline, b""):
            with self._cond:
                sink.append(line)
                self.lines.append((time.monotonic(), name, line.decode(errors="replace").rstrip("\n")))
                self._cond.notify_all()

    def output(self):
        """(stdout, stderr) so far, as text."""
        with self._cond:
            return (b"".join(self._out).decode(errors="replace"), b"".join(self._err).decode(errors="replace"))

    def wait_output(self, text, timeout=10.0, stream="stdout"):
        """Waits until `text` appears in stdout (or "stderr"); returns that stream so far."""
        sink = self._out if stream == "stdout" else self._err
        with self._cond:
            ok = self._cond.wait_for(lambda: text.encode() in b"".join(sink), timeout)
            got = b"".join(sink).decode(errors="replace")
        if not ok:
            raise TimeoutError("%r not in bootstrap %s within %.1fs:\n%s" % (text, stream, timeout, got[-2000:]))
        return got

    def finish(self, timeout=10.0):
        """Waits for the exit and the end of its output; returns the exit status."""
        code = self.wait(timeout)
        for t in self._readers:
            t.join(timeout)
        return code


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
        self.dir = self.dns = self.elb = self.runtime = self.cfn = None
        self.task_root = None
        self.started_in = None  # seconds start() took

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self):
        from fake_elbv2 import FakeElbv2
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
            self.runtime = FakeRuntime(function_arn=FUNCTION_ARN, **self._runtime_options)
            self.runtime.start()
            self.cfn = CfnReceiver()
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - t0
        return self

    def close(self):
        """Stops every part (idempotent); .elb.calls, .runtime.requests and .dns stay readable."""
        for p in self._procs:
            _end(p)
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
        return Invocation(proc.returncode, text, parsed, err.decode(errors="replace"), elapsed)

    def start_bootstrap(self, env=None, **overrides):
        """./bootstrap in the runtime loop, as Lambda starts it: no arguments, cwd the (empty) task
        root, stdin /dev/null, environment only: self.lambda_env(env, **overrides).
        Returns a BootstrapProcess (a Popen with .output(), .wait_output(), .finish())."""
        proc = spawn(self._argv(), cls=BootstrapProcess, env=self.lambda_env(env, **overrides),
                     cwd=self.task_root, stdin=subprocess.DEVNULL)
        self._procs.append(proc)
        return proc

    def lambda_invoke(self, event, deadline_ms=None, timeout=60, **enqueue_options):
        """Queues the event at the fake Runtime API and waits for the function's result:
        dict(kind "response"|"error", request_id, headers, body, json, status_sent, time_ns).
        deadline_ms: absolute Unix ms, or None for now + the runtime's timeout_ms."""
        rid = self.runtime.enqueue(event, deadline_ms=deadline_ms, **enqueue_options)
        return self.runtime.wait_result(rid, timeout)

    def stop_bootstrap(self, proc, timeout=5.0):
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
        self.elb.reset_calls()
        self.cfn.reset()

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
