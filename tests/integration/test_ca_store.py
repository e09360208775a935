"""TLS verification with the lazily loaded CA bundle (handler/aws/ca_store.c), through
$RNS_BUILD/tools/elb_client against FakeElbv2 over HTTPS, with CAs made by the
openssl command line in a temporary folder: the system bundle with the test CA
added verifies (one certificate decoded, not the bundle); the system bundle alone
(an unknown root), an expired copy of the root, a server name the certificate
does not carry, and a missing, unreadable or malformed bundle are TLS errors, the
last three naming the file; no request reaches the fake without a verified server."""
import atexit
import os
import shutil
import ssl
import subprocess
import tempfile

import tap
from fake_elbv2 import FakeElbv2, make_test_pki

ARN = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/pg-writer-tg/5d2c7e41a9b3f086"
TOOL = os.environ.get("RNS_ELB_CLIENT") or os.path.join(tap.build_dir(), "tools", "elb_client")
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
TMP = tempfile.mkdtemp(prefix="ca-store-")
atexit.register(shutil.rmtree, TMP, True)


def need(path=TOOL):
    if not os.path.exists(path):
        tap.skip("%s is not on this machine" % path)


def pki(name, **kw):
    """A test CA and a server certificate (openssl CLI) in a folder of their own."""
    folder = os.path.join(TMP, name)
    if not os.path.exists(os.path.join(folder, "ca.pem")):
        make_test_pki(folder, name="rds-nlb-sync %s CA" % name, **kw)
    return {k: os.path.join(folder, f) for k, f in (("ca", "ca.pem"), ("cert", "server.pem"),
                                                    ("key", "server.key"), ("dir", ""))}


