#!/usr/bin/python3
"""template.yml's alerts and dashboard: the alarms (metric, dimensions, threshold, descriptions,
actions to the alert topic), the failure destination and its IAM scope, the dashboard's rows and
its last-decisions query against the handler's log messages, and the documentation of the new
parameters and outputs."""
import json
import os
import re

import cfneval
import tap
from template_common import (ROOT, tpl, res, ref, getatt, DNS, READERS, stack, statements_by_action, env_of,
                             ALERT_EMAIL, ALERT_TOPIC, handler_source, handler_messages, check_widget_grid)


# ------------------------------------------------------------------ alerts ---



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
        check_widget_grid(widgets)
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
