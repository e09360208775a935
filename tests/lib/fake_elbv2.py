"""A fake Elastic Load Balancing v2 Query API server (API version 2015-12-01).

Used by the ELBv2 client's tests, the end-to-end tests, the demo and the
benchmarks. It speaks HTTP/1.1 with keep-alive, over TLS with a test CA by
default, checks the SigV4 signature of every request with Debian's
python3-botocore (an implementation independent of ours), keeps target-group
state the way the service does, answers with the service's XML, and injects
faults on demand (the server, signature check and faults: fake_query.py).

    from fake_elbv2 import FakeElbv2
    with FakeElbv2(access_key="AKID", secret_key="SECRET", session_token="TOKEN") as elb:
        elb.add_target_group(ARN, targets=["10.0.1.5:5432"])
        env = {"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": elb.url, "AWS_CA_BUNDLE": elb.ca_file}
        elb.inject("throttling", action="RegisterTargets", count=2)
        ... run the client ...
        elb.targets(ARN)      # [{"Id", "Port", "AvailabilityZone", "State", "Reason"}]
        elb.calls             # one dict per request received (see _Call below)
        elb.connections_opened

FakeElbv2(region="eu-west-1", access_key="AKIDEXAMPLE", secret_key=..., session_token=None,
          tls=True, host="127.0.0.1", port=0, cert_dir=None, hostnames=("localhost",),
          healthy_after=0.2, deregistration_delay=0.3, max_skew=900, quiet=True)
  .start() / .stop() (also a context manager), .url, .port, .ca_file (PEM of the test CA, None
  without TLS), .cert_file / .key_file (the server's).
  .add_target_group(arn, targets=(), vpc_cidr="10.0.0.0/8", port=5432, state="healthy",
                    healthy_after=None, deregistration_delay=None)
      targets: "ip:port" strings, (ip, port) tuples or {"Id","Port","AvailabilityZone"} dicts.
      Fleet mode's discovery: load_balancers=(LB ARNs the group is attached to), tags={key: value},
      name=None (the ARN's), protocol="TCP", target_type="ip".
  .remove_target_group(arn)
  .add_load_balancer(lb_arn)   one without groups (a group's load_balancers are added by themselves)
  .remove_load_balancer(lb_arn)   deletes it, as the service does: its groups stay, detached, and
      DescribeTargetGroups of it answers LoadBalancerNotFound
  .set_tags(arn, {key: value}) / .remove_tags(arn, keys) / .tags(arn) -> dict: the group's tags,
      which DescribeTags reads and AddTags/RemoveTags change. Both check what the service checks:
      keys of 1..128 and values of 0..256 characters of TAG_PATTERN (ValidationError), and AddTags
      at most 50 tags on the resource, aws: keys aside (TooManyTags).
  .set_buckets(describe=(burst, per_second), targets=..., modify=..., tags=...)  token-bucket
      throttling as the service does it (400 Throttling "Rate exceeded" when the action's bucket is
      empty; each call takes one token; None: that bucket is off). The real API's Describe* bucket
      is (40, 10); AWS's load balancer controller assumes (20, 4) for Register/DeregisterTargets and
      (20, 3) for Modify*. .throttled counts the calls refused so.
  .targets(arn) -> list of dicts, current state (initial targets turn healthy after
      healthy_after seconds, draining ones disappear after deregistration_delay).
  .registered(arn) -> sorted "ip:port" strings of targets not draining.
  .set_health(arn, ip, port, state, reason=None)  forces a registered target's state: any of
      the API's enum (STATE_REASONS: initial, healthy, unhealthy, unhealthy.draining, unused,
      unavailable, draining) with one of the reasons the API gives for it (None: the first).
      Target.NotRegistered is not one of them: DescribeTargetHealth gives it only for a target
      named in its Targets list that the group does not hold (the fake does that too). A forced
      state is only what DescribeTargetHealth reports: Register/DeregisterTargets go by the group's
      own (deregister a target to make it leave; a forced "draining" never does).
  .inject(kind, action=None, count=1, **opts)     queues a fault; count=None: every request.
      kinds: throttling (400 Throttling), throttling_exception (400 ThrottlingException),
      "500" (InternalFailure), "503" (ServiceUnavailable), hang (read the request, never
      answer; seconds=N: answer normally after N s; release=threading.Event: answer normally
      once the test sets it), drop (read the request, close without
      answering; stage="accept": close right after the TCP accept, before TLS),
      malformed (200 with broken XML; body=... to choose it), tg_not_found, signature
      (403 SignatureDoesNotMatch), access_denied (403 AccessDenied), invalid_target,
      expired_token, error (status=, code=, message=, type=).
      Faults are taken in the order injected, the first that matches the action.
  .clear_faults(), .reset_calls()
  .calls: list of dicts {action, params, body, headers, time (monotonic), wall, connection,
      signature_ok, signature_error, amz_date, fault, status (None: no answer), request_id}
  .calls_for(action), .connections_opened (TCP connections accepted), .tls_failures
Standalone: /usr/bin/python3 tests/lib/fake_elbv2.py --help
"""
import base64
import ipaddress
import time
import unicodedata
from xml.sax.saxutils import escape

