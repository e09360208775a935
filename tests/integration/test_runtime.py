"""runtime/ against the fake Runtime API: the exact requests it makes, and how it
reacts to every answer the Lambda service may give.

The function under test is tests/tools/runtime_echo (its header comment lists
the ops an event may ask for); it links only libruntime."""
import contextlib
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import tap
from fake_runtime import FakeRuntime

BUILD = tap.build_dir()
ECHO = os.path.join(BUILD, "tools", "runtime_echo")
ASAN_ECHO = os.path.join(BUILD, "asan", "tools", "runtime_echo")
PREFIX = "/2018-06-01/runtime"
NEXT = PREFIX + "/invocation/next"
LIMIT = 6291556
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def need_binary(path=ECHO):
    if not os.path.exists(path):
        raise AssertionError("%s is not built (make BUILD=... %s)" % (path, os.path.relpath(path, tap.root())))


class Proc:
    """runtime_echo as a child process, stderr kept in a file (a pipe could fill up)."""

    def __init__(self, address, env=None, args=(), binary=ECHO, wrapper=()):
        need_binary(binary)
        self.err = tempfile.TemporaryFile()
        full = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_LOG")}
        full.update(env or {})
        if address is not None:
            full["AWS_LAMBDA_RUNTIME_API"] = address
        self.started = time.monotonic()
        self.proc = subprocess.Popen(list(wrapper) + [binary] + list(args), env=full,
                                     stdout=subprocess.DEVNULL, stderr=self.err)

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("runtime still running after %ss" % timeout)

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


@contextlib.contextmanager
def running(env=None, args=(), binary=ECHO, setup=None, **fake_args):
    """The fake and runtime_echo against it. setup(api) runs before the start: a fault or
    block for the first GET /next must be queued before it arrives, which can be at once."""
    with FakeRuntime(**fake_args) as api:
        if setup:
            setup(api)
        p = Proc(api.address, env, args, binary)
        try:
            yield api, p
        finally:
            p.kill()


def stop(api, p, timeout=60):
    """Ends the run the way the service does (500 on an idle /next); returns the exit status."""
    api.exit_when_drained()
    return p.wait(timeout)


def posts(api):
    return [r for r in api.requests if r["method"] == "POST"]


# ---------------------------------------------------------------- success ---

@tap.case
def success_posts_the_exact_response():
    payload = b'{"op":"echo","n":1,"text":"caf\xc3\xa9"}'
    with running() as (api, p):
        rid = api.enqueue(payload)
        res = api.wait_result(rid)
        tap.eq(stop(api, p), 1, "exit status after the service's 500")
        reqs = api.requests
        tap.eq([(r["method"], r["path"]) for r in reqs],
               [("GET", NEXT), ("POST", "%s/invocation/%s/response" % (PREFIX, rid)), ("GET", NEXT)])
        get, post = reqs[0], reqs[1]
        tap.eq(get["version"], "HTTP/1.1")
        tap.eq(get["body"], b"")
        tap.eq(get["headers"]["Host"], api.address)
        for name in ("Expect", "Content-Length", "Transfer-Encoding", "Proxy-Connection"):
            tap.ok(name not in get["headers"], "GET /next carries %s" % name)
        tap.eq(res["kind"], "response")
        tap.eq(res["body"], payload)
        tap.eq(res["status_sent"], 202)
        tap.eq(post["version"], "HTTP/1.1")
        tap.eq(post["headers"]["Content-Type"], "application/json")
        tap.eq(post["headers"]["Content-Length"], str(len(payload)))
        for name in ("Expect", "Transfer-Encoding", "Lambda-Runtime-Function-Error-Type"):
            tap.ok(name not in post["headers"], "POST /response carries %s" % name)


