"""A fake Elastic Load Balancing v2 Query API server (API version 2015-12-01).

Used by the ELBv2 client's tests, the end-to-end tests, the demo and the
benchmarks. It speaks HTTP/1.1 with keep-alive, over TLS with a test CA by
default, checks the SigV4 signature of every request with Debian's
python3-botocore (an implementation independent of ours), keeps target-group
state the way the service does, answers with the service's XML, and injects
faults on demand.

    from fake_elbv2 import FakeElbv2
    with FakeElbv2(access_key="AKID", secret_key="SECRET", session_token="TOKEN") as elb:
        elb.add_target_group(ARN, targets=["10.0.1.5:5432"])
        env = {"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": elb.url, "AWS_CA_BUNDLE": elb.ca_file}
        elb.inject("throttling", action="RegisterTargets", count=2)
        ... run the client ...
        elb.targets(ARN)      # [{"Id", "Port", "AvailabilityZone", "State", "Reason"}]
        elb.calls             # one dict per request received (see _Call below)
        elb.connections_opened

FakeElbv2(region="eu-west-1", access_key="AKIDEXAMPLE", secret_key=..., session_token=None,
          tls=True, host="127.0.0.1", port=0, cert_dir=None, hostnames=("localhost",),
          healthy_after=0.2, deregistration_delay=0.3, max_skew=900, quiet=True)
  .start() / .stop() (also a context manager), .url, .port, .ca_file (PEM of the test CA, None
  without TLS), .cert_file / .key_file (the server's).
  .add_target_group(arn, targets=(), vpc_cidr="10.0.0.0/8", port=5432, state="healthy",
                    healthy_after=None, deregistration_delay=None)
      targets: "ip:port" strings, (ip, port) tuples or {"Id","Port","AvailabilityZone"} dicts.
  .remove_target_group(arn)
  .targets(arn) -> list of dicts, current state (initial targets turn healthy after
      healthy_after seconds, draining ones disappear after deregistration_delay).
  .registered(arn) -> sorted "ip:port" strings of targets not draining.
  .set_health(arn, ip, port, state, reason=None)  forces a state (e.g. "unhealthy").
  .inject(kind, action=None, count=1, **opts)     queues a fault; count=None: every request.
      kinds: throttling (400 Throttling), throttling_exception (400 ThrottlingException),
      "500" (InternalFailure), "503" (ServiceUnavailable), hang (read the request, never
      answer; seconds=N: answer normally after N s), drop (read the request, close without
      answering; stage="accept": close right after the TCP accept, before TLS),
      malformed (200 with broken XML; body=... to choose it), tg_not_found, signature
      (403 SignatureDoesNotMatch), access_denied (403 AccessDenied), invalid_target,
      expired_token, error (status=, code=, message=, type=).
      Faults are taken in the order injected, the first that matches the action.
  .clear_faults(), .reset_calls()
  .calls: list of dicts {action, params, body, headers, time (monotonic), wall, connection,
      signature_ok, signature_error, amz_date, fault, status (None: no answer), request_id}
  .calls_for(action), .connections_opened (TCP connections accepted), .tls_failures
Standalone: /usr/bin/python3 tests/lib/fake_elbv2.py --help
"""
import argparse
import atexit
import hmac
import http.server
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import datetime
from xml.sax.saxutils import escape

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NAMESPACE = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
API_VERSION = "2015-12-01"
SERVICE = "elasticloadbalancing"
ACTIONS = ("DescribeTargetHealth", "RegisterTargets", "DeregisterTargets")

REASONS = {
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "unused": ("Target.NotRegistered", "Target is not registered to the target group"),
    "unavailable": ("Target.HealthCheckDisabled", "Health checks are disabled"),
}

SIGNATURE_MESSAGE = ("The request signature we calculated does not match the signature you "
                     "provided. Check your AWS Secret Access Key and signing method. Consult "
                     "the service documentation for details.")