from fake_query import (ApiError, QueryFake, SIGNATURE_MESSAGE, error_xml, make_test_pki,  # noqa: F401
                        serve_until_signal, standalone_options, standalone_parser)

NAMESPACE = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
API_VERSION = "2015-12-01"
SERVICE = "elasticloadbalancing"
ACTIONS = ("DescribeTargetHealth", "RegisterTargets", "DeregisterTargets", "DescribeTargetGroups",
           "DescribeTags", "AddTags", "RemoveTags")
LISTENER_ACTIONS = ("DescribeListeners", "ModifyListener")
# Target groups one NLB forward action may hold: not documented for NLB (reference
# nlb-weighted-target-groups.md, open question 1); ALB's limit, 5, until a real account says otherwise.
MAX_GROUPS_PER_ACTION = 5
MAX_DESCRIBE_ARNS = 20  # DescribeTargetGroups' TargetGroupArns, DescribeTags' ResourceArns
MAX_PAGE_SIZE = 400
# Tags (botocore's model of TagKey, TagValue: 1..128 and 0..256 characters of letters, separators,
# numbers and _.:/=+-@; TooManyTags past the resource's limit, 50, where keys starting aws: do not count).
MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TAGS_PER_RESOURCE = 128, 256, 50
TAG_PATTERN = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
# action -> its token bucket (set_buckets)
BUCKET_OF = {"RegisterTargets": "targets", "DeregisterTargets": "targets", "AddTags": "tags",
             "RemoveTags": "tags"}

# TargetHealthStateEnum -> the TargetHealthReasonEnum values the API gives a registered target in
# that state, the usual one first (../shared/reference/elbv2-and-events.md, section 3). "unused" with
# Target.NotRegistered is only the answer for an unregistered target named in a Targets list.
STATE_REASONS = {
    "initial": ("Elb.RegistrationInProgress", "Elb.InitialHealthChecking"),
    "healthy": (None,),
    "unhealthy": ("Target.FailedHealthChecks", "Target.ResponseCodeMismatch", "Target.Timeout",
                  "Elb.InternalError"),
    "unhealthy.draining": ("Target.FailedHealthChecks",),
    "unused": ("Target.NotInUse", "Target.InvalidState", "Target.IpUnusable"),
    "unavailable": ("Target.HealthCheckDisabled", "Elb.InternalError"),
    "draining": ("Target.DeregistrationInProgress",),
}

# The Description the API sends with each reason.
DESCRIPTIONS = {
    "Elb.RegistrationInProgress": "Target registration is in progress",
    "Elb.InitialHealthChecking": "Initial health checks in progress",
    "Target.FailedHealthChecks": "Health checks failed",
    "Target.ResponseCodeMismatch": "Health checks failed with these codes: [503]",
    "Target.Timeout": "Request timed out",
    "Elb.InternalError": "Health checks failed due to an internal error",
    "Target.NotInUse": "Target is in an Availability Zone that is not enabled for your load balancer",
    "Target.InvalidState": "Target is in the stopped or terminated state",
    "Target.IpUnusable": "The IP address cannot be used as a target, as it is in use by a load balancer",
    "Target.NotRegistered": "Target is not registered to the target group",
    "Target.HealthCheckDisabled": "Health checks are disabled",
    "Target.DeregistrationInProgress": "Target deregistration is in progress",
}
# state -> (its usual reason, that reason's Description): the table's earlier shape.
REASONS = {state: (rs[0], DESCRIPTIONS[rs[0]]) for state, rs in STATE_REASONS.items() if rs[0]}

# kind -> (status, code, message, type), besides fake_query.COMMON_FAULTS
ELB_FAULTS = {
    "throttling_exception": (400, "ThrottlingException", "Rate exceeded", "Sender"),
    "tg_not_found": (400, "TargetGroupNotFound", "One or more target groups not found", "Sender"),
    "invalid_target": (400, "InvalidTarget", "The following targets are not in a running "
                       "state and cannot be registered", "Sender"),
}

MALFORMED_BODY = ('<DescribeTargetHealthResponse xmlns="%s"><DescribeTargetHealthResult>'
                  '<TargetHealthDescriptions><member><Target><Id>10.0.0.1</Id' % NAMESPACE)


