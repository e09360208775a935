#!/usr/bin/python3
"""$RNS_BUILD/sigv4 against botocore (Debian's python3-botocore, SigV4Auth,
frozen clock) on the same requests: generated ones, the ELBv2 golden requests
of $RNS_SHARED/fixtures/elbv2 and our own fixtures in test_sigv4_fixtures/.
Canonical request, string to sign and Authorization must be identical, and
the signed request must carry the same headers as botocore's.

Generated requests come from a seeded RNG: random methods, paths (dot
segments, repeated slashes, UTF-8, reserved and percent-encoded bytes),
queries (repeated keys, empty values, keys without '=', encoded input),
headers (odd spacing, folded values, repeated names in mixed case, Unicode
whitespace, headers botocore leaves unsigned), bodies, services, regions,
credentials with and without session tokens, LF or CRLF line ends. The seed
is printed; SIGV4_SEED=N reproduces a run, SIGV4_COUNT=N changes the count
(300, or 60 in run.py's sanitizer pass).

How botocore is given "the same request": the URL holds the path as it is on
the request line; the query goes in as botocore's params, i.e. the pairs
percent-decoded (botocore's own code re-encodes them), as a serializer hands
them over; headers are added one by one, so repeated names stay repeated.
Date headers are never generated: botocore rewrites a Date header into the
signature time, where README.md, "Development" (and our signer) sign the
request as it is and add X-Amz-Date.
"""
import datetime
import glob
import json
import os
import random
import subprocess
import sys
import urllib.parse
from unittest import mock

import tap
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
# The sanitizer pass (run.py, RNS_SANITIZED) re-runs this against the ASan
# build, where each process is slow: fewer requests there.
COUNT = int(os.environ.get("SIGV4_COUNT") or (60 if os.environ.get("RNS_SANITIZED") else 300))
SEED = int(os.environ.get("SIGV4_SEED") or random.SystemRandom().randrange(1 << 32))
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


class Recording(SigV4Auth):
    """botocore's signer, unchanged, keeping what it computed."""

    def canonical_request(self, request):
        self.creq = super().canonical_request(request)
        return self.creq

    def string_to_sign(self, request, canonical_request):
        self.sts = super().string_to_sign(request, canonical_request)
        return self.sts


def frozen_datetime(stamp):
    when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when
    fake = mock.Mock(wraps=datetime)
    fake.datetime = Frozen
    return fake


def query_params(query):
    """The pairs of a raw query, percent-decoded, for botocore's params."""
    pairs = []
    for piece in query.split("&"):
        key, _, value = piece.partition("=")
        pairs.append((urllib.parse.unquote_to_bytes(key).decode("utf-8"),
                      urllib.parse.unquote_to_bytes(value).decode("utf-8")))
    return pairs


def botocore_sign(req):
    """req: dict(method, target, headers=[(name, value)], body, access_key, secret_key,
    token, region, service, stamp). Returns (creq, sts, authorization, headers)."""
    path, qmark, query = req["target"].partition("?")
    params = query_params(query) if qmark and query else {}
    request = AWSRequest(method=req["method"], url="https://example.com" + path, data=req["body"], params=params)
    for name, value in req["headers"]:
        request.headers[name] = value
    auth = Recording(Credentials(req["access_key"], req["secret_key"], req["token"]), req["service"], req["region"])
    with mock.patch("botocore.auth.datetime", frozen_datetime(req["stamp"])):
        auth.add_auth(request)
    return auth.creq, auth.sts, request.headers["Authorization"], list(request.headers.items())


def our_sign(raw, req, date):
    argv = [os.path.join(tap.build_dir(), "sigv4"), "--access-key", req["access_key"], "--secret-key",
            req["secret_key"], "--region", req["region"], "--service", req["service"], "--date", date,
            "--output", "json"]
    if req["token"]:
        argv += ["--session-token", req["token"]]
    proc = subprocess.run(argv, input=raw, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tap.eq(proc.returncode, 0, "exit status (stderr: %s)" % proc.stderr.decode(errors="replace").strip())
    return json.loads(proc.stdout)


def header_set(headers):
    """Headers compared by lower-case name and whitespace-collapsed value."""
    return sorted((n.lower(), " ".join(v.split())) for n, v in headers)


def sent_headers(signed_request):
    head = signed_request.replace("\r\n", "\n").partition("\n\n")[0]
    headers = []
    for line in head.split("\n")[1:]:
        if line[:1] in (" ", "\t"):
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line)
        else:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return headers


