"""A fake AWS Lambda Runtime API (2018-06-01) for tests, benchmarks and the demo.

It answers like the Lambda service and its Runtime Interface Emulator, records
every request exactly as it arrived, and can inject the faults a runtime must
survive.

    from fake_runtime import FakeRuntime

    with FakeRuntime() as api:                       # 127.0.0.1 on a free port
        env["AWS_LAMBDA_RUNTIME_API"] = api.address  # "127.0.0.1:PORT"
        proc = subprocess.Popen(["./bootstrap"], env=env)
        rid = api.enqueue({"source": "aws.events"})  # dict/list -> JSON, str, bytes
        res = api.wait_result(rid, timeout=10)
        res["kind"]     # "response" or "error"
        res["json"]     # the posted body parsed as JSON (None if it is not JSON)
        api.exit_when_drained()                      # next idle GET /next answers 500: the runtime exits
        proc.wait()

Behaviour
- GET  /2018-06-01/runtime/invocation/next long-polls until an event is queued,
  then answers 200 with the event and the Lambda-Runtime-* headers
  (Aws-Request-Id, Deadline-Ms, Invoked-Function-Arn, Trace-Id, and
  Client-Context, Cognito-Identity, Aws-Tenant-Id when given).
- POST /2018-06-01/runtime/invocation/{id}/response -> 202; unknown id -> 400;
  a second result for the same id -> 403; a body over 6,291,556 bytes -> 413.
- POST /2018-06-01/runtime/invocation/{id}/error -> 202 (400 / 403 as above).
- POST /2018-06-01/runtime/init/error -> 202, kept in .init_errors.
- anything else -> 404.
HTTP/1.1 with keep-alive; every answer has a Content-Length.

Attributes (read them; they are filled by the server threads)
- .address      "127.0.0.1:PORT" (after start()); "[::1]:PORT" for host="::1"
- .requests     every request: dict(method, path, version, headers, body,
                time_ns (time.monotonic_ns() when it was read), conn (1-based
                connection number), status (what was answered, None if the
                connection was closed instead)). `headers` is a Headers mapping:
                case-insensitive lookup, .items() in arrival order and spelling.
- .results      {request_id: result} of the first result posted per id
- .init_errors  list of dict(headers, body, json, status_sent)
- .connections  number of TCP connections accepted (1 proves keep-alive)
- .delivered    request ids handed out by GET /next, in order

Fault injection (each applies to the next matching request(s), in order)
- fail_next(status, on="next", body=None, count=1): answer with `status`
  instead; `on` is "next", "response", "error", "init" or "any".
- close_next(on="next", count=1): read the request, then close the connection
  without answering.
- block_next(seconds): the next GET /next waits this long before it looks at
  the queue (an event queued meanwhile is then delivered).
- enqueue(..., headers={"Lambda-Runtime-Aws-Request-Id": None}): an event
  without a request id (None deletes a default header; other values replace
  it with the spelling given); header_case="lower"/"upper" respells them all.
- exit_when_drained(status=500): once the queue is empty, GET /next answers
  `status` at once instead of long-polling. stop() does the same for blocked
  calls, then closes every connection.
"""
import collections.abc
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse
import uuid

MAX_RESPONSE_BYTES = 6291556
PREFIX = "/2018-06-01"


class Headers(collections.abc.Mapping):
    """Request or response headers: case-insensitive lookup, original order and spelling kept."""

    def __init__(self, pairs=()):
        self._pairs = list(pairs)
        self._map = {}
        for name, value in self._pairs:
            self._map.setdefault(name.lower(), value)

    def __getitem__(self, name):
        return self._map[name.lower()]

    def __contains__(self, name):
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self):
        return (name for name, _ in self._pairs)

    def __len__(self):
        return len(self._pairs)

    def items(self):
        return list(self._pairs)

    def get_all(self, name):
        return [v for n, v in self._pairs if n.lower() == name.lower()]

    def __repr__(self):
        return "Headers(%r)" % self._pairs


def _as_bytes(payload):
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload).encode()


