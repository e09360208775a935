"""The AWS Query API server that the fakes of the local stack share (fake_elbv2.py, fake_rds.py).

It speaks HTTP/1.1 with keep-alive, over TLS with a test CA by default, checks the SigV4
signature of every request with Debian's python3-botocore (an implementation independent of
ours) for the subclass's service, records every request, and injects faults on demand. A
subclass names its service and answers the actions:

    class FakeThing(QueryFake):
        name, service, api_version, namespace = "fake-thing", "thing", "2020-01-01", "http://..."
        actions = ("DescribeThings",)
        error_faults = {"kind": (status, code, message, type), ...}   # besides the common ones
        def _action(self, action, params, call): return "<DescribeThingsResponse>...</...>"

Common API of every fake (see fake_elbv2.py for the ELBv2 specifics):
  .start() / .stop() (also a context manager), .url, .port, .ca_file (PEM of the test CA, None
  without TLS), .cert_file / .key_file. One test CA per set of host names per process: fakes
  started with the same hostnames trust the same AWS_CA_BUNDLE.
  .inject(kind, action=None, count=1, **opts)     queues a fault; count=None: every request.
      common kinds: "500" (InternalFailure), "503" (ServiceUnavailable), throttling (400
      Throttling), signature (403 SignatureDoesNotMatch), access_denied (403 AccessDenied),
      expired_token, hang (read the request, never answer; seconds=N: answer normally after N
      s; release=threading.Event: answer normally once the test sets it), drop (read the request, close without answering; stage="accept": close right after
      the TCP accept, before TLS), malformed (200 with broken XML; body=... to choose it),
      error (status=, code=, message=, type=); plus the subclass's error_faults.
      Faults are taken in the order injected, the first that matches the action.
  .clear_faults(), .reset_calls() (forgets .calls, not .authorizations)
  .authorizations: set of every Authorization header received since start, never reset
  .calls: list of dicts {action, params, body, headers, time (monotonic), wall, connection,
      signature_ok, signature_error, amz_date, fault, status (None: no answer), request_id}
  .calls_for(action), .connections_opened (TCP connections accepted), .tls_failures
  .when(predicate) -> threading.Event set once a recorded call satisfies predicate(call) after
      it was answered (also one answered before when()).
"""
import atexit
import datetime
import hmac
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGNATURE_MESSAGE = ("The request signature we calculated does not match the signature you "
                     "provided. Check your AWS Secret Access Key and signing method. Consult "
                     "the service documentation for details.")

# kind -> (status, code, message, type); messages may use {action} and {service}
COMMON_FAULTS = {
    "throttling": (400, "Throttling", "Rate exceeded", "Sender"),
    "500": (500, "InternalFailure", "The request processing has failed because of an unknown "
            "error, exception or failure.", "Receiver"),
    "503": (503, "ServiceUnavailable", "The request has failed due to a temporary failure of "
            "the server.", "Receiver"),
    "signature": (403, "SignatureDoesNotMatch", SIGNATURE_MESSAGE, "Sender"),
    "access_denied": (403, "AccessDenied", "User: arn:aws:sts::111122223333:assumed-role/"
                      "rds-nlb-sync/rds-nlb-sync is not authorized to perform: "
                      "{service}:{action} because no identity-based policy allows "
                      "the {service}:{action} action", "Sender"),
    "expired_token": (400, "ExpiredToken", "The security token included in the request is "
                      "expired", "Sender"),
}
SPECIAL_FAULTS = {"hang", "drop", "malformed", "error"}


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
            directory = tempfile.mkdtemp(prefix="fake-aws-pki-")
            atexit.register(shutil.rmtree, directory, True)
            _pki_cache[key] = make_test_pki(directory, hostnames)
        return _pki_cache[key]


# --------------------------------------------------------------- responses ---

def error_xml(namespace, code, message, type_="Sender", request_id=None):
    return ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n    <Code>%s</Code>\n'
            '    <Message>%s</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n'
            '</ErrorResponse>\n' % (namespace, type_, escape(code), escape(message),
                                    request_id or str(uuid.uuid4())))

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
        if scope[1:] != [amz_date[:8], f.region, f.service, "aws4_request"]:
            return ApiError(403, "SignatureDoesNotMatch", SIGNATURE_MESSAGE), "credential scope %s" % "/".join(scope[1:])
        signed = fields["SignedHeaders"].split(";")
        want = ["content-type", "host", "x-amz-date"] + (["x-amz-security-token"] if f.session_token else [])
        if signed != want:
            return ApiError(403, "SignatureDoesNotMatch", SIGNATURE_MESSAGE), "SignedHeaders %s, expected %s" % (";".join(signed), ";".join(want))
        request = AWSRequest(method=method, url="https://%s%s" % (headers.get("Host"), path), data=body,
                             headers={name: ",".join(headers.get_all(name) or []) for name in signed})
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(f.access_key, f.secret_key, f.session_token), f.service, f.region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, fields["Signature"]):
            return ApiError(403, "SignatureDoesNotMatch", SIGNATURE_MESSAGE), "signature differs; canonical request:\n" + canonical
        return None



# ------------------------------------------------------------------ server ---

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-aws"
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
            sys.stderr.write("%s: %s\n" % (self.fake.name, fmt % args))

    def do_GET(self):
        self._reply(400, error_xml(self.fake.namespace, "InvalidAction", "Only POST is supported by this endpoint"))

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


# ------------------------------------------------------------- standalone ---