@tap.case
def content_type_and_empty_payload():
    with running() as (api, p):
        r1 = api.enqueue({"op": "body", "contentType": "text/plain; charset=utf-8", "body": "hello"})
        r2 = api.enqueue({"op": "body", "contentType": "text/plain\r\nX-Evil: 1", "body": "x"})
        r3 = api.enqueue({"op": "null"})
        a, b, c = (api.wait_result(r) for r in (r1, r2, r3))
        tap.eq((a["headers"]["Content-Type"], a["body"]), ("text/plain; charset=utf-8", b"hello"))
        tap.ok("X-Evil" not in b["headers"], "a content type injected a header")
        tap.eq(b["headers"]["Content-Type"], "text/plain__X-Evil: 1")
        tap.eq((c["kind"], c["body"], c["headers"]["Content-Length"], c["headers"]["Content-Type"]),
               ("response", b"", "0", "application/json"))


@tap.case
def binary_and_large_events_round_trip():
    blob = b"not json \x00\xff\xfe" + bytes(range(256))
    big = json.dumps({"op": "echo", "pad": "p" * (3 << 20)}).encode()
    with running() as (api, p):
        r1, r2 = api.enqueue(blob), api.enqueue(big)
        tap.eq(api.wait_result(r1)["body"], blob)
        tap.eq(api.wait_result(r2, 30)["body"], big)


