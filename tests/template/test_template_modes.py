#!/usr/bin/python3
"""Instances of template.yml for given parameters (cfneval.py): DNS mode creates nothing of cluster
mode; cluster mode's writer and RDS endpoint; the reader group's resources and its separate role;
the rules reject incomplete configurations; the new parameters' patterns."""
import re

import cfneval
import tap
from template_common import (CONTRACT_ENV, ADDED_ENV, tpl, DNS, CLUSTER, READERS, PRIVATE, READER_RESOURCES,
                             RDS_ACTIONS, stack, statements_by_action, env_of)


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


tap.main()