def compare(raw, req, date, what):
    ours = our_sign(raw, req, date)
    creq, sts, authz, headers = botocore_sign(req)
    tap.eq(ours["canonical_request"], creq, what + ": canonical request")
    tap.eq(ours["string_to_sign"], sts, what + ": string to sign")
    tap.eq(ours["authorization"], authz, what + ": authorization")
    tap.eq(header_set(sent_headers(ours["signed_request"])), header_set(headers), what + ": headers sent")
    return ours


# ---- generated requests ----------------------------------------------------

PATH_SEGMENTS = ["a", "B", "foo", "example", ".", "..", "", "...", ".a", "a.", "%41", "%2f", "%2F", "%25",
                 "%zz", "\u00fc", "\u1234", "\U0001f600", "sp ace", "a+b", "$delete", "!*'();:@&=+$,", "~user",
                 "-_.", "[x]", "\\", "|", "\"q\"", "<>", "^`{}", "caf%C3%A9", "%e1%88%b4"]
QUERY_CHARS = (list("aZ09-_.~") + list("!$'()*+,;:@/? ") + ["\u00e9", "\u1234", "\U0001f600", "&", "=", "#", "%"])
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1", "me-central-1"]
SERVICES = ["elasticloadbalancing", "sts", "execute-api", "dynamodb", "service", "monitoring", "iam"]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "get", "Post", "PROPFIND"]
HEADER_NAMES = ["X-Amz-Meta-Data", "x-amz-meta-data", "Content-Type", "content-type", "Accept", "My-Header1",
                "MY-HEADER1", "X-Custom_Underscore", "x!#$%&'*+.^_`|~", "User-Agent", "Expect", "X-Amzn-Trace-Id",
                "Authorization", "X-Amz-Target", "Content-Encoding", "Z", "a", "X-Amz-User-Agent"]
VALUE_WORDS = ["value", "a   b", "\"a   b   c\"", "text/plain; charset=utf-8", "1,2,3", "caf\u00e9", "\u1234",
               "x\u00a0y", "x\u3000y", "x\u2003y", "v\x0bw", "v\x0cw", "v\x1fw", "\t tab", "", "=;:,", "UPPER lower"]


def encode_char(rnd, ch):
    hexes = "".join("%%%02X" % b for b in ch.encode("utf-8"))
    return hexes.lower() if rnd.random() < 0.3 else hexes


def query_part(rnd):
    out = []
    for _ in range(rnd.choice([0, 1, 1, 2, 3, 5])):
        ch = rnd.choice(QUERY_CHARS)
        if ch in "&=#%" or rnd.random() < 0.25:
            out.append(encode_char(rnd, ch))
        else:
            out.append(ch)
    if rnd.random() < 0.05:
        out.append(rnd.choice(["%zz", "%g1", "%", "%4"]))  # a '%' that is no escape stays literal
    return "".join(out)


def gen_query(rnd):
    keys = [query_part(rnd) or "k" for _ in range(rnd.randint(1, 3))]
    pieces = []
    for _ in range(rnd.randint(1, 6)):
        key = rnd.choice(keys)
        shape = rnd.random()
        if shape < 0.15:
            pieces.append(key)  # no '='
        elif shape < 0.3:
            pieces.append(key + "=")
        else:
            pieces.append(key + "=" + query_part(rnd))
    if rnd.random() < 0.1:
        pieces.insert(rnd.randrange(len(pieces) + 1), "")  # "a=1&&b=2"
    return "&".join(pieces)