# ------------------------------------------------------------------ state ---

class _Target:
    def __init__(self, ip, port, az, state, now):
        self.ip, self.port, self.az = ip, port, az
        self.state, self.since, self.forced = state, now, None

    def describe(self):
        state = self.forced[0] if self.forced else self.state
        reason = self.forced[1] if self.forced else None
        if reason is None and state in STATE_REASONS:
            reason = STATE_REASONS[state][0]
        return {"Id": self.ip, "Port": self.port, "AvailabilityZone": self.az,
                "State": state, "Reason": reason}


class _TokenBucket:
    """A token bucket: `burst` tokens, refilled at `rate` per second; one per call."""

    def __init__(self, burst, rate):
        self.burst, self.rate = burst, rate
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self, now):
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class _TargetGroup:
    def __init__(self, arn, vpc_cidr, port, healthy_after, deregistration_delay, region):
        self.arn, self.port, self.region = arn, port, region
        self.name, self.protocol, self.target_type = arn.split("/")[-2], "TCP", "ip"
        self.load_balancers, self.tags = [], {}
        self.vpc = [ipaddress.ip_network(c) for c in
                    ([vpc_cidr] if isinstance(vpc_cidr, str) else vpc_cidr)]
        self.healthy_after, self.deregistration_delay = healthy_after, deregistration_delay
        self.targets = {}  # (ip, port) -> _Target, in registration order

    def refresh(self, now):
        for key, t in list(self.targets.items()):
            if t.state == "initial" and now - t.since >= self.healthy_after:
                t.state, t.since = "healthy", now
            elif t.state == "draining" and now - t.since >= self.deregistration_delay:
                del self.targets[key]

    def zone_for(self, ip):
        return "%s%s" % (self.region, "abc"[int(ipaddress.ip_address(ip).packed[-2]) % 3])

    def check_target(self, t):
        """(ip, port, az) for a requested target, or raises InvalidTarget."""
        ip, az = t.get("Id", ""), t.get("AvailabilityZone")
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            raise ApiError(400, "ValidationError", "'%s' is not a valid IP address" % ip)
        port = int(t["Port"]) if t.get("Port") else self.port
        if not 1 <= port <= 65535:
            raise ApiError(400, "ValidationError", "Port %d is not valid" % port)
        inside = any(addr in net for net in self.vpc if net.version == addr.version)
        if not inside and az != "all":
            raise ApiError(400, "InvalidTarget", "The IP address '%s' is outside the VPC of the "
                           "target group and no Availability Zone was given" % ip)
        return ip, port, (az if az else self.zone_for(ip))


def _struct_members(params, prefix):
    """prefix.member.N.rest -> {N: {rest: value}}, for one level of a Query list."""
    out = {}
    for key, value in params.items():
        if key.startswith(prefix + ".member."):
            n, _, rest = key[len(prefix) + 8:].partition(".")
            if n.isdigit():
                out.setdefault(int(n), {})[rest] = value
    return [out[n] for n in sorted(out)]


def _targets_param(params):
    """Targets.member.N.* -> list of dicts, in N order."""
    return _struct_members(params, "Targets")


def _members(params, name):
    """name.member.N -> list of values, in N order."""
    found = {}
    for key, value in params.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == name and parts[1] == "member" and parts[2].isdigit():
            found[int(parts[2])] = value
    return [found[n] for n in sorted(found)]


def _tag_params(params):
    """Tags.member.N.Key/Value -> {key: value}."""
    members = {}
    for key, value in params.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == "Tags" and parts[1] == "member" and parts[2].isdigit():
            members.setdefault(int(parts[2]), {})[parts[3]] = value
    return {m["Key"]: m.get("Value", "") for _, m in sorted(members.items()) if "Key" in m}


def _tag_text_ok(text):
    """TAG_PATTERN in Python: \\p{L} letters, \\p{Z} separators, \\p{N} numbers."""
    return all(unicodedata.category(c)[0] in "LZN" or c in "_.:/=+-@" for c in text)


def _check_tag_texts(members, what):
    """members: [(member path, text, shortest, longest)] of one AddTags or RemoveTags call."""
    if not members:
        raise ApiError(400, "ValidationError", "1 validation error detected: Value null at '%s' failed to "
                       "satisfy constraint: Member must not be null" % what)
    for member, text, low, high in members:
        if not low <= len(text) <= high:
            raise ApiError(400, "ValidationError", "1 validation error detected: Value '%s' at '%s' failed to "
                           "satisfy constraint: Member must have length less than or equal to %d"
                           % (text, member, high))
        if not _tag_text_ok(text):
            raise ApiError(400, "ValidationError", "1 validation error detected: Value '%s' at '%s' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: %s"
                           % (text, member, TAG_PATTERN))


