"""The local stack harness itself (tests/lib/stack.py, netns.py, stack_dns.py): the namespace and its
launcher, dnsmasq and its failure modes, the fakes' wiring, the environment given to ./bootstrap,
and cleanup. Uses stand-in bootstrap scripts, so it does not depend on the handler."""
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import const
import netns
import stack
import stack_dns
import tap

HOST_RESOLV = "RNS_TEST_HOST_RESOLV_SHA"
if not netns.inside_namespace():
    with open("/etc/resolv.conf", "rb") as f:
        os.environ[HOST_RESOLV] = hashlib.sha256(f.read()).hexdigest()
netns.enter_namespace()

A, AAAA = "A", "AAAA"
PY = "/usr/bin/python3"


def gai_error(name):
    """The getaddrinfo error code for name, or None when it resolved."""
    try:
        stack_dns.resolve(name)
    except socket.gaierror as e:
        return e.errno
    return None


def host_file(path):
    """A file as the host sees it: through the root of the parent (outside the namespace)."""
    with open("/proc/%d/root%s" % (os.getppid(), path), "rb") as f:
        return f.read()


def ttls(reply):
    return sorted({r.ttl for r in reply.records})


def stand_in(directory, name, text):
    """An executable script used in place of ./bootstrap."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip())
    os.chmod(path, 0o755)
    return path


S = None  # the stack shared by the cases that do not stop or restart it


def shared():
    global S
    if S is None:
        S = stack.LocalStack().start()
        # Measured, not asserted (speed goals belong to make bench): shown in the suite's stderr.
        sys.stderr.write("LocalStack started in %.3f s\n" % S.started_in)
    return S


@tap.case
def namespace_is_private():
    tap.ok(netns.inside_namespace(), "RNS_STACK_NS not set after enter_namespace()")
    parent = os.getppid()
    for kind in ("net", "mnt"):
        mine, host = os.readlink("/proc/self/ns/" + kind), os.readlink("/proc/%d/ns/%s" % (parent, kind))
        tap.ok(mine != host, "%s namespace is the host's (%s)" % (kind, mine))
    tap.eq([name for _, name in socket.if_nameindex()], ["lo"], "interfaces")
    with socket.create_server(("127.0.0.1", 0)) as srv:  # lo is up
        socket.create_connection(srv.getsockname(), timeout=2).close()


@tap.case
def resolver_files_are_private():
    with open("/etc/resolv.conf") as f:
        resolv = f.read()
    tap.ok("timeout:1" in resolv and "attempts:2" in resolv, "resolv.conf: %r" % resolv)
    tap.eq([l.split()[1] for l in resolv.splitlines() if l.startswith("nameserver")], list(stack_dns.DNS_ADDRESSES),
           "nameservers")
    with open("/etc/hosts") as f:
        tap.ok(f.read().startswith("127.0.0.1 localhost"), "hosts")
    tap.eq(hashlib.sha256(host_file("/etc/resolv.conf")).hexdigest(), os.environ[HOST_RESOLV],
           "host resolv.conf")
    tap.ok(host_file("/etc/resolv.conf") != resolv.encode(), "host sees the private resolv.conf")


@tap.case
def reenter_is_noop():
    ns = netns.namespace_dir()
    before = os.listdir(ns)
    tap.eq(netns.enter_namespace(), ns)
    r = subprocess.run([PY, "-c", "import netns; print(netns.enter_namespace())"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    tap.eq((r.returncode, r.stdout.decode().strip()), (0, ns), "child process: %s" % r.stderr.decode())
    tap.eq(os.listdir(ns), before, "namespace folder after a child entered")


@tap.case
def launcher_runs_a_script_in_a_namespace_of_its_own():
    # tests/run.py starts the suites that say `# rns: namespace` this way.
    launcher = os.path.join(os.path.dirname(os.path.abspath(netns.__file__)), "netns.py")
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "probe.py")
        with open(script, "w") as f:
            f.write("import os, sys, netns\n"
                    "print(netns.inside_namespace(), os.readlink('/proc/self/ns/net'), ','.join(sys.argv[1:]), sys.path[0])\n"
                    "sys.exit(3)\n")
        env = {k: v for k, v in os.environ.items() if k != netns.NS_VAR}
        r = subprocess.run([PY, launcher, script, "a", "b"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        usage = subprocess.run([PY, launcher], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    inside, net, args, path0 = r.stdout.decode().split(" ", 3)
    tap.eq(r.returncode, 3, "the script's exit status: %s" % r.stderr.decode())
    tap.eq((inside, args, path0.strip()), ("True", "a,b", tmp), "inside, its arguments, its folder first")
    tap.ok(net not in (os.readlink("/proc/self/ns/net"), os.readlink("/proc/%d/ns/net" % os.getppid())),
           "a network namespace of its own")
    tap.eq(usage.returncode, 2, "no script: a usage error")


@tap.case
def a_and_aaaa_with_ttl_5():
    s = shared()
    s.dns.set_records({"dual.abc123xyz.eu-west-1.rds.amazonaws.com": ["10.20.1.9", "fd00::5"]})
    tap.eq(stack_dns.resolve("dual.abc123xyz.eu-west-1.rds.amazonaws.com"), ["10.20.1.9", "fd00::5"])
    a = s.dns.query("dual.abc123xyz.eu-west-1.rds.amazonaws.com", A)
    aaaa = s.dns.query("dual.abc123xyz.eu-west-1.rds.amazonaws.com", AAAA)
    tap.eq((a.rcode, [r.data for r in a.records], ttls(a)), ("NOERROR", ["10.20.1.9"], [5]), "A")
    tap.eq((aaaa.rcode, [r.data for r in aaaa.records], ttls(aaaa)), ("NOERROR", ["fd00::5"], [5]), "AAAA")
    only4 = s.dns.query(const.DB_ENDPOINT, AAAA)
    tap.eq((only4.rcode, only4.records), ("NOERROR", []), "AAAA of an IPv4-only name (NODATA)")


@tap.case
def default_records():
    s = shared()
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), [const.OLD_PRIMARY])
    tap.eq(stack_dns.resolve(const.PROXY_ENDPOINT), const.PROXY_ADDRESSES)
    proxy = s.dns.query(const.PROXY_ENDPOINT)
    tap.eq((sorted(r.data for r in proxy.records), ttls(proxy)), (const.PROXY_ADDRESSES, [5]), "proxy")
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [const.AURORA_ADDRESS_1])


@tap.case
def cname_chain_followed_and_changed():
    s = shared()
    r = s.dns.query(const.AURORA_CLUSTER)
    tap.eq([(x.type, x.name, x.data, x.ttl) for x in r.records],
           [("CNAME", const.AURORA_CLUSTER, const.AURORA_INSTANCE_1, 5),
            ("A", const.AURORA_INSTANCE_1, const.AURORA_ADDRESS_1, 5)], "cluster answer")
    restarts = s.dns.restarts
    s.dns.set_records({}, cnames={const.AURORA_CLUSTER: const.AURORA_INSTANCE_2})
    tap.eq(s.dns.restarts, restarts + 1, "a CNAME change restarts dnsmasq")
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [const.AURORA_ADDRESS_2])
    s.dns.set_records({}, cnames={const.AURORA_CLUSTER: const.AURORA_INSTANCE_1})
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [const.AURORA_ADDRESS_1])


@tap.case
def restarts_leave_no_gap():
    # A CNAME change restarts dnsmasq on the other resolv.conf address before the old one stops:
    # no lookup fails, and every lookup begun after set_records() returned gets the new answer. A
    # lookup in flight at the old server when it stops waits for the resolver's 1 s retry.
    s = shared()
    lookups, stop = [], threading.Event()

    def run():
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                got = stack_dns.resolve(const.AURORA_CLUSTER)
            except socket.gaierror as e:
                got = e
            lookups.append((t0, time.monotonic(), got))

    t = threading.Thread(target=run)
    t.start()
    flips = []  # (began, served, answer)
    try:
        restarts = s.dns.restarts
        for i in range(4):
            target, address = ((const.AURORA_INSTANCE_2, const.AURORA_ADDRESS_2),
                               (const.AURORA_INSTANCE_1, const.AURORA_ADDRESS_1))[i % 2]
            began = time.monotonic()
            served = s.dns.set_records({}, cnames={const.AURORA_CLUSTER: target})
            flips.append((began, served, [address]))
            time.sleep(0.4)
        tap.eq(s.dns.restarts, restarts + 4, "restarts")
    finally:
        stop.set()
        t.join()
    failed = [got for _, _, got in lookups if isinstance(got, Exception)]
    tap.eq(failed, [], "lookups that failed during the restarts")
    checked = 0
    for i, (_, served, want) in enumerate(flips):
        until = flips[i + 1][0] if i + 1 < len(flips) else float("inf")
        for t0, t1, got in lookups:
            if served <= t0 and t1 <= until:
                tap.eq(got, want, "lookup begun %.3f s after flip %d was served" % (t0 - served, i))
                checked += 1
    tap.ok(checked >= 4, "only %d lookups fell between flips" % checked)
    slow = [t1 - t0 for t0, t1, _ in lookups if t1 - t0 > 0.5]
    sys.stderr.write("restarts: %d lookups, %d checked, %d waited for a retry (%s s)\n"
                     % (len(lookups), checked, len(slow), ", ".join("%.2f" % x for x in slow)))


@tap.case
def record_change_served_at_once():
    s = shared()
    restarts = s.dns.restarts
    t = s.dns.set_records({const.DB_ENDPOINT: [const.NEW_PRIMARY]})
    tap.ok(t is not None and t <= time.monotonic(), "set_records returned %r" % t)
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), [const.NEW_PRIMARY])
    tap.eq(s.dns.restarts, restarts, "an address change is a reload, not a restart")
    s.dns.set_records({const.DB_ENDPOINT: [const.OLD_PRIMARY]})
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), [const.OLD_PRIMARY])


@tap.case
def flip_at_changes_the_answer_later():
    s = shared()
    t0 = time.monotonic()
    flip = s.dns.flip_at(0.5, {const.DB_ENDPOINT: ["10.20.3.77"]})
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), [const.OLD_PRIMARY], "before the flip")
    t = flip.wait(60)
    tap.ok(t - t0 >= 0.5, "flip happened %.3f s after scheduling" % (t - t0))
    tap.ok(abs((time.time() - flip.wall) - (time.monotonic() - t)) < 1.0, "wall and monotonic agree")
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), ["10.20.3.77"], "after the flip")
    s.dns.set_records({const.DB_ENDPOINT: [const.OLD_PRIMARY]})


@tap.case
def unknown_name_is_nxdomain():
    s = shared()
    name = "nothing-here.abc123xyz.eu-west-1.rds.amazonaws.com"
    tap.eq(s.dns.query(name).rcode, "NXDOMAIN")
    tap.eq(gai_error(name), socket.EAI_NONAME)


@tap.case
def nxdomain_for_a_served_name():
    s = shared()
    s.dns.set_records({"gone.abc123xyz.eu-west-1.rds.amazonaws.com": ["10.20.1.50"]})
    tap.eq(stack_dns.resolve("gone.abc123xyz.eu-west-1.rds.amazonaws.com"), ["10.20.1.50"])
    s.dns.nxdomain("gone.abc123xyz.eu-west-1.rds.amazonaws.com")
    tap.eq(s.dns.query("gone.abc123xyz.eu-west-1.rds.amazonaws.com").rcode, "NXDOMAIN")
    tap.eq(gai_error("gone.abc123xyz.eu-west-1.rds.amazonaws.com"), socket.EAI_NONAME)
    # outside the local domain: unknown names are REFUSED until nxdomain() makes them local
    tap.eq(s.dns.query("db.example.internal").rcode, "REFUSED")
    s.dns.nxdomain("db.example.internal")
    tap.eq(s.dns.query("db.example.internal").rcode, "NXDOMAIN")
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), [const.OLD_PRIMARY], "other names still served")


@tap.case
def refused_then_served_again():
    s = shared()
    s.dns.refuse()
    tap.eq(s.dns.query(const.DB_ENDPOINT).rcode, "REFUSED")
    with netns.resolver_wait(10):  # a silent server would now take 10 s, far from a refusal
        t0 = time.monotonic()
        tap.eq(gai_error(const.DB_ENDPOINT), socket.EAI_AGAIN)
        took = time.monotonic() - t0
    tap.ok(took < 5, "REFUSED took %.2f s: looks like a resolver timeout (10 s)" % took)
    s.dns.serve()
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), [const.OLD_PRIMARY])


@tap.case
def servfail_then_served_again():
    s = shared()
    s.dns.servfail()
    tap.eq(s.dns.query(const.DB_ENDPOINT).rcode, "SERVFAIL")
    tap.eq(gai_error(const.DB_ENDPOINT), socket.EAI_AGAIN)
    tap.ok(s.dns._servfail.queries >= 2, "the SERVFAIL upstream saw %d queries" % s.dns._servfail.queries)
    s.dns.set_records({const.DB_ENDPOINT: [const.OLD_PRIMARY]})  # set_records ends servfail()
    tap.eq(s.dns.query(const.DB_ENDPOINT).rcode, "NOERROR")
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), [const.OLD_PRIMARY])


@tap.case
def paused_server_times_out():
    s = shared()
    s.dns.pause()
    try:
        tap.eq(s.dns.query(const.DB_ENDPOINT, timeout=0.3).rcode, "TIMEOUT")
        t0 = time.monotonic()
        code = gai_error(const.DB_ENDPOINT)
        took = time.monotonic() - t0
    finally:
        s.dns.resume()
    tap.eq(code, socket.EAI_AGAIN)
    # resolv.conf: timeout:1 attempts:2. Bounded, and clearly slower than a refusal.
    tap.ok(0.9 <= took <= 6, "timeout took %.2f s" % took)
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), [const.OLD_PRIMARY], "after resume")


@tap.case
def stopped_server_refuses_connection():
    s = shared()
    s.dns.stop()
    try:
        tap.eq(s.dns.query(const.DB_ENDPOINT).rcode, "CONNREFUSED")
        tap.eq(gai_error(const.DB_ENDPOINT), socket.EAI_AGAIN)
        s.dns.set_records({const.DB_ENDPOINT: ["10.20.2.5"]})  # kept for the next start
    finally:
        s.dns.start()
    tap.eq(stack_dns.resolve(const.DB_ENDPOINT), ["10.20.2.5"])
    s.dns.set_records({const.DB_ENDPOINT: [const.OLD_PRIMARY]})


@tap.case
def fakes_are_wired():
    s = shared()
    tap.ok(s.elb.url.startswith("https://127.0.0.1:"), "elb url %s" % s.elb.url)
    tap.eq(s.registered(), ["%s:%d" % (const.OLD_PRIMARY, const.DB_PORT)], "default target group")
    import boto3
    env = s.env()
    client = boto3.client("elbv2", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2"],
                          verify=env["AWS_CA_BUNDLE"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                          aws_session_token=env["AWS_SESSION_TOKEN"])
    got = client.describe_target_health(TargetGroupArn=env["TARGET_GROUP_ARN"])
    tap.eq([d["Target"]["Id"] for d in got["TargetHealthDescriptions"]], [const.OLD_PRIMARY])
    tap.ok(s.elb.calls[-1]["signature_ok"], "the fake accepted botocore's signature with the stack's credentials")
    host, port = s.runtime.address.split(":")
    with socket.create_connection((host, int(port)), timeout=2):
        pass


def rds_client(env):
    import boto3
    return boto3.client("rds", region_name=env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL_RDS"],
                        verify=env["AWS_CA_BUNDLE"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=env["AWS_SESSION_TOKEN"])


def writer_of(client):
    members = client.describe_db_clusters(DBClusterIdentifier=const.CLUSTER_ID)["DBClusters"][0]["DBClusterMembers"]
    return [m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]]


@tap.case
def cluster_is_wired():
    s = shared()
    s.reset_cluster()
    client = rds_client(s.env())
    got = client.describe_db_clusters(DBClusterIdentifier=const.CLUSTER_ID)["DBClusters"][0]
    tap.eq((got["Endpoint"], got["ReaderEndpoint"]), (const.AURORA_CLUSTER, const.AURORA_READER))
    tap.eq(writer_of(client), [const.AURORA_IDS[0]])
    listed = client.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [const.CLUSTER_ID]}])
    tap.eq([(i["DBInstanceIdentifier"], i["Endpoint"]["Address"]) for i in listed["DBInstances"]],
           [(m, const.AURORA_ENDPOINTS[m]) for m in const.AURORA_IDS])
    for m in const.AURORA_IDS:  # every instance endpoint resolves to its own address
        tap.eq(stack_dns.resolve(const.AURORA_ENDPOINTS[m]), [const.AURORA_ADDRESSES[m]], m)
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [const.AURORA_ADDRESS_1], "cluster endpoint on the writer")
    tap.eq(stack_dns.resolve(const.AURORA_READER), [const.AURORA_ADDRESS_2], "reader endpoint on a reader")
    tap.ok(all(c["signature_ok"] for c in s.rds.calls), "the fake RDS accepted botocore's signatures")


@tap.case
def writer_and_cluster_dns_move_separately():
    s = shared()
    s.reset_cluster()
    client = rds_client(s.env())
    s.move_writer(const.AURORA_IDS[1])
    tap.eq(writer_of(client), [const.AURORA_IDS[1]], "the API moved")
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [const.AURORA_ADDRESS_1], "DNS did not")
    served = s.move_cluster_dns(const.AURORA_IDS[1])
    tap.ok(served is not None, "the DNS move is confirmed served")
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [const.AURORA_ADDRESS_2], "DNS moved")
    s.move_writer(None)
    tap.eq(writer_of(client), [], "no writer")
    s.move_cluster_dns(const.AURORA_IDS[0])
    s.reset_cluster()
    tap.eq(writer_of(client), [const.AURORA_IDS[0]], "reset_cluster restores the writer")


@tap.case
def failover_staged_on_describes():
    s = shared()
    s.reset_cluster()
    client = rds_client(s.env())
    def served():
        # every answer, errors included: what the fake's on_call hook counts
        return len([c for c in s.rds.calls if c["action"] == "DescribeDBClusters" and c["status"] is not None])
    base = served()
    fo = s.failover(const.AURORA_IDS[2], after_describes=2, dns_lead_s=0.3)
    # Counted on the fake's side: botocore may retry a request on a busy machine (after an
    # error answer too), so one answer to the client can be the second the fake gave.
    answers = []
    for _ in range(3):
        writer = writer_of(client)
        answers.append((served() - base, writer))
    tap.eq(answers[0][1], [const.AURORA_IDS[0]], "first answer: the old writer")
    given = [(c["status"], c.get("error_code")) for c in s.rds.calls if c["action"] == "DescribeDBClusters"]
    for n, writer in answers:
        want = [const.AURORA_IDS[0]] if n <= 2 else [const.AURORA_IDS[2]]
        tap.eq(writer, want, "the answer after %d describe answers (%r; the fake's: %r)" % (n, answers, given))
    tap.eq(answers[-1][1], [const.AURORA_IDS[2]], "after two served describes the writer moved")
    api, dns = fo.wait(60)
    tap.ok(dns - api >= 0.3, "the DNS move follows the API move by at least dns_lead_s")
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [const.AURORA_ADDRESS_3])
    # a DNS move held until an event, capped
    gate = threading.Event()
    fo = s.failover(const.AURORA_IDS[0], api_after_s=0, dns_lead_s=0, dns_not_before=gate, dns_cap_s=30)
    time.sleep(0.3)
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [const.AURORA_ADDRESS_3], "held until the event")
    gate.set()
    api, dns = fo.wait(60)
    tap.eq(fo.dns_capped, False)
    tap.eq(stack_dns.resolve(const.AURORA_CLUSTER), [const.AURORA_ADDRESS_1])


@tap.case
def env_is_the_functions_own():
    s = shared()
    os.environ["RNS_TEST_CANARY"] = "leak"
    env = s.env()
    tap.eq(sorted(env), sorted(["PATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                "AWS_REGION", "TARGET_GROUP_ARN", "DB_ENDPOINT", "DB_PORT",
                                "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "AWS_ENDPOINT_URL_RDS", "AWS_CA_BUNDLE",
                                "DNS_POLL_MS", "FAILOVER_WAIT_SECONDS"]
                               + [k for k in stack.PASS_THROUGH if os.environ.get(k)]))
    tap.eq((env["AWS_REGION"], env["DB_PORT"], env["TARGET_GROUP_ARN"], env["DB_ENDPOINT"]),
           ("eu-west-1", "5432", const.TARGET_GROUP_ARN, const.DB_ENDPOINT))
    tap.eq((env["AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2"], env["AWS_CA_BUNDLE"]), (s.elb.url, s.elb.ca_file))
    tap.eq((env["AWS_ENDPOINT_URL_RDS"], s.rds.ca_file), (s.rds.url, s.elb.ca_file), "RDS fake, same test CA")
    over = s.env(DB_PORT=6432, TARGET_GROUP_ARN=None, IP_FAMILY="dual")
    tap.eq((over["DB_PORT"], "TARGET_GROUP_ARN" in over, over["IP_FAMILY"]), ("6432", False, "dual"))
    lam = s.lambda_env()
    tap.eq(lam["AWS_LAMBDA_RUNTIME_API"], s.runtime.address)
    tap.ok("RNS_TEST_CANARY" not in lam and "RNS_STACK_NS" not in lam, "host variables leak into lambda_env")


@tap.case
def invoke_runs_bootstrap_with_event_on_stdin():
    s = shared()
    s.bootstrap_path = stand_in(s.dir, "echo-bootstrap", """
        #!/bin/sh
        echo "args=$* cwd=$(pwd) files=$(ls -A | wc -l) canary=${RNS_TEST_CANARY:-none}" >&2
        cat
        exit 1
        """)
    os.environ["RNS_TEST_CANARY"] = "leak"
    try:
        r = s.invoke({"dryRun": True})
    finally:
        s.bootstrap_path = stack.bootstrap_path()
    tap.eq((r.code, r.json), (1, {"dryRun": True}))
    tap.eq(r.stderr.strip(), "args=--invoke - cwd=%s files=0 canary=none" % s.task_root)


@tap.case
def invoke_passes_bytes_and_text_as_they_are():
    s = shared()
    s.bootstrap_path = stand_in(s.dir, "cat-bootstrap", """
        #!/bin/sh
        cat
        """)
    try:
        tap.eq(s.invoke(b"\x00not json").stdout, "\x00not json")
        r = s.invoke("[1, 2]")
        tap.eq((r.code, r.json), (0, [1, 2]))
        tap.eq(s.invoke("").stdout, "")
    finally:
        s.bootstrap_path = stack.bootstrap_path()


RUNTIME_LOOP = """
    #!/usr/bin/python3
    # A stand-in runtime: echoes each event with the invocation's environment facts.
    import json, os, urllib.request
    base = "http://%s/2018-06-01/runtime/invocation/" % os.environ["AWS_LAMBDA_RUNTIME_API"]
    while True:
        try:
            r = urllib.request.urlopen(base + "next")
        except Exception:
            raise SystemExit(3)
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        body = json.dumps({"event": json.loads(r.read()), "env": dict(os.environ), "cwd": os.getcwd(),
                           "files": os.listdir("."), "deadline": r.headers["Lambda-Runtime-Deadline-Ms"]})
        print("handled", rid, flush=True)
        urllib.request.urlopen(urllib.request.Request(base + rid + "/response", data=body.encode()))
    """


@tap.case
def runtime_loop_gets_the_lambda_environment():
    s = shared()
    s.bootstrap_path = stand_in(s.dir, "loop-bootstrap", RUNTIME_LOOP)
    try:
        proc = s.start_bootstrap(env=s.env(AWS_LAMBDA_LOG_FORMAT="JSON"))
        res = s.lambda_invoke({"source": "aws.events"}, deadline_ms=4102444800000, timeout=20)
        out = proc.wait_output("handled " + res["request_id"])
        code = s.stop_bootstrap(proc)
    finally:
        s.bootstrap_path = stack.bootstrap_path()
    tap.eq(res["kind"], "response")
    got = res["json"]
    tap.eq((got["event"], got["cwd"], got["files"], got["deadline"]),
           ({"source": "aws.events"}, s.task_root, [], "4102444800000"))
    env = got["env"]
    tap.eq(env["AWS_LAMBDA_RUNTIME_API"], s.runtime.address)
    tap.eq((env["AWS_LAMBDA_FUNCTION_NAME"], env["LAMBDA_TASK_ROOT"], env["AWS_LAMBDA_LOG_FORMAT"]),
           (const.FUNCTION_NAME, s.task_root, "JSON"))
    tap.ok(set(s.env()) <= set(env), "configuration missing from the runtime loop's environment")
    tap.ok(set(env) <= set(s.lambda_env(env=s.env(AWS_LAMBDA_LOG_FORMAT="JSON"))) | {"LC_CTYPE"},
           "unexpected variables: %s" % sorted(set(env) - set(s.lambda_env())))
    tap.ok("handled" in out, out)
    tap.eq(code, 3, "loop exit status once /next answered 500")


@tap.case
def shared_stack_closes_cleanly():
    s = shared()
    workdir = s.dir
    s.close()
    tap.eq(_wait_gone(workdir, 30.0), [], "processes left")
    tap.eq(hashlib.sha256(host_file("/etc/resolv.conf")).hexdigest(), os.environ[HOST_RESOLV],
           "host resolv.conf after the run")


def _stack_processes(marker):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if marker.encode() in cmd:
            found.append((int(pid), cmd.replace(b"\0", b" ").decode(errors="replace")))
    return found


def _wait_gone(marker, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = _stack_processes(marker)
        if not left:
            return []
        time.sleep(0.05)
    return _stack_processes(marker)


@tap.case
def close_leaves_no_processes():
    s = stack.LocalStack().start()
    workdir = s.dir
    s.bootstrap_path = stand_in(workdir, "sleepy-bootstrap", """
        #!/bin/sh
        exec sleep 300
        """)
    proc = s.start_bootstrap()
    dns_pid = s.dns.pid
    tap.ok(dns_pid and proc.poll() is None, "dnsmasq and the bootstrap run")
    tap.ok(_stack_processes(workdir), "no process found by its work folder")
    s.close()
    tap.eq(_wait_gone(workdir, 30.0), [], "processes left")
    tap.ok(proc.poll() is not None, "bootstrap still running")
    tap.ok(not os.path.exists(workdir), "work folder left")
    tap.eq(s.dns.query(const.DB_ENDPOINT).rcode, "CONNREFUSED", "port 53 after close")


@tap.case
def killed_script_leaves_no_processes():
    # A script killed with SIGKILL cannot clean up: its children die through the parent-death signal.
    # The child enters a namespace of its own, restarts dnsmasq from a timer thread (a CNAME flip),
    # starts a bootstrap, and is then killed.
    script = textwrap.dedent("""
        import const, netns, os, stack, sys, time
        netns.enter_namespace()
        s = stack.LocalStack().start()
        s.dns.flip_at(0.01, {}, cnames={const.AURORA_CLUSTER: const.AURORA_INSTANCE_2}).wait(60)
        s.bootstrap_path = os.path.join(s.dir, "sleepy-bootstrap")
        with open(s.bootstrap_path, "w") as f:
            f.write("#!/bin/sh\\nexec sleep 300\\n")
        os.chmod(s.bootstrap_path, 0o755)
        b = s.start_bootstrap()
        print(os.getpid(), s.dir, s.dns.pid, b.pid, flush=True)
        time.sleep(300)
        """)
    env = {k: v for k, v in os.environ.items() if k != netns.NS_VAR}
    proc = subprocess.Popen([PY, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode().split()
        tap.eq(len(line), 4, "child said %r; stderr %s" % (line, proc.stderr.read1(4000) if not line else ""))
        inner, workdir, pids = int(line[0]), line[1], [int(p) for p in line[2:]]
        tap.ok(all(os.path.exists("/proc/%d" % p) for p in pids), "dnsmasq or bootstrap died already")
        os.kill(inner, signal.SIGKILL)
        tap.eq(_wait_gone(workdir, 30.0), [], "processes left after SIGKILL")
        tap.eq(proc.wait(60), 128 + signal.SIGKILL, "status passed on by the outer process")
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@tap.case
def refused_namespace_fails_clearly():
    bindir = tempfile.mkdtemp(prefix="fake-unshare-")
    try:
        stand_in(bindir, "unshare", """
            #!/bin/sh
            echo "unshare: unshare failed: Operation not permitted" >&2
            exit 1
            """)
        env = dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        env.pop(netns.NS_VAR)
        r = subprocess.run([PY, "-c", "import netns; netns.enter_namespace(); print('inside')"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    finally:
        subprocess.run(["rm", "-rf", bindir])
    err = r.stderr.decode()
    tap.eq((r.returncode, r.stdout), (1, b""))
    tap.ok("cannot create a private network and mount namespace" in err and "unshare -n -m" in err, err)


@tap.case
def unprivileged_user_gets_a_user_namespace():
    if os.geteuid() != 0:
        tap.skip("not root: cannot switch to another user")
    script = textwrap.dedent("""
        import const, netns, os, stack, stack_dns
        netns.enter_namespace()
        with stack.LocalStack() as s:
            print(os.getuid(), stack_dns.resolve(const.DB_ENDPOINT)[0], s.registered()[0], flush=True)
        """)
    env = {k: v for k, v in os.environ.items() if k != netns.NS_VAR}
    env["PYTHONPATH"] = os.path.dirname(os.path.abspath(stack.__file__))
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", PY, "-c", script],
                       env=env, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0 and b"cannot create a private network" in r.stderr:
        tap.skip("no unprivileged user namespaces here")
    tap.eq((r.returncode, r.stdout.decode().split()),
           (0, ["0", const.OLD_PRIMARY, "%s:%d" % (const.OLD_PRIMARY, const.DB_PORT)]), r.stderr.decode()[-2000:])


@tap.case
def outside_namespace_refused():
    saved = os.environ.pop(netns.NS_VAR)
    try:
        stack.LocalStack()
    except netns.NamespaceError:
        return
    finally:
        os.environ[netns.NS_VAR] = saved
    raise AssertionError("LocalStack started outside the namespace")


tap.main()
