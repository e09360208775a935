"""The cases shared by test_package.py (x86_64, build/function.zip) and
test_package_arm64.py (arm64, build/function-arm64.zip, run under qemu-user).

Each suite calls define(arch, zip_path, probe_path, prepare) and tap.main().
`prepare()` runs before the first case and may tap.skip() (e.g. no zip).

The empty-root cases run the zipped bootstrap chrooted into a root that holds
glibc's files only (emptyroot.py), in a private network namespace, against the
fake Runtime API, the fake ELBv2 API over HTTPS (test CA at the Amazon Linux
path only) and dnsmasq serving the database endpoint (tests/lib/stack.py's
LocalStack, in the private namespace: the suites say `# rns: namespace`)."""
import json
import os
import subprocess
import tempfile

import const
import emptyroot
import pkgcheck
import tap

NEW_IP, OLD_IP = const.NEW_PRIMARY, const.OLD_PRIMARY
CREDS = {"AWS_ACCESS_KEY_ID": "AKIDPACKAGETEST", "AWS_SECRET_ACCESS_KEY": "pkg/secret/key/for/the/empty/root",
         "AWS_SESSION_TOKEN": "pkg-session-token"}

_state = {"ready": None}


def _netns():
    """The empty-root cases chroot, which needs root; the suite runs in the local stack's
    private namespace (the suites say `# rns: namespace`: tests/run.py starts them through netns.py)."""
    if os.geteuid() != 0:
        tap.skip("needs root (chroot)")


def define(arch, zip_path, probe_path, prepare=None):
    machine_name, loader, _, emulator = emptyroot.ARCHES[arch]
    foreign = arch != emptyroot.native_arch()

    def ready():
        if _state["ready"] is None:
            try:
                if prepare:
                    prepare()
                _state["ready"] = ("", "")
            except tap.Skip as s:
                _state["ready"] = ("skip", str(s))
            except Exception as e:  # reported by every case, tried once
                _state["ready"] = ("fail", str(e))
        kind, why = _state["ready"]
        if kind == "skip":
            tap.skip(why)
        if kind == "fail":
            raise AssertionError(why)
        if not os.path.exists(zip_path):  # make check builds it first: a failure, not a skip
            raise AssertionError("%s is missing: run make package%s" % (zip_path, " ARCH=arm64" if arch == "arm64" else ""))
        if foreign:
            tap.need(emulator, "qemu-user-static")

    def bootstrap_bytes():
        return pkgcheck.zip_bootstrap(zip_path)

    def root_with(tmp, files, ca=None):
        # glibc's files are taken for the bootstrap; the probe needs the same ones.
        return emptyroot.make_root(tmp, arch, files, ca_pem=ca,
                                   glibc_for=os.path.join(tmp, "bootstrap") if "bootstrap" in files else None)

    @tap.case
    def zip_layout():
        ready()
        pkgcheck.check_zip(tap, zip_path)

    @tap.case
    def elf_glibc_only_and_stripped():
        ready()
        with tempfile.TemporaryDirectory() as tmp:
            path = pkgcheck.write_exec(tmp, "bootstrap", bootstrap_bytes())
            pkgcheck.check_elf(tap, path, machine_name, loader)

    @tap.case
    def libraries_linked_in():
        ready()
        data = bootstrap_bytes()
        # libcurl's own default CA path is Amazon Linux's (scripts/build-curl.sh),
        # and OpenSSL's version text is inside: the libraries are in the binary.
        tap.ok(b"/etc/pki/tls/certs/ca-bundle.crt" in data, "the Amazon Linux CA path is in the binary")
        tap.ok(b"OpenSSL 3." in data, "OpenSSL is linked in")
        tap.ok(b"not well-formed (invalid token)" in data, "expat's messages are in the binary")
        with tempfile.TemporaryDirectory() as tmp:
            libs = pkgcheck.needed(pkgcheck.write_exec(tmp, "bootstrap", data))
        tap.eq([n for n in libs if any(k in n for k in ("curl", "ssl", "crypto", "jansson", "expat"))], [],
               "shared libraries of the four")

    @tap.case
    def version_in_empty_root():
        ready()
        _netns()
        with tempfile.TemporaryDirectory() as tmp:
            root = root_with(tmp, {"bootstrap": bootstrap_bytes()})
            files = emptyroot.listing(root)
            tap.ok(not [f for f in files if f.startswith(("/etc/ssl", "/usr/lib/ssl", "/usr/share"))],
                   "the root holds no TLS files: %r" % files)
            code, out, err = emptyroot.run(root, arch, ["/bootstrap", "--version"], {})
            tap.eq(code, 0, "bootstrap --version exit status (stderr: %s)" % err.strip()[:300])
        tap.eq(out.splitlines()[1:], pkgcheck.expected_versions(arch), "--version names what is linked in")

    def run_probe(with_ca):
        """The probe's one HTTPS request to a fake ELBv2 from the empty root, with the
        fake's CA at the Amazon Linux path or no CA at all."""
        ready()
        if not os.path.exists(probe_path):
            raise AssertionError("%s is missing: run make package" % probe_path)
        _netns()
        from fake_elbv2 import FakeElbv2
        with FakeElbv2(**_fake_creds()) as elb, tempfile.TemporaryDirectory() as tmp:
            with open(probe_path, "rb") as f:
                probe = f.read()
            ca_pem = _read(elb.ca_file) if with_ca else None
            root = emptyroot.make_root(tmp, arch, {"probe": probe}, ca_pem=ca_pem)
            return emptyroot.run(root, arch, ["/probe", elb.url + "/"], {})

    @tap.case
    def probe_https_with_amazon_linux_ca_path():
        code, out, err = run_probe(with_ca=True)
        tap.eq(code, 0, "probe exit status (stdout %s, stderr %s)" % (out.strip(), err.strip()[:300]))
        got = json.loads(out)
        tap.eq(got["curlCode"], 0, "curl result")
        tap.eq(got["status"], 400, "HTTP status of a GET to the Query API")
        tap.ok(got["xmlRoot"] and got["xmlRoot"].endswith("ErrorResponse"), "XML root %r" % got["xmlRoot"])

    @tap.case
    def probe_https_fails_without_ca():
        # The control case: with no CA bundle in the root the same request must fail,
        # so the case above really depends on the Amazon Linux path.
        code, out, err = run_probe(with_ca=False)
        tap.eq(code, 1, "probe exit status")
        tap.ok(json.loads(out)["curlCode"] in (60, 77), "certificate failure expected: %s" % out.strip())

    @tap.case
    def invocation_in_empty_root():
        ready()
        _netns()
        tap.need("/usr/sbin/dnsmasq", "dnsmasq-base")
        result, elb_calls, registered = _one_invocation(arch, bootstrap_bytes(), with_ca=True)
        tap.eq(result["kind"], "response", "invocation result (%s)" % json.dumps(result["json"])[:400])
        body = result["json"]
        tap.eq(body["resolved"], [NEW_IP], "resolved")
        tap.eq(body["registered"], ["%s:5432" % NEW_IP], "registered")
        tap.eq(body["deregistered"], ["%s:5432" % OLD_IP], "deregistered")
        tap.eq(body["converged"], True, "converged")
        tap.eq(registered, ["%s:5432" % NEW_IP], "the fake's target group")
        tap.ok(elb_calls and all(c["signature_ok"] for c in elb_calls), "every ELBv2 call was signed correctly")

    @tap.case
    def invocation_fails_without_ca():
        ready()
        _netns()
        tap.need("/usr/sbin/dnsmasq", "dnsmasq-base")
        result, elb_calls, registered = _one_invocation(arch, bootstrap_bytes(), with_ca=False)
        tap.eq(result["kind"], "error", "without a CA bundle the invocation must fail")
        tap.eq(registered, ["%s:5432" % OLD_IP], "nothing changed")
        tap.eq([c for c in elb_calls if c["status"] is not None], [], "no request got through TLS")


