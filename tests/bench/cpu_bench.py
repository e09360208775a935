"""CPU of the three phases of a Lambda function's life:

    init   exec -> the first GET /next
    first  the first invocation after a cold start (event handed out -> the next GET /next)
    warm   one warm no-change invocation (the mean of `warm` of them)

counted two ways: in instructions by callgrind (deterministic: other load on the
machine does not change them; user space only) and in CPU time measured here
(user + system of every thread, from /proc/PID/task/*/schedstat: what the
kernel's work, exec and page faults included, costs on this machine).

    from cpu_bench import measure
    figures = measure(impl, work_dir, event_fn)            # instructions
    figures = measure(impl, work_dir, event_fn, native=True)  # CPU nanoseconds

Instructions are differences of whole-process counts: the process runs under
`valgrind --tool=callgrind` with k events queued and is stopped with SIGTERM
once it has sent GET /next number k + 1 and every one of its threads sleeps
(it is then blocked waiting for an event, so nothing runs between that
request and the count). k = 0 gives init; k = 1, init + first; k = 1 + WARMUP
and k = 1 + WARMUP + warm, the warm figure (the first invocations after the
first still set things up, so they are left out of it). Callgrind's counts
are the same in every process, so differences across processes are exact.

CPU time is not: the reference's init varies by more than its first
invocation costs, so a difference of two processes' totals can come out
below zero. Natively the phases are read from one process instead: its CPU
time is sampled at each of the same stops (asleep after GET /next number
1, 2, 2 + WARMUP and 2 + WARMUP + warm), and the next events are queued only
after each sample.
"""
import os
import signal
import subprocess
import time

from bench_procs import BenchError, Runtime
from stack_proc import end, spawn

WARMUP = 2
NEXT_PATH = "/2018-06-01/runtime/invocation/next"
# 1,769 MB of memory buys one vCPU; CPU is allotted in proportion to memory.
FULL_VCPU_MB = 1769


def slowdown(memory_mb=128):
    """How much longer a CPU-bound piece of work takes at memory_mb than with a whole vCPU."""
    return FULL_VCPU_MB / float(memory_mb)


def _threads_asleep(pid):
    """True when every thread of pid is sleeping (S) or stopped, none running."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("S", "T", "t", "I"):
            return False
    return True


def _wait_asleep(proc, timeout):
    """Waits until every thread has slept through two checks 20 ms apart."""
    until = time.monotonic() + timeout
    calm = 0
    while calm < 2:
        if proc.poll() is not None:
            raise BenchError("exited with status %d before the last GET /next" % proc.returncode)
        if time.monotonic() > until:
            raise BenchError("still running %.0f s after the last GET /next" % timeout)
        calm = calm + 1 if _threads_asleep(proc.pid) else 0
        time.sleep(0.02)


def _totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise BenchError("no totals in %s" % path)


def _cpu_ns(pid):
    """CPU time (ns) of every live thread of pid, from schedstat's first field."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def _stop_at(rt, proc, impl, next_count, timeout):
    """Waits until proc has sent GET /next number next_count and sleeps."""
    try:
        rt.wait_for(lambda r: sum(1 for q in r.requests if q["path"] == NEXT_PATH) >= next_count, timeout)
    except TimeoutError:
        raise BenchError("%s: GET /next number %d did not come within %.0f s" % (impl.name, next_count, timeout))
    _wait_asleep(proc, 60.0)


def _check_results(rt, ids, check):
    for rid in ids:
        res = rt.wait_result(rid, 1.0)
        if check:
            check(res)


def instructions(impl, work_dir, events, check=None, log=None, timeout=600.0, function_arn=None):
    """Instructions of one process under callgrind from exec until it waits for event
    len(events) + 1. check(result) may raise on a wrong answer."""
    rt = Runtime(function_arn=function_arn).start()
    out = os.path.join(work_dir, "callgrind.%s.%d.out" % (impl.name.split()[0], len(events)))
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
            "--dump-instr=no", "--dump-line=no", "--compress-pos=no"] + impl.argv
    proc = None
    try:
        ids = [rt.enqueue(e) for e in events]
        proc = spawn(argv, env=impl.env_for(rt.address), cwd=impl.cwd, stdin=subprocess.DEVNULL,
                     stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
        _stop_at(rt, proc, impl, len(events) + 1, timeout)
        _check_results(rt, ids, check)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
        return _totals(out)
    finally:
        if proc is not None and proc.poll() is None:
            end(proc)
        rt.stop()


def cpu_phases(impl, event_fn, warm=10, check=None, log=None, timeout=600.0, function_arn=None):
    """CPU nanoseconds of the three phases, sampled at the phase stops of one native
    process (see the module's notes)."""
    rt = Runtime(function_arn=function_arn).start()
    proc = None
    try:
        # Without the parent-death wrapper of spawn(): its own start would count.
        proc = subprocess.Popen(impl.argv, env=impl.env_for(rt.address), cwd=impl.cwd, stdin=subprocess.DEVNULL,
                                stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)
        samples, sent = [], 0
        for batch in (0, 1, WARMUP, warm):
            ids = [rt.enqueue(event_fn()) for _ in range(batch)]
            sent += batch
            _stop_at(rt, proc, impl, sent + 1, timeout)
            _check_results(rt, ids, check)
            samples.append(_cpu_ns(proc.pid))
        return {"init": samples[0], "first": samples[1] - samples[0],
                "warm": (samples[3] - samples[2]) / float(warm)}
    finally:
        if proc is not None and proc.poll() is None:
            end(proc)
        rt.stop()


def measure(impl, work_dir, event_fn, warm=10, check=None, log=None, reset=None, function_arn=None,
            native=False):
    """{"init", "first", "warm"} instructions (native: CPU ns) of impl; for
    instructions also the raw "runs" {k: count}."""
    if native:
        if reset:
            reset()
        return dict(cpu_phases(impl, event_fn, warm, check, log, function_arn=function_arn), warm_count=warm)
    runs = {}
    for k in (0, 1, 1 + WARMUP, 1 + WARMUP + warm):
        if reset:
            reset()
        runs[k] = instructions(impl, work_dir, [event_fn() for _ in range(k)], check, log,
                               function_arn=function_arn)
    return {"init": runs[0], "first": runs[1] - runs[0],
            "warm": (runs[1 + WARMUP + warm] - runs[1 + WARMUP]) / float(warm),
            "runs": runs, "warm_count": warm}


def median_phases(runs):
    """The median of each phase over several measure() results."""
    import statistics
    return {p: statistics.median(r[p] for r in runs) for p in ("init", "first", "warm")}