# kind -> (status, code, message, type)
ERROR_FAULTS = {
    "throttling": (400, "Throttling", "Rate exceeded", "Sender"),
    "throttling_exception": (400, "ThrottlingException", "Rate exceeded", "Sender"),
    "500": (500, "InternalFailure", "The request processing has failed because of an unknown "
            "error, exception or failure.", "Receiver"),
    "503": (503, "ServiceUnavailable", "The request has failed due to a temporary failure of "
            "the server.", "Receiver"),
    "tg_not_found": (400, "TargetGroupNotFound", "One or more target groups not found", "Sender"),
    "signature": (403, "SignatureDoesNotMatch", SIGNATURE_MESSAGE, "Sender"),
    "access_denied": (403, "AccessDenied", "User: arn:aws:sts::111122223333:assumed-role/"
                      "rds-nlb-sync/rds-nlb-sync is not authorized to perform: "
                      "elasticloadbalancing:{action} because no identity-based policy allows "
                      "the elasticloadbalancing:{action} action", "Sender"),
    "invalid_target": (400, "InvalidTarget", "The following targets are not in a running "
                       "state and cannot be registered", "Sender"),
    "expired_token": (400, "ExpiredToken", "The security token included in the request is "
                      "expired", "Sender"),
}
FAULT_KINDS = set(ERROR_FAULTS) | {"hang", "drop", "malformed", "error"}

MALFORMED_BODY = ('<DescribeTargetHealthResponse xmlns="%s"><DescribeTargetHealthResult>'
                  '<TargetHealthDescriptions><member><Target><Id>10.0.0.1</Id' % NAMESPACE)


class ApiError(Exception):
    def __init__(self, status, code, message, type_="Sender"):
        super().__init__(message)
        self.status, self.code, self.message, self.type = status, code, message, type_


# ---------------------------------------------------------------- test PKI ---

_pki_cache = {}
_pki_lock = threading.Lock()


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_test_pki(directory, hostnames=("localhost",), ips=("127.0.0.1", "::1"),
                  name="rds-nlb-sync test CA"):
    """Writes ca.pem, server.pem and server.key (EC P-256) into directory with the
    openssl command line; returns {"ca", "cert", "key"} paths."""
    os.makedirs(directory, exist_ok=True)
    sans = ",".join(["DNS:%s" % h for h in hostnames] + ["IP:%s" % i for i in ips])
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % sans)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
             "-subj", "/CN=%s" % name, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=%s" % hostnames[0], cwd=directory)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "3650",
             "-extfile", "ext.cnf", cwd=directory)
    return {"ca": os.path.join(directory, "ca.pem"),
            "cert": os.path.join(directory, "server.pem"),
            "key": os.path.join(directory, "server.key")}


def _cached_pki(hostnames):
    """One PKI per set of host names per process, removed at exit."""
    key = tuple(hostnames)
    with _pki_lock:
        if key not in _pki_cache:
            directory = tempfile.mkdtemp(prefix="fake-elbv2-pki-")
            atexit.register(shutil.rmtree, directory, True)
            _pki_cache[key] = make_test_pki(directory, hostnames)
        return _pki_cache[key]


# ------------------------------------------------------------------ state ---

class _Target:
    def __init__(self, ip, port, az, state, now):
        self.ip, self.port, self.az = ip, port, az
        self.state, self.since, self.forced = state, now, None

    def describe(self):
        state = self.forced[0] if self.forced else self.state
        reason = self.forced[1] if self.forced else None
        if reason is None and state in REASONS:
            reason = REASONS[state][0]
        return {"Id": self.ip, "Port": self.port, "AvailabilityZone": self.az,
                "State": state, "Reason": reason}


class _TargetGroup:
    def __init__(self, arn, vpc_cidr, port, healthy_after, deregistration_delay, region):
        self.arn, self.port, self.region = arn, port, region
        self.vpc = [ipaddress.ip_network(c) for c in
                    ([vpc_cidr] if isinstance(vpc_cidr, str) else vpc_cidr)]
        self.healthy_after, self.deregistration_delay = healthy_after, deregistration_delay
        self.targets = {}  # (ip, port) -> _Target, in registration order

    def refresh(self, now):
        for key, t in list(self.targets.items()):
            if t.state == "initial" and now - t.since >= self.healthy_after:
                t.state, t.since = "healthy", now
            elif t.state == "draining" and now - t.since >= self.deregistration_delay:
                del self.targets[key]

    def zone_for(self, ip):
        return "%s%s" % (self.region, "abc"[int(ipaddress.ip_address(ip).packed[-2]) % 3])

    def check_target(self, t):
        """(ip, port, az) for a requested target, or raises InvalidTarget."""
        ip, az = t.get("Id", ""), t.get("AvailabilityZone")
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise ApiError(400, "ValidationError", "'%s' is not a valid IP address" % ip)
        port = int(t["Port"]) if t.get("Port") else self.port
        if not 1 <= port <= 65535:
            raise ApiError(400, "ValidationError", "Port %d is not valid" % port)
        inside = any(addr in net for net in self.vpc if net.version == addr.version)
        if not inside and az != "all":
            raise ApiError(400, "InvalidTarget", "The IP address '%s' is outside the VPC of the "
                           "target group and no Availability Zone was given" % ip)
        return ip, port, (az if az else self.zone_for(ip))


