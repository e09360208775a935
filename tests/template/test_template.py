#!/usr/bin/python3
"""template.yml (provider stack) and consumer.yml (consumer endpoint), read with
CloudFormation's tags (cfnyaml.py), checked against AWS's resource specification
(cfn-spec.json, cfnspec.py), for internal consistency (every Ref, GetAtt, Sub
variable and Condition resolves, every parameter is used) and for the properties
issue 7 and lessons.md ask for. yamllint must pass with the repository's .yamllint."""
import copy
import json
import glob
import os
import re
import shutil
import subprocess

import cfnchecks
import cfneval
import cfnspec
import cfnyaml
import tap

ROOT = tap.root()
TEMPLATES = {name: os.path.join(ROOT, name) for name in ("template.yml", "consumer.yml")}
_cache = {}

# README.md, "Configuration" and "Clusters" (the function's configuration); AWS_* ones are Lambda's own.
CONTRACT_ENV = ["TARGET_GROUP_ARN", "DB_ENDPOINT", "DB_PORT", "DB_IDENTIFIER", "ALLOWED_CIDRS", "IP_FAMILY",
                "FAILOVER_WAIT_SECONDS", "DNS_POLL_MS", "DRY_RUN", "METRICS_NAMESPACE", "DB_CLUSTER_IDENTIFIER",
                "DB_ROLE"]
REQUIRED_ENV = ["TARGET_GROUP_ARN", "DB_ENDPOINT", "DB_PORT"]
# Our additions to section 3, documented in README.md's configuration table.
ADDED_ENV = ["TARGET_AVAILABILITY_ZONE"]


def tpl(name="template.yml"):
    if name not in _cache:
        _cache[name] = cfnyaml.load(TEMPLATES[name])
    return copy.deepcopy(_cache[name])


def res(name, t=None):
    t = t or tpl()
    tap.ok(name in t["Resources"], "resource %s exists" % name)
    return t["Resources"][name]


def props(name, t=None):
    return res(name, t).get("Properties", {})


def ref(name):
    return {"Ref": name}


def getatt(name, attr):
    return {"Fn::GetAtt": [name, attr]}


def attributes(resource_props, key_field="Key", value_field="Value"):
    return {a[key_field]: a[value_field] for a in resource_props}


def param(name, t=None):
    t = t or tpl()
    tap.ok(name in t["Parameters"], "parameter %s exists" % name)
    return t["Parameters"][name]


# ------------------------------------------------------------ evaluation ---

def evaluate(node, params, conditions, t):
    """Evaluates a condition expression for the given parameter values."""
    if isinstance(node, dict):
        fn, arg = next(iter(node.items()))
        if fn == "Condition":
            return evaluate(t["Conditions"][arg], params, conditions, t)
        if fn == "Ref":
            if arg == "AWS::Partition":
                return params.get(arg, "aws")
            value = params.get(arg, t["Parameters"][arg].get("Default"))
            if t["Parameters"][arg]["Type"] == "CommaDelimitedList":
                return [v.strip() for v in str(value).split(",")]
            return str(value)
        if fn == "Fn::Join":
            items = evaluate(arg[1], params, conditions, t)
            return arg[0].join(evaluate(i, params, conditions, t) for i in items) if isinstance(items, list) \
                else items
        if fn == "Fn::Equals":
            return evaluate(arg[0], params, conditions, t) == evaluate(arg[1], params, conditions, t)
        if fn == "Fn::Not":
            return not evaluate(arg[0], params, conditions, t)
        if fn == "Fn::And":
            return all(evaluate(a, params, conditions, t) for a in arg)
        if fn == "Fn::Or":
            return any(evaluate(a, params, conditions, t) for a in arg)
        raise AssertionError("cannot evaluate %s" % fn)
    if isinstance(node, list):
        return [evaluate(n, params, conditions, t) for n in node]
    return node


def condition(name, **params):
    t = tpl()
    return evaluate(t["Conditions"][name], params, {}, t)


# ----------------------------------------------------------------- style ---

