#!/usr/bin/python3
"""fleet.yml, resource by resource: what each parameter set creates, the NLB and its endpoint
service (SupportedRegions, also template.yml's), the function in fleet mode (environment against
the contract's section 14, concurrency, timeout, VPC), its role evaluated against tagged and untagged
target groups, the account-wide RDS event rule against the handler's failover events, the sharded
sweep, the alerts, the dashboard that does not grow with the fleet, and the exports database.yml
imports."""
import glob
import json
import os
import re

import cfneval
import cfnchecks
import cfnyaml
import tap
from template_common import (ROOT, ADDED_ENV, tpl, DNS, stack, env_of, spec_errors, reference_errors, handler_source,
                             handler_messages, check_widget_grid, BINDING_TAGS, conditions_not_covered)

FLEET = {"VpcId": "vpc-0abc", "SubnetIds": "subnet-a,subnet-b"}
EXTRA = ["arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/fleet-2/0f1e2d3c4b5a6978",
         "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/fleet-3/1f1e2d3c4b5a6978"]
FULL = dict(FLEET, ExtraLoadBalancerArns=",".join(EXTRA), AllowedPrincipals="arn:aws:iam::444455556666:root",
            SupportedRegions="us-east-1,eu-central-1", FunctionSubnetIds="subnet-p1,subnet-p2",
            FunctionSecurityGroupIds="sg-0123", AlertEmail="oncall@example.com", SweepShards="3")
TOPIC = "arn:aws:sns:eu-west-1:111122223333:pager"
# Section 14: fleet mode reads its bindings from tags; these must stay unset.
FORBIDDEN_ENV = {"TARGET_GROUP_ARN", "LISTENER_ARN", "DB_ENDPOINT", "DB_CLUSTER_IDENTIFIER", "DB_ROLE",
                 "DB_IDENTIFIER"}
ALWAYS = {"LoadBalancer", "EndpointService", "LogGroup", "FunctionRole", "Function", "FunctionEventInvokeConfig",
          "RdsEventRule", "RdsEventRulePermission", "ScheduleRule", "SchedulePermission", "FunctionErrorsAlarm",
          "BindingErrorsAlarm", "ThrottlesAlarm", "NoSuccessfulRunAlarm", "Dashboard"}
TAGGED_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/orders/5d2c7e41a9b3f086"


def fleet(**params):
    return stack("fleet.yml", **dict(FLEET, **params))


# ------------------------------------------------------------------- checks ---

@tap.case
def fleet_matches_specification_and_its_names():
    tap.eq(spec_errors(tpl("fleet.yml")), [], "fleet.yml against the CloudFormation specification")
    tap.eq(reference_errors(tpl("fleet.yml")), [], "every Ref, Sub and condition resolves; every parameter is used")
    for params in (FLEET, FULL, dict(FLEET, AlertTopicArn=TOPIC, MetricsNamespace="", SchedulePeriodMinutes="60")):
        tap.eq(cfnchecks.value_errors(stack("fleet.yml", **params).resources), [], "alarm values for %r" % params)


CHINA = {"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1"}


@tap.case
def every_condition_seen_both_ways():
    sets = [FLEET, FULL, dict(FLEET, AlertTopicArn=TOPIC, MetricsNamespace="", SweepShards="5"),
            dict(FLEET, FunctionSubnetIds="subnet-p1", SweepShards="4", **CHINA), dict(FLEET, SweepShards="2")]
    tap.eq(conditions_not_covered("fleet.yml", sets), [], "the suite's parameter sets cover every condition")
    s = stack("fleet.yml", **dict(FLEET, FunctionSubnetIds="subnet-p1"))
    tap.eq(s.resources["Function"]["Properties"]["VpcConfig"]["SecurityGroupIds"], ["<FunctionSecurityGroup.GroupId>"],
           "in a VPC without extra security groups: the stack's own")
    china = cfneval.Stack(tpl("fleet.yml"), dict(FLEET, **CHINA))
    tap.eq(china.outputs["EndpointServiceName"], "cn.com.amazonaws.vpce.cn-north-1.<EndpointService>", "China")
    tap.ok(china.outputs["DashboardUrl"].startswith("https://console.amazonaws.cn/"), "China's console")
    tap.eq(fleet().outputs["EndpointServiceName"], "com.amazonaws.vpce.eu-west-1.<EndpointService>", "the service name")