def _targets_param(params):
    """Targets.member.N.* -> list of dicts, in N order."""
    members = {}
    for key, value in params.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == "Targets" and parts[1] == "member" and parts[2].isdigit():
            members.setdefault(int(parts[2]), {})[parts[3]] = value
    return [members[n] for n in sorted(members)]


# --------------------------------------------------------------- responses ---

def error_xml(code, message, type_="Sender", request_id=None):
    return ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n'
            '    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n'
            '</ErrorResponse>\n' % (NAMESPACE, type_, escape(code), escape(message),
                                    request_id or str(uuid.uuid4())))


def _member_xml(d):
    health = "        <TargetHealth>\n          <State>%s</State>\n" % d["State"]
    if d["State"] != "healthy" and d.get("Reason"):
        desc = REASONS.get(d["State"], (None, d["Reason"]))[1]
        health += ("          <Reason>%s</Reason>\n          <Description>%s</Description>\n"
                   % (escape(d["Reason"]), escape(desc)))
    health += "        </TargetHealth>\n"
    target = "        <Target>\n"
    if d.get("Port"):
        target += "          <Port>%d</Port>\n" % d["Port"]
    target += "          <Id>%s</Id>\n" % escape(d["Id"])
    if d.get("AvailabilityZone"):
        target += "          <AvailabilityZone>%s</AvailabilityZone>\n" % escape(d["AvailabilityZone"])
    target += "        </Target>\n"
    hc = "        <HealthCheckPort>%d</HealthCheckPort>\n" % d["Port"] if d["State"] != "unused" else ""
    return "      <member>\n%s%s%s      </member>\n" % (hc, health, target)


def success_xml(action, request_id, members=None):
    if action == "DescribeTargetHealth":
        if members:
            result = ("  <DescribeTargetHealthResult>\n    <TargetHealthDescriptions>\n%s"
                      "    </TargetHealthDescriptions>\n  </DescribeTargetHealthResult>\n"
                      % "".join(_member_xml(m) for m in members))
        else:
            result = ("  <DescribeTargetHealthResult>\n    <TargetHealthDescriptions/>\n"
                      "  </DescribeTargetHealthResult>\n")
    else:
        result = "  <%sResult/>\n" % action
    return ('<%sResponse xmlns="%s">\n%s  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n'
            '  </ResponseMetadata>\n</%sResponse>\n' % (action, NAMESPACE, result, request_id, action))


# --------------------------------------------------------------- signature ---

def _parse_authorization(value):
    scheme, _, rest = value.partition(" ")
    if scheme != "AWS4-HMAC-SHA256":
        return None
    fields = {}
    for part in rest.split(","):
        k, sep, v = part.strip().partition("=")
        if not sep:
            return None
        fields[k] = v
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        return None
    return fields