def _check_tags(tags):
    _check_tag_texts([("tags.%d.member.%s" % (n, what), text, low, high)
                      for n, (key, value) in enumerate(tags.items(), 1)
                      for what, text, low, high in (("key", key, 1, MAX_TAG_KEY),
                                                    ("value", value, 0, MAX_TAG_VALUE))], "tags")


def _check_tag_keys(keys):
    _check_tag_texts([("tagKeys.%d.member" % n, key, 1, MAX_TAG_KEY) for n, key in enumerate(keys, 1)], "tagKeys")


def _check_arns(arns, what):
    if not arns:
        raise ApiError(400, "ValidationError", "1 validation error detected: Value null at '%s' failed "
                       "to satisfy constraint: Member must not be null" % what)
    if len(arns) > MAX_DESCRIBE_ARNS:
        raise ApiError(400, "ValidationError", "1 validation error detected: Value at '%s' failed to "
                       "satisfy constraint: Member must have length less than or equal to %d"
                       % (what, MAX_DESCRIBE_ARNS))


def _marker_for(offset):
    return base64.b64encode(("rns-page:%d" % offset).encode()).decode()


def _marker_offset(marker, total):
    if not marker:
        return 0
    try:
        kind, _, n = base64.b64decode(marker.encode(), validate=True).decode().partition(":")
        if kind == "rns-page" and 0 <= int(n) <= total:
            return int(n)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiError(400, "ValidationError", "The marker '%s' is not valid" % marker)


# --------------------------------------------------------------- responses ---

def _member_xml(d):
    health = "        <TargetHealth>\n          <State>%s</State>\n" % d["State"]
    if d["State"] != "healthy" and d.get("Reason"):
        desc = DESCRIPTIONS.get(d["Reason"], d["Reason"])
        health += ("          <Reason>%s</Reason>\n          <Description>%s</Description>\n"
                   % (escape(d["Reason"]), escape(desc)))
    health += "        </TargetHealth>\n"
    target = "        <Target>\n"
    if d.get("Port"):
        target += "          <Port>%d</Port>\n" % d["Port"]
    target += "          <Id>%s</Id>\n" % escape(d["Id"])
    if d.get("AvailabilityZone"):
        target += "          <AvailabilityZone>%s</AvailabilityZone>\n" % escape(d["AvailabilityZone"])
    target += "        </Target>\n"
    hc = "        <HealthCheckPort>%d</HealthCheckPort>\n" % d["Port"] if d["State"] != "unused" else ""
    return "      <member>\n%s%s%s      </member>\n" % (hc, health, target)


def _group_xml(tg):
    lbs = "".join("          <member>%s</member>\n" % escape(lb) for lb in tg.load_balancers)
    return ("      <member>\n        <TargetGroupArn>%s</TargetGroupArn>\n"
            "        <TargetGroupName>%s</TargetGroupName>\n        <Protocol>%s</Protocol>\n"
            "        <Port>%d</Port>\n        <VpcId>vpc-0a1b2c3d4e5f60718</VpcId>\n"
            "        <HealthCheckProtocol>TCP</HealthCheckProtocol>\n"
            "        <HealthCheckPort>traffic-port</HealthCheckPort>\n"
            "        <HealthCheckEnabled>true</HealthCheckEnabled>\n"
            "        <HealthCheckIntervalSeconds>10</HealthCheckIntervalSeconds>\n"
            "        <HealthCheckTimeoutSeconds>10</HealthCheckTimeoutSeconds>\n"
            "        <HealthyThresholdCount>2</HealthyThresholdCount>\n"
            "        <UnhealthyThresholdCount>2</UnhealthyThresholdCount>\n"
            "        <LoadBalancerArns>\n%s        </LoadBalancerArns>\n"
            "        <TargetType>%s</TargetType>\n        <IpAddressType>ipv4</IpAddressType>\n"
            "      </member>\n" % (escape(tg.arn), escape(tg.name), tg.protocol, tg.port, lbs,
                                   tg.target_type))


def _tags_xml(arn, tags):
    members = "".join("          <member>\n            <Value>%s</Value>\n            <Key>%s</Key>\n"
                      "          </member>\n" % (escape(v), escape(k)) for k, v in tags.items())
    return ("      <member>\n        <ResourceArn>%s</ResourceArn>\n        <Tags>\n%s        </Tags>\n"
            "      </member>\n" % (escape(arn), members))


