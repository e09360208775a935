"""Processes of the benchmark (bench.py) and how each figure is taken from them.

Clocks: every time is CLOCK_MONOTONIC of this machine. A process start is the
value tests/tools/runtime_launch prints just before execv(); the fake servers
stamp what they receive with time.monotonic_ns()/time.monotonic().

    Runtime(...)            a FakeRuntime that also records when GET /next handed
                            out each event (.delivered_ns[request_id])
    Impl(name, argv, env)   how to start one implementation
    cold_init(...)          exec -> first GET /next, read by a plain socket
    cold_invoke(...)        exec -> first /next -> first result, on the stack
    Function(...)           a long-lived runtime loop for warm invocations
"""
import os
import select
import socket
import subprocess
import time

from fake_runtime import FakeRuntime
from stack_proc import end, spawn

NEXT_LINE = b"GET /2018-06-01/runtime/invocation/next "
EXIT_ANSWER = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
               b"Content-Length: 32\r\nConnection: close\r\n\r\n{\"errorType\":\"ServiceException\"}")


class BenchError(RuntimeError):
    pass


class Runtime(FakeRuntime):
    """The fake Runtime API, plus .delivered_ns: request id -> monotonic ns at which
    GET /next handed the event out (the start of an invocation)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.delivered_ns = {}

    def _next_event(self, handler):
        ev = super()._next_event(handler)
        if not isinstance(ev, int):
            self.delivered_ns[ev.request_id] = time.monotonic_ns()
        return ev

    def invoke(self, event, timeout):
        """Queues event, waits for its result; (result dict, ms from delivery to result)."""
        rid = self.enqueue(event)
        res = self.wait_result(rid, timeout)
        return res, (res["time_ns"] - self.delivered_ns[rid]) / 1e6


class Impl:
    """One implementation: argv (without the launcher) and its whole environment
    (AWS_LAMBDA_RUNTIME_API is set per run)."""

    def __init__(self, name, argv, env, cwd=None):
        self.name, self.argv, self.env, self.cwd = name, list(argv), dict(env), cwd

    def env_for(self, api):
        return dict(self.env, AWS_LAMBDA_RUNTIME_API=api)


def _launch(launcher, impl, api, log):
    """Starts impl through the launcher; (process, exec time in ns)."""
    proc = spawn([launcher] + impl.argv, env=impl.env_for(api), cwd=impl.cwd, stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=log)
    line = proc.stdout.readline()
    try:
        return proc, int(line)
    except ValueError:
        end(proc)
        raise BenchError("%s: the launcher printed %r instead of the exec time" % (impl.name, line))


def _finish(proc, impl, timeout):
    try:
        proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end(proc)
        raise BenchError("%s did not exit within %.0f s after the Runtime API answered 500" % (impl.name, timeout))


class Listener:
    """A plain TCP listener standing in for the Runtime API at start-up: it stamps the
    first request line as soon as it is read (no server thread in between)."""

    def __init__(self, host="127.0.0.1"):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.address = "%s:%d" % (host, self.sock.getsockname()[1])

    def first_line(self, proc, timeout):
        """(monotonic ns when the first request line arrived, that line); answers 500 and closes."""
        until = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if ready:
                break
            if proc.poll() is not None:
                raise BenchError("exited with status %d before connecting to the Runtime API" % proc.returncode)
            if time.monotonic() > until:
                raise BenchError("no connection to the Runtime API within %.0f s" % timeout)
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(max(0.1, until - time.monotonic()))
            buf = b""
            while b"\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    raise BenchError("closed the connection before a request line")
                buf += chunk
            t = time.monotonic_ns()
            conn.sendall(EXIT_ANSWER)
        return t, buf.split(b"\r\n", 1)[0]

    def close(self):
        self.sock.close()


def cold_init(launcher, impl, listener, log, timeout=30.0):
    """Milliseconds from exec to the first GET /next."""
    proc, t0 = _launch(launcher, impl, listener.address, log)
    try:
        t1, line = listener.first_line(proc, timeout)
    except BenchError as e:
        end(proc)
        raise BenchError("%s: %s" % (impl.name, e))
    if not (line + b" ").startswith(NEXT_LINE):
        end(proc)
        raise BenchError("%s: the first request was %r, not GET /next" % (impl.name, line[:100]))
    _finish(proc, impl, timeout)
    return (t1 - t0) / 1e6


def cold_invoke(launcher, impl, runtime, event, log, timeout=60.0):
    """A cold start with the event already queued: dict(init_ms (exec -> /next answered),
    first_ms (/next answered -> result read), total_ms (exec -> result), result)."""
    rid = runtime.enqueue(event)
    proc, t0 = _launch(launcher, impl, runtime.address, log)
    try:
        res = runtime.wait_result(rid, timeout)
        runtime.exit_when_drained()
        _finish(proc, impl, timeout)
    except TimeoutError:
        end(proc)
        raise BenchError("%s: no result for the first invocation within %.0f s" % (impl.name, timeout))
    finally:
        runtime.exit_when_drained(None)
    delivered = runtime.delivered_ns[rid]
    return {"init_ms": (delivered - t0) / 1e6, "first_ms": (res["time_ns"] - delivered) / 1e6,
            "total_ms": (res["time_ns"] - t0) / 1e6, "result": res}


class Function:
    """A runtime loop kept running for warm invocations, with its own fake Runtime API."""

    def __init__(self, impl, runtime, log):
        self.impl, self.runtime = impl, runtime
        self.proc = spawn(impl.argv, env=impl.env_for(runtime.address), cwd=impl.cwd,
                          stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def invoke(self, event, timeout=60.0):
        if self.proc.poll() is not None:
            raise BenchError("%s exited with status %d" % (self.impl.name, self.proc.returncode))
        try:
            return self.runtime.invoke(event, timeout)
        except TimeoutError:
            raise BenchError("%s: no result within %.0f s" % (self.impl.name, timeout))

    def cpu_seconds(self):
        """User + system CPU time of the process so far (exited threads included)."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_kib(self):
        """VmHWM: the most resident memory the process has had, in KiB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise BenchError("no VmHWM in /proc/%d/status" % self.proc.pid)

    def stop(self, timeout=10.0):
        self.runtime.exit_when_drained()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            end(self.proc)
        self.runtime.stop()


class ElbTimer:
    """Records how long the fake ELBv2 spends on each request it answers (its own
    service time: signature check, state, XML, writing the answer)."""

    def __init__(self, elb):
        self.durations_ns = []
        serve = elb._serve

        def timed(handler, body):
            t = time.monotonic_ns()
            try:
                serve(handler, body)
            finally:
                self.durations_ns.append(time.monotonic_ns() - t)
        elb._serve = timed

    def take(self, requests):
        """Total ms of the last `requests` answers (waits briefly for the last one to be
        counted: the server thread records it just after sending it)."""
        until = time.monotonic() + 1.0
        while len(self.durations_ns) < requests and time.monotonic() < until:
            time.sleep(0.001)
        got, self.durations_ns = self.durations_ns, []
        return sum(got) / 1e6


def tree_bytes(paths):
    """Total size of the regular files under paths (files or folders)."""
    total = 0
    for p in paths:
        if os.path.isfile(p):
            total += os.path.getsize(p)
        for folder, _, files in os.walk(p):
            for name in files:
                full = os.path.join(folder, name)
                if os.path.isfile(full) and not os.path.islink(full):
                    total += os.path.getsize(full)
    return total
