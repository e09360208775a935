"""A fake Amazon RDS Query API server (API version 2014-10-31): DescribeDBClusters and
DescribeDBInstances, the two calls of cluster discovery (README.md, "Clusters (RDS API mode)").

The server, the SigV4 check with botocore (service `rds`), the request log and the common faults
are fake_query.py's. The answers are built from our fixtures (tests/fixtures/rds: one
DBCluster, one DBInstance with an endpoint) with the state of this fake written into them, so
they carry every element of the service's answers, the by-name traps included (nested Status,
SubnetAvailabilityZone/Name, elements botocore does not model).

    from fake_rds import FakeRds
    with FakeRds(access_key="AKID", secret_key="SECRET", session_token="TOKEN") as rds:
        rds.add_cluster("aurora-orders", [("aurora-orders-instance-1", True, "available", "i1.example"),
                                          ("aurora-orders-instance-2", False, "available", "i2.example")],
                        endpoint="aurora-orders.cluster-x.example", reader_endpoint="...cluster-ro-x...")
        env = {"AWS_ENDPOINT_URL_RDS": rds.url, "AWS_CA_BUNDLE": rds.ca_file}
        rds.set_writer("aurora-orders", "aurora-orders-instance-2")     # a failover, in the API
        rds.inject("no_writer", count=3)        # the next 3 DescribeDBClusters show no writer
        rds.calls_for("DescribeDBClusters")

FakeRds(region="eu-west-1", access_key=..., secret_key=..., session_token=None, tls=True, ...,
        page_size=100)   (the fake_query.QueryFake options)
  .add_cluster(cluster_id, members=(), endpoint=None, reader_endpoint=None, status="available",
               port=5432, engine="aurora-postgresql")
      members: Member objects, dicts of Member's fields, or tuples (id, writer, status, address).
  .remove_cluster(cluster_id)      (DescribeDBClusters answers DBClusterNotFoundFault, 404)
  .cluster(cluster_id) -> the Cluster (fields id, endpoint, reader_endpoint, status, members)
  .set_writer(cluster_id, member_id or None)   IsClusterWriter true for that member only
  .set_member(cluster_id, member_id, **fields) changes a member (writer, status, address, listed,
      tier, zone); a member not there is added. address None: no Endpoint (as while creating);
      listed False: in DBClusterMembers but not in DescribeDBInstances.
  .remove_member(cluster_id, member_id)
  .set_cluster(cluster_id, endpoint=..., reader_endpoint=..., status=...)
  .calls: as fake_query's, plus "writers" (the writer ids a DescribeDBClusters answer named) and
      "marker_out" (the Marker a DescribeDBInstances answer carried, or None)
  .page_size: the most DBInstances one answer holds (the service: MaxRecords, default 100);
      a smaller page_size makes the fake page answers the way a larger cluster would.
  .on_call(action, n, fn): fn() runs once, right after the n-th answer to action (counted from
      now), before the next request is read: a state change bound to the function's progress.
  .clear_hooks(), .clear_clusters()
  .inject(kind, action=None, count=1, **opts): the fake_query faults (throttling, access_denied,
      "500", "503", hang, drop, malformed, signature, expired_token, error) and
      cluster_not_found (404 DBClusterNotFoundFault), instance_not_found (404
      DBInstanceNotFound), invalid_parameter (400 InvalidParameterValue), no_writer (answers
      normally, but no member is the writer and the cluster is failing-over).
Standalone: /usr/bin/python3 tests/lib/fake_rds.py --help
"""
import base64
import copy
import os
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from fake_query import ApiError, QueryFake, serve_until_signal, standalone_options, standalone_parser

NAMESPACE = "http://rds.amazonaws.com/doc/2014-10-31/"
API_VERSION = "2014-10-31"
SERVICE = "rds"
ACTIONS = ("DescribeDBClusters", "DescribeDBInstances")
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "rds")
ACCOUNT = "111122223333"
FILTERS = ("db-cluster-id", "db-instance-id", "dbi-resource-id", "domain", "engine")

RDS_FAULTS = {
    "cluster_not_found": (404, "DBClusterNotFoundFault", "DBCluster {cluster} not found.", "Sender"),
    "instance_not_found": (404, "DBInstanceNotFound", "DBInstance {instance} not found.", "Sender"),
    "invalid_parameter": (400, "InvalidParameterValue", "Invalid parameter value", "Sender"),
    "access_denied": (403, "AccessDenied", "User: arn:aws:sts::111122223333:assumed-role/rds-nlb-sync/"
                      "rds-nlb-sync is not authorized to perform: rds:{action} on resource: {resource} "
                      "because no identity-based policy allows the rds:{action} action", "Sender"),
    "no_writer": None,  # not an error: see _action
}
MALFORMED_BODY = ('<DescribeDBClustersResponse xmlns="%s"><DescribeDBClustersResult><DBClusters>'
                  '<DBCluster><DBClusterMembers><DBClusterMember><DBInstanceIdentifier>x</DB' % NAMESPACE)

