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