@tap.case
def yamllint_clean():
    tap.need("yamllint", "yamllint")
    proc = subprocess.run(["yamllint", "--strict", "-c", os.path.join(ROOT, ".yamllint")] + list(TEMPLATES.values()),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    tap.eq(proc.returncode, 0, "yamllint: %s" % proc.stdout.decode(errors="replace").strip()[:600])


# The one warning cfn-lint may give: a function's Code is a local path, which
# `aws cloudformation package` uploads (README, Deploy).
CFN_LINT_ALLOWED = {"W3002"}


@tap.case
def cfn_lint_clean():
    # cfn-lint is not in Debian 12, so make deps cannot install it; the machines this
    # project's CI runs on have it (pip). Where it is absent the structural checks below
    # still run.
    exe = shutil.which("cfn-lint")
    if not exe:
        tap.skip("cfn-lint is not installed (not packaged in Debian 12)")
    proc = subprocess.run([exe, "--format", "parseable"] + list(TEMPLATES.values()), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, cwd=ROOT, timeout=600)
    out = proc.stdout.decode(errors="replace")
    findings = [line for line in out.splitlines() if line.strip()]
    rules = [(re.search(r":([EWI]\d{4}):", f) or re.search("(.*)", f)).group(1) for f in findings]
    tap.eq([f for f, r in zip(findings, rules) if r not in CFN_LINT_ALLOWED], [], "cfn-lint findings")
    tap.ok(proc.returncode in (0, 4), "cfn-lint exit status %d (2: errors): %s" % (proc.returncode, out[-600:]))


@tap.case
def yamllint_config_is_strict():
    with open(os.path.join(ROOT, ".yamllint")) as f:
        text = f.read()
    tap.ok(re.search(r"^extends: default$", text, re.M), ".yamllint extends the default rules")
    tap.eq(re.findall(r"^  ([a-z-]+):", text, re.M), ["line-length"], "rules relaxed")


# ------------------------------------------------- specification and refs ---

def spec_errors(t):
    spec = cfnspec.load()
    checker = cfnspec.Checker(spec)
    packed = cfnspec.packaged(t)
    for name, r in packed["Resources"].items():
        checker.resource(name, r)
    return checker.errors + cfnspec.getatt_errors(spec, packed)


@tap.case
def provider_matches_resource_specification():
    tap.eq(spec_errors(tpl()), [], "template.yml against the CloudFormation specification")


@tap.case
def consumer_matches_resource_specification():
    tap.eq(spec_errors(tpl("consumer.yml")), [], "consumer.yml against the CloudFormation specification")


@tap.case
def specification_check_catches_mistakes():
    # The check above must be able to fail: a misspelt property, a wrong enum value,
    # a missing required property, an unknown attribute and a bad nested key.
    t = tpl()
    t["Resources"]["TargetGroup"]["Properties"]["HealthCheckIntervalSecs"] = 5
    t["Resources"]["Function"]["Properties"]["LoggingConfig"]["LogFormat"] = "Json"
    del t["Resources"]["Listener"]["Properties"]["LoadBalancerArn"]
    t["Outputs"]["NlbDnsName"]["Value"] = getatt("LoadBalancer", "DnsName")
    t["Resources"]["Function"]["Properties"]["Environment"]["Vars"] = {}
    errors = "\n".join(spec_errors(t))
    for needle in ["unknown property HealthCheckIntervalSecs", "'Json' is not one of",
                   "required property LoadBalancerArn", "no attribute DnsName", "unknown property Vars"]:
        tap.ok(needle in errors, "expected an error with %r in:\n%s" % (needle, errors))


def reference_errors(t):
    errors = []
    params, resources = set(t.get("Parameters", {})), set(t.get("Resources", {}))
    conditions = set(t.get("Conditions", {}))
    mappings = t.get("Mappings", {})
    used_params, used_conditions = set(), set()
    for path, fn, arg in cfnyaml.intrinsics({k: v for k, v in t.items() if k != "Rules"}):
        if fn == "Ref":
            used_params.add(arg)
            if arg not in params | resources | cfnyaml.PSEUDO:
                errors.append("%s: Ref to unknown %s" % (path, arg))
        elif fn == "Fn::Sub":
            for name in cfnyaml.sub_names(arg):
                base = name.split(".")[0]
                used_params.add(base)
                if base not in params | resources and name not in cfnyaml.PSEUDO:
                    errors.append("%s: Sub of unknown ${%s}" % (path, name))
        elif fn in ("Fn::If", "Condition"):
            name = arg[0] if fn == "Fn::If" else arg
            used_conditions.add(name)
            if name not in conditions:
                errors.append("%s: unknown condition %s" % (path, name))
        elif fn == "Fn::FindInMap":
            if arg[0] not in mappings:
                errors.append("%s: unknown mapping %s" % (path, arg[0]))
    for name, r in t.get("Resources", {}).items():
        if "Condition" in r:
            used_conditions.add(r["Condition"])
            if r["Condition"] not in conditions:
                errors.append("%s: unknown condition %s" % (name, r["Condition"]))
        for dep in cfnyaml.as_list(r.get("DependsOn", [])):
            if dep not in resources:
                errors.append("%s: DependsOn unknown %s" % (name, dep))
    for p in sorted(params - used_params):
        errors.append("parameter %s is never used" % p)
    for c in sorted(conditions - used_conditions):
        errors.append("condition %s is never used" % c)
    return errors


@tap.case
def provider_references_resolve_and_parameters_are_used():
    tap.eq(reference_errors(tpl()), [], "template.yml")


@tap.case
def consumer_references_resolve_and_parameters_are_used():
    tap.eq(reference_errors(tpl("consumer.yml")), [], "consumer.yml")


@tap.case
def reference_check_catches_mistakes():
    t = tpl()
    t["Parameters"]["Unused"] = {"Type": "String"}
    t["Resources"]["Listener"]["Properties"]["Port"] = ref("ListenPort")
    t["Resources"]["ElbVpcEndpoint"]["Condition"] = "CreateElbEndpointTypo"
    errors = "\n".join(reference_errors(t))
    for needle in ["parameter Unused is never used", "Ref to unknown ListenPort", "unknown condition CreateElbEndpointTypo"]:
        tap.ok(needle in errors, "expected %r in:\n%s" % (needle, errors))


@tap.case
def rules_use_rule_functions_only():
    allowed = {"Fn::And", "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::Equals", "Fn::Not",
               "Fn::Or", "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll", "Ref"}

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                if (k.startswith("Fn::") or k == "Ref") and k not in allowed:
                    raise AssertionError("%s uses %s, not a rule function" % (path, k))
                walk(v, path + "/" + k)
        elif isinstance(node, list):
            for v in node:
                walk(v, path)
    rules = tpl().get("Rules", {})
    tap.ok(rules, "the template has rules")
    walk(rules, "Rules")


# ------------------------------------------------------------ load balancer ---

@tap.case
def nlb_internal_with_cross_zone():
    p = props("LoadBalancer")
    tap.eq(res("LoadBalancer")["Type"], "AWS::ElasticLoadBalancingV2::LoadBalancer", "type")
    tap.eq(p["Type"], "network", "NLB")
    tap.eq(p["Scheme"], "internal", "scheme")
    tap.eq(p["Subnets"], ref("SubnetIds"), "subnets")
    tap.eq(attributes(p["LoadBalancerAttributes"]).get("load_balancing.cross_zone.enabled"), "true", "cross-zone")


@tap.case
def target_group_tcp_ip_with_connection_termination():
    p = props("TargetGroup")
    tap.eq((p["Protocol"], p["TargetType"]), ("TCP", "ip"), "protocol and target type")
    tap.eq(p["Port"], ref("DbPort"), "port")
    tap.eq(p["VpcId"], ref("VpcId"), "VPC")
    tap.ok("Targets" not in p, "the template does not own the targets (the function does)")
    a = attributes(p["TargetGroupAttributes"])
    tap.eq(a.get("deregistration_delay.timeout_seconds"), ref("DeregistrationDelaySeconds"), "delay")
    tap.eq(a.get("deregistration_delay.connection_termination.enabled"), ref("ConnectionTermination"),
           "connection termination")
    tap.eq(str(param("ConnectionTermination")["Default"]), "true", "connection termination on by default")
    tap.eq(param("ConnectionTermination")["AllowedValues"], ["true", "false"], "connection termination values")
    delay = param("DeregistrationDelaySeconds")
    tap.ok(0 <= int(delay["MinValue"]) and int(delay["MaxValue"]) <= 3600, "delay range within 0..3600")
    tap.ok(int(delay["Default"]) <= 30, "a short delay by default (writer endpoint)")


HEALTH_CHECK = {"HealthCheckIntervalSeconds": (5, 300), "HealthCheckTimeoutSeconds": (2, 120),
                "HealthyThresholdCount": (2, 10), "UnhealthyThresholdCount": (2, 10)}


@tap.case
def health_check_fast_and_valid():
    # The settings are parameters now (issue 16); their defaults are what a stack gets.
    t = tpl()
    for group in ("TargetGroup", "ReaderTargetGroup"):
        p = props(group, t)
        tap.eq((p["HealthCheckProtocol"], p["HealthCheckPort"]), ("TCP", "traffic-port"), "%s: TCP checks" % group)
        for key, (low, high) in HEALTH_CHECK.items():
            tap.eq(p[key], ref(key), "%s.%s from its parameter" % (group, key))
            spec = param(key, t)
            tap.eq((spec["Type"], int(spec["MinValue"]), int(spec["MaxValue"])), ("Number", low, high),
                   "%s: the NLB's range" % key)
    d = {key: int(param(key, t)["Default"]) for key in HEALTH_CHECK}
    interval, timeout = d["HealthCheckIntervalSeconds"], d["HealthCheckTimeoutSeconds"]
    tap.ok(timeout <= interval, "default timeout at most the interval (%s, %s)" % (timeout, interval))
    # Fast registration: at most 20 s from the first check to healthy.
    tap.ok(interval * d["HealthyThresholdCount"] <= 20, "healthy within 20 s")
    tap.eq((interval, d["HealthyThresholdCount"], d["UnhealthyThresholdCount"]), (5, 2, 2),
           "fastest valid settings by default")


@tap.case
def listener_forwards_to_target_group():
    p = props("Listener")
    tap.eq(p["LoadBalancerArn"], ref("LoadBalancer"), "listener on the NLB")
    tap.eq(p["Protocol"], "TCP", "TCP listener")
    tap.eq(p["Port"], ref("ListenerPort"), "port parameter")
    tap.eq(p["DefaultActions"], [{"Type": "forward", "TargetGroupArn": ref("TargetGroup")}], "forward")


@tap.case
def endpoint_service_acceptance_and_principals():
    p = props("EndpointService")
    tap.eq(p["NetworkLoadBalancerArns"], [ref("LoadBalancer")], "service on the NLB")
    tap.eq(p["AcceptanceRequired"], ref("AcceptanceRequired"), "acceptance toggle")
    tap.eq(param("AcceptanceRequired")["AllowedValues"], ["true", "false"], "acceptance values")
    perm = res("EndpointServicePermissions")
    tap.eq(perm["Type"], "AWS::EC2::VPCEndpointServicePermissions", "permissions type")
    tap.eq(perm["Properties"], {"ServiceId": ref("EndpointService"), "AllowedPrincipals": ref("AllowedPrincipals")},
           "permissions")
    tap.eq(perm.get("Condition"), "HasAllowedPrincipals", "only when principals are given")
    tap.eq(param("AllowedPrincipals")["Type"], "CommaDelimitedList", "principals list")
    tap.eq(condition("HasAllowedPrincipals"), False, "empty by default")
    tap.eq(condition("HasAllowedPrincipals", AllowedPrincipals="arn:aws:iam::444455556666:root"), True, "given")


# ----------------------------------------------------------------- function ---

@tap.case
def function_runtime_architecture_concurrency():
    p = props("Function")
    tap.eq(p["Runtime"], "provided.al2023", "runtime")
    tap.eq(p["Handler"], "bootstrap", "handler")
    tap.eq(p["Architectures"], [ref("Architecture")], "architecture from the parameter")
    arch = param("Architecture")
    tap.eq(arch["Default"], "arm64", "arm64 by default")
    tap.eq(sorted(arch["AllowedValues"]), ["arm64", "x86_64"], "architectures")
    tap.eq(p["ReservedConcurrentExecutions"], 1, "reserved concurrency")
    tap.eq(p["Role"], getatt("FunctionRole", "Arn"), "role")
    tap.ok(128 <= p["MemorySize"] <= 256, "small memory size")


@tap.case
def function_code_matches_default_architecture():
    code = props("Function")["Code"]
    tap.ok(isinstance(code, str), "Code is a local path for `aws cloudformation package`")
    tap.eq(code, "build/function-arm64.zip", "the arm64 package (make package ARCH=arm64)")
    tap.eq(param("Architecture")["Default"], "arm64", "matching the default architecture")
    with open(os.path.join(ROOT, "scripts", "package.sh")) as f:
        tap.ok("zip=build/function-arm64.zip" in f.read(), "scripts/package.sh writes that path for arm64")


@tap.case
def function_timeout_above_failover_wait():
    t = tpl()
    p = props("Function", t)
    tap.eq(p["Timeout"], {"Fn::FindInMap": ["FunctionTimeout", ref("FailoverWaitSeconds"), "Seconds"]}, "timeout")
    wait = param("FailoverWaitSeconds", t)
    table = t["Mappings"]["FunctionTimeout"]
    allowed = [str(v) for v in wait["AllowedValues"]]
    tap.eq(sorted(table, key=int), sorted(allowed, key=int), "a timeout for every allowed wait")
    tap.ok(str(wait["Default"]) in allowed, "default wait allowed")
    for w in allowed:
        timeout = table[w]["Seconds"]
        tap.ok(int(w) + 30 <= timeout <= 900, "wait %s s: timeout %s s leaves a margin, within Lambda's 900" % (w, timeout))
    tap.ok(table[str(wait["Default"])]["Seconds"] > 3, "above Lambda's default 3 s (lessons.md 7)")


@tap.case
def function_environment_matches_contract():
    env = props("Function")["Environment"]["Variables"]
    tap.eq(sorted(set(env) - set(CONTRACT_ENV) - set(ADDED_ENV)), [], 'variables outside README.md, "Configuration"')
    tap.eq([v for v in REQUIRED_ENV if v not in env], [], "required variables")
    tap.eq(env["TARGET_GROUP_ARN"], ref("TargetGroup"), "the stack's target group")
    # Optional in cluster mode (CONTRACT.md section 11): left out when empty, never set to "".
    tap.eq(env["DB_ENDPOINT"], {"Fn::If": ["HasDbEndpoint", ref("DbEndpoint"), ref("AWS::NoValue")]}, "DB_ENDPOINT")
    tap.eq(env["DB_IDENTIFIER"], {"Fn::If": ["HasDbIdentifier", ref("DbIdentifier"), ref("DbClusterIdentifier")]},
           "DB_IDENTIFIER: the given one, else the cluster")
    for var, p in [("DB_PORT", "DbPort"), ("ALLOWED_CIDRS", "AllowedCidrs"), ("FAILOVER_WAIT_SECONDS", "FailoverWaitSeconds"),
                   ("DNS_POLL_MS", "DnsPollMs"), ("TARGET_AVAILABILITY_ZONE", "TargetAvailabilityZone")]:
        tap.eq(env.get(var), ref(p), var)
    shared = tap.shared_dir()
    if shared:
        with open(os.path.join(shared, "CONTRACT.md")) as f:
            contract = f.read()
        for var in set(env) - set(ADDED_ENV):
            tap.ok("`%s`" % var in contract, "%s is in CONTRACT.md" % var)
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for var in ADDED_ENV:
        tap.ok("| `%s` |" % var in readme, "%s is in README.md's configuration table" % var)
    logging = props("Function")["LoggingConfig"]
    tap.eq((logging["LogFormat"], logging["ApplicationLogLevel"], logging["LogGroup"]),
           ("JSON", ref("LogLevel"), ref("LogGroup")), "JSON logs with the level filter, in the stack's log group")


@tap.case
def function_in_or_out_of_vpc():
    t = tpl()
    vpc = props("Function", t)["VpcConfig"]
    tap.eq(vpc["Fn::If"][0], "InVpc", "VpcConfig only in a VPC")
    tap.eq(vpc["Fn::If"][2], ref("AWS::NoValue"), "none outside")
    tap.eq(vpc["Fn::If"][1]["SubnetIds"], ref("FunctionSubnetIds"), "function subnets")
    tap.eq(condition("InVpc"), False, "outside a VPC by default")
    tap.eq(condition("InVpc", FunctionSubnetIds="subnet-1,subnet-2"), True, "in a VPC with subnets")
    sg = res("FunctionSecurityGroup", t)
    tap.eq(sg.get("Condition"), "InVpc", "own security group only in a VPC")
    egress = sg["Properties"]["SecurityGroupEgress"]
    tap.eq([(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in egress], [("tcp", 443, 443)], "HTTPS out only")


@tap.case
def elb_vpc_endpoint_is_optional_and_private_dns():
    t = tpl()
    ep = res("ElbVpcEndpoint", t)
    tap.eq(ep.get("Condition"), "CreateElbEndpoint", "conditional")
    p = ep["Properties"]
    tap.eq((p["VpcEndpointType"], p["PrivateDnsEnabled"]), ("Interface", True), "interface with private DNS")
    tap.ok(p["ServiceName"]["Fn::Sub"][0].endswith("${AWS::Region}.elasticloadbalancing"), "service name")
    tap.eq(p["SubnetIds"], ref("FunctionSubnetIds"), "in the function's subnets")
    tap.eq(condition("CreateElbEndpoint"), False, "off by default")
    tap.eq(condition("CreateElbEndpoint", CreateElbVpcEndpoint="true"), False, "needs the function in a VPC")
    tap.eq(condition("CreateElbEndpoint", CreateElbVpcEndpoint="true", FunctionSubnetIds="subnet-1"), True, "on")
    ingress = props("ElbEndpointSecurityGroup", t)["SecurityGroupIngress"]
    tap.eq([(i["FromPort"], i["SourceSecurityGroupId"]) for i in ingress],
           [(443, getatt("FunctionSecurityGroup", "GroupId"))], "HTTPS from the function only")


@tap.case
def iam_least_privilege():
    t = tpl()
    role = props("FunctionRole", t)
    tap.ok("ManagedPolicyArns" not in role, "no managed policies (their logs:* on *)")
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    tap.eq([s["Principal"] for s in trust], [{"Service": "lambda.amazonaws.com"}], "assumed by Lambda only")
    sts = [s for p in role["Policies"] for s in cfnyaml.statements(p["PolicyDocument"])]
    by_action = {}
    for s in sts:
        tap.eq(s["Effect"], "Allow", "allow statements only")
        for a in cfnyaml.as_list(s["Action"]):
            tap.ok("*" not in a, "no wildcard action: %s" % a)
            by_action.setdefault(a, []).append(s)
    for action in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
        tap.eq([s["Resource"] for s in by_action.get(action, [])], [ref("TargetGroup")],
               "%s only on the stack's target group" % action)
    tap.eq([s["Resource"] for s in by_action.get("elasticloadbalancing:DescribeTargetHealth", [])], ["*"],
           "DescribeTargetHealth (no resource-level permissions)")
    elb = sorted(a for a in by_action if a.startswith("elasticloadbalancing:"))
    tap.eq(elb, ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:DescribeTargetHealth",
                 "elasticloadbalancing:RegisterTargets"], "ELB actions")
    for a in ("logs:CreateLogStream", "logs:PutLogEvents"):
        tap.eq([s["Resource"] for s in by_action.get(a, [])], [getatt("LogGroup", "Arn")], "%s scoped" % a)
    tap.ok("logs:CreateLogGroup" not in by_action, "the stack creates the log group")
    for a, ss in by_action.items():
        if a.startswith("ec2:"):
            tap.eq([s.get("_condition") for s in ss], ["InVpc"], "%s only in a VPC" % a)
    tap.ok("ec2:CreateNetworkInterface" in by_action, "ENI permissions for a VPC function")
    for a, ss in by_action.items():
        if not a.startswith("ec2:") and a != "elasticloadbalancing:DescribeTargetHealth":
            tap.ok(all(s["Resource"] != "*" for s in ss), "%s has a scoped resource" % a)


@tap.case
def log_group_with_retention():
    p = props("LogGroup")
    tap.eq(p["RetentionInDays"], ref("LogRetentionDays"), "retention")


# --------------------------------------------------------------- triggers ---

@tap.case
def sns_topic_subscription_and_permission():
    t = tpl()
    sub = props("TopicSubscription", t)
    tap.eq((sub["TopicArn"], sub["Protocol"], sub["Endpoint"]), (ref("Topic"), "lambda", getatt("Function", "Arn")),
           "subscription")
    perm = props("TopicPermission", t)
    tap.eq((perm["Action"], perm["Principal"], perm["SourceArn"]),
           ("lambda:InvokeFunction", "sns.amazonaws.com", ref("Topic")), "invoke permission from the topic")
    tap.eq(perm["FunctionName"], getatt("Function", "Arn"), "on the function")
    policy = props("TopicPolicy", t)["PolicyDocument"]["Statement"]
    tap.eq([s["Principal"] for s in policy], [{"Service": "events.rds.amazonaws.com"}], "RDS may publish")
    tap.ok(all("Condition" in s for s in policy), "scoped to this account")


@tap.case
def rds_event_subscription():
    t = tpl()
    p = props("RdsEventSubscription", t)
    tap.eq(p["SnsTopicArn"], ref("Topic"), "to the topic")
    tap.eq(p["SourceType"], {"Fn::If": ["ClusterMode", "db-cluster", ref("DbEventSourceType")]},
           "source type parameter; a cluster's events in cluster mode")
    tap.eq(sorted(param("DbEventSourceType", t)["AllowedValues"]), ["db-cluster", "db-instance"], "instance or cluster")
    tap.eq(p["SourceIds"], [{"Fn::If": ["HasDbIdentifier", ref("DbIdentifier"), ref("DbClusterIdentifier")]}],
           "the database (the cluster in cluster mode)")
    tap.eq(p["EventCategories"], {"Fn::If": ["HasRdsEventCategories", ref("RdsEventCategories"),
                                             ref("AWS::NoValue")]}, "all categories unless given")
    tap.ok(p["Enabled"] in (True, "true"), "enabled")
    deps = cfnyaml.as_list(res("RdsEventSubscription", t).get("DependsOn", []))
    tap.ok({"TopicPolicy", "TopicPermission", "TopicSubscription"} <= set(deps), "created once delivery works")


@tap.case
def schedule_safety_net():
    t = tpl()
    rule = props("ScheduleRule", t)
    tap.eq(rule["ScheduleExpression"], ref("ScheduleExpression"), "schedule parameter")
    tap.eq(param("ScheduleExpression", t)["Default"], "rate(5 minutes)", "every 5 minutes by default")
    tap.eq(rule["State"], "ENABLED", "enabled")
    tap.eq([x["Arn"] for x in rule["Targets"]], [getatt("Function", "Arn")], "targets the function")
    perm = props("SchedulePermission", t)
    tap.eq((perm["Principal"], perm["SourceArn"]), ("events.amazonaws.com", getatt("ScheduleRule", "Arn")), "permission")
    pattern = re.compile(param("ScheduleExpression", t)["AllowedPattern"])
    tap.ok(pattern.match("rate(1 minute)") and pattern.match("cron(0/5 * * * ? *)") and not pattern.match("5m"),
           "schedule pattern")


@tap.case
def optional_eventbridge_rds_rule():
    t = tpl()
    r = res("RdsEventRule", t)
    tap.eq(r.get("Condition"), "CreateRdsEventRule", "optional")
    pattern = r["Properties"]["EventPattern"]
    tap.eq(pattern["source"], ["aws.rds"], "RDS events")
    tap.eq(pattern["detail"]["SourceIdentifier"][0],
           {"Fn::If": ["HasDbIdentifier", ref("DbIdentifier"), ref("DbClusterIdentifier")]}, "of the database")
    tap.eq(res("RdsEventRulePermission", t).get("Condition"), "CreateRdsEventRule", "permission with it")
    tap.eq(condition("CreateRdsEventRule"), False, "off by default")


@tap.case
def custom_resource_populates_at_deploy():
    t = tpl()
    cr = res("TargetGroupSync", t)
    tap.ok(cr["Type"].startswith("Custom::"), "a custom resource")
    p = cr["Properties"]
    tap.eq(p["ServiceToken"], getatt("Function", "Arn"), "served by the function")
    tap.ok(isinstance(p.get("ServiceTimeout"), int) and 60 <= p["ServiceTimeout"] <= 3600,
           "fails in minutes, not CloudFormation's hour, if the function never answers")
    # Properties that change with the configuration, so an update runs it again.
    for key, value in [("TargetGroupArn", ref("TargetGroup")), ("DbEndpoint", ref("DbEndpoint")),
                       ("DbPort", ref("DbPort")), ("AllowedCidrs", ref("AllowedCidrs"))]:
        tap.eq(p.get(key), value, key)
    # It must wait for the API endpoint in a VPC without NAT, and for the listener.
    tap.eq(p["ApiEndpoint"], {"Fn::If": ["CreateElbEndpoint", ref("ElbVpcEndpoint"), "default"]}, "waits for the endpoint")
    tap.ok("Listener" in cfnyaml.as_list(cr.get("DependsOn", [])), "after the listener")


@tap.case
def outputs():
    o = tpl()["Outputs"]
    sub = o["EndpointServiceName"]["Value"]["Fn::Sub"]
    tap.ok(sub[0].endswith("${AWS::Region}.${EndpointService}"), "service name from region and ID: %r" % sub[0])
    prefix = sub[1]["Prefix"]["Fn::If"]
    tap.eq((prefix[0], prefix[2]), ("IsChina", "com.amazonaws.vpce."), "com.amazonaws.vpce. outside China")
    tap.eq(o["NlbDnsName"]["Value"], getatt("LoadBalancer", "DNSName"), "NLB DNS name")
    tap.eq(o["TargetGroupArn"]["Value"], ref("TargetGroup"), "target group ARN")
    tap.eq(o["FunctionName"]["Value"], ref("Function"), "function name")


@tap.case
def parameter_patterns():
    t = tpl()

    def matches(name, value):
        return re.match(param(name, t)["AllowedPattern"], value) is not None
    tap.ok(matches("DbEndpoint", "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com"), "RDS endpoint accepted")
    tap.ok(not matches("DbEndpoint", "orders_db..x") and not matches("DbEndpoint", "-a.b"), "bad names rejected")
    tap.ok(matches("DbIdentifier", "orders-db") and not matches("DbIdentifier", "1db"), "RDS identifiers")
    tap.ok(matches("MetricsNamespace", "RdsNlbSync") and matches("MetricsNamespace", ""), "namespaces")
    tap.ok(not matches("MetricsNamespace", "AWS/RDS"), "the reserved AWS/ namespace rejected (lessons.md 6)")
    tap.ok(matches("AllowedCidrs", param("AllowedCidrs", t)["Default"]), "default CIDRs pass the pattern")


# ----------------------------------------------------------------- consumer ---

@tap.case
def consumer_interface_endpoint():
    t = tpl("consumer.yml")
    p = props("Endpoint", t)
    tap.eq((p["VpcEndpointType"], p["PrivateDnsEnabled"]), ("Interface", False), "interface, no private DNS")
    tap.eq(p["ServiceName"], ref("ServiceName"), "service name parameter")
    tap.eq(p["SubnetIds"], ref("SubnetIds"), "subnets")
    tap.eq(p["SecurityGroupIds"], [getatt("EndpointSecurityGroup", "GroupId")], "its security group")
    ingress = props("EndpointSecurityGroup", t)["SecurityGroupIngress"]
    tap.eq([(i["IpProtocol"], i["FromPort"], i["ToPort"], i["CidrIp"]) for i in ingress],
           [("tcp", ref("DbPort"), ref("DbPort"), ref("AllowedCidr"))], "the database port from the clients")
    pattern = re.compile(param("ServiceName", t)["AllowedPattern"])
    tap.ok(pattern.match("com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0"), "service names accepted")
    tap.ok(not pattern.match("vpce-svc-0123456789abcdef0"), "a bare service ID rejected")
    outs = t["Outputs"]
    tap.ok("DnsEntries" in str(outs["EndpointDnsName"]["Value"]), "DNS name output")
    tap.eq(outs["EndpointDnsEntries"]["Value"], {"Fn::Join": [",", getatt("Endpoint", "DnsEntries")]}, "all entries")


# ------------------------------------------------------- cfn-lint's other checks ---
# cfn-lint is not packaged for Debian 12 and PyPI is out of reach here, so these cover
# what it would add to the specification and reference checks above (cfnchecks.py).

@tap.case
def structural_checks_clean():
    for name in TEMPLATES:
        t = tpl(name)
        errors = cfnchecks.condition_scope_errors(t) + cfnchecks.parameter_default_errors(t) + \
            cfnchecks.depends_on_errors(t) + cfnchecks.sub_errors(t)
        tap.eq(errors, [], name)


@tap.case
def alarm_and_destination_values_valid():
    for params in (DNS, dict(READERS, **ALERT_EMAIL), dict(READERS, SchedulePeriodMinutes="60", MetricsNamespace="")):
        tap.eq(cfnchecks.value_errors(stack(**params).resources), [], "values for %r" % params)
    s = stack(**READERS)
    bad = copy.deepcopy(s.resources)
    bad["NoHealthyTargetAlarm"]["Properties"].update(TreatMissingData="Breaching", Period=90, DatapointsToAlarm=3)
    bad["NoSuccessfulRunAlarm"]["Properties"]["Period"] = 300
    bad["NoSuccessfulRunAlarm"]["Properties"]["Metrics"][1]["ReturnData"] = True
    bad["FunctionEventInvokeConfig"]["Properties"]["MaximumRetryAttempts"] = 3
    errors = "\n".join(cfnchecks.value_errors(bad))
    for needle in ["TreatMissingData 'Breaching'", "Period 90", "DatapointsToAlarm <= EvaluationPeriods",
                   "NoSuccessfulRunAlarm: Period with Metrics", "exactly one query", "MaximumRetryAttempts outside"]:
        tap.ok(needle in errors, "expected %r in:\n%s" % (needle, errors))


@tap.case
def structural_checks_catch_mistakes():
    t = tpl()
    del t["Resources"]["ReaderListener"]["Condition"]          # refers to the conditional reader group
    t["Resources"]["Listener"]["Properties"]["Port"] = ref("ReaderListenerPort")
    t["Resources"]["Function"]["Properties"]["Environment"]["Variables"]["X"] = {"Fn::Sub": "no variables"}
    t["Resources"]["AlarmX"] = {"Type": "AWS::CloudWatch::Alarm", "DependsOn": "AlertTopic",
                                "Properties": {"AlarmActions": [ref("AlertTopic")]}}
    t["Resources"]["TargetGroupSync"]["DependsOn"] = ["Listener", "TargetGroup"]
    t["Parameters"]["HealthCheckIntervalSeconds"]["Default"] = 4
    t["Parameters"]["DbClusterIdentifier"]["Default"] = "Upper-Case"
    t["Outputs"]["ReaderTargetGroupArn"].pop("Condition")
    errors = "\n".join(cfnchecks.condition_scope_errors(t) + cfnchecks.parameter_default_errors(t) +
                       cfnchecks.depends_on_errors(t) + cfnchecks.sub_errors(t))
    for needle in ["ReaderListener: ReaderTargetGroup (Condition HasReaderGroup) is used where it may not exist",
                   "AlarmX: AlertTopic (Condition CreateAlertTopic)", "AlarmX DependsOn: AlertTopic",
                   "Outputs/ReaderTargetGroupArn: ReaderTargetGroup", "Fn::Sub without a variable",
                   "TargetGroupSync: DependsOn TargetGroup is already implied",
                   "HealthCheckIntervalSeconds: default 4 is below MinValue 5",
                   "DbClusterIdentifier: default 'Upper-Case' does not match AllowedPattern"]:
        tap.ok(needle in errors, "expected %r in:\n%s" % (needle, errors))
    # A reference guarded by an Fn::If of an implying condition is fine (no false alarm).
    tap.ok("Listener:" not in errors.replace("ReaderListener:", ""), "a plain Ref of a parameter is not flagged")


# ------------------------------------------------- instances of the template ---

DNS = {"VpcId": "vpc-0abc", "SubnetIds": "subnet-a,subnet-b", "DbEndpoint": "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com",
       "DbIdentifier": "orders-db"}
CLUSTER = {"VpcId": "vpc-0abc", "SubnetIds": "subnet-a,subnet-b", "DbClusterIdentifier": "aurora-orders"}
READERS = dict(CLUSTER, ReaderListenerPort="5433")
PRIVATE = {"FunctionSubnetIds": "subnet-p1,subnet-p2", "CreateElbVpcEndpoint": "true"}
READER_RESOURCES = {"ReaderTargetGroup", "ReaderListener", "ReaderLogGroup", "ReaderFunctionRole", "ReaderFunction",
                    "ReaderFunctionEventInvokeConfig", "ReaderTopicSubscription", "ReaderTopicPermission",
                    "ReaderScheduleRule", "ReaderSchedulePermission", "ReaderTargetGroupSync",
                    "ReaderNoHealthyTargetAlarm", "ReaderFunctionErrorsAlarm", "ReaderSyncErrorsAlarm",
                    "ReaderNoSuccessfulRunAlarm"}
RDS_ACTIONS = {"rds:DescribeDBClusters", "rds:DescribeDBInstances"}


def stack(**params):
    for name, value in params.items():
        tap.ok(name in tpl()["Parameters"], "parameter %s exists" % name)
    tap.eq(cfneval.rule_violations(tpl(), params), [], "the parameters pass the template's rules")
    return cfneval.Stack(tpl(), params)


def statements_by_action(role):
    out = {}
    for policy in role["Properties"]["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            for a in cfnyaml.as_list(st["Action"]):
                out.setdefault(a, []).append(st["Resource"])
    return out


def env_of(s, function):
    return s.resources[function]["Properties"]["Environment"]["Variables"]


@tap.case
def dns_mode_has_no_cluster_resources():
    s = stack(**dict(DNS, **PRIVATE))
    tap.eq(sorted(READER_RESOURCES & set(s.resources)), [], "no reader group")
    tap.eq(sorted({"RdsVpcEndpoint", "RdsEndpointSecurityGroup"} & set(s.resources)), [],
           "no rds endpoint, even with CreateElbVpcEndpoint")
    tap.ok("ElbVpcEndpoint" in s.resources, "the elasticloadbalancing endpoint as before")
    tap.eq(sorted(RDS_ACTIONS & set(statements_by_action(s.resources["FunctionRole"]))), [], "no rds IAM")
    env = env_of(s, "Function")
    tap.eq(sorted({"DB_CLUSTER_IDENTIFIER", "DB_ROLE"} & set(env)), [], "no cluster variables")
    tap.eq((env["DB_ENDPOINT"], env["DB_IDENTIFIER"]), (DNS["DbEndpoint"], "orders-db"), "endpoint and identifier")
    sub = s.resources["RdsEventSubscription"]["Properties"]
    tap.eq((sub["SourceType"], sub["SourceIds"]), ("db-instance", ["orders-db"]), "instance events by default")
    tap.eq(sorted(o for o in s.outputs if o.startswith("Reader")), [], "no reader outputs")


@tap.case
def cluster_mode_writer():
    s = stack(**CLUSTER)
    env = env_of(s, "Function")
    tap.eq((env["DB_CLUSTER_IDENTIFIER"], env["DB_ROLE"], env["DB_IDENTIFIER"]), ("aurora-orders", "writer", "aurora-orders"),
           "cluster, writer role, the cluster's events")
    tap.ok("DB_ENDPOINT" not in env, "DB_ENDPOINT left out when DbEndpoint is empty (optional in cluster mode)")
    tap.eq(env_of(stack(**dict(CLUSTER, DbEndpoint="aurora-orders.cluster-c9akciq32xyz.eu-west-1.rds.amazonaws.com")),
                  "Function")["DB_ENDPOINT"], "aurora-orders.cluster-c9akciq32xyz.eu-west-1.rds.amazonaws.com",
           "passed on when given (shown in results)")
    by_action = statements_by_action(s.resources["FunctionRole"])
    tap.eq(by_action.get("rds:DescribeDBClusters"), ["arn:aws:rds:eu-west-1:111122223333:cluster:aurora-orders"],
           "DescribeDBClusters on the cluster's ARN only")
    tap.eq(by_action.get("rds:DescribeDBInstances"), ["arn:aws:rds:eu-west-1:111122223333:db:*"],
           "DescribeDBInstances on db:* of the account and region (the filtered call is checked there)")
    tap.eq(sorted(a for a in by_action if a.startswith("rds:")), sorted(RDS_ACTIONS), "no other rds action")
    sub = s.resources["RdsEventSubscription"]["Properties"]
    tap.eq((sub["SourceType"], sub["SourceIds"]), ("db-cluster", ["aurora-orders"]), "the cluster's events")
    tap.eq(sorted(READER_RESOURCES & set(s.resources)), [], "no reader group without ReaderListenerPort")
    tap.eq(sorted({"RdsVpcEndpoint", "RdsEndpointSecurityGroup"} & set(s.resources)), [],
           "no rds endpoint without CreateElbVpcEndpoint")
    china = cfneval.Stack(tpl(), dict(CLUSTER, **{"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1"}))
    tap.eq(statements_by_action(china.resources["FunctionRole"])["rds:DescribeDBInstances"],
           ["arn:aws-cn:rds:cn-north-1:111122223333:db:*"], "the partition comes from the stack")


@tap.case
def cluster_mode_rds_endpoint():
    s = stack(**dict(CLUSTER, **PRIVATE))
    ep = s.resources["RdsVpcEndpoint"]["Properties"]
    tap.eq((ep["VpcEndpointType"], ep["ServiceName"], ep["PrivateDnsEnabled"]),
           ("Interface", "com.amazonaws.eu-west-1.rds", True), "rds interface endpoint with private DNS")
    tap.eq((ep["SubnetIds"], ep["SecurityGroupIds"]), (["subnet-p1", "subnet-p2"], ["<RdsEndpointSecurityGroup.GroupId>"]),
           "in the function's subnets, behind its own security group")
    ingress = s.resources["RdsEndpointSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    tap.eq([(i["IpProtocol"], i["FromPort"], i["ToPort"], i["SourceSecurityGroupId"]) for i in ingress],
           [("tcp", 443, 443, "<FunctionSecurityGroup.GroupId>")], "HTTPS from the functions only")
    tap.eq(s.resources["TargetGroupSync"]["Properties"]["RdsApiEndpoint"], "<RdsVpcEndpoint>",
           "the deploy-time sync waits for the endpoint")
    tap.ok("RdsVpcEndpoint" not in stack(**dict(CLUSTER, FunctionSubnetIds="subnet-p1")).resources,
           "only with CreateElbVpcEndpoint")
    china = cfneval.Stack(tpl(), dict(CLUSTER, **dict(PRIVATE, **{"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1"})))
    tap.eq(china.resources["RdsVpcEndpoint"]["Properties"]["ServiceName"], "cn.com.amazonaws.cn-north-1.rds", "China")


@tap.case
def reader_group_resources():
    s = stack(**dict(READERS, **PRIVATE))
    tap.eq(sorted(READER_RESOURCES - set(s.resources)), [], "every reader resource")
    r = s.resources
    tg = r["ReaderTargetGroup"]["Properties"]
    writer_tg = r["TargetGroup"]["Properties"]
    tap.eq({k: v for k, v in tg.items()}, writer_tg, "the reader group is configured like the writer group")
    tap.eq(r["ReaderListener"]["Properties"], {"LoadBalancerArn": "<LoadBalancer>", "Port": "5433", "Protocol": "TCP",
           "DefaultActions": [{"Type": "forward", "TargetGroupArn": "<ReaderTargetGroup>"}]}, "second listener, same NLB")
    fw, fr = r["Function"]["Properties"], r["ReaderFunction"]["Properties"]
    for key in ("Runtime", "Handler", "Architectures", "Code", "MemorySize", "Timeout", "ReservedConcurrentExecutions",
                "VpcConfig"):
        tap.eq(fr[key], fw[key], "reader function %s as the writer's (same package)" % key)
    tap.eq((fr["Role"], fr["LoggingConfig"]["LogGroup"], fr["LoggingConfig"]["LogFormat"]),
           ("<ReaderFunctionRole.Arn>", "<ReaderLogGroup>", "JSON"), "own role and log group, JSON logs")
    env = fr["Environment"]["Variables"]
    tap.eq((env["TARGET_GROUP_ARN"], env["DB_ROLE"], env["DB_CLUSTER_IDENTIFIER"], env["DB_IDENTIFIER"]),
           ("<ReaderTargetGroup>", "readers", "aurora-orders", "aurora-orders"), "readers of the cluster")
    tap.ok("DB_ENDPOINT" not in env, "no DB_ENDPOINT: the result shows the cluster's reader endpoint")
    tap.eq(sorted(set(env) - set(CONTRACT_ENV) - set(ADDED_ENV)), [], "reader variables are the contract's")
    writer_env = env_of(s, "Function")
    for var in set(writer_env) - {"TARGET_GROUP_ARN", "DB_ROLE", "DB_ENDPOINT"}:
        tap.eq(env.get(var), writer_env[var], "%s as the writer's" % var)
    tap.eq((r["ReaderTopicSubscription"]["Properties"]["TopicArn"], r["ReaderTopicSubscription"]["Properties"]["Endpoint"]),
           ("<Topic>", "<ReaderFunction.Arn>"), "RDS events reach the reader function")
    tap.eq((r["ReaderTopicPermission"]["Properties"]["FunctionName"], r["ReaderTopicPermission"]["Properties"]["SourceArn"]),
           ("<ReaderFunction.Arn>", "<Topic>"), "SNS may invoke it")
    rule = r["ReaderScheduleRule"]["Properties"]
    tap.eq((rule["ScheduleExpression"], [x["Arn"] for x in rule["Targets"]]), ("rate(5 minutes)", ["<ReaderFunction.Arn>"]),
           "its own schedule")
    tap.eq(r["ReaderSchedulePermission"]["Properties"]["SourceArn"], "<ReaderScheduleRule.Arn>", "schedule permission")
    cr = r["ReaderTargetGroupSync"]
    tap.eq((cr["Type"], cr["DependsOn"], cr["Properties"]["ServiceToken"], cr["Properties"]["TargetGroupArn"]),
           ("Custom::TargetGroupSync", ["ReaderListener"], "<ReaderFunction.Arn>", "<ReaderTargetGroup>"),
           "its own deploy-time sync, after its listener")
    tap.eq((cr["Properties"]["ApiEndpoint"], cr["Properties"]["RdsApiEndpoint"]), ("<ElbVpcEndpoint>", "<RdsVpcEndpoint>"),
           "waits for the API endpoints")
    tap.eq({k: s.outputs[k] for k in ("ReaderListenerPort", "ReaderTargetGroupArn", "ReaderFunctionName")},
           {"ReaderListenerPort": "5433", "ReaderTargetGroupArn": "<ReaderTargetGroup>",
            "ReaderFunctionName": "<ReaderFunction>"}, "reader outputs")
    with_rule = stack(**dict(READERS, CreateEventBridgeRdsRule="true"))
    tap.eq([x["Arn"] for x in with_rule.resources["RdsEventRule"]["Properties"]["Targets"]],
           ["<Function.Arn>", "<ReaderFunction.Arn>"], "the EventBridge RDS rule feeds both")
    tap.eq(with_rule.resources["ReaderRdsEventRulePermission"]["Properties"]["FunctionName"], "<ReaderFunction.Arn>",
           "with its permission")


@tap.case
def reader_and_writer_roles_are_separate():
    s = stack(**READERS)
    writer = statements_by_action(s.resources["FunctionRole"])
    reader = statements_by_action(s.resources["ReaderFunctionRole"])
    for action in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
        tap.eq(writer[action], ["<TargetGroup>"], "the writer function changes only the writer group")
        tap.eq(reader[action], ["<ReaderTargetGroup>"], "the reader function changes only the reader group")
    tap.eq(reader["logs:PutLogEvents"], ["<ReaderLogGroup.Arn>"], "its own log group")
    tap.eq({a: reader[a] for a in RDS_ACTIONS}, {a: writer[a] for a in RDS_ACTIONS}, "the same rds scope")
    tap.eq(sorted(a for a in reader if not a.startswith("ec2:")),
           sorted(a for a in writer if not a.startswith("ec2:")), "the same actions")
    tap.ok(not any("*" in a for a in reader), "no wildcard action")


@tap.case
def rules_reject_incomplete_configuration():
    t = tpl()
    base = {"VpcId": "vpc-1", "SubnetIds": "subnet-a"}
    cases = [
        ({}, ["DbEndpoint is required", "DbIdentifier is required"]),
        ({"DbEndpoint": "db.example.com"}, ["DbIdentifier is required"]),
        ({"DbClusterIdentifier": "aurora-orders"}, []),
        ({"DbClusterIdentifier": "aurora-orders", "DbIdentifier": "aurora-orders"}, []),
        ({"DbClusterIdentifier": "aurora-orders", "DbIdentifier": "orders-db"}, ["leave DbIdentifier empty"]),
        ({"ReaderListenerPort": "5433", "DbEndpoint": "db.example.com", "DbIdentifier": "db"},
         ["ReaderListenerPort needs DbClusterIdentifier"]),
        ({"DbClusterIdentifier": "aurora-orders", "ReaderListenerPort": "5432"}, ["must differ from ListenerPort"]),
        ({"DbClusterIdentifier": "aurora-orders", "AlertEmail": "oncall@example.com",
          "AlertTopicArn": "arn:aws:sns:eu-west-1:111122223333:pager"}, ["not both"]),
        ({"DbClusterIdentifier": "aurora-orders", "AlertTopicArn": "arn:aws:sns:eu-west-1:111122223333:pager"}, []),
    ]
    for params, want in cases:
        got = cfneval.rule_violations(t, dict(base, **params))
        tap.eq(len(got), len(want), "%r: %r" % (params, got))
        for needle, description in zip(want, got):
            tap.ok(needle in description, "%r: %r in %r" % (params, needle, description))


@tap.case
def new_parameter_patterns():
    t = tpl()

    def matches(name, value):
        return re.match(t["Parameters"][name]["AllowedPattern"], value) is not None
    tap.ok(matches("DbEndpoint", "") and matches("DbIdentifier", ""), "optional in cluster mode")
    tap.ok(matches("DbClusterIdentifier", "aurora-orders") and matches("DbClusterIdentifier", ""), "cluster ids")
    tap.ok(not matches("DbClusterIdentifier", "Aurora-Orders") and not matches("DbClusterIdentifier", "1x"),
           "lowercase, as RDS stores it (the IAM ARN)")
    tap.ok(all(matches("ReaderListenerPort", p) for p in ("", "1", "5433", "65535")), "ports")
    tap.ok(not any(matches("ReaderListenerPort", p) for p in ("0", "65536", "070", "x")), "bad ports")
    tap.ok(matches("AlertEmail", "oncall@example.com") and not matches("AlertEmail", "oncall"), "email")
    tap.ok(matches("AlertTopicArn", "arn:aws:sns:eu-west-1:111122223333:pager"), "topic ARN")
    tap.ok(not matches("AlertTopicArn", "arn:aws:sns:eu-west-1:111122223333:pager.fifo"),
           "a standard topic (a FIFO topic takes only SQS FIFO subscriptions)")
    tap.ok(not matches("MetricsNamespace", 'a"b') and not matches("MetricsNamespace", "a\\\\b"),
           "no quote or backslash (the dashboard body is JSON)")
    tap.ok(matches("MetricsNamespace", "Platform/RdsNlbSync"), "slashes allowed")
    consumer = tpl("consumer.yml")
    tap.eq(consumer["Parameters"]["ReaderPort"]["AllowedPattern"], t["Parameters"]["ReaderListenerPort"]["AllowedPattern"],
           "consumer.yml ReaderPort takes the provider's reader ports")


# ------------------------------------------------------------------ alerts ---

ALERT_EMAIL = {"AlertEmail": "oncall@example.com"}
ALERT_TOPIC = {"AlertTopicArn": "arn:aws:sns:eu-west-1:111122223333:pager"}


def emitted_metrics():
    """Metric names and dimensions handler/sync/metrics.c writes in its EMF definition (the C
    string `definitions`, its literals joined and unescaped)."""
    with open(handler_source("metrics.c")) as f:
        src = f.read()
    body = src[src.index("static const char definitions[]"):]
    body = body[:body.index(";")]
    text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', body)).replace('\\"', '"')
    names = re.findall(r'"Name":"(\w+)"', text)
    dims = re.findall(r'"Dimensions":\[\["(\w+)"\]\]', text)
    tap.ok(names and dims, "metrics.c's definitions read: %r" % text)
    return names, dims


# name, namespace, metric, dimensions, statistic, period, evaluation periods, datapoints, threshold,
# comparison, missing data
def expected_alarms(group, function, prefix=""):
    return {
        prefix + "NoHealthyTargetAlarm": ("AWS/NetworkELB", "HealthyHostCount",
                                          [("TargetGroup", "<%s.TargetGroupFullName>" % group),
                                           ("LoadBalancer", "<LoadBalancer.LoadBalancerFullName>")],
                                          "Maximum", 60, 2, 2, 1, "LessThanThreshold", "breaching"),
        prefix + "FunctionErrorsAlarm": ("AWS/Lambda", "Errors", [("FunctionName", "<%s>" % function)],
                                         "Sum", 300, 1, 1, 1, "GreaterThanOrEqualToThreshold", "notBreaching"),
        prefix + "SyncErrorsAlarm": ("RdsNlbSync", "Errors", [("TargetGroup", "<%s.TargetGroupName>" % group)],
                                     "Sum", 300, 1, 1, 1, "GreaterThanOrEqualToThreshold", "notBreaching"),
    }


def check_alarm(s, name, want):
    a = s.resources[name]
    tap.eq(a["Type"], "AWS::CloudWatch::Alarm", name)
    p = a["Properties"]
    got = (p["Namespace"], p["MetricName"], [(d["Name"], d["Value"]) for d in p["Dimensions"]], p["Statistic"],
           p["Period"], p["EvaluationPeriods"], p["DatapointsToAlarm"], p["Threshold"], p["ComparisonOperator"],
           p["TreatMissingData"])
    tap.eq(got, want, name)


@tap.case
def alarms_metric_dimensions_threshold():
    names, dims = emitted_metrics()
    tap.ok("Errors" in names and dims == ["TargetGroup"], "the function emits Errors with the TargetGroup dimension")
    for params, groups in ((DNS, [("TargetGroup", "Function", "")]),
                           (READERS, [("TargetGroup", "Function", ""), ("ReaderTargetGroup", "ReaderFunction", "Reader")])):
        s = stack(**params)
        for group, function, prefix in groups:
            for name, want in expected_alarms(group, function, prefix).items():
                check_alarm(s, name, want)
            tap.eq(s.resources[prefix + "SyncErrorsAlarm"]["Properties"]["MetricName"], names[-1] if names[-1] == "Errors"
                   else "Errors", "the EMF metric's name as metrics.c writes it")
        alarms = sorted(n for n, r in s.resources.items() if r["Type"] == "AWS::CloudWatch::Alarm")
        tap.eq(len(alarms), 4 * len(groups), "four alarms per group: %s" % alarms)
    s = stack(**dict(DNS, MetricsNamespace=""))
    tap.ok("SyncErrorsAlarm" not in s.resources and "NoHealthyTargetAlarm" in s.resources,
           "no EMF alarm when metrics are off")
    s = stack(**dict(DNS, MetricsNamespace="Platform/Db"))
    tap.eq(s.resources["SyncErrorsAlarm"]["Properties"]["Namespace"], "Platform/Db", "METRICS_NAMESPACE's namespace")
    tap.eq(env_of(s, "Function")["METRICS_NAMESPACE"], "Platform/Db", "the same the function writes to")


@tap.case
def no_successful_run_alarm():
    t = tpl()
    for params, prefix, function in ((DNS, "", "Function"), (READERS, "Reader", "ReaderFunction")):
        for minutes in t["Parameters"]["SchedulePeriodMinutes"]["AllowedValues"]:
            s = stack(**dict(params, SchedulePeriodMinutes=str(minutes)))
            p = s.resources[prefix + "NoSuccessfulRunAlarm"]["Properties"]
            tap.eq([k for k in ("MetricName", "Namespace", "Statistic", "Period", "Dimensions") if k in p], [],
                   "a metric-math alarm names its metrics only in Metrics")
            queries = {q["Id"]: q for q in p["Metrics"]}
            returned = [q for q in p["Metrics"] if q["ReturnData"]]
            tap.eq(len(returned), 1, "one series is alarmed on")
            expr = returned[0]["Expression"]
            tap.eq(re.sub(r"\s+", "", expr), "FILL(invocations,0)-FILL(errors,0)", "successes = invocations - errors")
            for qid, metric in (("invocations", "Invocations"), ("errors", "Errors")):
                stat = queries[qid]["MetricStat"]
                tap.eq((stat["Metric"]["Namespace"], stat["Metric"]["MetricName"],
                        [(d["Name"], d["Value"]) for d in stat["Metric"]["Dimensions"]], stat["Stat"], stat["Period"]),
                       ("AWS/Lambda", metric, [("FunctionName", "<%s>" % function)], "Sum", 60 * int(minutes)),
                       "%s per schedule period (%s min)" % (metric, minutes))
            tap.eq((p["EvaluationPeriods"], p["DatapointsToAlarm"], p["Threshold"], p["ComparisonOperator"],
                    p["TreatMissingData"]), (3, 3, 1, "LessThanThreshold", "breaching"),
                   "3 of 3 periods without a success; not invoked at all counts too")
    tap.eq(str(t["Parameters"]["SchedulePeriodMinutes"]["Default"]), "5",
           "matches the default rate(5 minutes)")
    tap.eq(t["Parameters"]["ScheduleExpression"]["Default"], "rate(5 minutes)", "the default schedule")


@tap.case
def alarm_descriptions_say_what_and_first():
    s = stack(**dict(READERS, **ALERT_EMAIL))
    for name, r in s.resources.items():
        if r["Type"] != "AWS::CloudWatch::Alarm":
            continue
        d = r["Properties"]["AlarmDescription"]
        tap.ok(len(d) <= 1024, "%s: a description CloudWatch accepts (%d characters)" % (name, len(d)))
        tap.ok("First: (1)" in d and "(2)" in d and "(3)" in d, "%s: says what to do first: %s" % (name, d))
        if name.startswith("Reader"):
            tap.ok("<Reader" in d or "reader" in d, "%s is about the reader group: %s" % (name, d))
        else:
            tap.ok(("<Function>" in d or "writer" in d) and "<Reader" not in d, "%s is about the writer: %s" % (name, d))
    tap.ok(s.resources["NoHealthyTargetAlarm"]["Properties"]["AlarmDescription"].startswith("OUTAGE"),
           "the outage alarm says it is one")


@tap.case
def alarm_actions_go_to_the_alert_topic():
    for params, target in ((ALERT_EMAIL, "<AlertTopic>"), (ALERT_TOPIC, ALERT_TOPIC["AlertTopicArn"]), ({}, None)):
        s = stack(**dict(READERS, **params))
        for name, r in s.resources.items():
            if r["Type"] == "AWS::CloudWatch::Alarm":
                p = r["Properties"]
                tap.eq((p.get("AlarmActions"), p.get("OKActions")), ([target], [target]) if target else (None, None),
                       "%s actions with %r" % (name, params))
        tap.eq(s.outputs.get("AlertsTopicArn"), target, "AlertsTopicArn output")
    s = stack(**dict(DNS, **ALERT_EMAIL))
    sub = s.resources["AlertEmailSubscription"]["Properties"]
    tap.eq((sub["TopicArn"], sub["Protocol"], sub["Endpoint"]), ("<AlertTopic>", "email", "oncall@example.com"),
           "an email subscription to the new topic")
    for params in (ALERT_TOPIC, {}):
        s = stack(**dict(DNS, **params))
        tap.eq(sorted({"AlertTopic", "AlertEmailSubscription"} & set(s.resources)), [], "topic only with AlertEmail")


@tap.case
def failure_destination_and_its_iam_scope():
    for params, target in ((ALERT_EMAIL, "<AlertTopic>"), (ALERT_TOPIC, ALERT_TOPIC["AlertTopicArn"]), ({}, None)):
        s = stack(**dict(READERS, **params))
        for config, function, role in (("FunctionEventInvokeConfig", "Function", "FunctionRole"),
                                       ("ReaderFunctionEventInvokeConfig", "ReaderFunction", "ReaderFunctionRole")):
            p = s.resources[config]["Properties"]
            tap.eq((p["FunctionName"], p["Qualifier"]), ("<%s>" % function, "$LATEST"), config)
            tap.ok(0 <= p["MaximumRetryAttempts"] <= 2, "bounded retries")
            tap.ok(60 <= p["MaximumEventAgeInSeconds"] <= 3600, "bounded event age (not Lambda's 6 hours)")
            tap.eq(p.get("DestinationConfig"), {"OnFailure": {"Destination": target}} if target else None,
                   "%s OnFailure with %r" % (config, params))
            publish = statements_by_action(s.resources[role]).get("sns:Publish")
            tap.eq(publish, [target] if target else None, "%s: sns:Publish on the alert topic only" % role)


# --------------------------------------------------------------- dashboard ---

def dashboard(**params):
    s = stack(**params)
    d = s.resources["Dashboard"]["Properties"]
    return s, json.loads(d["DashboardBody"])


def widget_metrics(w):
    return [tuple(m[:-1]) if isinstance(m[-1], dict) else tuple(m) for m in w["properties"]["metrics"]]


def row_metrics(group, function, ns="RdsNlbSync"):
    fn, tg, lb = "<%s>" % function, "<%s.TargetGroupFullName>" % group, "<LoadBalancer.LoadBalancerFullName>"
    name = "<%s.TargetGroupName>" % group
    return [
        [("AWS/NetworkELB", "HealthyHostCount", "TargetGroup", tg, "LoadBalancer", lb),
         ("AWS/NetworkELB", "UnHealthyHostCount", "TargetGroup", tg, "LoadBalancer", lb)],
        [("AWS/Lambda", m, "FunctionName", fn) for m in ("Invocations", "Errors", "Duration")],
        [(ns, m, "TargetGroup", name) for m in ("TargetsRegistered", "TargetsDeregistered", "DnsWaitMs", "ReconcileMs")],
    ]


def handler_source(name):
    """The path of one of the handler's C files, in whichever folder of handler/ it is."""
    found = glob.glob(os.path.join(ROOT, "handler", "**", name), recursive=True)
    tap.ok(len(found) == 1, "one %s under handler/: %r" % (name, found))
    return found[0]


def handler_messages():
    """The fixed messages of the handler's structured log lines (log_fields, log_and_free):
    a literal after the level, or either side of a ternary there."""
    messages = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "handler", "**", "*.c"), recursive=True)):
        with open(path) as f:
            src = f.read()
        for call in re.findall(r"log_(?:fields|and_free)\((.*?)\);", src, re.S):
            messages |= set(re.findall(r'"([^"%]+)"', call.split(",", 2)[2] if call.count(",") >= 2 else ""))
    return messages


