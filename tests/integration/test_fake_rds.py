"""The fake RDS Query API (tests/lib/fake_rds.py) checked with an independent client: Debian's boto3
rds client (endpoint_url at the fake) must parse every answer, paging and errors included; every
request's signature is verified with botocore (service rds); the answers have the elements, in
the places, of our fixtures (tests/fixtures/rds) and, when ../shared is there, of the shared ones."""
import os
import re
import xml.etree.ElementTree as ET

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers
import botocore.session

import const
import tap
from fake_rds import FIXTURES, NAMESPACE, FakeRds

CLUSTER = const.CLUSTER_ID
IDS = const.AURORA_IDS
SECRET = "rdsFakeTestSecret/0123456789abcdefghijklmn"
TOKEN = "IQoJb3JpZ2luX2VjERdsFakeTestToken//////////wEaCWV1LXdlc3QtMSJH+/="


def members(n=3, writer=0):
    return [(IDS[i] if i < 3 else "aurora-orders-instance-%d" % (i + 1), i == writer, "available",
             "aurora-orders-instance-%d.abc123xyz.eu-west-1.rds.amazonaws.com" % (i + 1)) for i in range(n)]


def start(**kw):
    f = FakeRds(access_key="AKIDRDSTEST", secret_key=SECRET, session_token=TOKEN, **kw).start()
    f.add_cluster(CLUSTER, members(), endpoint=const.AURORA_CLUSTER, reader_endpoint=const.AURORA_READER)
    return f


def client(f, secret=None, attempts=3, mode="standard"):
    cfg = botocore.config.Config(retries={"mode": mode, "total_max_attempts": attempts})
    return boto3.client("rds", region_name=f.region, endpoint_url=f.url, verify=f.ca_file, config=cfg,
                        aws_access_key_id=f.access_key, aws_secret_access_key=secret or f.secret_key,
                        aws_session_token=f.session_token)


def in_cluster(c, **kw):
    return c.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}], **kw)


