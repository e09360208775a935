"""Structural checks that cfn-lint makes and the resource specification check
(cfnspec.py) does not, for templates without a Transform:

- condition_scope_errors: a Ref, GetAtt, Sub or DependsOn of a conditional resource
  only where its condition holds (the resource's own Condition and the Fn::If branch
  it sits in imply it), for every combination of the parameter values the conditions
  compare (cfn-lint W1001, E3005);
- parameter_default_errors: each Default satisfies its AllowedPattern, AllowedValues,
  MinValue/MaxValue and MinLength/MaxLength (E2015);
- depends_on_errors: no DependsOn that a Ref or GetAtt already implies (W3005);
- sub_errors: no Fn::Sub without a variable (W1020);
- value_errors: alarm and EventInvokeConfig values the specification subset has no enum
  or range for (comparison, missing-data treatment, statistic, period, metric-math rules,
  retry and event-age ranges), on a template evaluated for given parameters.
"""
import itertools
import re

import cfneval
import cfnyaml


def _params_of(t, node, seen=None):
    """The parameters a condition expression reads, through nested Condition references."""
    seen = set() if seen is None else seen
    out = set()
    if isinstance(node, list):
        for v in node:
            out |= _params_of(t, v, seen)
    elif isinstance(node, dict):
        for fn, arg in node.items():
            if fn == "Ref":
                out.add(arg)
            elif fn == "Condition" and arg not in seen:
                seen.add(arg)
                out |= _params_of(t, t["Conditions"][arg], seen)
            else:
                out |= _params_of(t, arg, seen)
    return out


def _literals(node):
    if isinstance(node, str):
        return {node}
    if isinstance(node, list):
        return set().union(*[_literals(v) for v in node]) if node else set()
    if isinstance(node, dict):
        return set().union(*[_literals(v) for k, v in node.items() if k not in ("Ref", "Condition")]) \
            if node else set()
    return set()


def _candidates(t, name):
    if name == "AWS::Partition":
        return ["aws", "aws-cn"]
    if name in cfneval.PSEUDO_VALUES:
        return [cfneval.PSEUDO_VALUES[name]]
    spec = t["Parameters"][name]
    values = {"", "x"} | _literals(t.get("Conditions", {}))
    if "Default" in spec:
        values.add(str(spec["Default"]))
    values |= {str(v) for v in spec.get("AllowedValues", [])}
    if "AllowedValues" in spec:
        values &= {str(v) for v in spec["AllowedValues"]}
    return sorted(values)


def _implied(t, context, target):
    """True when every parameter combination that makes the context true makes target true."""
    params = _params_of(t, {"Condition": target})
    for cond, _ in context:
        params |= _params_of(t, {"Condition": cond})
    params = sorted(params)
    for combo in itertools.product(*[_candidates(t, p) for p in params]):
        stack = cfneval.Stack.__new__(cfneval.Stack)
        stack.t, stack.params, stack._conditions = t, dict(zip(params, combo)), {}
        if all(stack.condition(c) == want for c, want in context) and not stack.condition(target):
            return False
    return True


def condition_scope_errors(t):
    errors = []
    resources = t.get("Resources", {})

    def check(where, target, context):
        if target not in resources or "Condition" not in resources[target]:
            return
        need = resources[target]["Condition"]
        if not _implied(t, context, need):
            shown = " and ".join(("" if ok else "not ") + c for c, ok in context) or "always"
            errors.append("%s: %s (Condition %s) is used where it may not exist (%s)" % (where, target, need, shown))

    def walk(node, context, where):
        if isinstance(node, list):
            for v in node:
                walk(v, context, where)
            return
        if not isinstance(node, dict):
            return
        if cfnyaml.is_intrinsic(node):
            fn, arg = next(iter(node.items()))
            if fn == "Fn::If":
                walk(arg[1], context + [(arg[0], True)], where)
                walk(arg[2], context + [(arg[0], False)], where)
                return
            if fn == "Ref":
                check(where, arg, context)
            elif fn == "Fn::GetAtt":
                check(where, arg[0], context)
            elif fn == "Fn::Sub":
                for name in cfnyaml.sub_names(arg):
                    check(where, name.split(".")[0], context)
        for v in node.values():
            walk(v, context, where)

    for name, r in resources.items():
        context = [(r["Condition"], True)] if "Condition" in r else []
        walk(r.get("Properties", {}), context, name)
        for dep in cfnyaml.as_list(r.get("DependsOn", [])):
            check(name + " DependsOn", dep, context)
    for name, o in t.get("Outputs", {}).items():
        context = [(o["Condition"], True)] if "Condition" in o else []
        walk(o["Value"], context, "Outputs/" + name)
    return errors


