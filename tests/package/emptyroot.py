"""An otherwise empty root for the deployment package, as Lambda's provided.al2023 has little more.

The root holds only glibc's files (the loader, libc.so.6 and whatever else `ldd`
or the cross libc lists), /etc/resolv.conf and /etc/hosts (glibc's resolver
reads them; resolv.conf points at 127.0.0.1, where the local stack runs dnsmasq), and,
when asked, a CA bundle at the Amazon Linux path only. No /etc/ssl, no
/usr/lib/ssl, no shared library of curl, OpenSSL, jansson or expat: a package
that still needs one of them fails here.

    import emptyroot
    root = emptyroot.make_root(tmp, "x86_64", {"bootstrap": data}, ca_pem=pem)
    proc = emptyroot.spawn(root, "x86_64", ["/bootstrap", "--version"], env)
"""
import os
import shutil
import subprocess

AL_CA_BUNDLE = "/etc/pki/tls/certs/ca-bundle.crt"
DEBIAN_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

ARCHES = {
    # arch: (machine in readelf, loader path in the ELF, where glibc's files come from, emulator)
    "x86_64": ("Advanced Micro Devices X86-64", "/lib64/ld-linux-x86-64.so.2", None, None),
    "arm64": ("AArch64", "/lib/ld-linux-aarch64.so.1", "/usr/aarch64-linux-gnu", "/usr/bin/qemu-aarch64-static"),
}


def native_arch():
    return {"x86_64": "x86_64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def glibc_files(arch, binary):
    """[(path inside the root, path on this machine)] of glibc's files the binary needs."""
    _, loader, cross, _ = ARCHES[arch]
    if cross is None:
        out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             check=True).stdout.decode()
        files = []
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
                files.append(parts[parts.index("=>") + 1])
            elif parts and parts[0].startswith("/"):
                files.append(parts[0])
        pairs = [(f, os.path.realpath(f)) for f in files]
        if loader not in [p for p, _ in pairs]:
            pairs.append((loader, os.path.realpath(loader)))
        return pairs
    # The cross libc: the loader, libc.so.6, at the paths a provided.al2023-like
    # system (and Debian's arm64 ld.so) searches.
    lib = os.path.join(cross, "lib")
    return [(loader, os.path.realpath(os.path.join(lib, os.path.basename(loader)))),
            ("/lib/aarch64-linux-gnu/libc.so.6", os.path.realpath(os.path.join(lib, "libc.so.6")))]


def make_root(directory, arch, files, ca_pem=None, glibc_for=None):
    """Builds the root in directory. files: {name at the root: bytes}, each mode 0755
    (the package's bootstrap). glibc_for: the binary whose glibc files to copy
    (default: the first of files, written out). Returns directory."""
    for name, data in files.items():
        path = os.path.join(directory, name.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o755)
    binary = glibc_for or os.path.join(directory, next(iter(files)).lstrip("/"))
    for inside, real in glibc_files(arch, binary):
        dest = os.path.join(directory, inside.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(real, dest)
    emulator = ARCHES[arch][3]
    if emulator and arch != native_arch():
        shutil.copy2(emulator, os.path.join(directory, os.path.basename(emulator)))
    etc = os.path.join(directory, "etc")
    os.makedirs(etc, exist_ok=True)
    with open(os.path.join(etc, "resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
    with open(os.path.join(etc, "hosts"), "w") as f:
        f.write("127.0.0.1 localhost\n::1 localhost\n")
    if ca_pem is not None:
        path = os.path.join(directory, AL_CA_BUNDLE.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(ca_pem)
    return directory


def listing(directory):
    """Every file under the root, as paths inside it."""
    out = []
    for base, _, names in os.walk(directory):
        for n in names:
            out.append("/" + os.path.relpath(os.path.join(base, n), directory))
    return sorted(out)


def command(arch, argv):
    """argv inside the root, behind the emulator when the arch is foreign."""
    emulator = ARCHES[arch][3]
    if emulator and arch != native_arch():
        return ["/" + os.path.basename(emulator)] + list(argv)
    return list(argv)


def spawn(directory, arch, argv, env, **kw):
    """Starts argv chrooted into directory (root only), with exactly env."""
    def enter():
        os.chroot(directory)
        os.chdir("/")
    return subprocess.Popen(command(arch, argv), env=env, preexec_fn=enter, close_fds=True, **kw)


def run(directory, arch, argv, env, timeout=30, stdin=None):
    proc = spawn(directory, arch, argv, env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(stdin, timeout=timeout)
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
