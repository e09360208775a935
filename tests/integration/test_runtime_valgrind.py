"""runtime/ over many invocations: 1,000 under valgrind without a leak or a memory
error (also on the init-error and connection-failure paths), and resident memory
flat across 10,000 native invocations."""
# rns: no-asan (valgrind and ASan do not mix)
import os
import subprocess
import tempfile
import time

import tap
from fake_runtime import FakeRuntime

BUILD = tap.build_dir()
ECHO = os.path.join(BUILD, "tools", "runtime_echo")
VALGRIND_ERROR = 99
RSS_GROWTH_LIMIT_KB = 64  # after the first 1,000 invocations, across the next 9,000


def events(n):
    """A mix of what the runtime handles: echo, handler errors, traces, env, logs."""
    for i in range(n):
        kind = i % 10
        headers = {"Lambda-Runtime-Trace-Id": "Root=1-%08x-%024x" % (i, i)} if i % 2 else None
        if kind == 7:
            yield {"op": "fail", "type": "ResolveError", "message": "no address %d" % i}, headers
        elif kind == 8:
            yield {"op": "env"}, headers
        elif kind == 9:
            yield {"op": "log", "level": "WARN", "message": "w%d" % i, "fields": {"i": i}}, headers
        else:
            yield {"op": "echo", "i": i, "pad": "x" * (i % 700)}, headers


def valgrind_cmd(log):
    vg = tap.need("valgrind", "valgrind")
    if not os.path.exists(ECHO):
        raise AssertionError("%s is not built" % ECHO)
    return [vg, "--leak-check=full", "--show-leak-kinds=all", "--errors-for-leak-kinds=definite,indirect,possible",
            "--error-exitcode=%d" % VALGRIND_ERROR, "--log-file=" + log, ECHO]


def env_for(address):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_LOG")}
    if address:
        env["AWS_LAMBDA_RUNTIME_API"] = address
    return env


def check_valgrind_log(log, status):
    text = open(log).read()
    tap.ok(status != VALGRIND_ERROR, "valgrind found errors:\n" + text[-4000:])
    tap.ok("ERROR SUMMARY: 0 errors" in text, text[-4000:])
    tap.ok("definitely lost" not in text or "definitely lost: 0 bytes" in text, text[-4000:])
    tap.ok("in use at exit: 0 bytes" in text, "memory still in use at exit:\n" + text[-4000:])


@tap.case
def valgrind_1000_invocations_no_leaks():
    with tempfile.NamedTemporaryFile(suffix=".vg") as log, tempfile.TemporaryFile() as err:
        cmd = valgrind_cmd(log.name)
        with FakeRuntime() as api:
            p = subprocess.Popen(cmd, env=env_for(api.address), stdout=subprocess.DEVNULL, stderr=err)
            try:
                rids = [api.enqueue(ev, headers=h) for ev, h in events(1000)]
                api.fail_next(413, on="response")
                api.fail_next(400, on="error")
                big = api.enqueue({"op": "big", "size": 6291557})
                for rid in rids + [big]:
                    api.wait_result(rid, 120)
                api.exit_when_drained()
                status = p.wait(120)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        tap.eq(len(api.results), 1001)
        tap.eq(api.results[big]["kind"], "error")
        tap.eq(status, 1, "exit status")
        check_valgrind_log(log.name, status)


@tap.case
def valgrind_error_paths_no_leaks():
    """Init error, connection refused, a missing request id: each exits cleanly."""
    with tempfile.NamedTemporaryFile(suffix=".vg") as log:
        cmd = valgrind_cmd(log.name)
        with FakeRuntime() as api:
            status = subprocess.run(cmd + ["--init-error", "Runtime.ConfigError", "DB_PORT is missing"],
                                    env=env_for(api.address), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, timeout=60).returncode
            tap.eq(len(api.init_errors), 1)
        tap.eq(status, 1)
        check_valgrind_log(log.name, status)

        with FakeRuntime() as api:
            address = api.address
        status = subprocess.run(cmd, env=env_for(address), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                timeout=60).returncode
        tap.eq(status, 1)
        check_valgrind_log(log.name, status)

        with FakeRuntime() as api:
            api.enqueue({"op": "echo"}, headers={"Lambda-Runtime-Aws-Request-Id": None})
            status = subprocess.run(cmd, env=env_for(api.address), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, timeout=60).returncode
        tap.eq(status, 1)
        check_valgrind_log(log.name, status)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


@tap.case
def resident_memory_flat_over_10000_invocations():
    if not os.path.exists(ECHO):
        raise AssertionError("%s is not built" % ECHO)
    samples = []
    with tempfile.TemporaryFile() as err, FakeRuntime() as api:
        p = subprocess.Popen([ECHO], env=env_for(api.address), stdout=subprocess.DEVNULL, stderr=err)
        try:
            for batch in range(10):
                rids = [api.enqueue(ev, headers=h) for ev, h in events(1000)]
                for rid in rids:
                    api.wait_result(rid, 60)
                # sample while the runtime waits in GET /next, between invocations
                want = len(api.requests) + 1 if api.requests[-1]["method"] == "POST" else len(api.requests)
                api.wait_requests(want)
                time.sleep(0.02)
                samples.append(rss_kb(p.pid))
            api.exit_when_drained()
            tap.eq(p.wait(30), 1)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    tap.eq(len(api.results), 10000)
    growth = max(samples[1:]) - samples[0]
    sys_note = "VmRSS per 1,000 invocations (kB): %s" % samples
    tap.ok(growth <= RSS_GROWTH_LIMIT_KB, "grew %d kB; %s" % (growth, sys_note))
    print("# " + sys_note, flush=True)


tap.main()
