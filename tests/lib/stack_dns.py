"""dnsmasq for the local stack (stack.py): the Dns class that serves, flips and breaks the database
endpoint's records, a raw DNS client (dns_query) and a getaddrinfo probe (resolve).

dnsmasq runs on 127.0.0.1:53 with --no-resolv --no-hosts --local-ttl=5. Names under the local
domains without a record answer NXDOMAIN; other unknown names answer REFUSED (no upstream).
Address records live in an addn-hosts file that dnsmasq re-reads on SIGHUP; CNAMEs are
configuration dnsmasq reads only at start, so a CNAME change restarts it (Dns.restarts counts
restarts). A restart leaves no gap: resolv.conf names two servers, 127.0.0.1 and 127.0.0.2, and
the new dnsmasq starts on the address the old one is not using, answers, and only then is the
old one stopped (the resolver passes over a closed port at once; a lookup in flight at the old
server when it stops gets its answer after the resolver's 1 s retry). Every change is confirmed before
the call returns: the hosts file carries a generation marker record (GENERATION_NAME) that is
queried until dnsmasq serves the new generation, so the returned monotonic time is a moment at
which the new answer is already being served.

getaddrinfo sees the failure modes as: nxdomain() -> EAI_NONAME at once; refuse(), servfail() and
stop() -> EAI_AGAIN at once; pause() -> EAI_AGAIN after the resolver timeout (timeout:1 attempts:2
in the namespace's resolv.conf, so about 2 s). dns_query() tells REFUSED, SERVFAIL, CONNREFUSED
and TIMEOUT apart on the wire.

API
    Dns: .set_records(records, cnames=None, replace=False) .nxdomain(name) .refuse() .servfail()
         .serve() .stop() .start() .restart() .pause() .resume() .flip_at(delay_s, records,
         cnames=None) -> Flip(.wait() -> monotonic time, .wall, .event) .query(name, qtype)
         .log(since=0) .log_mark() .records .cnames .mode .restarts .pid
    queries_after_answer(dns_log, name, address) -> A queries of name after the first answer giving
         address (None: never answered)
    dns_query(name, qtype="A") -> DnsReply(rcode, [DnsRecord(name, type, ttl, data)])
    resolve(name, family=0) -> sorted addresses (getaddrinfo, no AI_ADDRCONFIG)
"""
import ipaddress
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time
from collections import namedtuple

from stack_proc import end, spawn

DNSMASQ = "/usr/sbin/dnsmasq"
DNS_DOMAIN = "rds.amazonaws.com"
DNS_TTL = 5
DNS_ADDRESSES = ("127.0.0.1", "127.0.0.2")  # resolv.conf order; dnsmasq alternates between them
DNS_ADDRESS = DNS_ADDRESSES[0]
GENERATION_NAME = "rns-stack-generation.invalid"


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


def queries_after_answer(log_text, name, address):
    """In a dnsmasq log: how many A queries for `name` came after the first answer that gave
    `address` (None when no answer gave it). 0 means the asker stopped at that answer."""
    lines = log_text.splitlines()
    first = next((i for i, l in enumerate(lines) if l.endswith(" is " + address)), None)
    if first is None:
        return None
    return sum(1 for l in lines[first + 1:] if "query[A] %s from" % _norm(name) in l)


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
    .wall: the same moment as time.time(); .began, .began_wall: the moment the change was begun (no
    lookup can get the new answer before it; on a busy machine one may between it and .time);
    .error: the exception if the change failed."""

    def __init__(self):
        self.event = threading.Event()
        self.time = self.wall = self.began = self.began_wall = self.error = None
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
        self.address = DNS_ADDRESSES[0]  # where the running dnsmasq listens
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

    @property
    def conf_file(self):
        return os.path.join(self.dir, "dnsmasq-%s.conf" % self.address)

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
            end(self._proc)
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
        """A new dnsmasq with the current data on the other address, then the old one stopped;
        returns the monotonic time from which every lookup gets the new data."""
        with self._lock:
            if not self.running():
                return self.start()
            self.restarts += 1
            paused, old, old_address = self.paused, self._proc, self.address
            self._proc, self.address = None, DNS_ADDRESSES[1 - DNS_ADDRESSES.index(old_address)]
            try:
                ready = self.start()
            except BaseException:
                end(self._proc)
                self._proc, self.address, self.paused = old, old_address, paused
                raise
            end(old)
            # Lookups try DNS_ADDRESSES in order: the new server answers them from the moment it is
            # ready when it listens on the first address, else from the moment the old one is gone.
            served = ready if self.address == DNS_ADDRESSES[0] else time.monotonic()
            if paused:
                self.pause()
            return served

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
            flip.began, flip.began_wall = time.monotonic(), time.time()
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
        """A raw query to the running dnsmasq (CONNREFUSED when stopped)."""
        return dns_query(name, qtype, server=(self.address, 53), timeout=timeout)

    def log(self, since=0):
        """dnsmasq's log (every query and answer), from the position `since` (a log_mark())."""
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()[since:]
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """The log's current end: log(since=mark) is what came after this moment."""
        return len(self.log())

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
        conf = ["no-resolv", "no-hosts", "bind-interfaces", "listen-address=" + self.address, "port=53",
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

    def _confirm(self, started=False, timeout=60.0):
        """Waits until dnsmasq serves the current generation (in serve mode) or answers at all;
        returns the monotonic time it did."""
        want = "127.%d.%d.%d" % ((self.generation >> 16) & 255, (self.generation >> 8) & 255,
                                  self.generation & 255)
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if self._proc.poll() is not None:
                text = self.log()[-2000:]
                hint = ("\nanother LocalStack (or DNS server) holds %s:53 in this namespace: run one "
                        "LocalStack at a time" % self.address) if "Address already in use" in text else ""
                raise RuntimeError("dnsmasq exited with status %d:\n%s%s" % (self._proc.returncode, text, hint))
            r = dns_query(GENERATION_NAME, server=(self.address, 53), timeout=0.2)
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
