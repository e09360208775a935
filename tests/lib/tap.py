"""The line protocol of tests/run.py for Python suites.

    import tap
    @tap.case
    def register_first():
        tap.eq(result["registered"], ["10.0.0.1:5432"])
    tap.main()

A case passes when it returns; it fails on any exception (the traceback goes to
stderr). tap.skip(why) inside a case reports it as skipped.
"""
import os
import sys
import traceback

_cases = []


class Skip(Exception):
    pass


def case(fn):
    _cases.append(fn)
    return fn


def skip(why):
    raise Skip(why)


def need(path_or_tool, package):
    """Fails the case when a tool (on PATH) or a file is missing: what is missing is
    installed by `make deps`, so a missing one is a broken machine, not a skip."""
    import shutil
    if os.path.isabs(path_or_tool) and os.path.exists(path_or_tool):
        return path_or_tool
    found = not os.path.isabs(path_or_tool) and shutil.which(path_or_tool)
    if not found:
        raise AssertionError("%s is missing (Debian package %s): run make deps" % (path_or_tool, package))
    return found


def eventually(check, what, bound_s=60.0, step_s=0.02):
    """Returns as soon as check() is true: waits on a state the test observes, not a fixed
    time. The bound only turns a state that never comes into a failure; it is generous
    so that a busy machine does not break the case."""
    import time
    end = time.monotonic() + bound_s
    while not check():
        if time.monotonic() > end:
            raise AssertionError("%s: not reached within %.0f s" % (what, bound_s))
        time.sleep(step_s)


def shared_dir():
    """The ../shared folder, or None when this clone has none."""
    path = os.environ.get("RNS_SHARED")
    return path if path and os.path.isdir(path) else None


def root():
    return os.environ.get("RNS_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%sgot %r, want %r" % (what + ": " if what else "", got, want))


def ok(cond, what):
    if not cond:
        raise AssertionError(what)


def main(argv=None):
    only = (argv or sys.argv)[1:]
    failed = 0
    for fn in _cases:
        name = fn.__name__
        if only and name not in only:
            continue
        try:
            fn()
        except Skip as s:
            print("ok - %s # SKIP %s" % (name, s), flush=True)
            continue
        except BaseException as e:  # a case may not take the suite down
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            print("not ok - %s: %s" % (name, first[:300]), flush=True)
            sys.stderr.write("--- %s\n%s" % (name, traceback.format_exc()))
            sys.stderr.flush()
            continue
        print("ok - %s" % name, flush=True)
    sys.exit(1 if failed else 0)


def build_dir():
    """The build folder under test (make BUILD=...), absolute."""
    return os.environ.get("RNS_BUILD") or os.path.join(root(), "build")