def _result_xml(action, members):
    """The Result element of the discovery actions: members is (groups, next_marker) or tag pairs."""
    if action == "DescribeTargetGroups":
        groups, marker = members
        body = "    <TargetGroups>\n%s    </TargetGroups>\n" % "".join(_group_xml(g) for g in groups)
        if marker:
            body += "    <NextMarker>%s</NextMarker>\n" % escape(marker)
    else:
        body = "    <TagDescriptions>\n%s    </TagDescriptions>\n" % "".join(
            _tags_xml(arn, tags) for arn, tags in members)
    return "  <%sResult>\n%s  </%sResult>\n" % (action, body, action)


def success_xml(action, request_id, members=None):
    if action in ("DescribeTargetGroups", "DescribeTags"):
        result = _result_xml(action, members)
    elif action == "DescribeTargetHealth":
        if members:
            result = ("  <DescribeTargetHealthResult>\n    <TargetHealthDescriptions>\n%s"
                      "    </TargetHealthDescriptions>\n  </DescribeTargetHealthResult>\n"
                      % "".join(_member_xml(m) for m in members))
        else:
            result = ("  <DescribeTargetHealthResult>\n    <TargetHealthDescriptions/>\n"
                      "  </DescribeTargetHealthResult>\n")
    else:
        result = "  <%sResult/>\n" % action
    return ('<%sResponse xmlns="%s">\n%s  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n'
            '  </ResponseMetadata>\n</%sResponse>\n' % (action, NAMESPACE, result, request_id, action))


# --------------------------------------------------------------- listeners ---
# The fast switch's listener (CONTRACT.md section 13): DescribeListeners and ModifyListener of the
# default action, validated as the reference says the API does (weights 0..999, the group count,
# groups of the listener's load balancer only).
#
#   elb.add_listener(LISTENER_ARN, LB_ARN, [(TG_A, 1), (TG_B, 0)])
#   elb.weights(LISTENER_ARN) -> [(tg arn, weight)], the listener's order
#   elb.set_default_action(LISTENER_ARN, action_dict)  a raw default action (malformed listeners)
#   elb.remove_listener(LISTENER_ARN)                   DescribeListeners then answers ListenerNotFound
#   elb.on_weights = callable(listener_arn, [(arn, weight)])  called after every ModifyListener

def _sub(d, prefix):
    return {k[len(prefix) + 1:]: v for k, v in d.items() if k.startswith(prefix + ".")}


