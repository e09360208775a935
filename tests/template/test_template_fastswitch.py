#!/usr/bin/python3
"""template.yml's StandbySlots (CONTRACT.md section 13), instance by instance (cfneval.py): 0 keeps the
single target group; 2 to 5 make that many slots behind the writer listener, the first weighted 1 and
the others 0, stickiness off, the function given LISTENER_ARN, and least-privilege IAM (ModifyListener
on that listener only; target and tag actions on the slots only). cfn-lint checks neither weights nor
group counts (reference/nlb-weighted-target-groups.md, section 6), so this suite does, against the API's
limits: weights 0..999, at most 5 groups (NLB's limit is an open question; ALB's is 5), not all 0."""
import cfneval
import tap
from template_common import DNS, CLUSTER, READERS, stack, statements_by_action, env_of, tpl

SLOTS = ["TargetGroup", "Slot2", "Slot3", "Slot4", "Slot5"]
MAX_GROUPS = 5


def forward(s):
    actions = s.resources["Listener"]["Properties"]["DefaultActions"]
    tap.eq(len(actions), 1, "one default action")
    tap.eq(actions[0]["Type"], "forward")
    return actions[0]


@tap.case
def zero_keeps_the_single_group():
    s = stack(**DNS)
    tap.eq(forward(s), {"Type": "forward", "TargetGroupArn": "<TargetGroup>"})
    tap.eq(sorted(r for r in s.resources if r.startswith("Slot")), [], "no slot")
    tap.ok("LISTENER_ARN" not in env_of(s, "Function"), "no LISTENER_ARN")
    actions = statements_by_action(s.resources["FunctionRole"])
    tap.eq(sorted(a for a in actions if a in ("elasticloadbalancing:ModifyListener",
                                              "elasticloadbalancing:DescribeListeners")), [], "no fast-switch IAM")
    # (AddTags stays, on the one group: an RDS Proxy's miss counts, test_template_provider.py)
    tap.eq(actions["elasticloadbalancing:AddTags"], ["<TargetGroup>"], "AddTags on the one group only")


@tap.case
def slots_behind_the_listener_weighted_one_then_zeros():
    for n in (2, 3, 4, 5):
        for params in (DNS, CLUSTER):
            s = stack(**dict(params, StandbySlots=str(n)))
            fc = forward(s)["ForwardConfig"]
            groups = fc["TargetGroups"]
            tap.eq([g["TargetGroupArn"] for g in groups], ["<%s>" % r for r in SLOTS[:n]], "%d slots in order" % n)
            tap.eq([g["Weight"] for g in groups], [1] + [0] * (n - 1), "the first weighted 1, the others 0")
            tap.ok(all(isinstance(g["Weight"], int) and 0 <= g["Weight"] <= 999 for g in groups), "weights 0..999")
            tap.ok(2 <= len(groups) <= MAX_GROUPS, "2..%d groups" % MAX_GROUPS)
            tap.ok(any(g["Weight"] > 0 for g in groups), "not every weight 0")
            tap.ok("TargetGroupArn" not in forward(s), "ForwardConfig only (several groups)")
            tap.eq(fc["TargetGroupStickinessConfig"], {"Enabled": False}, "group stickiness off")
            tap.eq(sorted(r for r in s.resources if r.startswith("Slot")), SLOTS[1:n], "the slot resources")
            for r in SLOTS[:n]:
                p = s.resources[r]["Properties"]
                attrs = {a["Key"]: a["Value"] for a in p["TargetGroupAttributes"]}
                tap.eq((p["TargetType"], p["Protocol"], attrs["stickiness.enabled"]), ("ip", "TCP", "false"),
                       "%s: ip, TCP, stickiness off" % r)
                tap.eq({k: p[k] for k in p if k.startswith("HealthCheck")},
                       {k: v for k, v in s.resources["TargetGroup"]["Properties"].items() if k.startswith("HealthCheck")},
                       "%s: slot 1's health checks" % r)
            env = env_of(s, "Function")
            tap.eq(env["LISTENER_ARN"], "<Listener>", "the function routes by the listener's weights")


@tap.case
def iam_modify_listener_on_that_listener_only():
    for n in (2, 5):
        s = stack(**dict(DNS, StandbySlots=str(n)))
        by = statements_by_action(s.resources["FunctionRole"])
        tap.eq(by["elasticloadbalancing:ModifyListener"], ["<Listener>"], "ModifyListener on the listener only")
        for a in ("DescribeListeners", "DescribeTargetGroups", "DescribeTags", "DescribeTargetHealth"):
            tap.eq(set(by["elasticloadbalancing:" + a]), {"*"}, "%s takes no resource" % a)
        slots = ["<%s>" % r for r in SLOTS[:n]]
        tap.eq(by["elasticloadbalancing:AddTags"], [slots], "AddTags on the slots only")
        for a in ("RegisterTargets", "DeregisterTargets"):
            tap.eq(sorted({r for res in by["elasticloadbalancing:" + a] for r in (res if isinstance(res, list) else [res])}),
                   sorted(slots), "%s on the slots only" % a)
        tap.ok("elasticloadbalancing:RemoveTags" not in by, "no RemoveTags")
    # the reader function keeps its own group only
    r = stack(**dict(READERS, StandbySlots="2"))
    tap.ok("elasticloadbalancing:ModifyListener" not in statements_by_action(r.resources["ReaderFunctionRole"]),
           "the readers' role moves no weight")
    tap.ok("LISTENER_ARN" not in env_of(r, "ReaderFunction"), "readers keep one group")


@tap.case
def dual_stack_is_refused():
    v = cfneval.rule_violations(tpl(), dict(DNS, StandbySlots="3", IpFamily="dual"))
    tap.ok(any("StandbySlots" in x for x in v), "the rule names StandbySlots: %s" % v)
    tap.eq(cfneval.rule_violations(tpl(), dict(DNS, StandbySlots="0", IpFamily="dual")), [], "0 is as before")


@tap.case
def the_custom_resource_runs_again_when_standby_slots_change():
    a = stack(**dict(DNS, StandbySlots="0")).resources["TargetGroupSync"]["Properties"]
    b = stack(**dict(DNS, StandbySlots="3")).resources["TargetGroupSync"]["Properties"]
    tap.ok(a != b, "a change of StandbySlots is a change of the custom resource (its run puts the weights right)")


@tap.case
def allowed_values():
    tap.eq(tpl()["Parameters"]["StandbySlots"]["AllowedValues"], ["0", "2", "3", "4", "5"])
    tap.eq(tpl()["Parameters"]["StandbySlots"]["Default"], "0", "off by default")


tap.main()