@tap.case
def resources_each_parameter_set_creates():
    tap.eq(set(fleet().resources), ALWAYS, "the default stack")
    tap.eq(set(stack("fleet.yml", **FULL).resources) - ALWAYS,
           {"EndpointServicePermissions", "FunctionSecurityGroup", "AlertTopic", "AlertEmailSubscription"},
           "principals, a VPC and an alert email add their resources")
    tap.eq(set(fleet(AlertTopicArn=TOPIC, MetricsNamespace="").resources), ALWAYS - {"BindingErrorsAlarm"},
           "a given topic creates none; no EMF alarm without metrics")
    t = tpl("fleet.yml")
    kinds = {r["Type"] for r in t["Resources"].values()}
    tap.ok("AWS::ElasticLoadBalancingV2::Listener" not in kinds and "AWS::ElasticLoadBalancingV2::TargetGroup"
           not in kinds, "no listener or target group: each database brings its own")
    tap.ok("AWS::RDS::EventSubscription" not in kinds and "AWS::SNS::Subscription" in kinds,
           "no RDS event subscription (EventBridge receives RDS events without one); SNS only for alert mail")


# ------------------------------------------------- load balancer and service ---

@tap.case
def nlb_internal_with_cross_zone():
    p = fleet().resources["LoadBalancer"]["Properties"]
    tap.eq((p["Type"], p["Scheme"], p["Subnets"]), ("network", "internal", ["subnet-a", "subnet-b"]), "internal NLB")
    tap.eq({a["Key"]: a["Value"] for a in p["LoadBalancerAttributes"]}, {"load_balancing.cross_zone.enabled": "true"},
           "cross-zone on")


@tap.case
def endpoint_service_principals_acceptance_regions():
    for name, params, svc in (("fleet.yml", FLEET, "EndpointService"), ("template.yml", DNS, "EndpointService")):
        t = tpl(name)
        spec = t["Parameters"]["SupportedRegions"]
        tap.eq((spec["Type"], spec["Default"]), ("CommaDelimitedList", ""), "%s: SupportedRegions, empty by default"
               % name)
        p = stack(name, **params).resources[svc]["Properties"]
        tap.eq(p["NetworkLoadBalancerArns"], ["<LoadBalancer>"], "%s: the service on the NLB" % name)
        tap.eq(p["AcceptanceRequired"], "true", "%s: acceptance required by default" % name)
        tap.ok("SupportedRegions" not in p, "%s: not passed when empty (this Region only)" % name)
        p = stack(name, **dict(params, SupportedRegions="us-east-1, eu-central-1")).resources[svc]["Properties"]
        tap.eq(p["SupportedRegions"], ["us-east-1", "eu-central-1"], "%s: passed when set" % name)
    s = stack("fleet.yml", **FULL)
    tap.eq(s.resources["EndpointServicePermissions"]["Properties"],
           {"ServiceId": "<EndpointService>", "AllowedPrincipals": ["arn:aws:iam::444455556666:root"]}, "principals")
    tap.eq(fleet(AcceptanceRequired="false").resources["EndpointService"]["Properties"]["AcceptanceRequired"], "false",
           "acceptance from its parameter")


@tap.case
def consumer_in_another_region():
    params = {"ServiceName": "com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0", "VpcId": "vpc-0def",
              "SubnetIds": "subnet-c,subnet-d"}
    p = stack("consumer.yml", **params).resources["Endpoint"]["Properties"]
    tap.ok("ServiceRegion" not in p, "the service's own Region by default")
    p = stack("consumer.yml", **dict(params, ServiceRegion="eu-west-1")).resources["Endpoint"]["Properties"]
    tap.eq(p["ServiceRegion"], "eu-west-1", "the provider's Region when given")
    tap.ok(re.fullmatch(tpl("consumer.yml")["Parameters"]["ServiceRegion"]["AllowedPattern"], "ap-southeast-2"),
           "a Region name passes the pattern")


# ----------------------------------------------------------------- function ---