class FakeListeners:
    """The listener part of FakeElbv2 (a mixin: it uses its lock and target groups)."""

    def add_listener(self, arn, load_balancer_arn, groups, port=5432, protocol="TCP", stickiness=None):
        """groups: [(target group arn, weight)]; stickiness: None (no block), or (enabled, seconds or None)."""
        with self._lock:
            action = {"Type": "forward", "groups": [[a, w] for a, w in groups], "stickiness": stickiness}
            self._listeners[arn] = {"arn": arn, "lb": load_balancer_arn, "port": port, "protocol": protocol,
                                    "actions": [action]}
            self._load_balancers.add(load_balancer_arn)
            for a, _ in groups:
                self._attach(self._groups[a], load_balancer_arn)

    def remove_listener(self, arn):
        with self._lock:
            self._listeners.pop(arn, None)

    def set_default_action(self, arn, action):
        """A raw default action list entry: {"Type", "groups": [[arn, weight or None]], "stickiness",
        "TargetGroupArn"}; or a list of them."""
        with self._lock:
            self._listeners[arn]["actions"] = action if isinstance(action, list) else [action]

    def weights(self, arn):
        with self._lock:
            return [(a, w) for a, w in self._listeners[arn]["actions"][0].get("groups", [])]

    def _listener_action(self, action, params, call):
        with self._lock:
            if action == "DescribeListeners":
                arns = _members(params, "ListenerArns")
                found = [self._listeners[a] for a in arns if a in self._listeners]
                if len(found) != len(arns) or not arns:
                    raise ApiError(400, "ListenerNotFound", "One or more listeners not found")
            else:
                found = [self._modify(params)]
            xml = "".join(_listener_xml(lst) for lst in found)
        if action == "ModifyListener" and getattr(self, "on_weights", None):
            self.on_weights(found[0]["arn"], self.weights(found[0]["arn"]))
        return ('<%sResponse xmlns="%s">\n  <%sResult>\n    <Listeners>\n%s    </Listeners>\n  </%sResult>\n'
                '  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</%sResponse>\n'
                % (action, NAMESPACE, action, xml, action, call["request_id"], action))

    def _modify(self, params):
        lst = self._listeners.get(params.get("ListenerArn"))
        if lst is None:
            raise ApiError(400, "ListenerNotFound", "One or more listeners not found")
        actions = _struct_members(params, "DefaultActions")
        if not actions:
            return lst  # DefaultActions left out: unchanged
        if len(actions) != 1 or actions[0].get("Type") != "forward":
            raise ApiError(400, "InvalidLoadBalancerAction", "A Network Load Balancer listener needs exactly "
                           "one default action, of type 'forward'")
        fc = _sub(actions[0], "ForwardConfig")
        groups = []
        for g in _struct_members(fc, "TargetGroups"):
            groups.append([g.get("TargetGroupArn"), self._weight(g.get("Weight"))])
        self._check_groups(lst, groups)
        st = _sub(fc, "TargetGroupStickinessConfig")
        stickiness = (st["Enabled"] == "true", int(st["DurationSeconds"]) if "DurationSeconds" in st else None) \
            if "Enabled" in st else None
        lst["actions"] = [{"Type": "forward", "groups": groups, "stickiness": stickiness}]
        for a, _ in groups:
            self._attach(self._groups[a], lst["lb"])
        return lst

    @staticmethod
    def _attach(tg, lb):
        if lb not in tg.load_balancers:
            tg.load_balancers.append(lb)

    @staticmethod
    def _weight(text):
        if text is None:
            raise ApiError(400, "ValidationError", "A weight must be specified for each target group")
        try:
            w = int(text)
        except ValueError:
            raise ApiError(400, "ValidationError", "Weight '%s' is not an integer" % text)
        if not 0 <= w <= 999:
            raise ApiError(400, "ValidationError", "1 validation error detected: Value '%d' at 'weight' failed "
                           "to satisfy constraint: Member must have value between 0 and 999" % w)
        return w

    def _check_groups(self, lst, groups):
        if not groups:
            raise ApiError(400, "ValidationError", "A forward action needs at least one target group")
        if len(groups) > self.max_groups_per_action:
            raise ApiError(400, "ValidationError", "You cannot specify more than %d target groups in a "
                           "forward action" % self.max_groups_per_action)
        if len({a for a, _ in groups}) != len(groups):
            raise ApiError(400, "ValidationError", "A target group can be named only once in a forward action")
        for a, _ in groups:
            tg = self._groups.get(a)
            if tg is None:
                raise ApiError(400, "TargetGroupNotFound", "One or more target groups not found")
            if tg.load_balancers and lst["lb"] not in tg.load_balancers:
                raise ApiError(400, "TargetGroupAssociationLimit", "The following target groups cannot be "
                               "associated with more than one load balancer: '%s'" % a)
        if not self.all_zero_weights and all(w == 0 for _, w in groups):
            raise ApiError(400, "ValidationError", "At least one target group must have a non-zero weight")


def _listener_xml(lst):
    actions = ""
    for a in lst["actions"]:
        body = "<Type>%s</Type>" % escape(a.get("Type", ""))
        if a.get("TargetGroupArn"):
            body += "<TargetGroupArn>%s</TargetGroupArn>" % escape(a["TargetGroupArn"])
        if a.get("groups") is not None:
            tgs = "".join("<member><TargetGroupArn>%s</TargetGroupArn>%s</member>"
                          % (escape(g), "" if w is None else "<Weight>%d</Weight>" % w) for g, w in a["groups"])
            st = a.get("stickiness")
            sticky = "" if st is None else "<TargetGroupStickinessConfig><Enabled>%s</Enabled>%s" \
                "</TargetGroupStickinessConfig>" % ("true" if st[0] else "false",
                                                   "" if st[1] is None else "<DurationSeconds>%d</DurationSeconds>" % st[1])
            body += "<ForwardConfig><TargetGroups>%s</TargetGroups>%s</ForwardConfig>" % (tgs, sticky)
        actions += "<member>%s</member>" % body
    return ("      <member><ListenerArn>%s</ListenerArn><LoadBalancerArn>%s</LoadBalancerArn><Port>%d</Port>"
            "<Protocol>%s</Protocol><DefaultActions>%s</DefaultActions></member>\n"
            % (escape(lst["arn"]), escape(lst["lb"]), lst["port"], lst["protocol"], actions))


