#!/usr/bin/python3
"""template.yml (provider stack) and consumer.yml (consumer endpoint), read with
CloudFormation's tags (cfnyaml.py), checked against AWS's resource specification
(cfn-spec.json, cfnspec.py), for internal consistency (every Ref, GetAtt, Sub
variable and Condition resolves, every parameter is used) and for the properties
issue 7 and lessons.md ask for. yamllint must pass with the repository's .yamllint."""
import copy
import os
import re
import shutil
import subprocess

import cfnspec
import cfnyaml
import tap

ROOT = tap.root()
TEMPLATES = {name: os.path.join(ROOT, name) for name in ("template.yml", "consumer.yml")}
_cache = {}

# README.md, "Configuration" (the function's configuration); AWS_* ones are Lambda's own.
CONTRACT_ENV = ["TARGET_GROUP_ARN", "DB_ENDPOINT", "DB_PORT", "DB_IDENTIFIER", "ALLOWED_CIDRS", "IP_FAMILY",
                "FAILOVER_WAIT_SECONDS", "DNS_POLL_MS", "DRY_RUN", "METRICS_NAMESPACE"]
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
    if not shutil.which("yamllint"):
        tap.skip("yamllint is not installed (scripts/deps.txt)")
    proc = subprocess.run(["yamllint", "--strict", "-c", os.path.join(ROOT, ".yamllint")] + list(TEMPLATES.values()),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    tap.eq(proc.returncode, 0, "yamllint: %s" % proc.stdout.decode(errors="replace").strip()[:600])


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


@tap.case
def health_check_fast_and_valid():
    p = props("TargetGroup")
    interval, timeout = p["HealthCheckIntervalSeconds"], p["HealthCheckTimeoutSeconds"]
    tap.eq(p["HealthCheckProtocol"], "TCP", "TCP health check")
    tap.ok(5 <= interval <= 300 and 2 <= timeout <= 120 and timeout <= interval,
           "NLB ranges: interval 5-300, timeout 2-120 and <= interval (%s, %s)" % (interval, timeout))
    tap.ok(2 <= p["HealthyThresholdCount"] <= 10 and 2 <= p["UnhealthyThresholdCount"] <= 10, "thresholds 2-10")
    # Fast registration: at most 20 s from the first check to healthy.
    tap.ok(interval * p["HealthyThresholdCount"] <= 20, "healthy within 20 s")
    tap.eq((interval, p["HealthyThresholdCount"], p["UnhealthyThresholdCount"]), (5, 2, 2), "fastest valid settings")


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
    for var, p in [("DB_ENDPOINT", "DbEndpoint"), ("DB_PORT", "DbPort"), ("DB_IDENTIFIER", "DbIdentifier"),
                   ("ALLOWED_CIDRS", "AllowedCidrs"), ("FAILOVER_WAIT_SECONDS", "FailoverWaitSeconds"),
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
    tap.eq(p["SourceType"], ref("DbEventSourceType"), "source type parameter")
    tap.eq(sorted(param("DbEventSourceType", t)["AllowedValues"]), ["db-cluster", "db-instance"], "instance or cluster")
    tap.eq(p["SourceIds"], [ref("DbIdentifier")], "the database")
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
    tap.eq(pattern["detail"]["SourceIdentifier"][0], ref("DbIdentifier"), "of the database")
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


tap.main()