def serving(p):
    """A started FakeElbv2 that presents p's server certificate."""
    f = FakeElbv2(access_key="AKIDTEST", secret_key="s3cr3t/Key+ForTests0123456789abcdefghij").start()
    f.add_target_group(ARN, ["10.20.1.37:5432"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(p["cert"], p["key"])
    f._ssl_ctx = ctx  # read at each accepted connection
    return f


def bundle(name, *parts, crlf=False):
    """A bundle file made of the given PEM files (or text), in order."""
    text = ""
    for part in parts:
        text += open(part).read() if os.path.isfile(part) else part
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    path = os.path.join(TMP, name)
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def describe(f, ca_bundle, url=None):
    """(exit status, the operation's JSON line, stderr) of one describe through elb_client."""
    import json
    need()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("SSL_CERT_FILE",)}
    env.update(AWS_REGION="eu-west-1", AWS_ACCESS_KEY_ID=f.access_key, AWS_SECRET_ACCESS_KEY=f.secret_key,
               AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=url or f.url, AWS_LAMBDA_LOG_LEVEL="DEBUG",
               AWS_CA_BUNDLE=ca_bundle)
    p = subprocess.run([TOOL, "describe", ARN], env=env, capture_output=True, text=True, timeout=60)
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    return p.returncode, lines[0] if lines else {}, p.stderr


def refused(f, path, *words):
    rc, op, err = describe(f, path)
    e = op.get("error", {})
    tap.eq((rc, e.get("code"), e.get("attempts")), (1, "TlsError", 1), "refused: %s" % err[-400:])
    for w in words:
        tap.ok(w in e.get("message", ""), "the error %r does not say %r" % (e.get("message"), w))
    tap.eq(f.calls, [], "a request was sent without a verified server")
    return e


@tap.case
def system_bundle_with_the_test_ca_verifies():
    need(SYSTEM_BUNDLE)
    p = pki("good")
    path = bundle("system-plus-test.crt", SYSTEM_BUNDLE, p["ca"])
    count = open(path).read().count("-----BEGIN CERTIFICATE-----")
    with serving(p) as f:
        rc, op, err = describe(f, path)
        tap.eq((rc, op.get("ok")), (0, True), err[-400:])
        tap.ok("CA bundle: %s (%d certificates)" % (path, count) in err,
               "the debug log does not name the bundle and its %d certificates: %s" % (count, err[-600:]))
        tap.eq(len(f.calls), 1)


@tap.case
def test_ca_in_the_middle_with_crlf_line_ends():
    need(SYSTEM_BUNDLE)
    p = pki("good")
    system = open(SYSTEM_BUNDLE).read()
    half = system.index("-----BEGIN CERTIFICATE-----", len(system) // 2)
    path = bundle("middle-crlf.crt", system[:half], p["ca"], "# a comment\n", system[half:], crlf=True)
    with serving(p) as f:
        rc, op, err = describe(f, path)
        tap.eq((rc, op.get("ok")), (0, True), err[-400:])


@tap.case
def unknown_root_is_refused():
    need(SYSTEM_BUNDLE)
    p, other = pki("good"), pki("other")
    with serving(p) as f:
        e = refused(f, bundle("system-only.crt", SYSTEM_BUNDLE, other["ca"]))
        tap.ok("certificate" in e["message"], e["message"])
        # the fake counts the failure in its own thread, maybe after the client has given up
        tap.eventually(lambda: f.tls_failures >= 1, "the fake seeing the failed handshake")


@tap.case
def expired_root_is_refused():
    p = pki("good")
    expired = os.path.join(p["dir"], "expired-ca.pem")
    # The same key and subject, re-signed with a validity that ended yesterday.
    subprocess.run(["openssl", "x509", "-in", p["ca"], "-signkey", os.path.join(p["dir"], "ca.key"),
                    "-days", "-1", "-out", expired], check=True, capture_output=True)
    with serving(p) as f:
        e = refused(f, bundle("expired.crt", expired))
        tap.ok("expired" in e["message"], "the error does not say the certificate expired: %s" % e["message"])
        rc, op, _ = describe(f, bundle("valid.crt", p["ca"]))  # the valid copy of the same root verifies
        tap.eq((rc, op.get("ok")), (0, True))


@tap.case
def server_name_not_in_the_certificate_is_refused():
    p = pki("elsewhere", hostnames=("elsewhere.example",), ips=())
    with serving(p) as f:
        refused(f, bundle("elsewhere.crt", p["ca"]))


@tap.case
def missing_unreadable_and_malformed_bundles_name_the_file():
    p = pki("good")
    with serving(p) as f:
        refused(f, "/nonexistent/ca-bundle.crt", "/nonexistent/ca-bundle.crt", "cannot open")
        refused(f, TMP, TMP, "cannot read")  # a folder: opens, but cannot be read
        empty = bundle("empty.crt", "")
        refused(f, empty, empty, "no certificate")
        good = open(p["ca"]).read()
        broken = good.replace("\n", "\n*", 2)
        path = bundle("broken.crt", p["ca"], broken)
        refused(f, path, path, "certificate 2 is not valid PEM")


@tap.case
def valgrind_clean_through_a_verified_and_a_refused_handshake():
    if not shutil.which("valgrind"):
        tap.skip("valgrind is not installed")
    if "asan" in TOOL.split(os.sep):
        tap.skip("valgrind cannot run the sanitizer build")
    need()
    p, other = pki("good"), pki("other")
    for ca, want in ((p["ca"], 0), (other["ca"], 1)):
        with serving(p) as f:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(AWS_REGION="eu-west-1", AWS_ACCESS_KEY_ID=f.access_key, AWS_SECRET_ACCESS_KEY=f.secret_key,
                       AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=f.url, AWS_CA_BUNDLE=bundle("vg.crt", ca))
            r = subprocess.run(["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
                                "--error-exitcode=99", TOOL, "describe", ARN],
                               env=env, capture_output=True, text=True, timeout=300)
            tap.eq(r.returncode, want, r.stderr[-1500:])


tap.main()
