#!/usr/bin/python3
"""database.yml, resource by resource: the rules (one database, the fleet by its stack or by ARNs, a
reader pair only for a cluster), what each source creates, the target groups' tags against the
contract's binding (section 14), the listeners on the fleet's NLB, the custom resource that has the
fleet function reconcile the binding, and the HealthyHostCount alarms."""
import cfnchecks
import cfneval
import tap
from template_common import tpl, stack, spec_errors, reference_errors, BINDING_TAGS, conditions_not_covered

NAME = "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com"
PROXY = "orders-proxy.proxy-abc123xyz.eu-west-1.rds.amazonaws.com"
NLB = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/db-fleet/50dc6c495c0c9188"
FUNCTION = "arn:aws:lambda:eu-west-1:111122223333:function:db-fleet-Function-1a2b3c4d"
TOPIC = "arn:aws:sns:eu-west-1:111122223333:pager"
FLEET = {"FleetStackName": "db-fleet", "VpcId": "vpc-0abc", "ListenerPort": "5432"}
BY_ARN = {"LoadBalancerArn": NLB, "FleetFunctionArn": FUNCTION, "VpcId": "vpc-0abc", "ListenerPort": "5432"}
DNS_DB = dict(FLEET, DbEndpoint=NAME)
PROXY_DB = dict(FLEET, DbProxyEndpoint=PROXY)
CLUSTER_DB = dict(FLEET, DbClusterIdentifier="aurora-orders")
READERS_DB = dict(CLUSTER_DB, ReaderListenerPort="5433")
WRITER = {"TargetGroup", "Listener", "BindingSync", "NoHealthyTargetAlarm"}
READER = {"ReaderTargetGroup", "ReaderListener", "ReaderBindingSync", "ReaderNoHealthyTargetAlarm"}


def database(**params):
    return stack("database.yml", **params)


def tags(s, group):
    return {t["Key"]: t["Value"] for t in s.resources[group]["Properties"]["Tags"]}


@tap.case
def database_matches_specification_and_its_names():
    tap.eq(spec_errors(tpl("database.yml")), [], "database.yml against the CloudFormation specification")
    tap.eq(reference_errors(tpl("database.yml")), [], "every Ref, Sub and condition resolves; every parameter is used")
    for params in (DNS_DB, dict(READERS_DB, AlertTopicArn=TOPIC), dict(BY_ARN, DbProxyEndpoint=PROXY)):
        tap.eq(cfnchecks.value_errors(database(**params).resources), [], "alarm values for %r" % params)


@tap.case
def every_condition_seen_both_ways():
    sets = [DNS_DB, PROXY_DB, dict(READERS_DB, DbIdentifier="aurora-orders", DryRun="true", AlertTopicArn=TOPIC),
            dict(BY_ARN, DbEndpoint=NAME)]
    tap.eq(conditions_not_covered("database.yml", sets), [], "the suite's parameter sets cover every condition")


@tap.case
def rules_reject_what_cannot_work():
    t = tpl("database.yml")
    bad = {
        "no database": dict(FLEET),
        "two databases": dict(DNS_DB, DbClusterIdentifier="aurora-orders"),
        "a name and a proxy": dict(DNS_DB, DbProxyEndpoint=PROXY),
        "no fleet": {"VpcId": "vpc-0abc", "ListenerPort": "5432", "DbEndpoint": NAME},
        "an ARN without the function": {"VpcId": "vpc-0abc", "ListenerPort": "5432", "DbEndpoint": NAME,
                                        "LoadBalancerArn": NLB},
        "the stack and an ARN": dict(DNS_DB, LoadBalancerArn=NLB),
        "readers without a cluster": dict(DNS_DB, ReaderListenerPort="5433"),
        "the reader port on the writer's": dict(CLUSTER_DB, ReaderListenerPort="5432"),
    }
    for what, params in bad.items():
        tap.ok(cfneval.rule_violations(t, params), "rejected: %s" % what)
    for params in (DNS_DB, PROXY_DB, CLUSTER_DB, READERS_DB, dict(BY_ARN, DbEndpoint=NAME)):
        tap.eq(cfneval.rule_violations(t, params), [], "accepted: %r" % params)


