"""What the template suites (tests/template/test_template_*.py) share: the templates (template.yml,
consumer.yml, fleet.yml, database.yml) read with CloudFormation's tags (cfnyaml.py), accessors for
their parts, the function's configuration variables of the contract, and instances of a template for
given parameters (cfneval.py).

    tpl(name="template.yml") -> a fresh copy     res/props/param(name)     ref(name), getatt(name, attr)
    condition(name, **params)     stack([template], **params) -> cfneval.Stack (the parameters pass the rules)
    statements_by_action(role)    env_of(stack, function)
    spec_errors(t), reference_errors(t): what a template breaks of the specification and of its own names
    handler_source(name), handler_messages(): the handler's C files and the messages of its log lines
    check_widget_grid(widgets): a dashboard's widgets fit its grid
    conditions_not_covered(template, param_sets): the conditions those sets leave one-sided
    DNS, CLUSTER, READERS, PRIVATE, ALERT_EMAIL, ALERT_TOPIC: parameter sets; BINDING_TAGS
"""
import copy
import glob
import os
import re

import cfneval
import cfnspec
import cfnyaml
import tap

ROOT = tap.root()
TEMPLATES = {name: os.path.join(ROOT, name) for name in ("template.yml", "consumer.yml", "fleet.yml", "database.yml")}
_cache = {}

# README.md, "Configuration", "Clusters" and "Fast switch" (the function's configuration); AWS_* ones are Lambda's own.
CONTRACT_ENV = ["TARGET_GROUP_ARN", "DB_ENDPOINT", "DB_PORT", "DB_IDENTIFIER", "ALLOWED_CIDRS", "IP_FAMILY",
                "FAILOVER_WAIT_SECONDS", "DNS_POLL_MS", "DRY_RUN", "METRICS_NAMESPACE", "DB_CLUSTER_IDENTIFIER",
                "DB_ROLE", "LISTENER_ARN"]
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


def condition(name, **params):
    """A condition of template.yml for these parameter values (the defaults for the others)."""
    t = tpl()
    return cfneval.Stack({"Parameters": t["Parameters"], "Conditions": t["Conditions"]}, params).condition(name)


# Instances of the template: parameter sets, and what they create.
DNS = {"VpcId": "vpc-0abc", "SubnetIds": "subnet-a,subnet-b", "DbEndpoint": "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com",
       "DbIdentifier": "orders-db"}
CLUSTER = {"VpcId": "vpc-0abc", "SubnetIds": "subnet-a,subnet-b", "DbClusterIdentifier": "aurora-orders"}
READERS = dict(CLUSTER, ReaderListenerPort="5433")
ALERT_EMAIL = {"AlertEmail": "oncall@example.com"}
ALERT_TOPIC = {"AlertTopicArn": "arn:aws:sns:eu-west-1:111122223333:pager"}
PRIVATE = {"FunctionSubnetIds": "subnet-p1,subnet-p2", "CreateElbVpcEndpoint": "true"}
READER_RESOURCES = {"ReaderTargetGroup", "ReaderListener", "ReaderLogGroup", "ReaderFunctionRole", "ReaderFunction",
                    "ReaderFunctionEventInvokeConfig", "ReaderTopicSubscription", "ReaderTopicPermission",
                    "ReaderScheduleRule", "ReaderSchedulePermission", "ReaderTargetGroupSync",
                    "ReaderNoHealthyTargetAlarm", "ReaderFunctionErrorsAlarm", "ReaderSyncErrorsAlarm",
                    "ReaderNoSuccessfulRunAlarm"}
RDS_ACTIONS = {"rds:DescribeDBClusters", "rds:DescribeDBInstances"}
# The tags of a fleet binding (the contract's section 14): set by its owner, read by the function.
BINDING_TAGS = {"rds-nlb-sync:source", "rds-nlb-sync:role", "rds-nlb-sync:identifier", "rds-nlb-sync:dry-run"}


def stack(template="template.yml", **params):
    for name, value in params.items():
        tap.ok(name in tpl(template)["Parameters"], "parameter %s exists" % name)
    tap.eq(cfneval.rule_violations(tpl(template), params), [], "the parameters pass the template's rules")
    return cfneval.Stack(tpl(template), params)


def statements_by_action(role):
    out = {}
    for policy in role["Properties"]["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            for a in cfnyaml.as_list(st["Action"]):
                out.setdefault(a, []).append(st["Resource"])
    return out


def env_of(s, function):
    return s.resources[function]["Properties"]["Environment"]["Variables"]


# The checks every template passes (tests/template/test_template_checks.py and the fleet suites).

def spec_errors(t):
    spec = cfnspec.load()
    checker = cfnspec.Checker(spec)
    packed = cfnspec.packaged(t)
    for name, r in packed["Resources"].items():
        checker.resource(name, r)
    return checker.errors + cfnspec.getatt_errors(spec, packed)


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


def handler_source(name):
    """The path of one of the handler's C files, in whichever folder of handler/ it is."""
    found = glob.glob(os.path.join(ROOT, "handler", "**", name), recursive=True)
    tap.ok(len(found) == 1, "one %s under handler/: %r" % (name, found))
    return found[0]


def handler_messages():
    """The fixed messages of the handler's structured log lines (log_fields, reconcile_log): a
    literal after the level, or either side of a ternary there."""
    messages = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "handler", "**", "*.c"), recursive=True)):
        with open(path) as f:
            src = f.read()
        for call in re.findall(r"(?:log_fields|reconcile_log)\((.*?)\);", src, re.S):
            messages |= set(re.findall(r'"([^"%]+)"', call.split(",", 2)[2] if call.count(",") >= 2 else ""))
    return messages


def check_widget_grid(widgets):
    """A dashboard's widgets do not overlap and stay within its 24 columns."""
    cells = set()
    for w in widgets:
        for x in range(w["x"], w["x"] + w["width"]):
            for y in range(w["y"], w["y"] + w["height"]):
                tap.ok((x, y) not in cells, "widgets do not overlap")
                cells.add((x, y))
        tap.ok(w["x"] + w["width"] <= 24, "within the 24-column grid")


def conditions_not_covered(template, param_sets):
    """The conditions of template that the parameter sets do not make both true and false:
    a suite that checks resources for these sets has seen both sides of every other one."""
    seen = {}
    for params in param_sets:
        s = cfneval.Stack(tpl(template), params)
        for name in tpl(template)["Conditions"]:
            seen.setdefault(name, set()).add(s.condition(name))
    return sorted(name for name, values in seen.items() if values != {True, False})
