#!/usr/bin/python3
"""The signer under valgrind: $RNS_BUILD/sigv4 on suite requests (when
$RNS_SHARED is there) and on requests of our own (always), and the sigv4 unit
test binaries. Any leak of any kind, or any memory error, fails.
"""
# rns: no-asan (valgrind and ASan do not mix)
import glob
import os
import subprocess

import tap

VALGRIND = ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=all", "--error-exitcode=99"]
ARGS = ["--access-key", "AKIDEXAMPLE", "--secret-key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "--region", "us-east-1", "--service", "service", "--date", "20150830T123600Z"]
SUITE_CASES = ["get-vanilla", "get-header-value-multiline", "get-vanilla-query-order-encoded",
               "normalize-path/get-space", "post-sts-token/post-sts-header-before", "post-x-www-form-urlencoded"]
OWN_REQUESTS = {
    "post_crlf_token": b"POST /a/../b//c?z=%41&a HTTP/1.1\r\nHost: h\r\nX: a  b\r\n  folded\r\n\r\nAction=x",
    "get_lf": b"GET /\xe1\x88\xb4 HTTP/1.1\nHost: h\nX-Amz-Date: 20150830T123600Z\nA: 1\na: 2\n",
    "binary_body": b"PUT / HTTP/1.1\nHost: h\n\n\x00\xff\xfe",
}
# Malformed input: the error paths must not leak either.
BAD_REQUESTS = {
    "no_colon": b"GET / HTTP/1.1\nHost h\n",
    "no_host": b"GET / HTTP/1.1\nX: y\n",
    "bad_date_header": b"GET / HTTP/1.1\nHost: h\nX-Amz-Date: yesterday\n",
}


def sigv4():
    return os.path.join(tap.build_dir(), "sigv4")


def valgrind(argv, stdin=b""):
    proc = subprocess.run(VALGRIND + argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc.returncode, proc.stderr.decode(errors="replace")


def check_clean(argv, stdin=b"", want_status=0):
    status, err = valgrind(argv, stdin)
    tap.ok(status != 99, "valgrind found errors or leaks:\n" + err[-3000:])
    tap.eq(status, want_status, "exit status (stderr: %s)" % err.strip()[-500:])


def add_cli_case(name, raw, extra, want_status=0):
    def run():
        for output in (["--output", "json"], ["--output", "all"]):
            check_clean([sigv4()] + ARGS + extra + output, raw, want_status)
    run.__name__ = "valgrind_sigv4_" + name
    tap.case(run)


def add_suite_case(case):
    def run():
        shared = tap.shared_dir()
        if not shared:
            tap.skip("../shared is absent")
        base = os.path.join(shared, "sigv4-test-suite", case, os.path.basename(case))
        with open(base + ".req", "rb") as f:
            raw = f.read()
        token = [line.split(":", 1)[1] for line in open(base + ".creq").read().split("\n")
                 if line.startswith("x-amz-security-token:")]
        check_clean([sigv4()] + ARGS + ["--output", "json"] + (["--session-token", token[0]] if token else []), raw)
    run.__name__ = "valgrind_suite_" + os.path.basename(case)
    tap.case(run)


def add_unit_case(binary):
    def run():
        check_clean([binary])
    run.__name__ = "valgrind_unit_" + os.path.basename(binary)
    tap.case(run)


@tap.case
def valgrind_unit_binaries_built():
    binaries = glob.glob(os.path.join(tap.build_dir(), "tests", "test_sigv4*"))
    tap.ok(len(binaries) >= 2, "the sigv4 unit test binaries are built in %s/tests" % tap.build_dir())


for _name, _raw in OWN_REQUESTS.items():
    add_cli_case(_name, _raw, ["--session-token", "TOKEN"] if "token" in _name else [])
for _name, _raw in BAD_REQUESTS.items():
    add_cli_case("error_" + _name, _raw, [], want_status=2)
add_cli_case("error_bad_date_flag", OWN_REQUESTS["get_lf"], ["--date", "2015"], want_status=2)
for _case in SUITE_CASES:
    add_suite_case(_case)
for _binary in sorted(glob.glob(os.path.join(tap.build_dir(), "tests", "test_sigv4*"))):
    add_unit_case(_binary)

if __name__ == "__main__":
    tap.main()
