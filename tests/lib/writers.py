"""Database clients for the local stack (CONTRACT.md section 12): writer loops that connect through the
NLB's address with psycopg2, insert one row per attempt, keep their connection while it works and
reconnect after any error, and record every attempt.

    import writers
    w = writers.Writers(("10.20.0.10", 5432), clients=2, timeout_s=0.5).start()
    ...
    w.stop()
    w.attempts                    # [Attempt(client, seq, start, end, outcome, detail)]
    w.first_success_after(t)      # {client: monotonic time of its first acknowledged write after t}
    w.lost(rows)                  # acknowledged (client, seq) not in rows

Outcomes: "ok" (acknowledged: the commit returned), "read_only" (SQLSTATE 25006, `cannot execute
INSERT in a read-only transaction`), "connect" (no connection: refused, reset, timed out), "error"
(any other failure: a reset mid-statement, a timeout, another SQL error). Timeouts are enforced here
on a non-blocking connection (libpq's own connect_timeout cannot go below 2 s).
"""
import threading
import time
from collections import namedtuple

import pg

Attempt = namedtuple("Attempt", "client seq start end outcome detail")
READ_ONLY = "25006"


class Writers:
    def __init__(self, address, clients=2, timeout_s=0.5, pause_s=0.02, prefix="w"):
        self.address, self.timeout_s, self.pause_s = address, timeout_s, pause_s
        self.names = ["%s%d" % (prefix, i + 1) for i in range(clients)]
        self.attempts = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def start(self):
        for name in self.names:
            t = threading.Thread(target=self._loop, args=(name,), name="writer-" + name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout_s * 4 + 5)
        self._threads = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _loop(self, name):
        conn, seq = None, 0
        while not self._stop.is_set():
            seq += 1
            start = time.monotonic()
            outcome, detail = "ok", ""
            try:
                if conn is None:
                    outcome = "connect"
                    conn = self._connect()
                    outcome = "ok"
                self._insert(conn, name, seq)
            except Exception as e:  # every failure is an outcome
                if outcome == "ok":
                    outcome = "read_only" if getattr(e, "pgcode", None) == READ_ONLY else "error"
                detail = (str(e).strip().splitlines() or [type(e).__name__])[0]
                if conn is not None:
                    conn.close()
                conn = None
            with self._lock:
                self.attempts.append(Attempt(name, seq, start, time.monotonic(), outcome, detail))
            self._stop.wait(self.pause_s)
        if conn is not None:
            conn.close()

    def _connect(self):
        import psycopg2
        conn = psycopg2.connect(host=self.address[0], port=self.address[1], user=pg.USER, dbname="postgres",
                                async_=1)
        try:
            pg.wait(conn, time.monotonic() + self.timeout_s)
        except BaseException:
            conn.close()
            raise
        return conn

    def _insert(self, conn, name, seq):
        cur = conn.cursor()
        cur.execute("INSERT INTO %s (client, seq) VALUES (%%s, %%s)" % pg.TABLE, (name, seq))
        pg.wait(conn, time.monotonic() + self.timeout_s)

    # -- figures --
    def snapshot(self):
        with self._lock:
            return list(self.attempts)

    def acknowledged(self):
        return {(a.client, a.seq) for a in self.snapshot() if a.outcome == "ok"}

    def lost(self, rows):
        """Acknowledged writes missing from rows ({(client, seq)})."""
        return sorted(self.acknowledged() - set(rows))

    def count(self, outcome, after=None):
        return sum(1 for a in self.snapshot() if a.outcome == outcome and (after is None or a.start >= after))

    def first_success_after(self, t):
        """{client: end time of its first acknowledged write that started at or after t} (clients that
        had none are left out)."""
        out = {}
        for a in self.snapshot():
            if a.outcome == "ok" and a.start >= t and a.client not in out:
                out[a.client] = a.end
        return out

    def window(self, t):
        """(seconds from t to the last client's first acknowledged write after t, or None when a client
        had none)."""
        first = self.first_success_after(t)
        if len(first) < len(self.names):
            return None
        return max(first.values()) - t

    def failed_since(self, t):
        return sum(1 for a in self.snapshot() if a.outcome != "ok" and a.start >= t)