def _parse_json(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


class _Event:
    def __init__(self, payload, request_id, deadline_ms, headers, header_case):
        self.payload = _as_bytes(payload)
        self.request_id = request_id
        self.deadline_ms = deadline_ms
        self.headers = headers or {}
        self.header_case = header_case


class _Fault:
    def __init__(self, on, status=None, body=None, close=False):
        self.on, self.status, self.body, self.close = on, status, body, close


class FakeRuntime:
    """The fake Runtime API; see the module docstring."""

    def __init__(self, host="127.0.0.1", port=0, function_arn=None, timeout_ms=30000):
        self.host, self.port = host, port
        self.function_arn = function_arn or "arn:aws:lambda:eu-west-1:123456789012:function:rds-nlb-sync"
        self.timeout_ms = timeout_ms
        self.requests, self.results, self.init_errors, self.delivered = [], {}, [], []
        self.connections = 0
        self._lock = threading.Condition()
        self._queue = collections.deque()
        self._faults = []
        self._blocks = collections.deque()
        self._drain_status = None
        self._stopping = False
        self._sockets = set()
        self._server = None
        self._thread = None
        self.address = None

    # -- lifecycle -------------------------------------------------------
    def start(self):
        fake = self

        class Handler(_Handler):
            runtime = fake

        server_class = _Server6 if ":" in self.host else _Server
        self._server = server_class((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self.address = ("[%s]:%d" if ":" in self.host else "%s:%d") % (self.host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Answers blocked GET /next calls with 500, closes every connection, stops serving."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            socks = list(self._sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- events ----------------------------------------------------------
    def enqueue(self, payload, request_id=None, deadline_ms=None, headers=None, header_case=None):
        """Queues an event; returns its request id. deadline_ms (Unix ms) defaults to the
        delivery time plus timeout_ms. headers: {name: value or None} overrides."""
        rid = request_id or str(uuid.uuid4())
        with self._lock:
            self._queue.append(_Event(payload, rid, deadline_ms, headers, header_case))
            self._lock.notify_all()
        return rid

    def wait_result(self, request_id, timeout=60.0):
        """The first result posted for request_id: dict(kind, request_id, headers, body, json,
        status_sent, time_ns). Raises TimeoutError when none comes in time."""
        with self._lock:
            if not self._lock.wait_for(lambda: request_id in self.results, timeout):
                raise TimeoutError("no result for %s within %.1fs" % (request_id, timeout))
            return self.results[request_id]

    def wait_for(self, predicate, timeout=60.0):
        """Waits until predicate(self) is true (checked whenever a request arrives)."""
        with self._lock:
            if not self._lock.wait_for(lambda: predicate(self), timeout):
                raise TimeoutError("condition not met within %.1fs" % timeout)

    def wait_requests(self, count, timeout=60.0):
        """Waits until at least `count` requests have arrived; returns a copy of .requests."""
        self.wait_for(lambda s: len(s.requests) >= count, timeout)
        with self._lock:
            return list(self.requests)

    # -- faults ----------------------------------------------------------
    def fail_next(self, status, on="next", body=None, count=1):
        with self._lock:
            for _ in range(count):
                self._faults.append(_Fault(on, status=status, body=body))

    def close_next(self, on="next", count=1):
        with self._lock:
            for _ in range(count):
                self._faults.append(_Fault(on, close=True))

    def block_next(self, seconds):
        with self._lock:
            self._blocks.append(seconds)

    def exit_when_drained(self, status=500):
        with self._lock:
            self._drain_status = status
            self._lock.notify_all()

    # -- used by the handler threads ---------------------------------------
    def _take_fault(self, kind):
        with self._lock:
            for i, f in enumerate(self._faults):
                if f.on in (kind, "any"):
                    return self._faults.pop(i)
        return None

    def _record(self, req):
        with self._lock:
            self.requests.append(req)
            self._lock.notify_all()

    def _next_event(self, handler):
        """Blocks until an event, a drain status or stop. Returns an _Event or a status."""
        with self._lock:
            block = self._blocks.popleft() if self._blocks else 0
        if block:
            end = time.monotonic() + block
            with self._lock:
                while not self._stopping and time.monotonic() < end:
                    self._lock.wait(end - time.monotonic())
        with self._lock:
            while True:
                if self._stopping:
                    return 500
                if self._queue:
                    ev = self._queue.popleft()
                    self.delivered.append(ev.request_id)
                    return ev
                if self._drain_status is not None:
                    return self._drain_status
                self._lock.wait(0.5)

    def _post_result(self, kind, rid, req):
        """(status, body) for a result post, recording the first result per known id.
        A queued fault overrides the status (the result is still recorded)."""
        forced_status, forced_body = req.pop("_forced", (None, None))
        with self._lock:
            if rid not in self.delivered:
                status = 400
            elif rid in self.results:
                status = 403
            else:
                status = 413 if kind == "response" and len(req["body"]) > MAX_RESPONSE_BYTES else 202
                status = forced_status or status
                self.results[rid] = dict(kind=kind, request_id=rid, headers=req["headers"], body=req["body"],
                                         json=_parse_json(req["body"]), status_sent=status,
                                         time_ns=req["time_ns"])
                self._lock.notify_all()
        if forced_status:
            return forced_status, forced_body
        return status, None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A runtime that exits or is killed mid-call is an ordinary event here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


_ERRORS = {
    400: ("InvalidRequestID", "Invalid request ID"),
    403: ("InvalidStateTransition", "State transition is not allowed"),
    404: ("NotFound", "Not found"),
    413: ("RequestEntityTooLarge", "Exceeded maximum allowed payload size (%d bytes)." % MAX_RESPONSE_BYTES),
    500: ("ServiceException", "Container error. Non-recoverable state. Runtime should exit promptly."),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (40 ms)
    runtime = None  # set by FakeRuntime.start

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        rt = self.runtime
        with rt._lock:
            rt.connections += 1
            self.conn_no = rt.connections
            rt._sockets.add(self.connection)

    def finish(self):
        with self.runtime._lock:
            self.runtime._sockets.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    # -- plumbing ----------------------------------------------------------
    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _request(self):
        req = dict(method=self.command, path=urllib.parse.unquote(self.path), raw_path=self.path,
                   version=self.request_version, headers=Headers(self.headers.items()), body=b"",
                   time_ns=time.monotonic_ns(), conn=self.conn_no, status=None)
        req["body"] = self._read_body()
        return req

    def _send(self, req, status, body=b"", headers=()):
        req["status"] = status
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_error(self, req, status, body=None):
        if body is None:
            etype, msg = _ERRORS.get(status, ("Error", "Error %d" % status))
            body = json.dumps({"errorMessage": msg, "errorType": etype}).encode()
        self._send(req, status, _as_bytes(body), [("Content-Type", "application/json")])

    def _fault(self, req, kind):
        """Applies a queued fault to this request; True when it did."""
        f = self.runtime._take_fault(kind)
        if not f:
            return False
        if f.close:
            self.close_connection = True
            return True
        if kind in ("response", "error"):
            req["_forced"] = (f.status, f.body)
            return False  # recorded as a result, answered with the forced status
        self._send_error(req, f.status, f.body)
        return True

    # -- routes ------------------------------------------------------------
    def do_GET(self):
        req = self._request()
        self.runtime._record(req)
        if req["path"] != PREFIX + "/runtime/invocation/next":
            return self._send_error(req, 404)
        if self._fault(req, "next"):
            return
        ev = self.runtime._next_event(self)
        if isinstance(ev, int):
            self.close_connection = True
            return self._send_error(req, ev)
        self._send(req, 200, ev.payload, self._event_headers(ev))

    def do_POST(self):
        req = self._request()
        self.runtime._record(req)
        path = req["path"]
        if path == PREFIX + "/runtime/init/error":
            return self._init_error(req)
        parts = path[len(PREFIX):].split("/") if path.startswith(PREFIX + "/runtime/invocation/") else []
        # ["", "runtime", "invocation", id..., "response"|"error"]; the id may hold "/" once decoded.
        if len(parts) < 5 or parts[-1] not in ("response", "error"):
            return self._send_error(req, 404)
        kind, rid = parts[-1], "/".join(parts[3:-1])
        if self._fault(req, kind):
            return
        status, body = self.runtime._post_result(kind, rid, req)
        if status == 202:
            return self._send(req, 202, b'{"status":"OK"}', [("Content-Type", "application/json")])
        self._send_error(req, status, body)

    def _init_error(self, req):
        if self._fault(req, "init"):
            return
        rt = self.runtime
        with rt._lock:
            rt.init_errors.append(dict(headers=req["headers"], body=req["body"], json=_parse_json(req["body"]),
                                       status_sent=202))
            rt._lock.notify_all()
        self._send(req, 202, b'{"status":"OK"}', [("Content-Type", "application/json")])

    def _event_headers(self, ev):
        rt = self.runtime
        deadline = ev.deadline_ms if ev.deadline_ms is not None else int(time.time() * 1000) + rt.timeout_ms
        hdrs = [("Content-Type", "application/json"),
                ("Lambda-Runtime-Aws-Request-Id", ev.request_id),
                ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                ("Lambda-Runtime-Invoked-Function-Arn", rt.function_arn),
                ("Lambda-Runtime-Trace-Id",
                 "Root=1-%08x-%s;Parent=%s;Sampled=0" % (int(time.time()), uuid.uuid4().hex[:24],
                                                         uuid.uuid4().hex[:16]))]
        for name, value in ev.headers.items():
            hdrs = [(n, v) for n, v in hdrs if n.lower() != name.lower()]
            if value is not None:
                hdrs.append((name, str(value)))
        if ev.header_case == "lower":
            hdrs = [(n.lower(), v) for n, v in hdrs]
        elif ev.header_case == "upper":
            hdrs = [(n.upper(), v) for n, v in hdrs]
        return hdrs
