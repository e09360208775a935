"""The private network and mount namespace the local stack runs in: its own loopback, and private
resolv.conf (nameservers 127.0.0.1 and 127.0.0.2, where dnsmasq answers), hosts and nsswitch.conf,
so that nothing reaches or changes the host's network.

tests/run.py starts the suites that say `# rns: namespace` in their first lines through this file,
and so can anyone, by hand:

    /usr/bin/python3 tests/lib/netns.py tests/integration/test_handler_dns.py [ARGS]

A program (the demo, the benchmarks) may instead call enter_namespace() first thing: it re-runs
itself inside.

API
    enter_namespace() -> folder     inside_namespace()    namespace_dir()    NamespaceError
    resolver_wait(attempt_s)        RESOLV_CONF    NS_VAR
"""
import ctypes
import fcntl
import os
import runpy
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile

from stack_dns import DNS_ADDRESSES

# The namespace's resolver configuration (copy it into any other root that uses the stack's DNS):
# dnsmasq moves between the two addresses on a restart, and timeouts stay short and bounded.
RESOLV_CONF = "".join("nameserver %s\n" % a for a in DNS_ADDRESSES) + "options timeout:1 attempts:2\n"
NS_VAR = "RNS_STACK_NS"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_entered = False


class NamespaceError(RuntimeError):
    pass


def inside_namespace():
    return bool(os.environ.get(NS_VAR))


def namespace_dir():
    """The namespace's private tmpfs (None outside): resolv.conf, hosts, the stacks' work folders."""
    return os.environ.get(NS_VAR) or None


def enter_namespace():
    """Outside: re-runs this script (same interpreter flags, argv and environment plus RNS_STACK_NS)
    under `unshare -n -m` and exits with its status. Inside: brings lo up and bind-mounts a private
    resolv.conf (nameservers 127.0.0.1 and 127.0.0.2, timeout:1 attempts:2), hosts and
    nsswitch.conf (hosts: files dns). Returns the namespace's private folder."""
    global _entered
    ns = os.environ.get(NS_VAR)
    if not ns:
        sys.exit(_run_in_namespace())
    if not _entered:
        try:
            _set_up_inside(ns)
        except OSError as e:
            sys.stderr.write("stack: cannot set up the private namespace: %s\n" % e)
            sys.exit(2)
        _entered = True
    return ns


def _run_in_namespace():
    parent = tempfile.mkdtemp(prefix="rns-stack-ns-")
    argv = ["unshare", "-n", "-m"]
    if os.geteuid() != 0:
        argv.append("-r")  # a user namespace grants the capabilities to mount and bind port 53
    argv += ["--", sys.executable] + sys.orig_argv[1:]
    env = dict(os.environ)
    env[NS_VAR] = parent
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child handles ^C and cleans up
    try:
        proc = subprocess.Popen(argv, env=env)
        code = proc.wait()
    except FileNotFoundError:
        code, proc = 127, None
    finally:
        signal.signal(signal.SIGINT, old)
    entered = os.path.exists(os.path.join(parent, ".entered"))
    shutil.rmtree(parent, ignore_errors=True)
    if not entered:
        sys.stderr.write(
            "stack: cannot create a private network and mount namespace: `%s` %s.\n"
            "stack: the local stack needs `unshare -n -m` (util-linux), which needs root or "
            "unprivileged user namespaces; in a container it needs CAP_SYS_ADMIN "
            "(e.g. docker run --privileged).\n"
            % (" ".join(argv[:argv.index("--")]),
               "was not found" if proc is None else "failed with status %d" % code))
        return code or 1
    return 128 - code if code < 0 else code


def _set_up_inside(ns):
    if os.path.ismount(ns):
        return  # a child process of the script: the namespace is ready
    # Visible to the parent before the tmpfs hides it: proof that unshare worked.
    open(os.path.join(ns, ".entered"), "w").close()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _loopback_up()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", ns, "tmpfs", 0, "mode=0700,size=256m")
    _bind_file(ns, "resolv.conf", RESOLV_CONF)
    _bind_file(ns, "hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    if os.path.exists("/etc/nsswitch.conf"):
        # Only files and dns: no nss module (resolve, mdns) may reach a resolver outside.
        with open("/etc/nsswitch.conf") as f:
            lines = [l for l in f.read().splitlines() if not l.startswith("hosts:")]
        _bind_file(ns, "nsswitch.conf", "\n".join(lines + ["hosts: files dns"]) + "\n")


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None
    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount %s on %s: %s" % (source or fstype or "", target, os.strerror(err)))


def _bind_file(ns, name, text):
    path = os.path.join(ns, name)
    with open(path, "w") as f:
        f.write(text)
    _mount(path, os.path.realpath(os.path.join("/etc", name)), None, MS_BIND)


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH22x", b"lo", 0))
        flags = struct.unpack("16sH", ifr[:18])[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


class resolver_wait:
    """with netns.resolver_wait(10): glibc waits attempt_s seconds, once, for a silent server
    (resolv.conf rewritten in place: /etc/resolv.conf is a bind mount of it), instead of the
    stack's timeout:1 attempts:2. A case that tells a cut of ours from glibc's own answer makes that
    answer come late, so its bound can leave room for a busy machine."""

    def __init__(self, attempt_s):
        self.path = os.path.join(namespace_dir(), "resolv.conf")
        self.text = RESOLV_CONF.replace("timeout:1 attempts:2", "timeout:%d attempts:1" % attempt_s)
        self.saved = None

    def __enter__(self):
        with open(self.path) as f:
            self.saved = f.read()
        with open(self.path, "w") as f:
            f.write(self.text)
        return self

    def __exit__(self, *exc):
        with open(self.path, "w") as f:
            f.write(self.saved)


def main(argv):
    """netns.py SCRIPT [ARGS]: runs the Python script SCRIPT inside the namespace, as its __main__."""
    if not argv or argv[0].startswith("-"):
        sys.stderr.write("usage: netns.py SCRIPT [ARGS]: runs a Python script in the private namespace\n")
        return 2
    enter_namespace()
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))  # as if it had been run itself
    runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