class FakeElbv2(QueryFake, FakeListeners):
    name, service, api_version, namespace = "fake-elbv2", SERVICE, API_VERSION, NAMESPACE
    actions, error_faults, malformed_body = ACTIONS + LISTENER_ACTIONS, ELB_FAULTS, MALFORMED_BODY

    def __init__(self, region="eu-west-1", healthy_after=0.2, deregistration_delay=0.3, **kw):
        super().__init__(region=region, **kw)
        self.healthy_after, self.deregistration_delay = healthy_after, deregistration_delay
        self._groups = {}
        self._load_balancers = set()
        self._buckets = {}
        self.throttled = 0
        self._listeners = {}
        self.max_groups_per_action = MAX_GROUPS_PER_ACTION
        self.all_zero_weights = False  # open question 2: whether the API accepts every weight at 0

    # -- target groups --
    def add_target_group(self, arn, targets=(), vpc_cidr="10.0.0.0/8", port=5432, state="healthy",
                         healthy_after=None, deregistration_delay=None, load_balancers=(), tags=None,
                         name=None, protocol="TCP", target_type="ip"):
        tg = _TargetGroup(arn, vpc_cidr, port,
                          self.healthy_after if healthy_after is None else healthy_after,
                          self.deregistration_delay if deregistration_delay is None else deregistration_delay,
                          self.region)
        tg.load_balancers, tg.tags = list(load_balancers), dict(tags or {})
        tg.name, tg.protocol, tg.target_type = name or tg.name, protocol, target_type
        with self._lock:
            self._load_balancers.update(load_balancers)
        now = time.monotonic()
        for t in targets:
            d = self._target_dict(t)
            ip, p, az = tg.check_target(d)
            tg.targets[(ip, p)] = _Target(ip, p, az, state, now)
        with self._lock:
            self._groups[arn] = tg
        return tg

    def set_delays(self, arn, healthy_after, deregistration_delay):
        """From now on, the group's new targets turn healthy and draining ones leave after these
        seconds (counted from when each entered its state)."""
        with self._lock:
            tg = self._groups[arn]
            tg.healthy_after, tg.deregistration_delay = healthy_after, deregistration_delay

    def remove_target_group(self, arn):
        with self._lock:
            self._groups.pop(arn, None)

    def add_load_balancer(self, lb_arn):
        with self._lock:
            self._load_balancers.add(lb_arn)

    def remove_load_balancer(self, lb_arn):
        with self._lock:
            self._load_balancers.discard(lb_arn)
            for g in self._groups.values():
                if lb_arn in g.load_balancers:
                    g.load_balancers.remove(lb_arn)

    def set_tags(self, arn, tags):
        with self._lock:
            self._groups[arn].tags.update(tags)

    def remove_tags(self, arn, keys):
        with self._lock:
            for k in keys:
                self._groups[arn].tags.pop(k, None)

    def tags(self, arn):
        with self._lock:
            return dict(self._groups[arn].tags)

    def set_buckets(self, **buckets):
        """describe=, targets=, modify=, tags=: (burst, per_second) or None (no throttling)."""
        with self._lock:
            for name, spec in buckets.items():
                if spec is None:
                    self._buckets.pop(name, None)
                else:
                    self._buckets[name] = _TokenBucket(*spec)

    @staticmethod
    def _target_dict(t):
        if isinstance(t, dict):
            return {k: str(v) for k, v in t.items()}
        if isinstance(t, (tuple, list)):
            return {"Id": str(t[0]), "Port": str(t[1])}
        ip, _, port = str(t).rpartition(":")
        return {"Id": ip.strip("[]"), "Port": port}

    def targets(self, arn):
        with self._lock:
            tg = self._groups[arn]
            tg.refresh(time.monotonic())
            return [t.describe() for t in tg.targets.values()]

    def registered(self, arn):
        return sorted("%s:%d" % (t["Id"], t["Port"]) for t in self.targets(arn) if t["State"] != "draining")

    def set_health(self, arn, ip, port, state, reason=None):
        if state not in STATE_REASONS:
            raise ValueError("%r is not a target health state (%s)" % (state, ", ".join(STATE_REASONS)))
        if reason is not None and reason not in STATE_REASONS[state]:
            raise ValueError("the API gives a registered %s target no reason %r (%s)"
                             % (state, reason, ", ".join(map(str, STATE_REASONS[state]))))
        with self._lock:
            t = self._groups[arn].targets[(ip, int(port))]
            t.forced = (state, reason)

    # -- the API --
    def _action(self, action, params, call):
        self._take_token(action, call)
        if action in LISTENER_ACTIONS:
            return self._listener_action(action, params, call)
        if action in ("DescribeTargetGroups", "DescribeTags", "AddTags", "RemoveTags"):
            members = self._discovery_action(action, params)
        else:
            members = self._target_action(action, params)
        return success_xml(action, call["request_id"], members)

    def _take_token(self, action, call):
        bucket = BUCKET_OF.get(action, "describe" if action.startswith("Describe") else "modify")
        with self._lock:
            b = self._buckets.get(bucket)
            if b is None or b.take(time.monotonic()):
                return
            self.throttled += 1
        call["throttled"] = True
        raise ApiError(400, "Throttling", "Rate exceeded")

    def _discovery_action(self, action, params):
        with self._lock:
            if action == "DescribeTargetGroups":
                return self._describe_groups(params)
            arns = _members(params, "ResourceArns")
            _check_arns(arns, "resourceArns")
            groups = [self._group(arn) for arn in arns]
            if action == "DescribeTags":
                return [(g.arn, dict(g.tags)) for g in groups]
            if action == "AddTags":
                tags = _tag_params(params)
                _check_tags(tags)
                for g in groups:
                    if len([k for k in set(g.tags) | set(tags) if not k.startswith("aws:")]) > MAX_TAGS_PER_RESOURCE:
                        raise ApiError(400, "TooManyTags", "You've reached the limit on the number of tags for "
                                       "this resource.")
                for g in groups:
                    g.tags.update(tags)
            else:
                keys = _members(params, "TagKeys")
                _check_tag_keys(keys)
                for g in groups:
                    for k in keys:
                        g.tags.pop(k, None)
        return None

    def _group(self, arn):
        tg = self._groups.get(arn)
        if tg is None:
            raise ApiError(400, "TargetGroupNotFound", "Target groups '%s' not found" % arn)
        return tg

    def _describe_groups(self, params):
        lb, arns = params.get("LoadBalancerArn"), _members(params, "TargetGroupArns")
        size = int(params.get("PageSize") or MAX_PAGE_SIZE)
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ApiError(400, "ValidationError", "1 validation error detected: Value '%d' at 'pageSize' "
                           "failed to satisfy constraint: Member must have value less than or equal to %d"
                           % (size, MAX_PAGE_SIZE))
        if lb and arns:
            raise ApiError(400, "ValidationError", "A load balancer ARN and target group ARNs cannot be "
                           "specified at the same time")
        if arns:
            if len(arns) > MAX_DESCRIBE_ARNS:
                raise ApiError(400, "ValidationError", "You cannot describe more than '%d' target groups "
                               "at a time" % MAX_DESCRIBE_ARNS)
            groups = [self._group(arn) for arn in arns]
        elif lb:
            if lb not in self._load_balancers:
                raise ApiError(400, "LoadBalancerNotFound", "Load balancer '%s' not found" % lb)
            groups = [g for g in self._groups.values() if lb in g.load_balancers]
        else:
            groups = list(self._groups.values())
        start = _marker_offset(params.get("Marker"), len(groups))
        page = groups[start:start + size]
        more = start + size < len(groups)
        return page, (_marker_for(start + size) if more else None)

    def _target_action(self, action, params):
        arn = params.get("TargetGroupArn")
        if not arn:
            raise ApiError(400, "ValidationError", "1 validation error detected: Value null at "
                           "'targetGroupArn' failed to satisfy constraint: Member must not be null")
        requested = _targets_param(params)
        with self._lock:
            tg = self._groups.get(arn)
            if tg is None:
                raise ApiError(400, "TargetGroupNotFound", "One or more target groups not found")
            now = time.monotonic()
            tg.refresh(now)
            if action == "DescribeTargetHealth":
                return self._describe(tg, requested)
            if not requested:
                raise ApiError(400, "ValidationError", "1 validation error detected: Value null at "
                               "'targets' failed to satisfy constraint: Member must not be null")
            if action == "RegisterTargets":
                self._register(tg, requested, now)
            else:
                self._deregister(tg, requested, now)
        return None

    @staticmethod
    def _describe(tg, requested):
        if not requested:
            return [t.describe() for t in tg.targets.values()]
        out = []
        for r in requested:
            port = int(r["Port"]) if r.get("Port") else tg.port
            t = tg.targets.get((r.get("Id"), port))
            out.append(t.describe() if t else {"Id": r.get("Id"), "Port": port, "State": "unused",
                                               "Reason": "Target.NotRegistered"})
        return out

    @staticmethod
    def _register(tg, requested, now):
        checked = [tg.check_target(r) for r in requested]  # all or nothing
        for ip, port, az in checked:
            t = tg.targets.get((ip, port))
            if t is None or t.state == "draining":
                tg.targets[(ip, port)] = _Target(ip, port, az, "initial", now)

    @staticmethod
    def _deregister(tg, requested, now):
        for r in requested:
            port = int(r["Port"]) if r.get("Port") else tg.port
            t = tg.targets.get((r.get("Id"), port))
            if t is not None and t.state != "draining":
                t.state, t.since, t.forced = "draining", now, None


def main(argv=None):
    p = standalone_parser("Fake ELBv2 Query API server")
    p.add_argument("--target-group", action="append", default=[],
                   help="ARN[,ip:port...] to create at start")
    a = p.parse_args(argv)
    fake = FakeElbv2(**standalone_options(a)).start()
    for spec in a.target_group:
        arn, *targets = spec.split(",")
        fake.add_target_group(arn, targets)
    serve_until_signal(fake)


if __name__ == "__main__":
    main()