ET.register_namespace("", NAMESPACE)
Q = "{%s}" % NAMESPACE


@dataclass
class Member:
    id: str
    writer: bool = False
    status: str = "available"
    address: str = None          # the instance endpoint's DNS name; None: no Endpoint element
    listed: bool = True          # listed by DescribeDBInstances
    tier: int = 1
    zone: str = None


@dataclass
class Cluster:
    id: str
    endpoint: str = None
    reader_endpoint: str = None
    status: str = "available"
    port: int = 5432
    engine: str = "aurora-postgresql"
    members: list = field(default_factory=list)

    def member(self, member_id):
        return next((m for m in self.members if m.id == member_id), None)


def _member(m):
    if isinstance(m, Member):
        return copy.copy(m)
    if isinstance(m, dict):
        return Member(**m)
    return Member(*m)


# ---------------------------------------------------------------- answers ---

def _template(name, path):
    root = ET.parse(os.path.join(FIXTURES, name)).getroot()
    return root.find(path)


_templates = {}
_templates_lock = threading.Lock()


def templates():
    """The DBCluster and DBInstance elements of our fixtures, read once."""
    with _templates_lock:
        if not _templates:
            _templates["cluster"] = _template("describe-db-clusters.response.xml",
                                              "%sDescribeDBClustersResult/%sDBClusters/%sDBCluster" % (Q, Q, Q))
            _templates["instance"] = _template("describe-db-instances-page1.response.xml",
                                               "%sDescribeDBInstancesResult/%sDBInstances/%sDBInstance" % (Q, Q, Q))
        return _templates


def _q(path):
    return "/".join(Q + p for p in path.split("/"))


def _text(elem, path, value):
    elem.find(_q(path)).text = value if isinstance(value, str) else str(value).lower() \
        if isinstance(value, bool) else str(value)


