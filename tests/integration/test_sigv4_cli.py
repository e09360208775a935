#!/usr/bin/python3
"""$RNS_BUILD/sigv4 as README.md, "Development" describes it: flags, outputs,
exit status 0 or 2 with a clear message, and no secret in any message.
Expected signatures are not restated here (the suite and botocore suites do
that); these cases check the command line around them.
"""
import json
import os
import subprocess

import tap

SECRET = "S3cretKEYnotToBeShown/+"
TOKEN = "T0kenNotToBeShown+/="
BASE = ["--access-key", "AKIDEXAMPLE", "--secret-key", SECRET, "--region", "us-east-1", "--service", "service",
        "--date", "20150830T123600Z"]
REQUEST = b"POST /path?b=2&a=1 HTTP/1.1\nHost: example.amazonaws.com\nContent-Type: text/plain\n\nhello"


def run(args, stdin=REQUEST):
    proc = subprocess.run([os.path.join(tap.build_dir(), "sigv4")] + args, input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def fails(args, stdin, says):
    status, out, err = run(args, stdin)
    tap.eq(status, 2, "exit status for %r" % (says,))
    tap.eq(out, "", "nothing on stdout")
    tap.ok(says.lower() in err.lower(), "stderr %r says %r" % (err, says))
    tap.ok(SECRET not in err and TOKEN not in err, "no secret or token in %r" % err)


@tap.case
def cli_help():
    status, out, err = run(["--help"], b"")
    tap.eq(status, 0, "exit status")
    for word in ("--access-key", "--secret-key", "--session-token", "--region", "--service", "--date",
                 "--output", "all", "creq", "sts", "authz", "json", "signed_request"):
        tap.ok(word in out, "usage mentions %s" % word)


@tap.case
def cli_outputs_agree():
    status, creq, _ = run(BASE + ["--output", "creq"])
    tap.eq(status, 0, "creq exit")
    _, sts, _ = run(BASE + ["--output", "sts"])
    _, authz, _ = run(BASE + ["--output", "authz"])
    _, default, _ = run(BASE)
    _, all_, _ = run(BASE + ["--output", "all"])
    _, js, _ = run(BASE + ["--output", "json"])
    obj = json.loads(js)
    tap.eq(creq, obj["canonical_request"], "creq: the value exactly, no newline (stdout is no terminal)")
    tap.eq(sts, obj["string_to_sign"], "sts")
    tap.eq(authz, obj["authorization"], "authz")
    tap.ok(js.endswith("}\n"), "json ends with a newline")
    tap.eq(default, all_, "all is the default")
    tap.eq(all_, "--- canonical request\n%s\n--- string to sign\n%s\n--- authorization\n%s\n" % (creq, sts, authz), "all")
    tap.ok(creq.startswith("POST\n/path\na=1&b=2\ncontent-type:text/plain\nhost:example.amazonaws.com\n"), creq)
    tap.ok(sts.startswith("AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"), sts)


@tap.case
def cli_json_signed_request():
    status, out, _ = run(BASE + ["--session-token", TOKEN, "--output", "json"])
    tap.eq(status, 0, "exit")
    obj = json.loads(out)
    tap.eq(sorted(obj), ["authorization", "canonical_request", "signed_request", "string_to_sign"], "keys")
    want = ("POST /path?b=2&a=1 HTTP/1.1\nHost: example.amazonaws.com\nContent-Type: text/plain\n"
            "X-Amz-Date: 20150830T123600Z\nX-Amz-Security-Token: %s\nAuthorization: %s\n\nhello"
            % (TOKEN, obj["authorization"]))
    tap.eq(obj["signed_request"], want, "signed_request")
    tap.ok("x-amz-security-token:%s\n" % TOKEN in obj["canonical_request"], "the token is signed")


@tap.case
def cli_json_keeps_crlf_and_replaces_authorization():
    raw = (b"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: AWS4-HMAC-SHA256 old\r\n"
           b"X-Amz-Date: 20200101T000000Z\r\n\r\n")
    status, out, _ = run(BASE + ["--output", "json"], raw)
    tap.eq(status, 0, "exit")
    obj = json.loads(out)
    tap.eq(obj["signed_request"], "GET / HTTP/1.1\r\nHost: h\r\nX-Amz-Date: 20200101T000000Z\r\nAuthorization: %s\r\n\r\n"
           % obj["authorization"], "signed_request")
    tap.ok("20200101/us-east-1/service/aws4_request" in obj["authorization"], "the request's X-Amz-Date wins")
    tap.ok("old" not in obj["canonical_request"], "the old Authorization is not signed")


@tap.case
def cli_json_non_utf8_body():
    status, out, _ = run(BASE + ["--output", "json"], b"PUT / HTTP/1.1\nHost: h\n\nok\xff\xe1\x88")
    tap.eq(status, 0, "exit")
    tap.eq(json.loads(out)["signed_request"][-4:], "ok\ufffd\ufffd", "bytes that are not UTF-8 shown as U+FFFD")


@tap.case
def cli_flag_equals_form():
    args = ["--access-key=AKIDEXAMPLE", "--secret-key=" + SECRET, "--region=us-east-1", "--service=service",
            "--date=20150830T123600Z", "--output=authz"]
    tap.eq(run(args)[1], run(BASE + ["--output", "authz"])[1], "--flag=value")


@tap.case
def cli_missing_flags():
    for flag in ("--access-key", "--secret-key", "--region", "--service", "--date"):
        i = BASE.index(flag)
        fails(BASE[:i] + BASE[i + 2:], REQUEST, flag + " is required")


@tap.case
def cli_date_from_the_request():
    dated = REQUEST.replace(b"Content-Type:", b"X-Amz-Date: 20150830T123600Z\nContent-Type:")
    i = BASE.index("--date")
    status, authz, err = run(BASE[:i] + BASE[i + 2:] + ["--output", "authz"], dated)
    tap.eq(status, 0, "no --date needed when the request has X-Amz-Date: %s" % err)
    tap.eq(authz, run(BASE + ["--output", "authz"], dated)[1], "the same signature as with --date")
    tap.ok("x-amz-date" in authz, authz)


@tap.case
def cli_bad_arguments():
    fails([], REQUEST, "required")
    fails(BASE + ["--output", "xml"], REQUEST, "--output must be")
    fails(BASE + ["--colour"], REQUEST, "unknown option --colour")
    fails(BASE + ["extra"], REQUEST, "unexpected argument extra")
    fails(BASE + ["--output"], REQUEST, "--output needs a value")
    for date in ("2015-08-30T12:36:00Z", "20150830", "20151330T123600Z", "20150830T123600"):
        fails(BASE[:-1] + [date], REQUEST, "--date must be")
    fails(["--access-key", "AK/ID"] + BASE[2:], REQUEST, "access key")
    fails(BASE + ["--session-token", TOKEN + "\n"], REQUEST, "session token")


@tap.case
def cli_malformed_requests():
    fails(BASE, b"", "empty request")
    fails(BASE, b"\nGET / HTTP/1.1\nHost: h\n", "no request line")
    fails(BASE, b"Host: h\n\n", "request line")
    fails(BASE, b"GET / HTTP/1.1\nHost: h\nNoColonHere\n", "line 3: header line has no ':'")
    fails(BASE, b"GET / HTTP/1.1\r\n  folded\r\n", "continuation line")
    fails(BASE, b"GET / HTTP/2 x\nHost: h\n", "HTTP/1.1")
    fails(BASE, b"GET / HTTP/1.1\nX-Other: y\n", "no Host header")
    fails(BASE, b"GET nopath HTTP/1.1\nHost: h\n", "must start with '/'")
    fails(BASE, b"GET /a#frag HTTP/1.1\nHost: h\n", "'#'")
    fails(BASE, b"GET / HTTP/1.1\nHost: h\nX-Amz-Date: 2015\n", "X-Amz-Date")
    fails(BASE + ["--session-token", TOKEN], b"GET / HTTP/1.1\nHost: h\x00\n", "line 2 contains a NUL")


if __name__ == "__main__":
    tap.main()
