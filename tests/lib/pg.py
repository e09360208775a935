"""A real PostgreSQL 15 (Debian's postgresql-15) for the local stack: a primary and a hot standby with
synchronous commit, each on its own private address inside the stack's namespace (CONTRACT.md
section 12).

    import pg
    db = pg.PgPair(primary="10.20.1.9", standby="10.20.2.118").start()   # addresses on lo
    db = pg.PgPair("10.20.1.21", "10.20.2.22", others=["10.20.3.23"])    # + asynchronous hot standbys
    db.stop_primary()          # abrupt: immediate shutdown (SIGQUIT), as a crash
    db.promote()               # the standby becomes the primary (pg_promote, waited)
    db.back_read_only()        # the old primary comes back on its address as a hot standby
    db.query(address, sql)     # rows, through psycopg2
    db.close()                 # every postgres started here stopped by pid; folders removed

The cluster is made once per run with initdb (as the `postgres` user: postgres refuses root) and
kept under BUILD/pg/<version>/template; each PgPair copies it twice. postgres runs as `postgres`
through setpriv, with the parent-death signal, so it dies with the Python process; close() and an
atexit hook stop every postmaster started here anyway. fsync is off: a node is stopped as a process
crash, never as a power loss, so what the kernel holds survives, and the pair starts faster.
"""
import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import stack
from stack_proc import spawn

PG_BIN = "/usr/lib/postgresql/15/bin"
PORT = 5432
USER = "postgres"
STANDBY_NAME = "standby"
TABLE = "writes"
SCHEMA = "CREATE TABLE %s (client text NOT NULL, seq integer NOT NULL, PRIMARY KEY (client, seq))" % TABLE

_running = set()  # every postmaster Popen of this process, for the atexit hook


def _stop_all():
    for proc in list(_running):
        _stop(proc, signal.SIGQUIT)


atexit.register(_stop_all)


class PgError(RuntimeError):
    pass


def version():
    """e.g. "15.18", from postgres --version."""
    out = subprocess.run([os.path.join(PG_BIN, "postgres"), "--version"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, check=True).stdout.decode()
    return out.split()[-1].split("-")[0]


def missing():
    """Why the database cannot run here (a message naming make deps), or None."""
    if not os.access(os.path.join(PG_BIN, "postgres"), os.X_OK):
        return "%s/postgres is missing (Debian package postgresql-15): run make deps" % PG_BIN
    if importlib.util.find_spec("psycopg2") is None:
        return "psycopg2 is missing (Debian package python3-psycopg2): run make deps"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return "no %s user (Debian package postgresql-15 creates it): run make deps" % USER
    return None


def _as_postgres(argv):
    return ["setpriv", "--reuid", USER, "--regid", USER, "--clear-groups", "--pdeathsig", "KILL", "--"] + argv


def _chown_tree(path):
    pw = pwd.getpwnam(USER)
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, pw.pw_uid, pw.pw_gid)
        for name in filenames:
            os.lchown(os.path.join(dirpath, name), pw.pw_uid, pw.pw_gid)