class _Verifier:
    def __init__(self, fake):
        self.fake = fake

    def check(self, method, path, headers, body):
        """None when the request is correctly signed, else (ApiError, detail)."""
        f = self.fake
        auth = headers.get("Authorization")
        if not auth:
            return ApiError(403, "MissingAuthenticationToken", "Request is missing Authentication Token"), "no Authorization"
        fields = _parse_authorization(auth)
        if not fields:
            return ApiError(400, "IncompleteSignature", "Authorization header requires 'Credential', "
                            "'Signature' and 'SignedHeaders' parameters"), "unparseable Authorization"
        scope = fields["Credential"].split("/")
        if len(scope) != 5:
            return ApiError(400, "IncompleteSignature", "Credential is malformed"), "bad Credential"
        if scope[0] != f.access_key:
            return ApiError(403, "InvalidClientTokenId", "The security token included in the request is invalid."), "unknown access key"
        token = headers.get("X-Amz-Security-Token")
        if (token or None) != (f.session_token or None):
            return ApiError(403, "InvalidClientTokenId", "The security token included in the request is invalid."), "wrong session token"
        amz_date = headers.get("X-Amz-Date") or ""
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return ApiError(400, "IncompleteSignature", "X-Amz-Date is missing or malformed"), "bad X-Amz-Date"
        if abs(time.time() - when.timestamp()) > f.max_skew:
            return ApiError(400, "RequestExpired", "Request has expired."), "X-Amz-Date %s too far from now" % amz_date
        if scope[1:] != [amz_date[:8], f.region, SERVICE, "aws4_request"]:
            return ApiError(403, "SignatureDoesNotMatch", SIGNATURE_MESSAGE), "credential scope %s" % "/".join(scope[1:])
        signed = fields["SignedHeaders"].split(";")
        want = ["content-type", "host", "x-amz-date"] + (["x-amz-security-token"] if f.session_token else [])
        if signed != want:
            return ApiError(403, "SignatureDoesNotMatch", SIGNATURE_MESSAGE), "SignedHeaders %s, expected %s" % (";".join(signed), ";".join(want))
        request = AWSRequest(method=method, url="https://%s%s" % (headers.get("Host"), path), data=body,
                             headers={name: ",".join(headers.get_all(name) or []) for name in signed})
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(f.access_key, f.secret_key, f.session_token), SERVICE, f.region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, fields["Signature"]):
            return ApiError(403, "SignatureDoesNotMatch", SIGNATURE_MESSAGE), "signature differs; canonical request:\n" + canonical
        return None


# ------------------------------------------------------------------ server ---

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-elbv2"
    sys_version = ""

    def setup(self):
        self.fake = self.server.fake
        self.conn_id, self.alive = self.fake._connection_opened(self.request), True
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.fake._take_accept_drop():
            self.alive = False
        elif self.fake._ssl_ctx is not None:
            try:
                self.request.settimeout(10)
                self.request = self.fake._ssl_ctx.wrap_socket(self.request, server_side=True)
                self.request.settimeout(None)
                self.fake._connection_secured(self.conn_id, self.request)
            except (ssl.SSLError, OSError):
                self.fake._tls_failed()
                self.alive = False
        super().setup()

    def handle(self):
        if self.alive:
            super().handle()

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        if not self.alive:
            try:
                self.request.close()
            except OSError:
                pass

    def log_message(self, fmt, *args):
        if not self.fake.quiet:
            sys.stderr.write("fake-elbv2: " + (fmt % args) + "\n")

    def do_GET(self):
        self._reply(400, error_xml("InvalidAction", "Only POST is supported by this endpoint"))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.fake._serve(self, body)

    def _reply(self, status, xml, request_id=None):
        data = xml.encode()
        self.send_response(status)
        self.send_header("x-amzn-RequestId", request_id or str(uuid.uuid4()))
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        # Head and body in one write: two small writes would meet the
        # client's delayed ACK and cost 40 ms per answer.
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(data)
        self.flush_headers()
        self.wfile.flush()

    def _drop(self):
        self.close_connection = True
        self.alive = False
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, fake):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.fake = fake
        super().__init__(addr, _Handler)

    def handle_error(self, request, client_address):
        if not self.fake.quiet:
            super().handle_error(request, client_address)