def parameter_default_errors(t):
    errors = []
    for name, p in t.get("Parameters", {}).items():
        if "Default" not in p:
            continue
        default = str(p["Default"])
        values = [v.strip() for v in default.split(",")] if p["Type"] == "CommaDelimitedList" else [default]
        for v in values:
            if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], v) and not \
                    (p["Type"] == "CommaDelimitedList" and v == ""):
                errors.append("%s: default %r does not match AllowedPattern" % (name, v))
        if "AllowedValues" in p and default not in [str(a) for a in p["AllowedValues"]]:
            errors.append("%s: default %r is not in AllowedValues" % (name, default))
        if p["Type"] == "Number":
            if "MinValue" in p and float(default) < float(p["MinValue"]):
                errors.append("%s: default %s is below MinValue %s" % (name, default, p["MinValue"]))
            if "MaxValue" in p and float(default) > float(p["MaxValue"]):
                errors.append("%s: default %s is above MaxValue %s" % (name, default, p["MaxValue"]))
        if "MinLength" in p and len(default) < int(p["MinLength"]):
            errors.append("%s: default is shorter than MinLength" % name)
        if "MaxLength" in p and len(default) > int(p["MaxLength"]):
            errors.append("%s: default is longer than MaxLength" % name)
    return errors


def depends_on_errors(t):
    errors = []
    for name, r in t.get("Resources", {}).items():
        used = set()
        for _, fn, arg in cfnyaml.intrinsics(r.get("Properties", {})):
            if fn == "Ref":
                used.add(arg)
            elif fn == "Fn::GetAtt":
                used.add(arg[0])
            elif fn == "Fn::Sub":
                used |= {n.split(".")[0] for n in cfnyaml.sub_names(arg)}
        for dep in cfnyaml.as_list(r.get("DependsOn", [])):
            if dep in used:
                errors.append("%s: DependsOn %s is already implied by a reference" % (name, dep))
    return errors


def sub_errors(t):
    errors = []
    for path, fn, arg in cfnyaml.intrinsics(t):
        if fn == "Fn::Sub":
            text = arg[0] if isinstance(arg, list) else arg
            if not re.search(r"\$\{(?!!)[^}]+\}", text):
                errors.append("%s: Fn::Sub without a variable" % path)
    return errors


# Allowed values the resource specification subset does not carry (its source has no enums
# or ranges for these), from the CloudWatch PutMetricAlarm and Lambda
# PutFunctionEventInvokeConfig API references; cfn-lint checks them with its own schemas.
ALARM_ENUMS = {
    "ComparisonOperator": {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
                           "LessThanOrEqualToThreshold", "LessThanLowerOrGreaterThanUpperThreshold",
                           "LessThanLowerThreshold", "GreaterThanUpperThreshold"},
    "TreatMissingData": {"breaching", "notBreaching", "ignore", "missing"},
    "Statistic": {"SampleCount", "Average", "Sum", "Minimum", "Maximum"},
}
METRIC_MATH_EXCLUDES = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period", "Dimensions", "Unit")


def _period_errors(where, period):
    if int(period) not in (10, 20, 30) and (int(period) < 60 or int(period) % 60):
        return ["%s: Period %s is not 10, 20, 30 or a multiple of 60" % (where, period)]
    return []


def value_errors(resources):
    """Checks the rendered resources of a cfneval.Stack."""
    errors = []
    for name, r in resources.items():
        p = r.get("Properties", {})
        if r["Type"] == "AWS::CloudWatch::Alarm":
            for key, allowed in ALARM_ENUMS.items():
                if key in p and p[key] not in allowed:
                    errors.append("%s: %s %r is not one of %s" % (name, key, p[key], sorted(allowed)))
            evaluation = int(p.get("EvaluationPeriods", 0))
            if evaluation < 1 or not 1 <= int(p.get("DatapointsToAlarm", evaluation)) <= evaluation:
                errors.append("%s: needs 1 <= DatapointsToAlarm <= EvaluationPeriods" % name)
            if "Metrics" in p:
                errors += ["%s: %s with Metrics" % (name, k) for k in METRIC_MATH_EXCLUDES if k in p]
                ids = [q["Id"] for q in p["Metrics"]]
                if len(set(ids)) != len(ids) or not all(re.fullmatch(r"[a-z][a-zA-Z0-9_]*", i) for i in ids):
                    errors.append("%s: metric ids must be unique and start with a lowercase letter" % name)
                if sum(1 for q in p["Metrics"] if q.get("ReturnData", True)) != 1:
                    errors.append("%s: exactly one query returns data" % name)
                for q in p["Metrics"]:
                    if "MetricStat" in q:
                        errors += _period_errors(name, q["MetricStat"]["Period"])
                        if q["MetricStat"]["Stat"] not in ALARM_ENUMS["Statistic"]:
                            errors.append("%s: Stat %r" % (name, q["MetricStat"]["Stat"]))
                    elif "Expression" not in q:
                        errors.append("%s: query %s has neither MetricStat nor Expression" % (name, q["Id"]))
            else:
                errors += _period_errors(name, p["Period"])
                if len(p.get("Dimensions", [])) > 30:
                    errors.append("%s: more than 30 dimensions" % name)
            if len(p.get("AlarmDescription", "")) > 1024:
                errors.append("%s: AlarmDescription longer than 1024 characters" % name)
        elif r["Type"] == "AWS::Lambda::EventInvokeConfig":
            if not 0 <= int(p.get("MaximumRetryAttempts", 0)) <= 2:
                errors.append("%s: MaximumRetryAttempts outside 0-2" % name)
            if not 60 <= int(p.get("MaximumEventAgeInSeconds", 60)) <= 21600:
                errors.append("%s: MaximumEventAgeInSeconds outside 60-21600" % name)
    return errors
