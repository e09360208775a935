"""Benchmarks of runtime/: time from exec to the first GET /next, and the cost of
one invocation with a trivial handler.

    from runtime_bench import measure
    figures = measure()          # a dict, see measure()

or `/usr/bin/python3 tests/bench/runtime_bench.py [--build DIR] [--binary PATH]`.

The start time is taken by tests/tools/runtime_launch just before execv() and
compared with the moment a plain-socket server (not the threaded fake, whose
own latency would count) reads the first GET /next; CLOCK_MONOTONIC on both
sides. Baselines put it in context: a static "hello" (what exec alone costs on
this machine) and a "hello" linked against the same shared libraries, which
also times curl_global_init(). Per invocation: the turnaround seen by the
server, from sending an event to having read the whole POST /response, and the
CPU time the runtime process spends per invocation (from /proc/PID/stat).
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LIBS = ["-lcurl", "-ljansson", "-lexpat", "-lssl", "-lcrypto"]
FIRST_NEXT_GOAL_MS = 2.0
OVERHEAD_GOAL_US = 100.0


def _read_request(conn, buf):
    """Reads one HTTP request from conn; returns (head, body, rest of buf)."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("runtime closed the connection")
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buf) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("runtime closed the connection")
        buf += chunk
    return head, buf[:length], buf[length:]


def _answer(status, body=b"", headers=()):
    lines = ["HTTP/1.1 %s" % status, "Content-Length: %d" % len(body)] + ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_EXIT = _answer("500 Internal Server Error", b'{"errorType":"ServiceException"}', [("Content-Type", "application/json")])


def _event(i, payload):
    deadline = int(time.time() * 1000) + 60000
    return _answer("200 OK", payload, [("Content-Type", "application/json"),
                                       ("Lambda-Runtime-Aws-Request-Id", "req-%08d" % i),
                                       ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                                       ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:1:function:f"),
                                       ("Lambda-Runtime-Trace-Id", "Root=1-00000000-%024x;Sampled=0" % i)])


def _listener():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    return srv


