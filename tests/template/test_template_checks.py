#!/usr/bin/python3
"""The templates as tools see them: yamllint with the repository's strict .yamllint and cfn-lint when
installed (all four templates), AWS's resource specification (cfn-spec.json, cfnspec.py), internal
consistency (every Ref, GetAtt, Sub variable and Condition resolves, every parameter is used, rules
use rule functions only) and the structural checks cfn-lint would add (cfnchecks.py, all four);
each check is shown to catch a planted mistake. fleet.yml's and database.yml's specification and
reference checks are in their own suites."""
import copy
import os
import re
import shutil
import subprocess

import cfnchecks
import tap
from template_common import (ROOT, TEMPLATES, tpl, ref, getatt, DNS, READERS, stack, ALERT_EMAIL, spec_errors,
                             reference_errors)


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
    for name in ("template.yml", "fleet.yml", "database.yml"):
        rules = tpl(name).get("Rules", {})
        tap.ok(rules, "%s has rules" % name)
        walk(rules, name + " Rules")



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


tap.main()