class FakeElbv2:
    def __init__(self, region="eu-west-1", access_key="AKIDEXAMPLE",
                 secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token=None,
                 tls=True, host="127.0.0.1", port=0, cert_dir=None, hostnames=("localhost",),
                 healthy_after=0.2, deregistration_delay=0.3, max_skew=900, quiet=True):
        self.region, self.access_key, self.secret_key = region, access_key, secret_key
        self.session_token = session_token or None
        self.tls, self.host, self.port = tls, host, port
        self.cert_dir, self.hostnames = cert_dir, tuple(hostnames)
        self.healthy_after, self.deregistration_delay = healthy_after, deregistration_delay
        self.max_skew, self.quiet = max_skew, quiet
        self.ca_file = self.cert_file = self.key_file = None
        self.calls, self.connections_opened, self.tls_failures = [], 0, 0
        self._groups, self._faults, self._sockets = {}, [], {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._ssl_ctx = self._server = self._thread = None
        self._verifier = _Verifier(self)

    # -- lifecycle --
    def start(self):
        if self._server:
            return self
        if self.tls:
            pki = make_test_pki(self.cert_dir, self.hostnames) if self.cert_dir else _cached_pki(self.hostnames)
            self.ca_file, self.cert_file, self.key_file = pki["ca"], pki["cert"], pki["key"]
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert_file, self.key_file)
            self._ssl_ctx = ctx
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-elbv2", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if not self._server:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            socks = list(self._sockets.values())
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % ("https" if self.tls else "http", host, self.port)

    # -- target groups --
    def add_target_group(self, arn, targets=(), vpc_cidr="10.0.0.0/8", port=5432, state="healthy",
                         healthy_after=None, deregistration_delay=None):
        tg = _TargetGroup(arn, vpc_cidr, port,
                          self.healthy_after if healthy_after is None else healthy_after,
                          self.deregistration_delay if deregistration_delay is None else deregistration_delay,
                          self.region)
        now = time.monotonic()
        for t in targets:
            d = self._target_dict(t)
            ip, p, az = tg.check_target(d)
            tg.targets[(ip, p)] = _Target(ip, p, az, state, now)
        with self._lock:
            self._groups[arn] = tg
        return tg

    def remove_target_group(self, arn):
        with self._lock:
            self._groups.pop(arn, None)

    @staticmethod
    def _target_dict(t):
        if isinstance(t, dict):
            return {k: str(v) for k, v in t.items()}
        if isinstance(t, (tuple, list)):
            return {"Id": str(t[0]), "Port": str(t[1])}
        ip, _, port = str(t).rpartition(":")
        return {"Id": ip.strip("[]"), "Port": port}

    def targets(self, arn):
        with self._lock:
            tg = self._groups[arn]
            tg.refresh(time.monotonic())
            return [t.describe() for t in tg.targets.values()]

    def registered(self, arn):
        return sorted("%s:%d" % (t["Id"], t["Port"]) for t in self.targets(arn) if t["State"] != "draining")

    def set_health(self, arn, ip, port, state, reason=None):
        with self._lock:
            t = self._groups[arn].targets[(ip, int(port))]
            t.forced = (state, reason)

    # -- faults and records --
    def inject(self, kind, action=None, count=1, **opts):
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r; known: %s" % (kind, ", ".join(sorted(FAULT_KINDS))))
        with self._lock:
            self._faults.append({"kind": kind, "action": action, "count": count, "opts": opts})

    def clear_faults(self):
        with self._lock:
            self._faults = []

    def reset_calls(self):
        with self._lock:
            self.calls = []

    def calls_for(self, action):
        with self._lock:
            return [c for c in self.calls if c["action"] == action]

    def _take_fault(self, action, stage="request"):
        with self._lock:
            for f in self._faults:
                if f["action"] not in (None, action):
                    continue
                if (f["opts"].get("stage", "request") if f["kind"] == "drop" else "request") != stage:
                    continue
                if f["count"] is not None:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self._faults.remove(f)
                return f
        return None

    def _take_accept_drop(self):
        return self._take_fault(None, stage="accept") is not None

    def _connection_opened(self, sock):
        with self._lock:
            self.connections_opened += 1
            self._sockets[self.connections_opened] = sock
            return self.connections_opened

    def _connection_secured(self, conn_id, sock):
        with self._lock:
            self._sockets[conn_id] = sock

    def _tls_failed(self):
        with self._lock:
            self.tls_failures += 1

    # -- the API --
    def _serve(self, h, body):
        try:
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            params = {}
        action = params.get("Action")
        bad = self._verifier.check(h.command, h.path, h.headers, body)
        call = {"action": action, "params": params, "body": body.decode("utf-8", "replace"),
                "headers": {k.lower(): v for k, v in h.headers.items()}, "time": time.monotonic(),
                "wall": time.time(), "connection": h.conn_id, "signature_ok": bad is None,
                "signature_error": bad[1] if bad else None, "amz_date": h.headers.get("X-Amz-Date"),
                "fault": None, "status": None, "request_id": str(uuid.uuid4())}
        with self._lock:
            self.calls.append(call)
        fault = self._take_fault(action)
        if fault:
            call["fault"] = fault["kind"]
            if self._apply_fault(h, call, fault):
                return
        if bad:
            return self._error(h, call, bad[0])
        try:
            members = self._dispatch(action, params)
        except ApiError as e:
            return self._error(h, call, e)
        call["status"] = 200
        h._reply(200, success_xml(action, call["request_id"], members), call["request_id"])

    def _error(self, h, call, e):
        call["status"] = e.status
        call["error_code"] = e.code
        h._reply(e.status, error_xml(e.code, e.message, e.type, call["request_id"]), call["request_id"])

    def _apply_fault(self, h, call, fault):
        """True when the fault answered (or dropped) the request."""
        kind, opts = fault["kind"], fault["opts"]
        if kind == "hang":
            self._stopping.wait(opts.get("seconds"))
            if opts.get("seconds") is None or self._stopping.is_set():
                h._drop()
                return True
            return False  # answer normally, late
        if kind == "drop":
            h._drop()
            return True
        if kind == "malformed":
            call["status"] = 200
            h._reply(200, opts.get("body", MALFORMED_BODY), call["request_id"])
            return True
        if kind == "error":
            e = ApiError(opts.get("status", 400), opts.get("code", "ValidationError"),
                         opts.get("message", "injected error"), opts.get("type", "Sender"))
        else:
            status, code, message, type_ = ERROR_FAULTS[kind]
            e = ApiError(status, code, message.format(action=call["action"]), type_)
        self._error(h, call, e)
        return True

    def _dispatch(self, action, params):
        if params.get("Version") != API_VERSION:
            raise ApiError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (action, params.get("Version")))
        if action not in ACTIONS:
            raise ApiError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (action, API_VERSION))
        arn = params.get("TargetGroupArn")
        if not arn:
            raise ApiError(400, "ValidationError", "1 validation error detected: Value null at "
                           "'targetGroupArn' failed to satisfy constraint: Member must not be null")
        requested = _targets_param(params)
        with self._lock:
            tg = self._groups.get(arn)
            if tg is None:
                raise ApiError(400, "TargetGroupNotFound", "One or more target groups not found")
            now = time.monotonic()
            tg.refresh(now)
            if action == "DescribeTargetHealth":
                return self._describe(tg, requested)
            if not requested:
                raise ApiError(400, "ValidationError", "1 validation error detected: Value null at "
                               "'targets' failed to satisfy constraint: Member must not be null")
            if action == "RegisterTargets":
                self._register(tg, requested, now)
            else:
                self._deregister(tg, requested, now)
        return None

    @staticmethod
    def _describe(tg, requested):
        if not requested:
            return [t.describe() for t in tg.targets.values()]
        out = []
        for r in requested:
            port = int(r["Port"]) if r.get("Port") else tg.port
            t = tg.targets.get((r.get("Id"), port))
            out.append(t.describe() if t else {"Id": r.get("Id"), "Port": port, "State": "unused",
                                               "Reason": "Target.NotRegistered"})
        return out

    @staticmethod
    def _register(tg, requested, now):
        checked = [tg.check_target(r) for r in requested]  # all or nothing
        for ip, port, az in checked:
            t = tg.targets.get((ip, port))
            if t is None or t.state == "draining":
                tg.targets[(ip, port)] = _Target(ip, port, az, "initial", now)

    @staticmethod
    def _deregister(tg, requested, now):
        for r in requested:
            port = int(r["Port"]) if r.get("Port") else tg.port
            t = tg.targets.get((r.get("Id"), port))
            if t is not None and t.state != "draining":
                t.state, t.since, t.forced = "draining", now, None