@tap.case
def invocation_fields_and_deadline():
    # A minute ahead: remainingMs stays positive however long a busy machine takes to deliver the
    # event; an ignored header would give the 900000 ms default, a wrong epoch a wild value.
    deadline = int(time.time() * 1000) + 60000
    hdrs = {"Lambda-Runtime-Client-Context": '{"custom":{"k":"v"}}',
            "Lambda-Runtime-Cognito-Identity": '{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool"}',
            "Lambda-Runtime-Aws-Tenant-Id": "tenant-42",
            "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}
    with running(function_arn="arn:aws:lambda:eu-west-1:111122223333:function:f:live") as (api, p):
        rid = api.enqueue({"op": "env"}, deadline_ms=deadline, headers=hdrs)
        got = api.wait_result(rid)["json"]
        tap.eq(got["requestId"], rid)
        tap.eq(got["functionArn"], "arn:aws:lambda:eu-west-1:111122223333:function:f:live")
        tap.eq(got["deadlineMs"], deadline)
        tap.ok(0 < got["remainingMs"] <= 60000, "remaining %d ms" % got["remainingMs"])
        tap.eq(got["clientContext"], hdrs["Lambda-Runtime-Client-Context"])
        tap.eq(got["cognitoIdentity"], hdrs["Lambda-Runtime-Cognito-Identity"])
        tap.eq(got["tenantId"], "tenant-42")
        tap.eq(got["traceId"], hdrs["Lambda-Runtime-Trace-Id"])
        tap.eq(got["payloadLen"], len(b'{"op": "env"}'))
        rid = api.enqueue({"op": "env"}, headers={"Lambda-Runtime-Deadline-Ms": None})
        got = api.wait_result(rid)["json"]
        tap.eq((got["deadlineMs"], got["remainingMs"]), (0, 900000), "without a deadline header")
        tap.eq(got["tenantId"], "")


@tap.case
def headers_are_read_case_insensitively():
    hdrs = {"Lambda-Runtime-Client-Context": "cc", "Lambda-Runtime-Cognito-Identity": "ci",
            "Lambda-Runtime-Aws-Tenant-Id": "t", "Lambda-Runtime-Trace-Id": "Root=1-a"}
    with running() as (api, p):
        for case in ("lower", "upper"):
            rid = api.enqueue({"op": "env"}, deadline_ms=4102444800000, headers=hdrs, header_case=case)
            got = api.wait_result(rid)["json"]
            tap.eq((got["requestId"], got["deadlineMs"], got["clientContext"], got["cognitoIdentity"],
                    got["tenantId"], got["traceId"], got["traceEnv"]),
                   (rid, 4102444800000, "cc", "ci", "t", "Root=1-a", "Root=1-a"), case)
            tap.ok(got["functionArn"].startswith("arn:aws:lambda:"), case)


@tap.case
def trace_id_is_set_for_the_invocation_and_cleared_after():
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    with running(env={"_X_AMZN_TRACE_ID": "stale-from-the-environment"}) as (api, p):
        r1 = api.enqueue({"op": "env"}, headers={"Lambda-Runtime-Trace-Id": trace})
        r2 = api.enqueue({"op": "env"}, headers={"Lambda-Runtime-Trace-Id": None})
        r3 = api.enqueue({"op": "env"}, headers={"Lambda-Runtime-Trace-Id": "Root=1-b"})
        tap.eq(api.wait_result(r1)["json"]["traceEnv"], trace)
        tap.eq(api.wait_result(r2)["json"]["traceEnv"], None, "after an invocation without a trace header")
        tap.eq(api.wait_result(r3)["json"]["traceEnv"], "Root=1-b")


@tap.case
def request_id_is_escaped_in_the_path():
    with running() as (api, p):
        rid = api.enqueue({"op": "echo"}, request_id="odd/id with?chars")
        res = api.wait_result(rid)
        tap.eq(res["kind"], "response")
        post = posts(api)[0]
        tap.eq(post["raw_path"], PREFIX + "/invocation/odd%2Fid%20with%3Fchars/response")


# ----------------------------------------------------------------- errors ---

@tap.case
def handler_error_posts_the_exact_error():
    with running() as (api, p):
        rid = api.enqueue({"op": "fail", "type": "ResolveError", "message": 'no address for "db"\nat all'})
        res = api.wait_result(rid)
        tap.eq(res["kind"], "error")
        post = posts(api)[0]
        tap.eq(post["path"], "%s/invocation/%s/error" % (PREFIX, rid))
        tap.eq(res["headers"]["Content-Type"], "application/json")
        tap.eq(res["headers"]["Lambda-Runtime-Function-Error-Type"], "ResolveError")
        tap.eq(res["body"], b'{"errorMessage":"no address for \\"db\\"\\nat all","errorType":"ResolveError",'
                            b'"stackTrace":[]}')
        tap.eq(res["headers"]["Content-Length"], str(len(res["body"])))
        tap.ok("Expect" not in res["headers"], "Expect header sent")
        rid = api.enqueue({"op": "fail"})
        res = api.wait_result(rid)
        tap.eq(res["headers"]["Lambda-Runtime-Function-Error-Type"], "Unhandled")
        tap.eq(res["json"], {"errorMessage": "", "errorType": "Unhandled", "stackTrace": []})


@tap.case
def oversized_response_becomes_an_error():
    with running() as (api, p):
        rid = api.enqueue({"op": "big", "size": LIMIT + 1})
        res = api.wait_result(rid, 30)
        tap.eq(res["kind"], "error")
        tap.eq(res["headers"]["Lambda-Runtime-Function-Error-Type"], "Function.ResponseSizeTooLarge")
        tap.eq(res["body"], b'{"errorMessage":"Response payload size (6291557 bytes) exceeded maximum allowed '
                            b'payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge",'
                            b'"stackTrace":[]}')
        tap.eq([r["path"].rsplit("/", 1)[1] for r in posts(api)], ["error"], "what was posted")
        rid = api.enqueue({"op": "echo", "after": True})
        tap.eq(api.wait_result(rid)["json"], {"op": "echo", "after": True})
        tap.ok(re.search(r"\tWARN\t%s\tResponse payload size \(6291557 bytes\)" % res["request_id"], p.log()),
               "no WARN line about the size")


@tap.case
def response_at_the_limit_is_posted():
    with running() as (api, p):
        rid = api.enqueue({"op": "big", "size": LIMIT})
        res = api.wait_result(rid, 30)
        tap.eq((res["kind"], len(res["body"]), res["status_sent"]), ("response", LIMIT, 202))
        tap.eq(res["headers"]["Content-Type"], "text/plain")
        tap.ok("Expect" not in res["headers"], "Expect header on a large body")


@tap.case
def status_413_is_logged_and_the_loop_goes_on():
    with running() as (api, p):
        api.fail_next(413, on="response")
        r1 = api.enqueue({"op": "echo", "n": 1})
        tap.eq(api.wait_result(r1)["status_sent"], 413)
        r2 = api.enqueue({"op": "echo", "n": 2})
        tap.eq(api.wait_result(r2)["status_sent"], 202)
        tap.ok(p.alive(), "the runtime exited after a 413")
        tap.ok(re.search(r"\tWARN\t%s\tRuntime API answered 413 to POST" % r1, p.log()), "413 not logged")


@tap.case
def status_400_and_403_are_logged_and_the_loop_goes_on():
    with running() as (api, p):
        api.fail_next(400, on="response")
        api.fail_next(403, on="error")
        r1 = api.enqueue({"op": "echo"})
        r2 = api.enqueue({"op": "fail", "type": "X"})
        r3 = api.enqueue({"op": "echo", "n": 3})
        tap.eq([api.wait_result(r)["status_sent"] for r in (r1, r2, r3)], [400, 403, 202])
        log = p.log()
        tap.ok("answered 400 to POST" in log and "answered 403 to POST" in log, "not logged: " + log)
        tap.eq(stop(api, p), 1)


@tap.case
def status_500_on_next_exits_promptly():
    with running(setup=lambda api: api.fail_next(500, on="next")) as (api, p):
        tap.eq(p.wait(60), 1)
        tap.eq([(r["method"], r["path"]) for r in api.requests], [("GET", NEXT)])
        tap.ok(re.search(r"\tERROR\t\tRuntime API answered 500 to GET", p.log()), p.log())


@tap.case
def status_500_on_response_exits_promptly():
    with running() as (api, p):
        api.fail_next(500, on="response")
        rid = api.enqueue({"op": "echo"})
        tap.eq(p.wait(60), 1)
        tap.eq([r["method"] for r in api.requests], ["GET", "POST"])
        tap.ok("answered 500 to POST %s/invocation/%s/response" % ("/runtime", rid) in p.log(), p.log())


@tap.case
def status_500_on_error_exits_promptly():
    with running() as (api, p):
        api.fail_next(500, on="error")
        api.enqueue({"op": "fail", "type": "T"})
        tap.eq(p.wait(60), 1)
        tap.eq([r["method"] for r in api.requests], ["GET", "POST"])


@tap.case
def init_error_is_posted_once_then_exit_non_zero():
    with FakeRuntime() as api:
        p = Proc(api.address, args=["--init-error", "Runtime.ConfigError", "DB_PORT is missing"])
        try:
            tap.eq(p.wait(60), 1)
        finally:
            p.kill()
        tap.eq([(r["method"], r["path"]) for r in api.requests], [("POST", PREFIX + "/init/error")])
        err = api.init_errors[0]
        tap.eq(err["headers"]["Content-Type"], "application/json")
        tap.eq(err["headers"]["Lambda-Runtime-Function-Error-Type"], "Runtime.ConfigError")
        tap.eq(err["body"], b'{"errorMessage":"DB_PORT is missing","errorType":"Runtime.ConfigError","stackTrace":[]}')


@tap.case
def init_error_answered_500_still_exits_non_zero():
    with FakeRuntime() as api:
        api.fail_next(500, on="init")
        p = Proc(api.address, args=["--init-error", "Runtime.ConfigError", "x"])
        try:
            tap.eq(p.wait(60), 1)
        finally:
            p.kill()
        tap.eq(len(api.requests), 1)


# ------------------------------------------------------------ connections ---

@tap.case
def blocked_next_has_no_timeout():
    with running(setup=lambda api: api.block_next(6)) as (api, p):
        rid = api.enqueue({"op": "echo"})
        res = api.wait_result(rid, 20)
        tap.eq(res["kind"], "response")
        # Before the result: the loop's next GET /next may already have arrived after it.
        gets = [r for r in api.requests if r["method"] == "GET" and r["time_ns"] < res["time_ns"]]
        tap.eq(len(gets), 1, "GET /next retried while blocked")
        tap.ok(res["time_ns"] - gets[0]["time_ns"] >= 5.9e9, "the /next did not block")
        tap.eq(api.connections, 1)


@tap.case
def keep_alive_one_connection_for_many_invocations():
    with running() as (api, p):
        rids = [api.enqueue({"op": "echo", "i": i}) for i in range(50)]
        for rid in rids:
            api.wait_result(rid)
        reqs = api.wait_requests(101)
        tap.eq(api.connections, 1)
        tap.eq({r["conn"] for r in reqs}, {1})
        tap.eq(len(reqs), 101)


@tap.case
def proxy_variables_are_ignored():
    dead = "http://127.0.0.1:%d" % free_port()
    env = {k: dead for k in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "https_proxy")}
    with running(env=env) as (api, p):
        rid = api.enqueue({"op": "echo"})
        tap.eq(api.wait_result(rid)["kind"], "response")
        tap.eq(api.requests[0]["path"], NEXT, "request line (absolute-form means a proxy)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@tap.case
def ipv6_and_localhost_addresses():
    for host in ("::1", "localhost"):
        try:
            api = FakeRuntime(host="::1" if host == "::1" else "127.0.0.1").start()
        except OSError as e:
            tap.skip("no IPv6 loopback: %s" % e)
        try:
            address = api.address if host == "::1" else api.address.replace("127.0.0.1", "localhost")
            p = Proc(address)
            try:
                rid = api.enqueue({"op": "echo"})
                tap.eq(api.wait_result(rid)["kind"], "response", host)
                tap.eq(stop(api, p), 1)
            finally:
                p.kill()
        finally:
            api.stop()


@tap.case
def connection_refused_at_start_bounded_retries_then_exit():
    p = Proc("127.0.0.1:%d" % free_port())
    try:
        tap.eq(p.wait(60), 1)
        took = time.monotonic() - p.started
        log = p.log()
    finally:
        p.kill()
    tap.eq(len(re.findall(r"\tWARN\t\tRuntime API call GET /runtime/invocation/next failed .*retrying", log)), 4, log)
    tap.ok(re.search(r"\tERROR\t\tRuntime API call GET /runtime/invocation/next failed after 5 attempt", log), log)
    tap.ok(took < 10, "took %.1fs" % took)


@tap.case
def dropped_connections_are_retried_a_bounded_number_of_times():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    accepted = []

    def accept_and_close():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            accepted.append(c.recv(65536))
            c.close()

    threading.Thread(target=accept_and_close, daemon=True).start()
    p = Proc("127.0.0.1:%d" % srv.getsockname()[1])
    try:
        tap.eq(p.wait(60), 1)
    finally:
        p.kill()
        srv.close()
    tap.eq(len(accepted), 5, "attempts")
    tap.ok(all(a.startswith(b"GET " + NEXT.encode() + b" HTTP/1.1\r\n") for a in accepted), accepted[0][:80])


@tap.case
def api_that_comes_up_late_is_reached():
    port = free_port()
    p = Proc("127.0.0.1:%d" % port)
    try:
        time.sleep(0.1)
        with FakeRuntime(port=port) as api:
            rid = api.enqueue({"op": "echo"})
            tap.eq(api.wait_result(rid)["kind"], "response")
            tap.eq(stop(api, p), 1)
    finally:
        p.kill()


@tap.case
def connection_closed_during_next_is_retried():
    with running(setup=lambda api: api.close_next(on="next")) as (api, p):
        rid = api.enqueue({"op": "echo"})
        tap.eq(api.wait_result(rid)["kind"], "response")
        tap.eq([r["path"] for r in api.requests[:2]], [NEXT, NEXT])
        tap.eq(api.connections, 2)


class RawApi:
    """A Runtime API that answers from a script, byte for byte, on a raw socket:
    the framings http.server never sends. `script` holds one (answer bytes,
    then-close) pair per request, in order; each request's head is kept."""

    def __init__(self, script):
        self.script = list(script)
        self.requests, self.connections = [], 0
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.address = "127.0.0.1:%d" % self.srv.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _read_request(self, c, buf):
        while b"\r\n\r\n" not in buf:
            more = c.recv(65536)
            if not more:
                return None, b""
            buf += more
        head, rest = buf.split(b"\r\n\r\n", 1)
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        need = int(m.group(1)) if m else 0
        while len(rest) < need:
            more = c.recv(65536)
            if not more:
                return None, b""
            rest += more
        return (head, rest[:need]), rest[need:]

    def _serve(self):
        while self.script:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.connections += 1
            buf = b""
            while self.script:
                req, buf = self._read_request(c, buf)
                if req is None:
                    break
                self.requests.append(req)
                answer, close = self.script.pop(0)
                for piece in answer if isinstance(answer, list) else [answer]:
                    c.sendall(piece)
                if close:
                    break
            c.close()

    def close(self):
        self.srv.close()


def run_raw(script):
    """runtime_echo against a RawApi of script until it exits: (api, exit status, log)."""
    api = RawApi(script)
    p = Proc(api.address)
    try:
        return api, p.wait(60), p.log()
    finally:
        p.kill()
        api.close()


def next_answer(rid, body, framing):
    head = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: " + rid.encode() + \
        b"\r\nLambda-Runtime-Deadline-Ms: 4102444800000\r\nContent-Type: application/json\r\n"
    if framing == "chunked":
        # an interim answer first, then the body in three chunks, one with an extension,
        # and a trailer; sent in pieces that cut lines in two
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:3], body[3:4], body[4:]))
        chunks = chunks.replace(b"1\r\n", b"1;ext=1\r\n", 1)
        whole = b"HTTP/1.1 100 Continue\r\n\r\n" + head + b"Transfer-Encoding: chunked\r\n\r\n" + \
            chunks + b"0\r\nX-Trailer: t\r\n\r\n"
        return [whole[i:i + 7] for i in range(0, len(whole), 7)]
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"