@tap.case
def function_in_fleet_mode():
    s = fleet()
    p = s.resources["Function"]["Properties"]
    tap.eq((p["Runtime"], p["Handler"], p["Architectures"], p["Code"]),
           ("provided.al2023", "bootstrap", ["arm64"], "build/function-arm64.zip"), "the same package as template.yml")
    tap.eq(p["Code"], tpl()["Resources"]["Function"]["Properties"]["Code"], "template.yml's Code path")
    env = env_of(s, "Function")
    tap.eq(env["FLEET_LOAD_BALANCER_ARNS"], "<LoadBalancer>", "the stack's NLB")
    tap.eq(sorted(FORBIDDEN_ENV & set(env)), [], "no single-database variable (a configuration error in fleet mode)")
    tap.eq((env["PROXY_MISSES"], env["FAILOVER_WAIT_SECONDS"], env["DNS_POLL_MS"], env["DRY_RUN"],
            env["FLEET_MAX_API_CALLS"]), ("3", "60", "1000", "false", "1000"),
           "section 14's variables, section 3's shared ones, the sweep's cap")
    known = handler_variables()
    tap.ok(len(known) >= 15, "the handler's configuration table read: %s" % sorted(known))
    tap.eq(sorted(set(env) - known), [], "every variable is one the handler reads (handler/sync/config.c)")
    for key in ("ALLOWED_CIDRS", "IP_FAMILY", "METRICS_NAMESPACE", "TARGET_AVAILABILITY_ZONE"):
        tap.ok(key in env, "%s for every binding" % key)
    env = env_of(stack("fleet.yml", **FULL), "Function")
    tap.eq(env["FLEET_LOAD_BALANCER_ARNS"].split(","), ["<LoadBalancer>"] + EXTRA, "plus ExtraLoadBalancerArns")
    tap.ok("at most 19" in tpl("fleet.yml")["Parameters"]["ExtraLoadBalancerArns"]["Description"],
           "at most 19 extra: the contract's 20 load balancers in all")
    log = p["LoggingConfig"]
    tap.eq((log["LogFormat"], log["LogGroup"]), ("JSON", "<LogGroup>"), "JSON logs to the stack's log group")
    shared = tap.shared_dir()
    if shared:
        with open(os.path.join(shared, "CONTRACT.md")) as f:
            contract = f.read()
        for var in set(env) - set(ADDED_ENV) - {"FLEET_MAX_API_CALLS"}:  # the sweep's cap is ours
            tap.ok("`%s`" % var in contract, "%s is in CONTRACT.md" % var)


@tap.case
def function_concurrency_and_timeout():
    t = tpl("fleet.yml")
    p = fleet().resources["Function"]["Properties"]
    spec = t["Parameters"]["ReservedConcurrency"]
    tap.eq(p["ReservedConcurrentExecutions"], str(spec["Default"]), "reserved concurrency from its parameter")
    tap.ok(int(spec["MinValue"]) >= 2, "never 1: a storm's events must run side by side (section 14, Storms)")
    for wait, seconds in t["Mappings"]["FunctionTimeout"].items():
        tap.eq(int(seconds["Seconds"]), int(wait) + 120, "timeout for a %s s wait" % wait)
        tap.ok(int(seconds["Seconds"]) <= 900, "within Lambda's 900 s")
    tap.eq(sorted(t["Mappings"]["FunctionTimeout"], key=int), [str(v) for v in t["Parameters"]["FailoverWaitSeconds"]
                                                                ["AllowedValues"]], "a timeout for every wait")
    tap.eq(fleet(FailoverWaitSeconds="300").resources["Function"]["Properties"]["Timeout"], 420, "300 s wait")


