#!/usr/bin/python3
"""The official SigV4 test suite ($RNS_SHARED/sigv4-test-suite, 34 cases)
through $RNS_BUILD/sigv4.

Each case is signed twice: as stored (LF) with --output json, and with its
head converted to CRLF with --output creq, sts and authz one by one. The
canonical request, the string to sign and the Authorization value must equal
the case's .creq, .sts and .authz byte for byte (after dropping any CR). The
JSON's signed_request must also carry the same request as the case's .sreq.
The session token, when there is one, comes from the expected .creq, as the
suite's README says.
"""
import json
import os
import subprocess

import tap

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
DATE = "20150830T123600Z"
SUITE_CASES = 34

# .sreq files that do not show the signed request botocore (and we) send:
# get-vanilla-with-session-token's carries get-vanilla's signature (see the
# suite README), post-sts-header-after adds the token after signing.
SREQ_DIFFERENT = {"get-vanilla-with-session-token", "post-sts-header-after"}


def suite_dir():
    shared = tap.shared_dir()
    return os.path.join(shared, "sigv4-test-suite") if shared else None


def cases(root):
    found = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".req"):
                found.append(os.path.join(dirpath, name[:-4]))
    return sorted(found)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def to_crlf(raw):
    """The head with CRLF line ends; the body (after the empty line) as is."""
    head, sep, body = raw.partition(b"\n\n")
    head = head.replace(b"\n", b"\r\n")
    return head + (b"\r\n\r\n" if sep else b"") + body


def token_of(base):
    for line in read(base + ".creq").decode().split("\n"):
        if line.startswith("x-amz-security-token:"):
            return line.split(":", 1)[1]
    return None


def sign(raw, output, token):
    argv = [os.path.join(tap.build_dir(), "sigv4"), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
            "--region", "us-east-1", "--service", "service", "--date", DATE, "--output", output]
    if token:
        argv += ["--session-token", token]
    proc = subprocess.run(argv, input=raw, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tap.eq(proc.returncode, 0, "exit status (stderr: %s)" % proc.stderr.decode(errors="replace").strip())
    tap.ok(not proc.stderr, "nothing on stderr, got %r" % proc.stderr)
    return proc.stdout.decode("utf-8")  # creq, sts, authz: exactly the value, no newline


def expected(base, ext):
    return read(base + ext).decode("utf-8").replace("\r", "")


def parse_request(text):
    """(request line, [(name, value)], body) with folded lines unfolded."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
        else:
            name, _, value = line.partition(":")
            headers.append((name.lower(), value.strip()))
    return lines[0], sorted(headers), body


def check_json(base, raw):
    name = os.path.basename(base)
    got = json.loads(sign(raw, "json", token_of(base)))
    tap.eq(sorted(got), ["authorization", "canonical_request", "signed_request", "string_to_sign"], "json keys")
    tap.eq(got["canonical_request"], expected(base, ".creq"), "canonical request")
    tap.eq(got["string_to_sign"], expected(base, ".sts"), "string to sign")
    tap.eq(got["authorization"], expected(base, ".authz"), "authorization")
    sent = parse_request(got["signed_request"])
    tap.ok(("authorization", expected(base, ".authz")) in sent[1], "signed_request has the Authorization")
    if name not in SREQ_DIFFERENT:
        tap.eq(sent, parse_request(expected(base, ".sreq")), "signed_request against .sreq")


def check_crlf(base, raw):
    crlf = to_crlf(raw)
    tap.ok(b"\r\n" in crlf, "the CRLF form has CRLF")
    token = token_of(base)
    tap.eq(sign(crlf, "creq", token), expected(base, ".creq"), "canonical request")
    tap.eq(sign(crlf, "sts", token), expected(base, ".sts"), "string to sign")
    tap.eq(sign(crlf, "authz", token), expected(base, ".authz"), "authorization")


def add_case(base, check, prefix):
    name = prefix + os.path.relpath(base, suite_dir()).split(os.sep)[-1]

    def run():
        check(base, read(base + ".req"))
    run.__name__ = name
    tap.case(run)


@tap.case
def suite_present():
    root = suite_dir()
    if not root:
        tap.skip("../shared is absent: the 34 suite cases are not run")
    tap.eq(len(cases(root)), SUITE_CASES, "cases in the suite")


if suite_dir():
    for _base in cases(suite_dir()):
        add_case(_base, check_json, "suite_")
    for _base in cases(suite_dir()):
        add_case(_base, check_crlf, "suite_crlf_")

if __name__ == "__main__":
    tap.main()