def _env(address, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_LOG")}
    env["AWS_LAMBDA_RUNTIME_API"] = address
    env.update(extra or {})
    return env


def _launch(launcher, argv, env):
    proc = subprocess.Popen([launcher] + argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    t0 = int(proc.stdout.readline())
    return proc, t0


def first_next_ms(launcher, binary, starts=15, env=None):
    """Milliseconds from exec to the first GET /next, one value per start."""
    srv = _listener()
    address = "127.0.0.1:%d" % srv.getsockname()[1]
    out = []
    try:
        for _ in range(starts):
            proc, t0 = _launch(launcher, [binary], _env(address, env))
            conn, _ = srv.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            while b"\r\n" not in buf:
                buf += conn.recv(65536)
            t1 = time.monotonic_ns()
            if not buf.startswith(b"GET /2018-06-01/runtime/invocation/next "):
                raise AssertionError("first request was %r" % buf[:80])
            conn.sendall(_EXIT)
            proc.wait(10)
            conn.close()
            proc.stdout.close()
            out.append((t1 - t0) / 1e6)
    finally:
        srv.close()
    return out


def _cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def invocation_cost(binary, invocations=5000, warmup=500, payload=b"{}"):
    """Server-side turnaround per invocation (us) and the runtime's CPU time per invocation (us)."""
    srv = _listener()
    proc = subprocess.Popen([binary], env=_env("127.0.0.1:%d" % srv.getsockname()[1]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn, _ = srv.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf, turns = b"", []
    ack = _answer("202 Accepted", b'{"status":"OK"}', [("Content-Type", "application/json")])
    try:
        for i in range(warmup + invocations):
            if i == warmup:
                ticks0, wall0 = _cpu_ticks(proc.pid), time.monotonic_ns()
            head, _, buf = _read_request(conn, buf)
            if not head.startswith(b"GET "):
                raise AssertionError("expected GET /next, got %r" % head[:80])
            ev = _event(i, payload)
            t0 = time.monotonic_ns()
            conn.sendall(ev)
            head, body, buf = _read_request(conn, buf)
            t1 = time.monotonic_ns()
            if not head.startswith(b"POST /2018-06-01/runtime/invocation/req-%08d/response " % i) or body != payload:
                raise AssertionError("unexpected answer %r" % head[:120])
            conn.sendall(ack)
            if i >= warmup:
                turns.append((t1 - t0) / 1000)
        _read_request(conn, buf)
        ticks1, wall1 = _cpu_ticks(proc.pid), time.monotonic_ns()
        conn.sendall(_EXIT)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        conn.close()
        srv.close()
    hz = os.sysconf("SC_CLK_TCK")
    turns.sort()
    return {
        "turnaround_us_median": statistics.median(turns),
        "turnaround_us_p99": turns[int(len(turns) * 0.99) - 1],
        "cpu_us_per_invocation": (ticks1 - ticks0) / hz * 1e6 / invocations,
        "wall_us_per_invocation": (wall1 - wall0) / 1000 / invocations,
        "invocations": invocations,
    }


def baselines(launcher, starts=15):
    """exec->main of a static hello, of a hello on the same shared libraries, and curl_global_init()."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return {}
    src = os.path.join(HERE, "runtime_probe.c")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        static, dynamic = os.path.join(tmp, "probe_static"), os.path.join(tmp, "probe_dynamic")
        if subprocess.run([cc, "-O2", "-static", "-o", static, src], capture_output=True).returncode == 0:
            out["exec_static_hello_ms"] = statistics.median(_probe(launcher, static, starts)["main_ns"]) / 1e6
        if subprocess.run([cc, "-O2", "-DPROBE_CURL", "-o", dynamic, src] + LIBS, capture_output=True).returncode == 0:
            got = _probe(launcher, dynamic, starts)
            out["exec_dynamic_hello_ms"] = statistics.median(got["main_ns"]) / 1e6
            out["curl_global_init_ms"] = statistics.median(got["global_init_ns"]) / 1e6
    return out


def _probe(launcher, binary, starts):
    got = {}
    for _ in range(starts):
        line = subprocess.run([launcher, binary], capture_output=True, text=True).stdout.splitlines()[1]
        words = line.split()
        for k, v in zip(words[::2], words[1::2]):
            got.setdefault(k, []).append(int(v))
    return got


def shared_libraries(binary):
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    except OSError:
        return None
    return sum(1 for line in out.splitlines() if "=>" in line or line.strip().startswith("/"))


def measure(build=None, binary=None, starts=15, invocations=5000, env=None):
    """Runs the benchmarks; returns a dict of figures (times in ms or us as named).
    binary/env: another runtime to start (e.g. bootstrap with its configuration);
    the per-invocation figures always use runtime_echo's trivial handler."""
    build = build or os.environ.get("RNS_BUILD") or os.path.join(ROOT, "build")
    launcher = os.path.join(build, "tools", "runtime_launch")
    echo = os.path.join(build, "tools", "runtime_echo")
    binary = binary or echo
    for path in (launcher, binary, echo):
        if not os.path.exists(path):
            raise FileNotFoundError("%s is not built (make BUILD=%s %s)" % (path, build, path))
    starts_ms = sorted(first_next_ms(launcher, binary, starts, env))
    figures = {
        "binary": os.path.relpath(binary, ROOT),
        "shared_libraries": shared_libraries(binary),
        "first_next_ms_median": statistics.median(starts_ms),
        "first_next_ms_min": starts_ms[0],
        "first_next_ms_max": starts_ms[-1],
        "starts": starts,
        "first_next_goal_ms": FIRST_NEXT_GOAL_MS,
        "overhead_goal_us": OVERHEAD_GOAL_US,
    }
    figures.update(baselines(launcher, starts))
    figures.update(invocation_cost(echo, invocations))
    return figures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", help="build folder (default $RNS_BUILD or build)")
    ap.add_argument("--binary", help="runtime to start (default BUILD/tools/runtime_echo)")
    ap.add_argument("--starts", type=int, default=15)
    ap.add_argument("--invocations", type=int, default=5000)
    args = ap.parse_args()
    build = os.path.abspath(args.build) if args.build else None
    f = measure(build, args.binary, args.starts, args.invocations)
    print("runtime benchmark (%s, %s shared libraries)" % (f["binary"], f["shared_libraries"]))
    print("  exec -> first GET /next   median %.2f ms (min %.2f, max %.2f, %d starts; goal %.1f ms)"
          % (f["first_next_ms_median"], f["first_next_ms_min"], f["first_next_ms_max"], f["starts"],
             f["first_next_goal_ms"]))
    if "exec_static_hello_ms" in f:
        print("    baseline: static hello exec -> main %.2f ms" % f["exec_static_hello_ms"])
    if "exec_dynamic_hello_ms" in f:
        print("    baseline: hello on the same shared libraries exec -> main %.2f ms, then curl_global_init %.2f ms"
              % (f["exec_dynamic_hello_ms"], f["curl_global_init_ms"]))
    print("  per invocation (trivial handler, %d invocations): turnaround median %.1f us, p99 %.1f us; "
          "runtime CPU %.1f us; wall %.1f us incl. the Python server (goal %.0f us)"
          % (f["invocations"], f["turnaround_us_median"], f["turnaround_us_p99"], f["cpu_us_per_invocation"],
             f["wall_us_per_invocation"], f["overhead_goal_us"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