@tap.case
def function_in_a_vpc():
    s = stack("fleet.yml", **FULL)
    vpc = s.resources["Function"]["Properties"]["VpcConfig"]
    tap.eq(vpc, {"SubnetIds": ["subnet-p1", "subnet-p2"],
                 "SecurityGroupIds": ["<FunctionSecurityGroup.GroupId>", "sg-0123"]}, "subnets and security groups")
    sg = s.resources["FunctionSecurityGroup"]["Properties"]
    tap.eq([(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in sg["SecurityGroupEgress"]], [("tcp", 443, 443)],
           "HTTPS out only")
    tap.ok("VpcConfig" not in fleet().resources["Function"]["Properties"], "outside a VPC by default")


def handler_variables():
    """The variables of the handler's configuration table (handler/sync/config.c)."""
    with open(handler_source("config.c")) as f:
        return set(re.findall(r'^\s*(?:\{|INT_ROW\()"([A-Z][A-Z0-9_]+)"', f.read(), re.M))


def handler_api_actions():
    """The ELBv2 and RDS actions the handler's clients name (handler/aws/elbv2*.c, rds*.c)."""
    out = set()
    for prefix, pattern in (("elasticloadbalancing", "elbv2*.c"), ("rds", "rds*.c")):
        for path in glob.glob(os.path.join(ROOT, "handler", "aws", pattern)):
            with open(path) as f:
                names = re.findall(r'"((?:Describe|Register|Deregister|Add|Modify|Remove)[A-Za-z]+)"', f.read())
            out |= {"%s:%s" % (prefix, n) for n in names if not n.endswith(("Result", "Response"))}
    return out


def misses_tag():
    """The tag the function keeps an RDS Proxy binding's miss counts in (handler/sync/proxy.h)."""
    with open(handler_source("proxy.h")) as f:
        m = re.search(r'#define FLEET_MISSES_TAG "([^"]+)"', f.read())
    tap.ok(m, "FLEET_MISSES_TAG read")
    return m.group(1)


def cursor_tag():
    """The tag a capped sweep keeps its cursor in (handler/sync/fleet_internal.h)."""
    with open(handler_source("fleet_internal.h")) as f:
        m = re.search(r'#define FLEET_CURSOR_TAG "([^"]+)"', f.read())
    tap.ok(m, "FLEET_CURSOR_TAG read")
    return m.group(1)


def fleet_metrics_dimension():
    """The TargetGroup dimension fleet mode writes its one metric set with (handler/sync/handler.c)."""
    with open(handler_source("handler.c")) as f:
        found = re.findall(r'metrics_emit\([^;]*?"([^"]+)"', f.read())
    tap.eq(len(found), 1, "one fixed dimension in handler.c: %r" % found)
    return found[0]


# ---------------------------------------------------------------------- IAM ---

def _matches(pattern, value):
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), value) is not None


def _condition_holds(condition, tags, tag_keys):
    """The operators and keys the templates use: Null on a resource tag, and ForAllValues over the
    request's aws:TagKeys; anything else is an error rather than a guess."""
    for op, keys in (condition or {}).items():
        for key, want in keys.items():
            want = cfnyaml.as_list(want)
            if op == "Null" and key.startswith("aws:ResourceTag/"):
                if (key.split("/", 1)[1] not in tags) != (want == ["true"]):
                    return False
            elif op == "ForAllValues:StringLike" and key == "aws:TagKeys":
                if not all(any(_matches(w, k) for w in want) for k in tag_keys):
                    return False
            else:
                raise AssertionError("%s on %s is not modelled here" % (op, key))
    return True


