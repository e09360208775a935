"""What the template suites (tests/template/test_template_*.py) share: template.yml and consumer.yml
read with CloudFormation's tags (cfnyaml.py), accessors for their parts, the function's configuration
variables of the contract, and instances of the template for given parameters (cfneval.py).

    tpl(name="template.yml") -> a fresh copy     res/props/param(name)     ref(name), getatt(name, attr)
    condition(name, **params)     stack(**params) -> cfneval.Stack (the parameters pass the rules)
    statements_by_action(role)    env_of(stack, function)
    DNS, CLUSTER, READERS, PRIVATE, ALERT_EMAIL, ALERT_TOPIC: parameter sets
"""
import copy
import os

import cfneval
import cfnyaml
import tap

ROOT = tap.root()
TEMPLATES = {name: os.path.join(ROOT, name) for name in ("template.yml", "consumer.yml")}
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