def gen_target(rnd):
    segs = [rnd.choice(PATH_SEGMENTS) for _ in range(rnd.randint(0, 6))]
    path = "/" + "/".join(segs)
    if rnd.random() < 0.3:
        path += "/"
    shape = rnd.random()
    if shape < 0.4:
        return path
    if shape < 0.45:
        return path + "?"
    return path + "?" + gen_query(rnd)


def gen_value(rnd, eol):
    value = " ".join(rnd.choice(VALUE_WORDS) for _ in range(rnd.randint(1, 3)))
    if rnd.random() < 0.1:
        value += eol + rnd.choice([" ", "  ", "\t", "   "]) + rnd.choice(VALUE_WORDS[:4])  # folded line
    return value


def gen_secret(rnd):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = rnd.choice([40, 40, 40, 1, 100])  # 100: "AWS4" + secret is longer than an HMAC block
    return "".join(rnd.choice(alphabet) for _ in range(n))


def gen_stamp(rnd):
    when = datetime.datetime(2015, 1, 1) + datetime.timedelta(seconds=rnd.randrange(20 * 365 * 86400))
    return when.strftime("%Y%m%dT%H%M%SZ")


def gen_headers(rnd, req, eol):
    headers = [(rnd.choice(HEADER_NAMES), gen_value(rnd, eol)) for _ in range(rnd.randint(0, 6))]
    host = rnd.choice(["example.amazonaws.com", "elasticloadbalancing.eu-west-1.amazonaws.com", "h:8443"])
    headers.insert(rnd.randrange(len(headers) + 1), (rnd.choice(["Host", "host", "HOST"]), host))
    if rnd.random() < 0.05:
        headers.append(("Host", "second.example"))
    if rnd.random() < 0.4:
        headers.append((rnd.choice(["X-Amz-Date", "x-amz-date"]), req["stamp"]))
    if rnd.random() < 0.1:
        headers.append(("X-Amz-Content-SHA256", rnd.choice(["UNSIGNED-PAYLOAD", "%064x" % rnd.getrandbits(256)])))
    shape = rnd.random()
    if shape < 0.15:
        headers.append(("X-Amz-Security-Token", req["token"] or "request-token"))  # same as given, or unsigned-by-us
    elif shape < 0.25:
        headers.append(("x-amz-security-token", "other-token"))
        if rnd.random() < 0.5:
            headers.append(("X-Amz-Security-Token", "third-token"))
    rnd.shuffle(headers)
    return headers


def gen_body(rnd):
    shape = rnd.random()
    if shape < 0.3:
        return b""
    if shape < 0.5:
        return b"Action=DescribeTargetHealth&Version=2015-12-01"
    if shape < 0.7:
        return "{\"k\": \"caf\u00e9\"}\n\n".encode()
    return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))