def allowed(role, action, resource, tags=None, tag_keys=()):
    """Whether the role's Allow statements grant action on resource with these resource tags and,
    for a tagging call, these request tag keys (identity policies only: no Deny, no boundary)."""
    for policy in role["Properties"]["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            if st["Effect"] == "Allow" and any(_matches(a, action) for a in cfnyaml.as_list(st["Action"])) and \
                    any(_matches(r, resource) for r in cfnyaml.as_list(st["Resource"])) and \
                    _condition_holds(st.get("Condition"), tags or {}, tag_keys):
                return True
    return False


@tap.case
def role_changes_only_tagged_target_groups():
    role = fleet().resources["FunctionRole"]
    source = {"rds-nlb-sync:source": "dns:orders-db.abc123xyz.eu-west-1.rds.amazonaws.com"}
    for action in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
        tap.ok(allowed(role, action, TAGGED_GROUP, source), "%s on a group with the source tag" % action)
        tap.ok(not allowed(role, action, TAGGED_GROUP, {}), "%s not on an untagged group" % action)
        tap.ok(not allowed(role, action, TAGGED_GROUP, {"rds-nlb-sync:role": "writer"}), "not without source")
        tap.ok(not allowed(role, action, TAGGED_GROUP.replace("111122223333", "999988887777"), source),
               "%s not in another account" % action)
        tap.ok(not allowed(role, action, TAGGED_GROUP.replace("eu-west-1", "us-east-1"), source),
               "%s not in another Region" % action)
    for action in ("DescribeTargetGroups", "DescribeTags", "DescribeTargetHealth"):
        tap.ok(allowed(role, "elasticloadbalancing:" + action, "*"), "%s on * (no resource type)" % action)
    for action in ("elasticloadbalancing:ModifyListener", "elasticloadbalancing:DeleteTargetGroup",
                   "elasticloadbalancing:CreateTargetGroup"):
        tap.ok(not allowed(role, action, TAGGED_GROUP, source), "no %s" % action)
    misses, cursor = misses_tag(), cursor_tag()
    tap.eq([misses, cursor], ["rds-nlb-sync:misses", "rds-nlb-sync:sweep-next"])
    numbered = misses + ":2"
    for tagging in ("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"):
        for key in (misses, numbered, cursor):
            tap.ok(allowed(role, tagging, TAGGED_GROUP, source, [key]), "%s of %s on a bound group" % (tagging, key))
            tap.ok(not allowed(role, tagging, TAGGED_GROUP, {}, [key]), "not on an untagged group")
        tap.ok(allowed(role, tagging, TAGGED_GROUP, source, [misses, misses + ":16", cursor]), "all three at once")
        for key in sorted(BINDING_TAGS) + ["team", "rds-nlb-sync:other"]:
            tap.ok(not allowed(role, tagging, TAGGED_GROUP, source, [cursor, key]), "never %s" % key)
            tap.ok(not allowed(role, tagging, TAGGED_GROUP, source, [numbered, key]), "nor beside a count")
    # The rule the policy relies on: the tag condition sits on the write statement itself.
    writes = [st for st in cfnyaml.statements(tpl("fleet.yml")["Resources"]["FunctionRole"]["Properties"]["Policies"]
                                              [0]["PolicyDocument"])
              if "elasticloadbalancing:RegisterTargets" in cfnyaml.as_list(st["Action"])]
    tap.eq(len(writes), 1, "one statement grants the writes")
    tap.eq(writes[0]["Condition"], {"Null": {"aws:ResourceTag/rds-nlb-sync:source": "false"}},
           "the group must carry rds-nlb-sync:source")


@tap.case
def role_reads_rds_and_writes_only_its_logs():
    s = fleet()
    role = s.resources["FunctionRole"]
    for arn in ("arn:aws:rds:eu-west-1:111122223333:cluster:aurora-orders",
                "arn:aws:rds:eu-west-1:111122223333:db:aurora-orders-instance-1"):
        for action in ("rds:DescribeDBClusters", "rds:DescribeDBInstances"):
            tap.ok(allowed(role, action, arn), "%s on %s (any cluster a binding names)" % (action, arn))
    tap.ok(not allowed(role, "rds:DescribeDBClusters", "arn:aws:rds:us-east-1:111122223333:cluster:x"),
           "not in another Region")
    tap.ok(not allowed(role, "rds:ModifyDBCluster", "arn:aws:rds:eu-west-1:111122223333:cluster:x"), "reads only")
    tap.ok(allowed(role, "logs:PutLogEvents", "<LogGroup.Arn>") and not allowed(role, "logs:PutLogEvents", "*"),
           "its own log group only")
    tap.ok(not allowed(role, "ec2:CreateNetworkInterface", "*"), "no network interfaces outside a VPC")
    tap.ok(not allowed(role, "sns:Publish", "*"), "no publishing without an alert topic")
    actions = set()
    for policy in role["Properties"]["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            actions |= set(cfnyaml.as_list(st["Action"]))
    tap.eq(sorted(actions), sorted({"logs:CreateLogStream", "logs:PutLogEvents",
                                    "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTags",
                                    "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:RegisterTargets",
                                    "elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:AddTags",
                                    "elasticloadbalancing:RemoveTags",
                                    "rds:DescribeDBClusters",
                                    "rds:DescribeDBInstances"}), "every action, and no other")
    called = handler_api_actions()
    tap.ok({"elasticloadbalancing:RegisterTargets", "rds:DescribeDBClusters"} <= called,
           "the handler's API actions read: %s" % sorted(called))
    tap.eq(sorted(a for a in actions if a.split(":")[0] in ("elasticloadbalancing", "rds") and a not in called), [],
           "every ELBv2 and RDS action granted is one the handler calls (handler/aws/)")
    full = stack("fleet.yml", **FULL).resources["FunctionRole"]
    tap.ok(allowed(full, "ec2:CreateNetworkInterface", "*"), "network interfaces in a VPC")
    tap.ok(allowed(full, "sns:Publish", "<AlertTopic>") and not allowed(full, "sns:Publish", TOPIC),
           "the alert topic only")
    given = fleet(AlertTopicArn=TOPIC).resources["FunctionRole"]
    tap.ok(allowed(given, "sns:Publish", TOPIC), "a given topic")
    china = cfneval.Stack(tpl("fleet.yml"), dict(FLEET, **{"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1"}))
    tap.ok(allowed(china.resources["FunctionRole"], "elasticloadbalancing:RegisterTargets",
                   "arn:aws-cn:elasticloadbalancing:cn-north-1:111122223333:targetgroup/a/1",
                   {"rds-nlb-sync:source": "cluster:aurora-orders"}),
           "the partition and Region come from the stack")


@tap.case
def iam_finding_documented():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    tap.ok("service-authorization/latest/reference/list_awselasticloadbalancingv2.html" in readme,
           "README.md cites the Service Authorization Reference page for ELBv2")
    tap.ok("aws:ResourceTag/rds-nlb-sync:source" in readme, "README.md shows the condition")


# ------------------------------------------------------------------ triggers ---

def handler_event_ids():
    with open(handler_source("event.c")) as f:
        return sorted(set(re.findall(r"RDS-EVENT-\d{4}", f.read())))


@tap.case
def rds_event_rule_account_wide_on_the_handlers_failover_events():
    s = fleet()
    p = s.resources["RdsEventRule"]["Properties"]
    pattern = p["EventPattern"]
    tap.eq((pattern["source"], pattern["detail-type"]), (["aws.rds"], ["RDS DB Instance Event", "RDS DB Cluster Event"]),
           "RDS instance and cluster events")
    tap.eq(sorted(pattern["detail"]), ["EventID"], "account-wide: no SourceIdentifier")
    ids = handler_event_ids()
    tap.ok(len(ids) >= 11, "the handler's failover event IDs read: %s" % ids)
    tap.eq(sorted(pattern["detail"]["EventID"]), ids, "exactly the events the handler waits on (sections 6 and 11)")
    tap.ok(len(json.dumps(pattern)) <= 2048, "within EventBridge's 2,048-character pattern")
    tap.eq((p["State"], p["Targets"]), ("ENABLED", [{"Id": "rds-nlb-sync-fleet", "Arn": "<Function.Arn>"}]),
           "enabled, to the function")
    perm = s.resources["RdsEventRulePermission"]["Properties"]
    tap.eq((perm["Principal"], perm["SourceArn"], perm["FunctionName"]),
           ("events.amazonaws.com", "<RdsEventRule.Arn>", "<Function.Arn>"), "its Lambda permission")


@tap.case
def sweep_schedule_sharded():
    for shards in range(1, 6):
        s = fleet(SweepShards=str(shards), ScheduleExpression="rate(2 minutes)")
        p = s.resources["ScheduleRule"]["Properties"]
        tap.eq((p["ScheduleExpression"], p["State"]), ("rate(2 minutes)", "ENABLED"), "the schedule")
        targets = p["Targets"]
        tap.eq([t["Id"] for t in targets], ["sweep-%d" % k for k in range(shards)], "%d targets" % shards)
        tap.ok(all(t["Arn"] == "<Function.Arn>" for t in targets), "each invokes the function")
        if shards == 1:
            tap.ok("Input" not in targets[0], "one shard: the scheduled event as it is")
            continue
        for k, t in enumerate(targets):
            event = json.loads(t["Input"])
            tap.eq((event["source"], event["detail-type"]), ("aws.events", "Scheduled Event"),
                   "a scheduled event (section 4)")
            tap.eq((event["shard"], event["shards"]), (k, shards), "shard %d of %d" % (k, shards))
    tap.eq(tpl("fleet.yml")["Parameters"]["SweepShards"]["AllowedValues"], [1, 2, 3, 4, 5],
           "at most 5: an EventBridge rule's targets")
    perm = fleet().resources["SchedulePermission"]["Properties"]
    tap.eq((perm["Principal"], perm["SourceArn"]), ("events.amazonaws.com", "<ScheduleRule.Arn>"), "permission")


# ------------------------------------------------------------------- alerts ---

def alarm(s, name):
    return s.resources[name]["Properties"]


@tap.case
def alarms_and_failure_destination():
    s = stack("fleet.yml", **FULL)
    want = {
        "FunctionErrorsAlarm": ("AWS/Lambda", "Errors", [("FunctionName", "<Function>")], "Sum", 300,
                                "GreaterThanOrEqualToThreshold", "notBreaching"),
        "BindingErrorsAlarm": ("RdsNlbSync", "Errors", [("TargetGroup", fleet_metrics_dimension())], "Sum", 300,
                               "GreaterThanOrEqualToThreshold", "notBreaching"),
        "ThrottlesAlarm": ("AWS/Lambda", "Throttles", [("FunctionName", "<Function>")], "Sum", 300,
                           "GreaterThanOrEqualToThreshold", "notBreaching"),
    }
    for name, w in want.items():
        p = alarm(s, name)
        got = (p["Namespace"], p["MetricName"], [(d["Name"], d["Value"]) for d in p.get("Dimensions", [])],
               p["Statistic"], p["Period"], p["ComparisonOperator"], p["TreatMissingData"])
        tap.eq(got, w, name)
        tap.eq((p["Threshold"], p["EvaluationPeriods"]), (1, 1), "%s: once in one period" % name)
    p = alarm(s, "NoSuccessfulRunAlarm")
    tap.eq([q["Id"] for q in p["Metrics"]], ["successes", "invocations", "errors"], "successes = invocations - errors")
    tap.eq(p["Metrics"][1]["MetricStat"]["Period"], 300, "one schedule period")
    tap.eq((p["TreatMissingData"], p["EvaluationPeriods"]), ("breaching", 3), "three periods; no data breaches")
    for name in ("FunctionErrorsAlarm", "BindingErrorsAlarm", "ThrottlesAlarm", "NoSuccessfulRunAlarm"):
        tap.eq((alarm(s, name)["AlarmActions"], alarm(s, name)["OKActions"]), (["<AlertTopic>"], ["<AlertTopic>"]),
               "%s: to the alert topic, fired and cleared" % name)
        tap.ok("First:" in alarm(s, name)["AlarmDescription"], "%s says what to check first" % name)
        tap.ok(not {"AlarmActions", "OKActions"} & set(alarm(fleet(), name)), "%s: no actions without a topic" % name)
        tap.eq(alarm(fleet(AlertTopicArn=TOPIC), name)["AlarmActions"], [TOPIC], "%s: a given topic" % name)
    cfg = s.resources["FunctionEventInvokeConfig"]["Properties"]
    tap.eq((cfg["FunctionName"], cfg["MaximumRetryAttempts"], cfg["MaximumEventAgeInSeconds"],
            cfg["DestinationConfig"]), ("<Function>", 2, 900, {"OnFailure": {"Destination": "<AlertTopic>"}}),
           "failed asynchronous runs go to the alert topic")
    tap.ok("DestinationConfig" not in fleet().resources["FunctionEventInvokeConfig"]["Properties"], "none without")
    sub = s.resources["AlertEmailSubscription"]["Properties"]
    tap.eq((sub["Protocol"], sub["Endpoint"], sub["TopicArn"]), ("email", "oncall@example.com", "<AlertTopic>"), "mail")
    tap.eq(alarm(fleet(MetricsNamespace="Platform/Db"), "BindingErrorsAlarm")["Namespace"], "Platform/Db",
           "the function's namespace")
    tap.ok(cfneval.rule_violations(tpl("fleet.yml"), dict(FLEET, AlertEmail="a@example.com", AlertTopicArn=TOPIC)),
           "not both AlertEmail and AlertTopicArn")


# ---------------------------------------------------------------- dashboard ---

def searches(body):
    out = []
    for w in body["widgets"]:
        for m in w["properties"].get("metrics", []):
            for item in m:
                if isinstance(item, dict) and "expression" in item:
                    out.append(item["expression"])
    return out


@tap.case
def dashboard_does_not_grow_with_the_fleet():
    s = fleet()
    body = json.loads(s.resources["Dashboard"]["Properties"]["DashboardBody"])
    widgets = body["widgets"]
    tap.eq([w["type"] for w in widgets], ["metric"] * 4 + ["log"], "four metric widgets and the log")
    lb = "LoadBalancer=\"<LoadBalancer.LoadBalancerFullName>\""
    exprs = searches(body)
    tap.eq(len(exprs), 4, "expressions: %r" % exprs)
    tap.eq(exprs[0], "SEARCH('{AWS/NetworkELB,LoadBalancer,TargetGroup} MetricName=\"HealthyHostCount\" %s', "
           "'Maximum', 60)" % lb, "one line per target group of the NLB, whatever their number")
    tap.ok(exprs[1].startswith("MIN(SEARCH(") and "HealthyHostCount" in exprs[1], "the fleet's worst group")
    tap.ok(exprs[2].startswith("SUM(SEARCH(") and "UnHealthyHostCount" in exprs[2], "unhealthy hosts of all groups")
    tap.eq(exprs[3], "SEARCH('Namespace=\"RdsNlbSync\"', 'Sum', 300)", "the function's own metrics, a fixed set")
    for w in widgets[:3]:
        for m in w["properties"]["metrics"]:
            tap.ok(not any("TargetGroup" == x for x in m if isinstance(x, str)), "no widget names a target group")
    check_widget_grid(widgets)
    body = json.loads(fleet(MetricsNamespace="").resources["Dashboard"]["Properties"]["DashboardBody"])
    tap.eq(len(body["widgets"]), 4, "no metrics widget when metrics are off")
    tap.eq(s.outputs["DashboardUrl"],
           "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/<Dashboard>", "URL")


@tap.case
def dashboard_failed_bindings_query():
    logged = handler_messages()
    tap.ok(len(logged) >= 10, "the handler's log messages read")
    body = json.loads(fleet().resources["Dashboard"]["Properties"]["DashboardBody"])
    q = body["widgets"][-1]["properties"]["query"]
    parts = [p.strip() for p in q.split(" | ")]
    tap.eq(parts[0], "SOURCE '<LogGroup>'", "the function's log group")
    tap.ok("host" in parts[1], "each line's database")
    m = re.fullmatch(r"filter message like /(.+)/", [p for p in parts if p.startswith("filter ")][0])
    for message in ("plan", "registering targets", "deregistering targets", "failed"):
        tap.ok(message in logged and re.search(m.group(1), message), "%r is logged and listed" % message)


# ---------------------------------------------------------- exports, README ---

@tap.case
def exports_are_what_database_yml_imports():
    s = fleet()
    t = tpl("fleet.yml")
    exports = {o["Export"]["Name"]["Fn::Sub"].replace("${AWS::StackName}", "${FleetStackName}"): name
               for name, o in t["Outputs"].items() if "Export" in o}
    tap.eq(sorted(exports.values()), ["FunctionArn", "LoadBalancerArn"], "what a database stack needs")
    tap.eq((s.outputs["LoadBalancerArn"], s.outputs["FunctionArn"]), ("<LoadBalancer>", "<Function.Arn>"), "values")
    imported = set()
    for _, fn, arg in cfnyaml.intrinsics(tpl("database.yml")):
        if fn == "Fn::ImportValue":
            imported.add(arg["Fn::Sub"])
    tap.eq(sorted(imported), sorted(exports), "database.yml imports exactly these")


@tap.case
def parameters_documented():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for name in ("fleet.yml", "database.yml"):
        for p in tpl(name)["Parameters"]:
            tap.ok("`%s`" % p in readme, "README.md documents %s's %s" % (name, p))
    for term in ("`vpce:AllowMultiRegion`", "`ServiceRegion`", "`SupportedRegions`"):
        tap.ok(term in readme, "README.md, cross-Region consumers: %s" % term)


tap.main()
