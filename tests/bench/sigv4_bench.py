#!/usr/bin/python3
"""Signatures per second of our C signer against botocore, on the same request.

The request is the one $RNS_BUILD/tools/sigv4_bench signs (an ELBv2
RegisterTargets call with session credentials, clock frozen at
20150830T123600Z). Botocore signs it with SigV4Auth.add_auth on one
AWSRequest, re-signed in place as botocore does on a retry, so its rate counts
signing only. Both Authorization values must be equal, or the numbers compare
different work and measure() raises.

    measure(seconds=2.0, build=None, rounds=3)
        -> {"c_per_s", "botocore_per_s", "ratio", "authorization"}
    /usr/bin/python3 tests/bench/sigv4_bench.py [SECONDS]
"""
import datetime
import os
import subprocess
import sys
import time
from unittest import mock

HOST = "elasticloadbalancing.eu-west-1.amazonaws.com"
BODY = (b"Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=arn%3Aaws%3Aelasticloadbalancing%3A"
        b"eu-west-1%3A111122223333%3Atargetgroup%2Fpg-writer-tg%2F5d2c7e41a9b3f086"
        b"&Targets.member.1.Id=10.20.2.118&Targets.member.1.Port=5432")
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQExampleSessionToken+/="
FROZEN = datetime.datetime(2015, 8, 30, 12, 36, 0)


class _Frozen(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FROZEN


def _build_dir():
    root = os.environ.get("RNS_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.environ.get("RNS_BUILD") or os.path.join(root, "build")


def botocore_rate(seconds):
    """(signatures per second, last Authorization) of botocore's SigV4Auth."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, TOKEN), "elasticloadbalancing", "eu-west-1")
    request = AWSRequest(method="POST", url="https://%s/" % HOST, data=BODY,
                         headers={"Host": HOST,
                                  "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    fake = mock.Mock(wraps=datetime)
    fake.datetime = _Frozen
    with mock.patch("botocore.auth.datetime", fake):
        count, start = 0, time.perf_counter()
        while True:
            for _ in range(200):
                auth.add_auth(request)
            count += 200
            took = time.perf_counter() - start
            if took >= seconds:
                break
    return count / took, request.headers["Authorization"]


def c_rate(seconds, build=None):
    """(signatures per second, last Authorization) of tools/sigv4_bench."""
    tool = os.path.join(build or _build_dir(), "tools", "sigv4_bench")
    out = subprocess.run([tool, str(seconds)], check=True, stdout=subprocess.PIPE).stdout.decode()
    first, authz = out.splitlines()[:2]
    return float(first.split()[1]), authz


def measure(seconds=2.0, build=None, rounds=3):
    """Rates of both signers over `seconds` each, in interleaved rounds; the
    best round of each counts, so load from elsewhere on the machine skews
    the ratio less."""
    c_best = boto_best = 0.0
    for _ in range(rounds):
        c, c_authz = c_rate(seconds / rounds, build)
        boto, boto_authz = botocore_rate(seconds / rounds)
        if c_authz != boto_authz:
            raise RuntimeError("the C tool and botocore signed different requests:\n  %s\n  %s" % (c_authz, boto_authz))
        c_best, boto_best = max(c_best, c), max(boto_best, boto)
    return {"c_per_s": c_best, "botocore_per_s": boto_best, "ratio": c_best / boto_best, "authorization": c_authz}


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    r = measure(seconds)
    print("sigv4 signatures/s: C %.0f, botocore %.0f, ratio %.1fx (goal >= 20x)"
          % (r["c_per_s"], r["botocore_per_s"], r["ratio"]))


if __name__ == "__main__":
    main()