@tap.case
def dashboard_order_and_metrics():
    names, _ = emitted_metrics()
    for params, groups in ((DNS, [("TargetGroup", "Function")]),
                           (READERS, [("TargetGroup", "Function"), ("ReaderTargetGroup", "ReaderFunction")])):
        s, body = dashboard(**params)
        widgets = body["widgets"]
        rows = [row_metrics(g, f) for g, f in groups]
        want = [rows[i][r] for r in range(3) for i in range(len(groups))]
        got = [widget_metrics(w) for w in widgets[:-1]]
        tap.eq(got, want, "rows: hosts, runs, changes; writer then reader in each")
        tap.eq([w["type"] for w in widgets], ["metric"] * (3 * len(groups)) + ["log"], "the log widget last")
        for m in row_metrics("TargetGroup", "Function")[2]:
            tap.ok(m[1] in names, "%s is a metric metrics.c emits" % m[1])
        cells = set()
        for w in widgets:
            for x in range(w["x"], w["x"] + w["width"]):
                for y in range(w["y"], w["y"] + w["height"]):
                    tap.ok((x, y) not in cells, "widgets do not overlap")
                    cells.add((x, y))
            tap.ok(w["x"] + w["width"] <= 24, "within the 24-column grid")
        tap.eq(sorted({w["y"] for w in widgets}), sorted({w["y"] for w in widgets}), "rows")
        tap.eq([w["y"] for w in widgets], sorted(w["y"] for w in widgets), "top to bottom in the issue's order")
        tap.ok(all(w["properties"]["region"] == "eu-west-1" for w in widgets), "the stack's region")
        tap.eq(s.resources["Dashboard"]["Properties"]["DashboardName"], "orders-db-link-eu-west-1",
               "named per stack and region (dashboards are global)")
        tap.eq(s.outputs["DashboardUrl"],
               "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/<Dashboard>",
               "DashboardUrl output")
    s, body = dashboard(**dict(DNS, MetricsNamespace=""))
    tap.eq([widget_metrics(w) for w in body["widgets"][:-1]], row_metrics("TargetGroup", "Function")[:2],
           "no EMF row when metrics are off")
    s, body = dashboard(**dict(READERS, MetricsNamespace=""))
    tap.eq(len(body["widgets"]), 5, "with readers, no EMF row either")


