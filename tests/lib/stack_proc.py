"""Child processes of the local stack (stack.py): started from one long-lived thread through
`setpriv --pdeathsig KILL`, so that they die with the Python process even when it is killed
(a parent-death signal fires when the creating *thread* ends, and timer threads end at once)."""
import queue
import shutil
import signal
import subprocess
import threading
import time


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


def end(proc, grace=1.0):
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

    def wait_output(self, text, timeout=60.0, stream="stdout"):
        """Waits until `text` appears in stdout (or "stderr"); returns that stream so far."""
        sink = self._out if stream == "stdout" else self._err
        with self._cond:
            ok = self._cond.wait_for(lambda: text.encode() in b"".join(sink), timeout)
            got = b"".join(sink).decode(errors="replace")
        if not ok:
            raise TimeoutError("%r not in bootstrap %s within %.1fs:\n%s" % (text, stream, timeout, got[-2000:]))
        return got

    def finish(self, timeout=60.0):
        """Waits for the exit and the end of its output; returns the exit status."""
        code = self.wait(timeout)
        for t in self._readers:
            t.join(timeout)
        return code