@tap.case
def chunked_interim_and_closed_connections_are_read():
    """Framings and connection ends the Runtime API's HTTP server may use: a chunked
    /next cut into 7-byte pieces after a 100 Continue; a POST answered with
    Connection: close; an idle kept-alive connection the server closed (reconnected
    without a retry: nothing failed)."""
    e1, e2, e3 = b'{"op":"echo","n":1}', b'{"op":"echo","n":2}', b'{"op":"echo","n":3}'
    api, status, log = run_raw([
        (next_answer("r1", e1, "chunked"), False),
        (ACCEPTED.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1), True),
        (next_answer("r2", e2, "length"), False),
        (ACCEPTED, True),  # closed after the answer: the next call finds it closed
        (next_answer("r3", e3, "length"), False),
        (ACCEPTED, False),
        (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", True),
    ])
    tap.eq(status, 1)
    lines = [h.split(b"\r\n", 1)[0] for h, _ in api.requests]
    tap.eq(lines, [b"GET " + NEXT.encode() + b" HTTP/1.1",
                   b"POST " + PREFIX.encode() + b"/invocation/r1/response HTTP/1.1",
                   b"GET " + NEXT.encode() + b" HTTP/1.1",
                   b"POST " + PREFIX.encode() + b"/invocation/r2/response HTTP/1.1",
                   b"GET " + NEXT.encode() + b" HTTP/1.1",
                   b"POST " + PREFIX.encode() + b"/invocation/r3/response HTTP/1.1",
                   b"GET " + NEXT.encode() + b" HTTP/1.1"], log)
    tap.eq([b for h, b in api.requests if h.startswith(b"POST")], [e1, e2, e3])
    tap.eq(api.connections, 3)
    tap.ok("WARN" not in log and "retrying" not in log, log)


