#!/usr/bin/python3
"""template.yml's provider side, resource by resource: the load balancer, its target group and
listener, the endpoint service, the function (runtime, architecture, timeout, environment against
the contract's configuration, VPC, IAM, logs), its triggers (SNS, the RDS event subscription, the
schedule, the EventBridge rule, the custom resource), outputs and parameter patterns, and
consumer.yml's interface endpoint."""
import os
import re

import cfnyaml
import tap
from template_common import (ROOT, CONTRACT_ENV, REQUIRED_ENV, ADDED_ENV, tpl, res, props, ref, getatt,
                             attributes, param, condition)


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
    tap.eq(p["DefaultActions"]["Fn::If"][0], "FastSwitch", "the fast switch's weighted action, else:")
    tap.eq(p["DefaultActions"]["Fn::If"][2], [{"Type": "forward", "TargetGroupArn": ref("TargetGroup")}], "forward")


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


# ELBv2 reads without resource-level permissions (Service Authorization Reference).
READ_ONLY_ELB = {"elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeListeners",
                 "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTags"}


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
    # The fast switch's statements (StandbySlots > 0) are checked in test_template_fastswitch.py; the
    # RDS Proxy's miss counts (DNS mode) below.
    unconditional = {a: [s for s in ss if s.get("_condition") not in ("FastSwitch", "ProxyCapable")]
                     for a, ss in by_action.items()}
    proxy = {a: [(s["Resource"], s.get("Condition")) for s in ss if s.get("_condition") == "ProxyCapable"]
             for a, ss in by_action.items()}
    keys = {"ForAllValues:StringLike": {"aws:TagKeys": ["rds-nlb-sync:misses", "rds-nlb-sync:misses:*"]}}
    tap.eq({a: v for a, v in proxy.items() if v},
           {"elasticloadbalancing:DescribeTags": [("*", None)],
            "elasticloadbalancing:AddTags": [(ref("TargetGroup"), keys)],
            "elasticloadbalancing:RemoveTags": [(ref("TargetGroup"), keys)]},
           "DNS mode: the proxy's miss counts, read anywhere, written on the stack's group under their keys only")
    for action in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
        tap.eq([s["Resource"] for s in unconditional.get(action, [])], [ref("TargetGroup")],
               "%s only on the stack's target group" % action)
    tap.eq([s["Resource"] for s in by_action.get("elasticloadbalancing:DescribeTargetHealth", [])], ["*"],
           "DescribeTargetHealth (no resource-level permissions)")
    elb = sorted(a for a in by_action if a.startswith("elasticloadbalancing:") and unconditional[a])
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
        if not a.startswith("ec2:") and a not in READ_ONLY_ELB:
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


tap.main()