def main(argv=None):
    p = argparse.ArgumentParser(description="Fake ELBv2 Query API server (runs until SIGTERM/SIGINT).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--region", default="eu-west-1")
    p.add_argument("--access-key", default="AKIDEXAMPLE")
    p.add_argument("--secret-key", default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    p.add_argument("--session-token")
    p.add_argument("--http", action="store_true", help="plain HTTP instead of TLS")
    p.add_argument("--cert-dir", help="where to write the test CA and server certificate")
    p.add_argument("--hostname", action="append", help="DNS name for the server certificate")
    p.add_argument("--target-group", action="append", default=[],
                   help="ARN[,ip:port...] to create at start")
    a = p.parse_args(argv)
    fake = FakeElbv2(region=a.region, access_key=a.access_key, secret_key=a.secret_key,
                     session_token=a.session_token, tls=not a.http, host=a.host, port=a.port,
                     cert_dir=a.cert_dir, hostnames=a.hostname or ("localhost",), quiet=False)
    fake.start()
    for spec in a.target_group:
        arn, *targets = spec.split(",")
        fake.add_target_group(arn, targets)
    print("url %s" % fake.url, flush=True)
    if fake.ca_file:
        print("ca_file %s" % fake.ca_file, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    fake.stop()


if __name__ == "__main__":
    main()