@tap.case
def resources_each_source_creates():
    tap.eq(set(database(**DNS_DB).resources), WRITER, "a DNS name: one listener, group, sync and alarm")
    tap.eq(set(database(**PROXY_DB).resources), WRITER, "a proxy: the same")
    tap.eq(set(database(**CLUSTER_DB).resources), WRITER, "a cluster without a reader port: the writer only")
    tap.eq(set(database(**READERS_DB).resources), WRITER | READER, "with ReaderListenerPort: the reader pair")


@tap.case
def target_groups_tagged_with_the_binding():
    for params, source in ((DNS_DB, "dns:" + NAME), (PROXY_DB, "proxy:" + PROXY),
                           (CLUSTER_DB, "cluster:aurora-orders")):
        s = database(**params)
        tap.eq(tags(s, "TargetGroup"), {"rds-nlb-sync:source": source, "rds-nlb-sync:role": "writer"},
               "source and role only by default")
    s = database(**dict(READERS_DB, DbIdentifier="aurora-orders", DryRun="true"))
    tap.eq(tags(s, "TargetGroup"), {"rds-nlb-sync:source": "cluster:aurora-orders", "rds-nlb-sync:role": "writer",
                                    "rds-nlb-sync:identifier": "aurora-orders", "rds-nlb-sync:dry-run": "true"},
           "identifier and dry-run when given")
    tap.eq(tags(s, "ReaderTargetGroup"), {"rds-nlb-sync:source": "cluster:aurora-orders", "rds-nlb-sync:role": "readers",
                                          "rds-nlb-sync:identifier": "aurora-orders", "rds-nlb-sync:dry-run": "true"},
           "the reader group: role readers")
    for group in ("TargetGroup", "ReaderTargetGroup"):
        tap.ok(set(tags(s, group)) <= BINDING_TAGS, "only the contract's tag keys")
        p = s.resources[group]["Properties"]
        tap.eq((p["Protocol"], p["TargetType"], p["Port"], p["VpcId"]), ("TCP", "ip", "5432", "vpc-0abc"),
               "%s: TCP, ip targets, DbPort, the NLB's VPC" % group)
        tap.ok("Targets" not in p, "the function owns the membership")
        tap.eq((p["HealthCheckProtocol"], p["HealthCheckPort"], p["HealthCheckIntervalSeconds"],
                p["HealthCheckTimeoutSeconds"], p["HealthyThresholdCount"], p["UnhealthyThresholdCount"]),
               ("TCP", "traffic-port", "5", "2", "2", "2"), "template.yml's fast TCP checks")
        tap.eq({a["Key"]: a["Value"] for a in p["TargetGroupAttributes"]},
               {"deregistration_delay.timeout_seconds": "10",
                "deregistration_delay.connection_termination.enabled": "true"}, "sessions on the old primary end")
    t = tpl("database.yml")
    for key in ("HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount",
                "UnhealthyThresholdCount", "DeregistrationDelaySeconds", "ConnectionTermination"):
        mine, theirs = t["Parameters"][key], tpl()["Parameters"][key]
        tap.eq({k: mine.get(k) for k in ("Type", "Default", "MinValue", "MaxValue", "AllowedValues")},
               {k: theirs.get(k) for k in ("Type", "Default", "MinValue", "MaxValue", "AllowedValues")},
               "%s as template.yml's" % key)