@tap.case
def malformed_answer_is_not_retried():
    api, status, log = run_raw([(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx", True)])
    tap.eq(status, 1)
    tap.eq(len(api.requests), 1, "attempts")
    tap.ok(re.search(r"\tERROR\t\tRuntime API call GET /runtime/invocation/next failed after 1 attempt\(s\): "
                     r"the answer uses a transfer coding other than chunked", log), log)


@tap.case
def missing_request_id_is_fatal():
    with running() as (api, p):
        api.enqueue({"op": "echo"}, headers={"Lambda-Runtime-Aws-Request-Id": None})
        tap.eq(p.wait(60), 1)
        tap.eq([r["method"] for r in api.requests], ["GET"])
        tap.ok(re.search(r"\tFATAL\t\t.*without a Lambda-Runtime-Aws-Request-Id header", p.log()), p.log())


@tap.case
def empty_request_id_is_fatal():
    with running() as (api, p):
        api.enqueue({"op": "echo"}, headers={"Lambda-Runtime-Aws-Request-Id": ""})
        tap.eq(p.wait(60), 1)
        tap.eq(len(posts(api)), 0)


@tap.case
def bad_runtime_api_value_is_reported():
    p = Proc("127.0.0.1:9001/evil")
    try:
        tap.eq(p.wait(60), 2)
        tap.ok("AWS_LAMBDA_RUNTIME_API is not a host:port" in p.log(), p.log())
    finally:
        p.kill()


@tap.case
def nothing_slow_before_the_first_next():
    """No CA file, no resolver configuration, no DNS socket before the first /next,
    also for "localhost" (libcurl answers it without a lookup)."""
    strace = tap.need("strace", "strace")
    if os.environ.get("RNS_SANITIZED"):
        tap.skip("the sanitizer pass: LeakSanitizer does not run under strace (the plain pass runs this)")
    for host in ("127.0.0.1", "localhost"):
        with FakeRuntime() as api:
            with tempfile.NamedTemporaryFile() as trace:
                p = Proc(api.address.replace("127.0.0.1", host),
                         wrapper=[strace, "-f", "-qq", "-e", "trace=openat,open,socket,connect", "-o", trace.name])
                try:
                    api.wait_requests(1)
                    tap.eq(stop(api, p), 1)
                finally:
                    p.kill()
                lines = open(trace.name).read().splitlines()
        first = next(i for i, l in enumerate(lines) if "connect(" in l and "AF_INET" in l)
        before = "\n".join(lines[:first + 1])
        for bad in ("/etc/ssl/certs", "ca-bundle", "ca-certificates", "/etc/pki", "resolv.conf", "/etc/hosts",
                    "nsswitch", "SOCK_DGRAM", "htons(53)"):
            tap.ok(bad not in before, "%s before the first /next (%s):\n%s" % (bad, host, before))
        tap.ok("127.0.0.1" in lines[first], lines[first])


# ------------------------------------------------------------------- logs ---

@tap.case
def text_logs_by_default():
    with running() as (api, p):
        rid = api.enqueue({"op": "log", "level": "WARN", "message": "shifted", "fields": {"target": "10.0.0.1:5432",
                                                                                          "note": "two words"}})
        r2 = api.enqueue({"op": "log", "level": "INFO", "message": "info line"})
        r3 = api.enqueue({"op": "log", "level": "DEBUG", "message": "debug line"})
        for r in (rid, r2, r3):
            api.wait_result(r)
        tap.eq(stop(api, p), 1)
        lines = p.log().splitlines()
    tap.ok(any(re.fullmatch(r"%s\tWARN\t%s\tshifted target=10\.0\.0\.1:5432 note=\"two words\"" % (TS, rid), l)
               for l in lines), lines)
    tap.ok(any(re.fullmatch(r"%s\tINFO\t%s\tinfo line" % (TS, r2), l) for l in lines), lines)
    tap.ok(not any("debug line" in l or "invocation started" in l for l in lines), "DEBUG shown at INFO")
    tap.ok(re.fullmatch(r"%s\tERROR\t\tRuntime API answered 500 to GET .*" % TS, lines[-1]), lines[-1])
    for l in lines:
        tap.ok(re.match(r"%s\t(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\t" % TS, l), "not a log line: %r" % l)


@tap.case
def json_logs_when_asked():
    env = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}
    with running(env=env) as (api, p):
        rid = api.enqueue({"op": "log", "level": "INFO", "message": "hello", "fields": {"port": 5432}})
        api.wait_result(rid)
        tap.eq(stop(api, p), 1)
        lines = [json.loads(l) for l in p.log().splitlines()]
    for obj in lines:
        tap.ok(re.fullmatch(TS, obj["timestamp"]), obj)
        tap.ok(obj["level"] in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"), obj)
        tap.ok(isinstance(obj["message"], str), obj)
    start = [o for o in lines if o["message"].startswith("invocation started")]
    tap.eq(len(start), 1, "invocation start lines")
    tap.eq((start[0]["level"], start[0]["requestId"]), ("DEBUG", rid))
    tap.ok({"message": "hello", "level": "INFO", "requestId": rid, "port": 5432}.items() <= lines[1].items(),
           lines[1])
    tap.ok("requestId" not in lines[-1], "requestId outside an invocation: %r" % lines[-1])
    tap.eq(lines[-1]["level"], "ERROR")


@tap.case
def log_level_threshold():
    for level, shown in (("ERROR", {"ERROR", "FATAL"}), ("TRACE", {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}),
                         ("warn", {"WARN", "ERROR", "FATAL"}), ("bogus", {"INFO", "WARN", "ERROR", "FATAL"})):
        with running(env={"AWS_LAMBDA_LOG_LEVEL": level}) as (api, p):
            rids = [api.enqueue({"op": "log", "level": lv, "message": "at-" + lv})
                    for lv in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")]
            for r in rids:
                api.wait_result(r)
            log = p.log()
        got = {lv for lv in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL") if "\tat-%s\n" % lv in log}
        tap.eq(got, shown, "AWS_LAMBDA_LOG_LEVEL=" + level)


@tap.case
def payload_is_never_logged():
    marker = "SECRET-PAYLOAD-7f3a"
    with running(env={"AWS_LAMBDA_LOG_LEVEL": "TRACE"}) as (api, p):
        rids = [api.enqueue({"op": "echo", "secret": marker}),
                api.enqueue({"op": "fail", "type": "T", "message": marker}),
                api.enqueue({"op": "echo", "secret": marker}, request_id="r-413")]
        api.fail_next(413, on="response")
        api.fail_next(403, on="error")
        for r in rids:
            api.wait_result(r)
        tap.eq(stop(api, p), 1)
        log = p.log()
    tap.ok("invocation started" in log, "TRACE run shows no DEBUG lines")
    tap.ok(marker not in log, "payload in the logs:\n" + log)


@tap.case
def sanitizer_build_is_clean():
    if not os.path.exists(ASAN_ECHO):
        tap.skip("no ASan build at %s (make asan)" % ASAN_ECHO)
    env = {"AWS_LAMBDA_LOG_LEVEL": "TRACE", "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    with running(env=env, binary=ASAN_ECHO) as (api, p):
        api.fail_next(413, on="response")
        evs = [{"op": "echo"}, {"op": "fail", "type": "T", "message": "m"}, {"op": "big", "size": LIMIT + 1},
               {"op": "env"}, b"\x00\xff", {"op": "null"}, {"op": "log", "level": "WARN", "message": "w"}]
        rids = [api.enqueue(e, headers={"Lambda-Runtime-Trace-Id": "Root=1-x"}) for e in evs]
        for r in rids:
            api.wait_result(r, 30)
        api.close_next()
        rid = api.enqueue({"op": "echo"}, header_case="lower")
        api.wait_result(rid)
        tap.eq(stop(api, p, 30), 1)
        log = p.log()
    tap.ok("Sanitizer" not in log and "runtime error" not in log, log[-3000:])


tap.main()