def gen_request(rnd):
    eol = rnd.choice(["\n", "\r\n"])
    req = {"method": rnd.choice(METHODS), "target": gen_target(rnd), "body": gen_body(rnd),
           "access_key": "AKIA" + "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
           "secret_key": gen_secret(rnd), "region": rnd.choice(REGIONS), "service": rnd.choice(SERVICES),
           "stamp": gen_stamp(rnd)}
    req["token"] = None if rnd.random() < 0.4 else "".join(
        rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") for _ in range(rnd.randint(16, 1200)))
    req["headers"] = gen_headers(rnd, req, eol)
    lines = ["%s %s HTTP/1.1" % (req["method"], req["target"])]
    for name, value in req["headers"]:
        lines.append(name + ":" + rnd.choice(["", " ", "  ", "\t"]) + value + rnd.choice(["", "", " ", "\t"]))
    raw = (eol.join(lines) + eol + eol).encode("utf-8") + req["body"]
    has_date = any(n.lower() == "x-amz-date" for n, _ in req["headers"])
    date = gen_stamp(rnd) if has_date else req["stamp"]  # a request's X-Amz-Date wins over --date
    return raw, req, date


def add_generated(index):
    def run():
        rnd = random.Random("%d/%d" % (SEED, index))
        raw, req, date = gen_request(rnd)
        try:
            compare(raw, req, date, "request %d of seed %d" % (index, SEED))
        except AssertionError:
            sys.stderr.write("seed %d request %d:\n%r\n--date %s token %r\n" % (SEED, index, raw, date, req["token"]))
            raise
    run.__name__ = "botocore_generated_%03d" % index
    tap.case(run)


# ---- fixtures --------------------------------------------------------------

def parse_raw(raw):
    """method, target, [(name, value)], body of a raw request (folded lines kept)."""
    text = raw.decode("utf-8")
    eol = "\r\n" if text.split("\n", 1)[0].endswith("\r") else "\n"
    head, _, body = text.partition(eol + eol)
    lines = head.split(eol)
    method, rest = lines[0].split(" ", 1)
    target = rest.rsplit(" ", 1)[0]
    headers = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            headers[-1] = (headers[-1][0], headers[-1][1] + eol + line)
        else:
            name, _, value = line.partition(":")
            headers.append((name, value.strip(" \t")))
    return method, target, headers, body.encode("utf-8")


def fixture_request(raw, access_key, secret_key, token, region, service, stamp):
    method, target, headers, body = parse_raw(raw)
    return {"method": method, "target": target, "headers": headers, "body": body, "access_key": access_key,
            "secret_key": secret_key, "token": token, "region": region, "service": service, "stamp": stamp}


@tap.case
def botocore_own_fixtures():
    paths = sorted(glob.glob(os.path.join(HERE, "test_sigv4_fixtures", "*.json")))
    tap.ok(len(paths) >= 2, "our fixtures are in tests/integration/test_sigv4_fixtures")
    for path in paths:
        with open(path) as f:
            fx = json.load(f)
        raw = fx["request"].encode("utf-8")
        req = fixture_request(raw, fx["access_key"], fx["secret_key"], fx.get("session_token"), fx["region"],
                              fx["service"], fx["date"])
        ours = compare(raw, req, fx["date"], os.path.basename(path))
        tap.eq(ours["authorization"], fx["authorization"], os.path.basename(path) + ": recorded authorization")


def add_elbv2(path):
    def run():
        with open(path) as f:
            golden = json.load(f)
        with open(path[:-len(".json")] + ".http", "rb") as f:
            wire = f.read()
        # Content-Length was added after signing: drop it; the old Authorization is replaced.
        raw = b"".join(line for line in wire.splitlines(True)
                       if not line.lower().startswith(b"content-length:"))
        token = dict((k.lower(), v) for k, v in golden["headers"]).get("x-amz-security-token")
        stamp = dict((k.lower(), v) for k, v in golden["headers"])["x-amz-date"]
        region = golden["host"].split(".")[1]
        req = fixture_request(raw, "AKIDEXAMPLE", SUITE_SECRET, token, region, "elasticloadbalancing", stamp)
        ours = compare(raw, req, stamp, os.path.basename(path))
        tap.eq(ours["canonical_request"], golden["canonical_request"], "golden canonical request")
        tap.eq(ours["string_to_sign"], golden["string_to_sign"], "golden string to sign")
        tap.eq(ours["authorization"], dict(golden["headers"])["Authorization"], "golden authorization")
    run.__name__ = "botocore_elbv2_" + os.path.basename(path)[:-len(".request.json")]
    tap.case(run)


def elbv2_fixtures():
    shared = tap.shared_dir()
    return sorted(glob.glob(os.path.join(shared, "fixtures", "elbv2", "*.request.json"))) if shared else []


@tap.case
def botocore_elbv2_present():
    if not tap.shared_dir():
        tap.skip("../shared is absent: the ELBv2 golden requests are not checked")
    tap.ok(len(elbv2_fixtures()) >= 4, "ELBv2 golden requests found")


for _path in elbv2_fixtures():
    add_elbv2(_path)
for _i in range(COUNT):
    add_generated(_i)

if __name__ == "__main__":
    print("# seed %d (SIGV4_SEED=%d reproduces this run)" % (SEED, SEED), flush=True)
    sys.stderr.write("seed %d\n" % SEED)
    tap.main()
