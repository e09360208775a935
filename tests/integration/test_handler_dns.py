"""handler/dns.c against a real dnsmasq in a private namespace, through $RNS_BUILD/tools/handler_resolve:
every address of the answer, CNAME chains, families, and each failure mapped to its status
(NXDOMAIN, NODATA, TEMPFAIL for REFUSED/SERVFAIL/no server, TIMEOUT for a silent server within the
caller's timeout, not the resolver's).
"""
import os
import subprocess
import time

import stack

stack.enter_namespace()

import tap  # noqa: E402

TOOL = os.path.join(stack.build_dir(), "tools", "handler_resolve")
S = stack.LocalStack().start()


def resolve(name, family="ipv4", timeout_ms=5000, repeat=1):
    """[(status, ms, text)] per lookup."""
    if not os.access(TOOL, os.X_OK):
        raise AssertionError("%s is not built (make tests)" % TOOL)
    out = subprocess.run([TOOL, name, family, str(timeout_ms), str(repeat)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=60, check=True).stdout.decode()
    rows = []
    for line in out.splitlines():
        status, ms, text = (line.split(" ", 2) + [""])[:3]
        rows.append((status, int(ms), text))
    return rows


def one(name, family="ipv4", timeout_ms=5000):
    return resolve(name, family, timeout_ms)[0]


def fresh():
    S.dns.serve()
    S.dns.set_records(dict(stack.DEFAULT_RECORDS), dict(stack.DEFAULT_CNAMES), replace=True)


@tap.case
def single_address():
    fresh()
    tap.eq(one(stack.DB_ENDPOINT)[::2], ("OK", stack.OLD_PRIMARY))


@tap.case
def every_address_sorted_and_deduplicated():
    fresh()
    S.dns.set_records({stack.DB_ENDPOINT: ["10.0.0.10", "10.0.0.9", "192.168.1.1", "10.0.0.9"]})
    tap.eq(one(stack.DB_ENDPOINT)[::2], ("OK", "10.0.0.9,10.0.0.10,192.168.1.1"))
    tap.eq(one(stack.PROXY_ENDPOINT)[::2], ("OK", ",".join(stack.PROXY_ADDRESSES)))


@tap.case
def cname_chain_followed():
    fresh()
    tap.eq(one(stack.AURORA_CLUSTER)[::2], ("OK", stack.AURORA_ADDRESS_1))
    alias = "reader.cluster-ro-abc123xyz.eu-west-1.rds.amazonaws.com"
    S.dns.set_records({}, {alias: stack.AURORA_CLUSTER, stack.AURORA_CLUSTER: stack.AURORA_INSTANCE_2})
    tap.eq(one(alias)[::2], ("OK", stack.AURORA_ADDRESS_2))


@tap.case
def families():
    fresh()
    S.dns.set_records({stack.DB_ENDPOINT: [stack.NEW_PRIMARY, "fd00:20::118"]})
    tap.eq(one(stack.DB_ENDPOINT, "ipv4")[::2], ("OK", stack.NEW_PRIMARY))
    tap.eq(one(stack.DB_ENDPOINT, "ipv6")[::2], ("OK", "fd00:20::118"))
    tap.eq(one(stack.DB_ENDPOINT, "dual")[::2], ("OK", stack.NEW_PRIMARY + ",fd00:20::118"))
    S.dns.set_records({stack.DB_ENDPOINT: [stack.NEW_PRIMARY]})
    status, _, text = one(stack.DB_ENDPOINT, "ipv6")
    tap.eq(status, "NODATA")
    tap.ok(text.endswith("the name has no IPv6 (AAAA) address"), text)
    tap.eq(one(stack.DB_ENDPOINT, "dual")[::2], ("OK", stack.NEW_PRIMARY))


@tap.case
def nxdomain():
    fresh()
    S.dns.nxdomain(stack.DB_ENDPOINT)
    tap.eq(one(stack.DB_ENDPOINT)[::2], ("NXDOMAIN", stack.DB_ENDPOINT + ": NXDOMAIN (no such name)"))


@tap.case
def refused_servfail_stopped_are_temporary():
    for mode in ("refuse", "servfail", "stop"):
        fresh()
        getattr(S.dns, mode)()
        try:
            status, ms, text = one(stack.DB_ENDPOINT)
            tap.eq(status, "TEMPFAIL", mode)
            tap.ok("temporary DNS failure" in text, text)
        finally:
            if mode == "stop":
                S.dns.start()


@tap.case
def silent_server_bounded_by_our_timeout():
    fresh()
    S.dns.pause()
    try:
        t0 = time.monotonic()
        rows = resolve(stack.DB_ENDPOINT, "ipv4", 300, 3)
        took = time.monotonic() - t0
    finally:
        S.dns.resume()
    tap.eq([r[0] for r in rows], ["TIMEOUT"] * 3)
    tap.ok(all(280 <= r[1] <= 1000 for r in rows), "each lookup gave up at about 300 ms: %s" % rows)
    tap.ok(rows[0][2].endswith("no answer within 300 ms"), rows[0][2])
    # the abandoned lookups are waited for at most a second at exit
    tap.ok(took < 0.3 * 3 + 1.0 + 1.0, "the tool exited after %.2f s" % took)
    tap.eq(one(stack.DB_ENDPOINT)[::2], ("OK", stack.OLD_PRIMARY), "answers again after resume")


@tap.case
def answer_changes_seen_at_once():
    fresh()
    tap.eq(one(stack.DB_ENDPOINT)[2], stack.OLD_PRIMARY)
    S.dns.set_records({stack.DB_ENDPOINT: [stack.NEW_PRIMARY]})
    tap.eq(one(stack.DB_ENDPOINT)[2], stack.NEW_PRIMARY, "no caching between lookups")


try:
    tap.main()
finally:
    S.close()