def standalone_parser(description):
    """The command line every fake shares (its own options are added to it)."""
    import argparse
    p = argparse.ArgumentParser(description=description + " (runs until SIGTERM/SIGINT).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--region", default="eu-west-1")
    p.add_argument("--access-key", default="AKIDEXAMPLE")
    p.add_argument("--secret-key", default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    p.add_argument("--session-token")
    p.add_argument("--http", action="store_true", help="plain HTTP instead of TLS")
    p.add_argument("--cert-dir", help="where to write the test CA and server certificate")
    p.add_argument("--hostname", action="append", help="DNS name for the server certificate")
    return p


def standalone_options(a):
    """The QueryFake keyword arguments of standalone_parser's options."""
    return dict(region=a.region, access_key=a.access_key, secret_key=a.secret_key, session_token=a.session_token,
                tls=not a.http, host=a.host, port=a.port, cert_dir=a.cert_dir,
                hostnames=a.hostname or ("localhost",), quiet=False)


def serve_until_signal(fake):
    """Prints the fake's URL (and CA file), serves until SIGTERM or SIGINT, stops it."""
    import signal
    print("url %s" % fake.url, flush=True)
    if fake.ca_file:
        print("ca_file %s" % fake.ca_file, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    fake.stop()


class QueryFake:
    """The common part of a fake AWS Query API (see the module's docstring)."""
    name = "fake-aws"
    service = api_version = namespace = None
    actions = ()
    error_faults = {}
    malformed_body = "<ErrorResponse><Error><Code>Inter"

    def __init__(self, region="eu-west-1", access_key="AKIDEXAMPLE",
                 secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token=None,
                 tls=True, host="127.0.0.1", port=0, cert_dir=None, hostnames=("localhost",),
                 max_skew=900, quiet=True):
        self.region, self.access_key, self.secret_key = region, access_key, secret_key
        self.session_token = session_token or None
        self.tls, self.host, self.port = tls, host, port
        self.cert_dir, self.hostnames = cert_dir, tuple(hostnames)
        self.max_skew, self.quiet = max_skew, quiet
        self.ca_file = self.cert_file = self.key_file = None
        self.calls, self.connections_opened, self.tls_failures = [], 0, 0
        self.authorizations = set()
        self._faults, self._sockets, self._waiters = [], {}, []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._ssl_ctx = self._server = self._thread = None
        self._verifier = _Verifier(self)
        self.fault_kinds = set(COMMON_FAULTS) | set(self.error_faults) | SPECIAL_FAULTS

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
                                        name=self.name, daemon=True)
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

    # -- faults and records --
    def inject(self, kind, action=None, count=1, **opts):
        if kind not in self.fault_kinds:
            raise ValueError("unknown fault kind %r; known: %s" % (kind, ", ".join(sorted(self.fault_kinds))))
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

    def when(self, predicate):
        """An Event set as soon as an answered call satisfies predicate(call)."""
        event = threading.Event()
        with self._lock:
            if any(c["status"] is not None and predicate(c) for c in self.calls):
                event.set()
            else:
                self._waiters.append((predicate, event))
        return event

    def _answered(self, call):
        with self._lock:
            for w in [w for w in self._waiters if w[0](call)]:
                self._waiters.remove(w)
                w[1].set()

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
            self.authorizations.add(call["headers"].get("authorization", ""))
        try:
            self._serve_call(h, call, action, params, bad)
        finally:
            if call["status"] is not None:
                self._answered(call)

    def _serve_call(self, h, call, action, params, bad):
        fault = self._take_fault(action)
        if fault:
            call["fault"] = fault["kind"]
            if self._apply_fault(h, call, fault):
                return
        if bad:
            return self._error(h, call, bad[0])
        try:
            xml = self._dispatch(action, params, call)
        except ApiError as e:
            return self._error(h, call, e)
        call["status"] = 200
        h._reply(200, xml, call["request_id"])

    def _error(self, h, call, e):
        call["status"] = e.status
        call["error_code"] = e.code
        h._reply(e.status, error_xml(self.namespace, e.code, e.message, e.type, call["request_id"]),
                 call["request_id"])

    def _apply_fault(self, h, call, fault):
        """True when the fault answered (or dropped) the request."""
        kind, opts = fault["kind"], fault["opts"]
        if kind == "hang" and opts.get("release") is not None:
            return self._hold(h, opts["release"])
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
            h._reply(200, opts.get("body", self.malformed_body), call["request_id"])
            return True
        if kind == "error":
            e = ApiError(opts.get("status", 400), opts.get("code", "ValidationError"),
                         opts.get("message", "injected error"), opts.get("type", "Sender"))
        else:
            status, code, message, type_ = dict(COMMON_FAULTS, **self.error_faults)[kind]
            e = ApiError(status, code, self._fault_message(message, call), type_)
        self._error(h, call, e)
        return True

    def _hold(self, h, release):
        """A hang the test ends: answers normally once `release` is set (drops it at stop)."""
        while not release.wait(0.02):
            if self._stopping.is_set():
                h._drop()
                return True
        return False

    def _fault_message(self, message, call):
        return message.format(action=call["action"], service=self.service)

    def _dispatch(self, action, params, call):
        if params.get("Version") != self.api_version:
            raise ApiError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (action, params.get("Version")))
        if action not in self.actions:
            raise ApiError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (action, self.api_version))
        return self._action(action, params, call)

    def _action(self, action, params, call):
        raise NotImplementedError