@tap.case
def dashboard_last_decisions_query():
    logged = handler_messages()
    tap.ok(len(logged) >= 10, "the handler's log messages read: %s" % sorted(logged))
    for params, groups in ((DNS, ["LogGroup"]), (READERS, ["LogGroup", "ReaderLogGroup"])):
        s, body = dashboard(**params)
        log = body["widgets"][-1]
        q = log["properties"]["query"]
        parts = [p.strip() for p in q.split(" | ")]
        sources = [p for p in parts if p.startswith("SOURCE ")]
        tap.eq(sources, ["SOURCE '<%s>'" % g for g in groups], "every function's log group")
        tap.eq(parts[len(sources)].split(",")[0], "fields @timestamp", "fields after the sources")
        flt = [p for p in parts if p.startswith("filter ")]
        tap.eq(len(flt), 1, "one filter")
        m = re.fullmatch(r"filter message like /(.+)/", flt[0])
        tap.ok(m, "a regular expression on the JSON line's message: %r" % flt[0])
        pattern = re.compile(m.group(1))
        for message in ("plan", "plan (dry run: nothing is changed)", "registering targets", "deregistering targets",
                        "failed"):
            tap.ok(message in logged, "%r is a message the handler logs" % message)
            tap.ok(pattern.search(message), "%r is listed" % message)
        for message in logged - {"plan", "plan (dry run: nothing is changed)", "registering targets",
                                 "deregistering targets", "failed"}:
            tap.ok(not pattern.search(message), "%r is not a decision" % message)
        tap.ok("sort @timestamp desc" in parts and any(p.startswith("limit ") for p in parts), "the last ones")
        tap.eq((log["x"], log["width"]), (0, 24), "full width")