def error_of(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e
    raise AssertionError("no error")


F = start()
C = client(F)


def fresh(**kw):
    F.clear_faults()
    F.reset_calls()
    F.page_size = kw.pop("page_size", 100)
    F.remove_cluster(CLUSTER)
    F.add_cluster(CLUSTER, kw.pop("members", members()), endpoint=const.AURORA_CLUSTER,
                  reader_endpoint=const.AURORA_READER, **kw)


def all_signed():
    tap.ok(F.calls and all(c["signature_ok"] for c in F.calls),
           "every request verified: %s" % [c["signature_error"] for c in F.calls])


@tap.case
def clusters_parse_with_boto3():
    fresh()
    got = C.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"]
    tap.eq(len(got), 1)
    c = got[0]
    tap.eq((c["DBClusterIdentifier"], c["Status"], c["Port"]), (CLUSTER, "available", 5432))
    tap.eq(c["Endpoint"], const.AURORA_CLUSTER)
    tap.eq(c["ReaderEndpoint"], const.AURORA_READER)
    tap.eq([(m["DBInstanceIdentifier"], m["IsClusterWriter"]) for m in c["DBClusterMembers"]],
           [(IDS[0], True), (IDS[1], False), (IDS[2], False)])
    tap.eq(c["DBClusterArn"], "arn:aws:rds:eu-west-1:111122223333:cluster:aurora-orders")
    # the identifier is not case-sensitive, and an ARN names the cluster too
    tap.eq(C.describe_db_clusters(DBClusterIdentifier="Aurora-Orders")["DBClusters"][0]["DBClusterIdentifier"], CLUSTER)
    tap.eq(len(C.describe_db_clusters(DBClusterIdentifier=c["DBClusterArn"])["DBClusters"]), 1)
    all_signed()
    tap.eq(F.calls[0]["body"], "Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=aurora-orders")


@tap.case
def instances_parse_with_boto3():
    fresh()
    got = in_cluster(C)
    tap.ok("Marker" not in got, "one page")
    tap.eq([(i["DBInstanceIdentifier"], i["DBInstanceStatus"], i["Endpoint"]["Address"], i["Endpoint"]["Port"],
             i["DBClusterIdentifier"]) for i in got["DBInstances"]],
           [(m[0], "available", m[3], 5432, CLUSTER) for m in members()])
    tap.eq(F.calls[0]["params"]["Filters.Filter.1.Name"], "db-cluster-id")
    all_signed()


@tap.case
def state_changes_show_in_the_answers():
    fresh()
    F.set_writer(CLUSTER, IDS[1])
    F.set_member(CLUSTER, "aurora-orders-instance-4", status="creating", address=None)
    F.set_member(CLUSTER, IDS[2], status="stopped")
    F.set_member(CLUSTER, "aurora-orders-instance-5", listed=False)
    c = C.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    tap.eq([m["DBInstanceIdentifier"] for m in c["DBClusterMembers"] if m["IsClusterWriter"]], [IDS[1]])
    tap.eq(len(c["DBClusterMembers"]), 5, "the unlisted member is still a cluster member")
    got = {i["DBInstanceIdentifier"]: i for i in in_cluster(C)["DBInstances"]}
    tap.eq(sorted(got), IDS + ["aurora-orders-instance-4"], "the unlisted member is not listed")
    tap.eq((got["aurora-orders-instance-4"]["DBInstanceStatus"], "Endpoint" in got["aurora-orders-instance-4"]),
           ("creating", False), "creating, without an endpoint")
    tap.eq(got[IDS[2]]["DBInstanceStatus"], "stopped")
    F.remove_member(CLUSTER, IDS[2])
    F.set_cluster(CLUSTER, endpoint="moved.cluster-abc123xyz.eu-west-1.rds.amazonaws.com", reader_endpoint=None)
    c = C.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    tap.eq((c["Endpoint"], "ReaderEndpoint" in c), ("moved.cluster-abc123xyz.eu-west-1.rds.amazonaws.com", False))
    tap.ok(IDS[2] not in [m["DBInstanceIdentifier"] for m in c["DBClusterMembers"]], "member removed")
    F.set_writer(CLUSTER, None)
    c = C.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    tap.eq([m for m in c["DBClusterMembers"] if m["IsClusterWriter"]], [], "no writer")


@tap.case
def no_writer_injected():
    fresh()
    F.inject("no_writer", count=2)
    # DescribeDBInstances does not take the fault
    tap.eq(len(in_cluster(C)["DBInstances"]), 3)
    for _ in range(2):
        c = C.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
        tap.eq((c["Status"], [m["IsClusterWriter"] for m in c["DBClusterMembers"]]),
               ("failing-over", [False, False, False]))
    c = C.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    tap.eq((c["Status"], [m["IsClusterWriter"] for m in c["DBClusterMembers"]]), ("available", [True, False, False]))


@tap.case
def paging_with_markers():
    fresh(members=members(7), page_size=3)
    pages = list(C.get_paginator("describe_db_instances").paginate(
        Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}]))
    tap.eq([len(p["DBInstances"]) for p in pages], [3, 3, 1])
    tap.eq([i["DBInstanceIdentifier"] for p in pages for i in p["DBInstances"]],
           sorted(m[0] for m in members(7)))
    markers = [p.get("Marker") for p in pages]
    tap.ok(markers[0] and markers[1] and markers[2] is None, "a Marker on every page but the last: %s" % markers)
    tap.ok(re.search(r"[+/=]", markers[0]), "the marker needs percent-encoding: %s" % markers[0])
    sent = [c["params"].get("Marker") for c in F.calls]
    tap.eq(sent, [None] + markers[:2], "each marker sent back unchanged")
    tap.ok("%2B" in F.calls[1]["body"] and "%2F" in F.calls[1]["body"], "sent as %2B and %2F: " + F.calls[1]["body"])
    tap.eq([c["params"]["Filters.Filter.1.Values.Value.1"] for c in F.calls], [CLUSTER] * 3, "same filter")
    all_signed()


@tap.case
def max_records_is_checked():
    fresh(members=members(5), page_size=100)
    tap.eq(len(in_cluster(C, MaxRecords=20)["DBInstances"]), 5)
    code, status, e = error_of(lambda: in_cluster(C, MaxRecords=10))
    tap.eq((code, status), ("InvalidParameterValue", 400))
    tap.ok("Must be between 20 and 100" in str(e), str(e))
    code, status, _ = error_of(lambda: C.describe_db_instances(Marker="not-a-marker"))
    tap.eq((code, status), ("InvalidParameterValue", 400))


@tap.case
def filters_are_checked():
    fresh()
    code, status, e = error_of(lambda: C.describe_db_instances(Filters=[{"Name": "tag:team", "Values": ["x"]}]))
    tap.eq((code, status), ("InvalidParameterValue", 400))
    tap.ok("Unrecognized filter name: tag:team" in str(e), str(e))
    tap.eq(C.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["other"]}])["DBInstances"], [],
           "a cluster id naming no cluster lists nothing")
    got = C.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [IDS[1]]}])["DBInstances"]
    tap.eq([i["DBInstanceIdentifier"] for i in got], [IDS[1]])
    code, status, _ = error_of(lambda: C.describe_db_instances(DBInstanceIdentifier="nope"))
    tap.eq((code, status), ("DBInstanceNotFound", 404))