def template(build):
    """The initdb'd cluster of this run (made once, kept under build/pg/<version>/template)."""
    folder = os.path.join(build, "pg", version())
    path = os.path.join(folder, "template")
    if os.path.isfile(os.path.join(path, "PG_VERSION")):
        return path
    os.makedirs(folder, exist_ok=True)
    work = tempfile.mkdtemp(prefix="rns-pg-initdb-")
    try:
        os.chmod(work, 0o755)
        _chown_tree(work)
        data = os.path.join(work, "data")
        r = subprocess.run(_as_postgres([os.path.join(PG_BIN, "initdb"), "-D", data, "-U", USER, "-A", "trust",
                                         "--no-sync", "--wal-segsize=1", "-E", "UTF8", "--locale=C"]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode:
            raise PgError("initdb failed: %s" % r.stdout.decode(errors="replace")[-2000:])
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write("\n# rds-nlb-sync local stack\nport = %d\nunix_socket_directories = ''\nfsync = off\n"
                    "full_page_writes = off\nwal_level = replica\nhot_standby = on\nwal_keep_size = 16MB\n"
                    "shared_buffers = 16MB\nautovacuum = off\n"
                    "logging_collector = off\nlog_min_messages = warning\n" % PORT)
        with open(os.path.join(data, "pg_hba.conf"), "a") as f:
            f.write("host all all 10.0.0.0/8 trust\nhost replication all 10.0.0.0/8 trust\n")
        staged = tempfile.mkdtemp(prefix="template.", dir=folder)
        os.rmdir(staged)
        shutil.copytree(data, staged, symlinks=True)
        try:
            os.rename(staged, path)
        except OSError:
            shutil.rmtree(staged, ignore_errors=True)  # another suite of this run made it first
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def connect(address, timeout_s=2.0, dbname="postgres"):
    """A psycopg2 connection (autocommit) within timeout_s, bounded here, not by libpq's 2 s floor."""
    import psycopg2
    conn = psycopg2.connect(host=address, port=PORT, user=USER, dbname=dbname, async_=1)
    end = time.monotonic() + timeout_s
    try:
        wait(conn, end)
    except BaseException:
        conn.close()
        raise
    return conn


def wait(conn, end):
    """Drives an async psycopg2 connection until its operation ends or the monotonic time `end`
    (then TimeoutError)."""
    import psycopg2.extensions as ext
    import select as _select
    while True:
        state = conn.poll()
        if state == ext.POLL_OK:
            return
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer from the database in time")
        fd = conn.fileno()
        if state == ext.POLL_READ:
            _select.select([fd], [], [], left)
        elif state == ext.POLL_WRITE:
            _select.select([], [fd], [], left)


def query(address, sql, args=None, timeout_s=5.0):
    """Runs one statement on the node at address; its rows (None for none)."""
    conn = connect(address, timeout_s)
    try:
        cur = conn.cursor()
        cur.execute(sql, args)
        wait(conn, time.monotonic() + timeout_s)
        return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def _stop(proc, sig):
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass
    _running.discard(proc)


class Node:
    """One postgres on one address, with its own data folder."""

    def __init__(self, name, address, folder):
        self.name, self.address, self.data = name, address, os.path.join(folder, name)
        self.proc = None
        self.log = os.path.join(folder, name + ".log")

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = spawn(_as_postgres([os.path.join(PG_BIN, "postgres"), "-D", self.data,
                                            "-c", "listen_addresses=%s" % self.address]),
                              stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        _running.add(self.proc)
        return self

    def stop(self, sig=signal.SIGINT):
        """SIGINT: fast shutdown; SIGQUIT: immediate shutdown, no checkpoint (a crash)."""
        if self.proc:
            _stop(self.proc, sig)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, bound_s=60.0, writable=None):
        """Waits until the node answers a query (and is, or is not, in recovery when writable says)."""
        end = time.monotonic() + bound_s
        last = None
        while time.monotonic() < end:
            if not self.running():
                raise PgError("postgres %s exited (%s); log:\n%s" % (self.name, self.proc.returncode, self.log_tail()))
            try:
                rows = query(self.address, "SELECT pg_is_in_recovery()", timeout_s=1.0)
                if writable is None or rows[0][0] == (not writable):
                    return
            except Exception as e:  # not up yet
                last = e
            time.sleep(0.05)
        raise PgError("postgres %s not ready within %.0f s (%s); log:\n%s" % (self.name, bound_s, last, self.log_tail()))

    def log_tail(self, n=3000):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""


class PgPair:
    """A primary and a synchronous hot standby (see the module's text)."""

    def __init__(self, primary, standby, build=None, folder=None, others=()):
        self.build = build or stack.build_dir()
        self.folder = folder
        self.primary_address, self.standby_address = primary, standby
        self.other_addresses = list(others)
        self.primary = self.standby = None
        self.others = []
        self.stopped_at = self.promoted_at = self.back_at = None

    def start(self):
        try:
            tpl = template(self.build)
            self.folder = self.folder or tempfile.mkdtemp(prefix="rns-pg-")
            os.chmod(self.folder, 0o755)
            self.primary = Node("primary", self.primary_address, self.folder)
            self.standby = Node("standby", self.standby_address, self.folder)
            self.others = [Node("standby-%d" % (i + 2), a, self.folder) for i, a in enumerate(self.other_addresses)]
            for node in [self.primary, self.standby] + self.others:
                shutil.copytree(tpl, node.data, symlinks=True)
            with open(os.path.join(self.primary.data, "postgresql.conf"), "a") as f:
                f.write("synchronous_standby_names = '%s'\nsynchronous_commit = on\n" % STANDBY_NAME)
            with open(os.path.join(self.standby.data, "postgresql.conf"), "a") as f:
                # Promoted, it writes alone: the replacement standby is not modelled.
                f.write("synchronous_standby_names = ''\nprimary_conninfo = 'host=%s port=%d user=%s "
                        "application_name=%s'\n" % (self.primary_address, PORT, USER, STANDBY_NAME))
            open(os.path.join(self.standby.data, "standby.signal"), "w").close()
            for node in self.others:  # asynchronous: not in synchronous_standby_names
                with open(os.path.join(node.data, "postgresql.conf"), "a") as f:
                    f.write("primary_conninfo = 'host=%s port=%d user=%s application_name=%s'\n"
                            % (self.primary_address, PORT, USER, node.name))
                open(os.path.join(node.data, "standby.signal"), "w").close()
            _chown_tree(self.folder)
            for node in [self.primary, self.standby] + self.others:
                os.chmod(node.data, 0o700)
                node.start()
            self.primary.wait_ready(writable=True)
            for node in [self.standby] + self.others:
                node.wait_ready(writable=False)
            self._wait_sync()
            query(self.primary_address, SCHEMA)
        except BaseException:
            self.close()
            raise
        return self

    def _wait_sync(self, bound_s=60.0):
        end = time.monotonic() + bound_s
        while time.monotonic() < end:
            rows = query(self.primary_address, "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                         (STANDBY_NAME,))
            if rows and rows[0][0] == "sync":
                return
            time.sleep(0.05)
        raise PgError("the standby did not become synchronous within %.0f s; log:\n%s"
                      % (bound_s, self.standby.log_tail()))

    def stop_primary(self):
        """Immediate shutdown of the primary: no checkpoint, every session cut, as a crash."""
        self.primary.stop(signal.SIGQUIT)
        self.stopped_at = time.monotonic()
        return self.stopped_at

    def promote(self, bound_s=60.0):
        query(self.standby_address, "SELECT pg_promote(true, %d)" % int(bound_s), timeout_s=bound_s + 5)
        self.promoted_at = time.monotonic()
        return self.promoted_at

    def back_read_only(self):
        """The old primary back on its address as a hot standby of nothing (read-only), as an Aurora
        writer that became a reader; returns once it answers queries."""
        open(os.path.join(self.primary.data, "standby.signal"), "w").close()
        _chown_tree(self.primary.data)
        self.primary.start()
        self.primary.wait_ready(writable=False)
        self.back_at = time.monotonic()
        return self.back_at

    def rows(self, address=None):
        """{(client, seq)} of the writes table on the node at address (default the standby)."""
        return set(tuple(r) for r in query(address or self.standby_address, "SELECT client, seq FROM %s" % TABLE))

    def close(self):
        for node in [self.primary, self.standby] + self.others:
            if node:
                node.stop(signal.SIGQUIT)
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