def _response(action, result, request_id):
    root = ET.Element(Q + action + "Response")
    root.append(result)
    meta = ET.SubElement(root, Q + "ResponseMetadata")
    ET.SubElement(meta, Q + "RequestId").text = request_id
    ET.indent(root, "  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def cluster_xml(c, request_id, region, no_writer=False):
    t = templates()["cluster"]
    e = copy.deepcopy(t)
    _text(e, "DBClusterIdentifier", c.id)
    _text(e, "Status", "failing-over" if no_writer else c.status)
    _text(e, "Port", c.port)
    _text(e, "Engine", c.engine)
    _text(e, "DBClusterArn", "arn:aws:rds:%s:%s:cluster:%s" % (region, ACCOUNT, c.id))
    for name, value in (("Endpoint", c.endpoint), ("ReaderEndpoint", c.reader_endpoint)):
        if value:
            _text(e, name, value)
        else:
            e.remove(e.find(Q + name))
    members = e.find(Q + "DBClusterMembers")
    template = members.find(Q + "DBClusterMember")
    for old in list(members):
        members.remove(old)
    for m in c.members:
        x = copy.deepcopy(template)
        _text(x, "DBInstanceIdentifier", m.id)
        _text(x, "IsClusterWriter", m.writer and not no_writer)
        _text(x, "PromotionTier", m.tier)
        members.append(x)
    result = ET.Element(Q + "DescribeDBClustersResult")
    ET.SubElement(result, Q + "DBClusters").append(e)
    return _response("DescribeDBClusters", result, request_id)


def instance_element(c, m, region, index):
    e = copy.deepcopy(templates()["instance"])
    _text(e, "DBInstanceIdentifier", m.id)
    _text(e, "DBInstanceStatus", m.status)
    _text(e, "Engine", c.engine)
    _text(e, "DBClusterIdentifier", c.id)
    _text(e, "PromotionTier", m.tier)
    _text(e, "AvailabilityZone", m.zone or "%s%s" % (region, "abc"[index % 3]))
    _text(e, "DBInstanceArn", "arn:aws:rds:%s:%s:db:%s" % (region, ACCOUNT, m.id))
    _text(e, "DbiResourceId", "db-%020X" % (abs(hash(m.id)) % (1 << 80)))
    if m.address:
        _text(e, "Endpoint/Address", m.address)
        _text(e, "Endpoint/Port", c.port)
    else:  # as while creating: no Endpoint, no InstanceCreateTime
        for name in ("Endpoint", "InstanceCreateTime"):
            e.remove(e.find(Q + name))
    return e


def instances_xml(elements, marker, request_id):
    result = ET.Element(Q + "DescribeDBInstancesResult")
    listed = ET.SubElement(result, Q + "DBInstances")
    for x in elements:
        listed.append(x)
    if marker:
        ET.SubElement(result, Q + "Marker").text = marker
    return _response("DescribeDBInstances", result, request_id)


def make_marker(offset):
    """Opaque, and holding the + / = that the client must percent-encode when it sends it back."""
    return "AQICAHhbmKn+/zUy" + base64.b64encode(b"\xfb\xef" + ("page-%d" % offset).encode()).decode()


def read_marker(marker):
    try:
        raw = base64.b64decode(marker[len("AQICAHhbmKn+/zUy"):], validate=True)
        if not marker.startswith("AQICAHhbmKn+/zUy") or not raw.startswith(b"\xfb\xefpage-"):
            raise ValueError(marker)
        return int(raw[len(b"\xfb\xefpage-"):])
    except ValueError:
        raise ApiError(400, "InvalidParameterValue", "The parameter Marker is not a valid marker: %s" % marker)


def filters_param(params):
    """Filters.Filter.N.Name / Filters.Filter.N.Values.Value.M -> [(name, [values])], in N order."""
    names, values = {}, {}
    for key, value in params.items():
        parts = key.split(".")
        if parts[:2] != ["Filters", "Filter"] or len(parts) < 4 or not parts[2].isdigit():
            continue
        n = int(parts[2])
        if parts[3:] == ["Name"]:
            names[n] = value
        elif len(parts) == 6 and parts[3:5] == ["Values", "Value"] and parts[5].isdigit():
            values.setdefault(n, {})[int(parts[5])] = value
    return [(names.get(n), [v for _, v in sorted(values.get(n, {}).items())]) for n in sorted(set(names) | set(values))]


# ------------------------------------------------------------------ server ---

class FakeRds(QueryFake):
    name, service, api_version, namespace = "fake-rds", SERVICE, API_VERSION, NAMESPACE
    actions, malformed_body = ACTIONS, MALFORMED_BODY
    error_faults = {k: v for k, v in RDS_FAULTS.items() if v}

    def __init__(self, region="eu-west-1", page_size=100, **kw):
        super().__init__(region=region, **kw)
        self.fault_kinds.add("no_writer")
        self.page_size = page_size
        self._clusters = {}
        self._hooks = []  # [action, remaining answers, fn]

    # -- state --
    def add_cluster(self, cluster_id, members=(), endpoint=None, reader_endpoint=None, status="available",
                    port=5432, engine="aurora-postgresql"):
        c = Cluster(cluster_id, endpoint, reader_endpoint, status, port, engine, [_member(m) for m in members])
        with self._lock:
            self._clusters[cluster_id.lower()] = c
        return c

    def remove_cluster(self, cluster_id):
        with self._lock:
            self._clusters.pop(cluster_id.lower(), None)

    def cluster(self, cluster_id):
        with self._lock:
            return copy.deepcopy(self._clusters[cluster_id.lower()])

    def set_writer(self, cluster_id, member_id):
        with self._lock:
            c = self._clusters[cluster_id.lower()]
            if member_id is not None and c.member(member_id) is None:
                raise KeyError("%s is not a member of %s" % (member_id, cluster_id))
            for m in c.members:
                m.writer = m.id == member_id

    def set_member(self, cluster_id, member_id, **fields):
        with self._lock:
            c = self._clusters[cluster_id.lower()]
            m = c.member(member_id)
            if m is None:
                m = Member(member_id)
                c.members.append(m)
            for k, v in fields.items():
                if not hasattr(m, k):
                    raise TypeError("Member has no field %r" % k)
                setattr(m, k, v)

    def remove_member(self, cluster_id, member_id):
        with self._lock:
            c = self._clusters[cluster_id.lower()]
            c.members = [m for m in c.members if m.id != member_id]

    def set_cluster(self, cluster_id, **fields):
        with self._lock:
            c = self._clusters[cluster_id.lower()]
            for k, v in fields.items():
                if k == "members" or not hasattr(c, k):
                    raise TypeError("Cluster field %r cannot be set here" % k)
                setattr(c, k, v)

    def on_call(self, action, n, fn):
        with self._lock:
            self._hooks.append([action, n, fn])

    def clear_hooks(self):
        with self._lock:
            self._hooks = []

    def clear_clusters(self):
        with self._lock:
            self._clusters = {}

    # -- the API --
    def _fault_message(self, message, call):
        p = call["params"]
        cluster = p.get("DBClusterIdentifier", "")
        resource = "arn:aws:rds:%s:%s:%s" % (self.region, ACCOUNT, "cluster:" + cluster.lower()
                                             if call["action"] == "DescribeDBClusters" else "db:*")
        return message.format(action=call["action"], service=self.service, cluster=cluster,
                              instance=p.get("DBInstanceIdentifier", ""), resource=resource)

    def _serve_call(self, h, call, action, params, bad):
        super()._serve_call(h, call, action, params, bad)
        if call["status"] is not None:
            self._run_hooks(action)

    def _run_hooks(self, action):
        due = []
        with self._lock:
            for hook in list(self._hooks):
                if hook[0] == action:
                    hook[1] -= 1
                    if hook[1] <= 0:
                        self._hooks.remove(hook)
                        due.append(hook[2])
        for fn in due:
            fn()

    def inject(self, kind, action=None, count=1, **opts):
        # only a cluster answer can lack a writer
        super().inject(kind, "DescribeDBClusters" if kind == "no_writer" else action, count, **opts)

    def _apply_fault(self, h, call, fault):
        if fault["kind"] == "no_writer":
            return False  # answered normally, without a writer (see _action)
        return super()._apply_fault(h, call, fault)

    def _action(self, action, params, call):
        if action == "DescribeDBClusters":
            return self._describe_clusters(params, call)
        return self._describe_instances(params, call)

    def _describe_clusters(self, params, call):
        wanted = params.get("DBClusterIdentifier")
        if not wanted:
            raise ApiError(400, "InvalidParameterCombination", "this fake answers only for one DBClusterIdentifier")
        key = wanted.lower().rsplit(":cluster:", 1)[-1]
        with self._lock:
            c = self._clusters.get(key)
            if c is None:
                raise ApiError(404, "DBClusterNotFoundFault", "DBCluster %s not found." % wanted)
            no_writer = call["fault"] == "no_writer"
            call["writers"] = [] if no_writer else [m.id for m in c.members if m.writer]
            return cluster_xml(c, call["request_id"], self.region, no_writer=no_writer)

    def _page_size(self, params):
        raw = params.get("MaxRecords")
        if raw is None:
            return min(100, self.page_size)
        if not raw.isdigit() or not 20 <= int(raw) <= 100:
            raise ApiError(400, "InvalidParameterValue", "Invalid value %s for MaxRecords. Must be between 20 "
                           "and 100" % raw)
        return min(int(raw), self.page_size)

    def _matching(self, params):
        """(cluster, member) pairs that DescribeDBInstances lists for these parameters, by instance id."""
        filters = filters_param(params)
        for name, values in filters:
            if name not in FILTERS:
                raise ApiError(400, "InvalidParameterValue", "Unrecognized filter name: %s" % name)
            if not values:
                raise ApiError(400, "InvalidParameterValue", "Filter %s has no values" % name)
        pairs = [(c, m) for c in self._clusters.values() for m in c.members if m.listed]
        for name, values in filters:
            ids = {v.lower().rsplit(":", 1)[-1] for v in values}
            if name == "db-cluster-id":
                pairs = [(c, m) for c, m in pairs if c.id.lower() in ids]
            elif name == "db-instance-id":
                pairs = [(c, m) for c, m in pairs if m.id.lower() in ids]
            elif name == "engine":
                pairs = [(c, m) for c, m in pairs if c.engine in values]
            else:
                pairs = []
        one = params.get("DBInstanceIdentifier")
        if one:
            pairs = [(c, m) for c, m in pairs if m.id.lower() == one.lower()]
            if not pairs:
                raise ApiError(404, "DBInstanceNotFound", "DBInstance %s not found." % one)
        return sorted(pairs, key=lambda p: p[1].id)

    def _describe_instances(self, params, call):
        size = self._page_size(params)
        start = read_marker(params["Marker"]) if params.get("Marker") else 0
        with self._lock:
            pairs = self._matching(params)
            page = [instance_element(c, m, self.region, c.members.index(m)) for c, m in pairs[start:start + size]]
        marker = make_marker(start + size) if start + size < len(pairs) else None
        call["marker_out"] = marker
        return instances_xml(page, marker, call["request_id"])


def main(argv=None):
    p = standalone_parser("Fake RDS Query API server")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--cluster", action="append", default=[],
                   help="ID,writer-id=address,reader-id=address,... (the first member is the writer)")
    a = p.parse_args(argv)
    fake = FakeRds(page_size=a.page_size, **standalone_options(a)).start()
    for spec in a.cluster:
        cid, *members = spec.split(",")
        fake.add_cluster(cid, [(m.split("=")[0], i == 0, "available", m.partition("=")[2] or None)
                               for i, m in enumerate(members)])
    serve_until_signal(fake)


if __name__ == "__main__":
    main()