@tap.case
def not_found():
    fresh()
    code, status, e = error_of(lambda: C.describe_db_clusters(DBClusterIdentifier="aurora-orders-old"))
    tap.eq((code, status, str(e).split(": ", 1)[1]), ("DBClusterNotFoundFault", 404, "DBCluster aurora-orders-old not found."))
    tap.eq(e.response["ResponseMetadata"]["RequestId"], F.calls[-1]["request_id"], "request id parsed")
    F.inject("cluster_not_found")
    code, status, e = error_of(lambda: C.describe_db_clusters(DBClusterIdentifier=CLUSTER))
    tap.eq((code, status), ("DBClusterNotFoundFault", 404))
    tap.ok("DBCluster aurora-orders not found." in str(e), str(e))


@tap.case
def access_denied():
    fresh()
    F.inject("access_denied", action="DescribeDBInstances")
    tap.eq(len(C.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"]), 1, "the other action is allowed")
    code, status, e = error_of(lambda: in_cluster(C))
    tap.eq((code, status), ("AccessDenied", 403))
    tap.ok("rds:DescribeDBInstances on resource: arn:aws:rds:eu-west-1:111122223333:db:*" in str(e), str(e))
    tap.eq(len(F.calls_for("DescribeDBInstances")), 1, "not retried")


@tap.case
def throttling_retried_in_standard_mode():
    fresh()
    F.inject("throttling", action="DescribeDBClusters", count=2)
    tap.eq(len(C.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"]), 1)
    tap.eq([c["status"] for c in F.calls], [400, 400, 200], "two throttled attempts, then the answer")
    tap.eq([c.get("error_code") for c in F.calls[:2]], ["Throttling", "Throttling"])
    F.reset_calls()
    F.inject("throttling", count=None)
    code, status, e = error_of(lambda: in_cluster(C))
    F.clear_faults()
    tap.eq((code, status, len(F.calls)), ("Throttling", 400, 3), "3 attempts (standard mode), then the error")
    for kind, want in (("500", "InternalFailure"), ("503", "ServiceUnavailable")):
        F.reset_calls()
        F.inject(kind)
        tap.eq(len(in_cluster(C)["DBInstances"]), 3)
        tap.eq([c.get("error_code") for c in F.calls], [want, None], kind)
    all_signed()


@tap.case
def malformed_and_dropped_answers():
    fresh()
    F.inject("malformed")
    try:
        C.describe_db_clusters(DBClusterIdentifier=CLUSTER)
        raise AssertionError("a malformed answer parsed")
    except botocore.exceptions.ClientError:
        raise
    except Exception as e:  # botocore's ResponseParserError
        tap.ok("parse" in type(e).__name__.lower() or "unable to parse" in str(e).lower(), repr(e))
    F.inject("drop")
    tap.eq(len(client(F, attempts=2).describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"]), 1,
           "a dropped connection is retried")


@tap.case
def signatures_are_verified():
    fresh()
    code, status, e = error_of(lambda: client(F, secret="wrong/secret/key/0123456789abcdefghijk")
                               .describe_db_clusters(DBClusterIdentifier=CLUSTER))
    tap.eq((code, status), ("SignatureDoesNotMatch", 403))
    tap.eq((F.calls[-1]["signature_ok"], F.calls[-1]["signature_error"].split(";")[0]), (False, "signature differs"))
    # a request signed for another service has the wrong credential scope
    other = boto3.client("elbv2", region_name=F.region, endpoint_url=F.url, verify=F.ca_file,
                         aws_access_key_id=F.access_key, aws_secret_access_key=F.secret_key,
                         aws_session_token=F.session_token)
    try:
        other.describe_target_health(TargetGroupArn="arn:x")
    except botocore.exceptions.ClientError:
        pass
    tap.ok(F.calls[-1]["signature_error"].startswith("credential scope") and
           "elasticloadbalancing" in F.calls[-1]["signature_error"], F.calls[-1]["signature_error"])
    no_token = boto3.client("rds", region_name=F.region, endpoint_url=F.url, verify=F.ca_file,
                            aws_access_key_id=F.access_key, aws_secret_access_key=F.secret_key)
    code, status, _ = error_of(lambda: no_token.describe_db_clusters(DBClusterIdentifier=CLUSTER))
    tap.eq((code, F.calls[-1]["signature_error"]), ("InvalidClientTokenId", "wrong session token"))


@tap.case
def on_call_runs_after_the_nth_answer():
    fresh()
    F.on_call("DescribeDBClusters", 2, lambda: F.set_writer(CLUSTER, IDS[2]))
    writers = []
    for _ in range(3):
        c = C.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
        writers.append([m["DBInstanceIdentifier"] for m in c["DBClusterMembers"] if m["IsClusterWriter"]])
    tap.eq(writers, [[IDS[0]], [IDS[0]], [IDS[2]]])
    seen = F.when(lambda c: c["action"] == "DescribeDBClusters")
    tap.ok(seen.is_set(), "when() sees an earlier answer")


# ------------------------------------------------------------- the shapes ---

def paths(xml_text):
    """Every element path of an XML answer, namespace stripped, list items collapsed."""
    root = ET.fromstring(xml_text)
    out = set()

    def walk(e, prefix):
        p = prefix + "/" + e.tag.split("}")[-1]
        out.add(p)
        for child in e:
            walk(child, p)
    walk(root, "")
    return out


def fake_answers():
    """The fake's raw answers: a cluster, instance pages (with and without Marker), a creating
    instance, errors."""
    import urllib.request
    import ssl
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    ctx = ssl.create_default_context(cafile=F.ca_file)

    def raw(body):
        req = AWSRequest(method="POST", url=F.url + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials(F.access_key, F.secret_key, F.session_token), "rds", F.region).add_auth(req)
        r = urllib.request.Request(F.url + "/", data=body.encode(), headers=dict(req.headers.items()), method="POST")
        try:
            with urllib.request.urlopen(r, context=ctx) as resp:
                return resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.read().decode()

    fresh(page_size=2)
    F.set_member(CLUSTER, "aurora-orders-instance-4", status="creating", address=None)
    base = "Version=2014-10-31&Filters.Filter.1.Name=db-cluster-id&Filters.Filter.1.Values.Value.1=" + CLUSTER
    first = raw("Action=DescribeDBInstances&" + base)
    marker = re.search(r"<Marker>([^<]+)</Marker>", first).group(1)
    import urllib.parse
    second = raw("Action=DescribeDBInstances&" + base + "&Marker=" + urllib.parse.quote(marker, safe=""))
    out = {"describe-db-clusters": raw("Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=" + CLUSTER),
           "describe-db-instances-page1": first, "describe-db-instances-page2": second,
           "error-db-cluster-not-found": raw("Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=x")}
    F.inject("throttling")
    out["error-throttling"] = raw("Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=" + CLUSTER)
    return out


def check_shapes(folder, what):
    answers = fake_answers()
    read = lambda name: paths(open(os.path.join(folder, name + ".response.xml")).read())
    instances = ("describe-db-instances-page1", "describe-db-instances-page2", "describe-db-instances-creating")
    for name in ("describe-db-clusters", "error-db-cluster-not-found", "error-throttling"):
        tap.eq(sorted(paths(answers[name]) ^ read(name)), [], "%s: element paths that differ from %s" % (name, what))
    # the instance pages together: members with and without an endpoint, a page with a Marker and one without
    got = paths(answers[instances[0]]) | paths(answers[instances[1]])
    want = set().union(*(read(n) for n in instances))
    tap.eq(sorted(got ^ want), [], "DescribeDBInstances: element paths that differ from %s" % what)
    for name, text in answers.items():
        tap.ok(ET.fromstring(text).tag.startswith("{%s}" % NAMESPACE), name + " namespace")


@tap.case
def answers_shaped_like_our_fixtures():
    check_shapes(FIXTURES, "tests/fixtures/rds")


@tap.case
def answers_shaped_like_the_shared_fixtures():
    shared = tap.shared_dir()
    if not shared:
        tap.skip("RNS_SHARED is not set (no ../shared)")
    check_shapes(os.path.join(shared, "fixtures", "rds"), "the shared fixtures")


@tap.case
def our_fixtures_parse_like_the_shared_ones():
    shared = tap.shared_dir()
    if not shared:
        tap.skip("RNS_SHARED is not set (no ../shared)")
    model = botocore.session.get_session().get_service_model("rds")
    parser = botocore.parsers.QueryParser()
    ours = sorted(n for n in os.listdir(FIXTURES) if n.endswith(".xml"))
    tap.eq(ours, sorted(n for n in os.listdir(os.path.join(shared, "fixtures", "rds")) if n.endswith(".xml")))
    for name in ours:
        op = "DescribeDBClusters" if "clusters" in name else "DescribeDBInstances"
        parsed = []
        for folder in (FIXTURES, os.path.join(shared, "fixtures", "rds")):
            with open(os.path.join(folder, name), "rb") as f:
                body = f.read()
            status = 200 if name.startswith("describe") else int(re.search(
                r"^error-(\w+)", name) and {"error-access-denied": 403, "error-db-cluster-not-found": 404}
                .get(name.split(".")[0], 400))
            r = parser.parse({"body": body, "headers": {}, "status_code": status},
                             model.operation_model(op).output_shape)
            r.pop("ResponseMetadata", None)
            parsed.append(re.sub(r"c9akciq32xyz", "abc123xyz", repr(r)))
        tap.eq(parsed[0], parsed[1], name)


try:
    tap.main()
finally:
    F.stop()