def _fake_creds():
    return {"access_key": CREDS["AWS_ACCESS_KEY_ID"], "secret_key": CREDS["AWS_SECRET_ACCESS_KEY"],
            "session_token": CREDS["AWS_SESSION_TOKEN"]}


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _one_invocation(arch, bootstrap, with_ca):
    """Runs bootstrap as Lambda would (runtime loop) in the empty root for one `{}` event, against
    the local stack (tests/lib/stack.py: dnsmasq, the fake ELBv2 API over HTTPS, the fake Runtime
    API) with the database endpoint already moved to the new primary.
    Returns (the posted result, the ELBv2 calls, the target group's registered targets)."""
    import stack
    with stack.LocalStack(records={const.DB_ENDPOINT: [NEW_IP]}, cnames={}) as s, \
            tempfile.TemporaryDirectory() as tmp:
        root = emptyroot.make_root(tmp, arch, {"bootstrap": bootstrap},
                                   ca_pem=_read(s.elb.ca_file) if with_ca else None)
        # Exactly what the template and Lambda set, without AWS_CA_BUNDLE: the CA must be
        # found at the Amazon Linux path.
        env = s.lambda_env(s.env(AWS_CA_BUNDLE=None, AWS_MAX_ATTEMPTS="1"))
        tap.ok("AWS_CA_BUNDLE" not in env and "SSL_CERT_FILE" not in env, "no CA override in the environment")
        proc = emptyroot.spawn(root, arch, ["/bootstrap"], env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            rid = s.runtime.enqueue({})
            try:
                result = s.runtime.wait_result(rid, timeout=60)
            except TimeoutError:
                proc.kill()
                out = proc.communicate()[0].decode(errors="replace")
                raise AssertionError("no result within 60 s; bootstrap said: %s" % out[-1500:])
            s.runtime.exit_when_drained()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
        return result, list(s.elb.calls), s.elb.registered(s.target_group_arn)