@tap.case
def listeners_on_the_fleets_nlb():
    s = database(**READERS_DB)
    for listener, port, group in (("Listener", "5432", "<TargetGroup>"), ("ReaderListener", "5433",
                                                                           "<ReaderTargetGroup>")):
        p = s.resources[listener]["Properties"]
        tap.eq((p["LoadBalancerArn"], p["Port"], p["Protocol"]), ("<import db-fleet-LoadBalancerArn>", port, "TCP"),
               "%s on the fleet stack's exported NLB" % listener)
        tap.eq(p["DefaultActions"], [{"Type": "forward", "TargetGroupArn": group}], "forwards to its group")
    p = database(**dict(BY_ARN, DbEndpoint=NAME)).resources["Listener"]["Properties"]
    tap.eq(p["LoadBalancerArn"], NLB, "or the NLB given by ARN")


@tap.case
def custom_resource_reconciles_the_binding():
    s = database(**READERS_DB)
    for sync, group, listener in (("BindingSync", "<TargetGroup>", "Listener"),
                                  ("ReaderBindingSync", "<ReaderTargetGroup>", "ReaderListener")):
        r = s.resources[sync]
        p = r["Properties"]
        tap.eq(r["Type"], "Custom::FleetBinding", sync)
        tap.eq((p["ServiceToken"], p["TargetGroupArn"]), ("<import db-fleet-FunctionArn>", group),
               "%s: the fleet function, for this binding only" % sync)
        tap.eq(p["Source"], tags(s, "TargetGroup" if sync == "BindingSync" else "ReaderTargetGroup")
               ["rds-nlb-sync:source"], "a change of the binding runs it again")
        tap.eq(r["DependsOn"], [listener], "after the listener puts the group on the NLB")
        tap.ok(int(p["ServiceTimeout"]) <= 3600, "within CloudFormation's limit")
    p = database(**dict(BY_ARN, DbEndpoint=NAME)).resources["BindingSync"]["Properties"]
    tap.eq(p["ServiceToken"], FUNCTION, "or the function given by ARN")


@tap.case
def healthy_host_alarm_per_group():
    s = database(**dict(READERS_DB, AlertTopicArn=TOPIC))
    for name, group in (("NoHealthyTargetAlarm", "TargetGroup"), ("ReaderNoHealthyTargetAlarm", "ReaderTargetGroup")):
        p = s.resources[name]["Properties"]
        dims = [(d["Name"], d["Value"]) for d in p["Dimensions"]]
        tap.eq(dims[0], ("TargetGroup", "<%s.TargetGroupFullName>" % group), "%s: its group" % name)
        tap.eq((p["Namespace"], p["MetricName"], p["Statistic"], p["Period"], p["EvaluationPeriods"], p["Threshold"],
                p["ComparisonOperator"], p["TreatMissingData"]),
               ("AWS/NetworkELB", "HealthyHostCount", "Maximum", 60, 2, 1, "LessThanThreshold", "breaching"),
               "template.yml's outage alarm")
        tap.eq((p["AlarmActions"], p["OKActions"]), ([TOPIC], [TOPIC]), "to the given topic")
        tap.ok("First:" in p["AlarmDescription"], "says what to check first")
    p = database(**dict(BY_ARN, DbEndpoint=NAME)).resources["NoHealthyTargetAlarm"]["Properties"]
    tap.eq(p["Dimensions"][1], {"Name": "LoadBalancer", "Value": "net/db-fleet/50dc6c495c0c9188"},
           "the LoadBalancer dimension is the tail of the NLB's ARN")
    tap.ok(not {"AlarmActions", "OKActions"} & set(p), "no actions without a topic")


@tap.case
def outputs():
    s = database(**READERS_DB)
    tap.eq(s.outputs, {"TargetGroupArn": "<TargetGroup>", "ListenerPort": "5432",
                       "ReaderTargetGroupArn": "<ReaderTargetGroup>", "ReaderListenerPort": "5433"}, "with readers")
    tap.eq(sorted(database(**DNS_DB).outputs), ["ListenerPort", "TargetGroupArn"], "without")


tap.main()