@tap.case
def new_parameters_and_outputs_documented():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    t = tpl()
    for name in ("DbClusterIdentifier", "ReaderListenerPort", "AlertEmail", "AlertTopicArn", "HealthCheckIntervalSeconds",
                 "HealthCheckTimeoutSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount", "SchedulePeriodMinutes"):
        tap.ok(name in t["Parameters"], "parameter %s" % name)
        tap.ok("`%s`" % name in readme, "README.md documents %s" % name)
    for name in ("DashboardUrl", "AlertsTopicArn", "ReaderListenerPort", "ReaderTargetGroupArn", "ReaderFunctionName"):
        tap.ok(name in t["Outputs"] and "`%s`" % name in readme, "output %s exists and is documented" % name)
    for alarm in ("NoHealthyTargetAlarm", "FunctionErrorsAlarm", "SyncErrorsAlarm", "NoSuccessfulRunAlarm"):
        tap.ok("| `%s` |" % alarm in readme, "README.md's alarm table explains %s" % alarm)
    tap.ok("`ReaderPort=" in readme, "the consumer's ReaderPort")


@tap.case
def consumer_reader_port():
    t = tpl("consumer.yml")
    r = res("ReaderIngress", t)
    tap.eq(r.get("Condition"), "HasReaderPort", "only with a reader port")
    p = r["Properties"]
    tap.eq((p["GroupId"], p["IpProtocol"], p["FromPort"], p["ToPort"], p["CidrIp"]),
           (getatt("EndpointSecurityGroup", "GroupId"), "tcp", ref("ReaderPort"), ref("ReaderPort"), ref("AllowedCidr")),
           "the reader port from the same clients")
    base = {"ServiceName": "com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0", "VpcId": "vpc-1",
            "SubnetIds": "subnet-c"}
    tap.ok("ReaderIngress" not in cfneval.Stack(t, base).resources, "none by default")
    tap.ok("ReaderIngress" in cfneval.Stack(t, dict(base, ReaderPort="5433")).resources, "with ReaderPort")


tap.main()
