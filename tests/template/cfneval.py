"""A template as CloudFormation would create it for given parameter values: conditions
evaluated, conditional resources and outputs dropped, Fn::If branches chosen,
AWS::NoValue removed, and Ref, GetAtt, Sub, Join, Split, Select, FindInMap and
ImportValue resolved to strings. A resource's Ref reads "<Name>", a GetAtt
"<Name.Attribute>", an import "<import ExportName>", so tests can compare what a
property points at.

    import cfneval
    stack = cfneval.Stack(tpl, {"DbClusterIdentifier": "aurora-orders"})
    stack.resources["Function"]["Properties"]["Environment"]["Variables"]["DB_ROLE"]  # "writer"

Rules are evaluated with rule_violations(); only the rule functions the templates
use are known, and anything else is an error rather than a guess."""
import re

NO_VALUE = object()
PSEUDO_VALUES = {"AWS::AccountId": "111122223333", "AWS::Partition": "aws", "AWS::Region": "eu-west-1",
                 "AWS::StackName": "orders-db-link", "AWS::URLSuffix": "amazonaws.com",
                 "AWS::StackId": "arn:aws:cloudformation:eu-west-1:111122223333:stack/orders-db-link/1"}


class Stack:
    def __init__(self, template, params=None):
        self.t = template
        self.params = dict(params or {})
        self._conditions = {}
        self.resources = {}
        for name, r in template.get("Resources", {}).items():
            if "Condition" in r and not self.condition(r["Condition"]):
                continue
            self.resources[name] = self.render({k: v for k, v in r.items() if k != "Condition"})
        self.outputs = {}
        for name, o in template.get("Outputs", {}).items():
            if "Condition" in o and not self.condition(o["Condition"]):
                continue
            self.outputs[name] = self.render(o["Value"])

    # ---- parameters and conditions ----

    def param(self, name):
        if name in PSEUDO_VALUES:
            return self.params.get(name, PSEUDO_VALUES[name])
        spec = self.t["Parameters"][name]
        value = self.params.get(name, spec.get("Default"))
        if value is None:
            raise AssertionError("parameter %s has no value and no default" % name)
        if spec["Type"].startswith("List<") or spec["Type"] == "CommaDelimitedList":
            return [v.strip() for v in str(value).split(",")] if str(value) != "" else [""]
        return str(value)

    def condition(self, name):
        if name not in self._conditions:
            self._conditions[name] = bool(self.render(self.t["Conditions"][name]))
        return self._conditions[name]

    # ---- values ----

    def render(self, node):
        if isinstance(node, list):
            out = [self.render(v) for v in node]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            fn, arg = next(iter(node.items()))
            handler = _FUNCTIONS.get(fn)
            if handler:
                return handler(self, arg)
        out = {k: self.render(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.t.get("Parameters", {}) or name in PSEUDO_VALUES:
            return self.param(name)
        if name in self.t.get("Resources", {}):
            if name not in self.resources and name in self.t["Resources"] and \
                    "Condition" in self.t["Resources"][name] and \
                    not self.condition(self.t["Resources"][name]["Condition"]):
                raise AssertionError("Ref to %s, which this stack does not create" % name)
            return "<%s>" % name
        raise AssertionError("Ref to unknown %s" % name)

    def getatt(self, name, attribute):
        r = self.t["Resources"].get(name)
        if r is None:
            raise AssertionError("GetAtt of unknown %s" % name)
        if "Condition" in r and not self.condition(r["Condition"]):
            raise AssertionError("GetAtt of %s, which this stack does not create" % name)
        return "<%s.%s>" % (name, attribute)

    def sub(self, arg):
        text, local = (arg[0], self.render(arg[1])) if isinstance(arg, list) else (arg, {})

        def one(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${%s}" % name[1:]
            if name in local:
                return str(local[name])
            if "." in name and not name.startswith("AWS::"):
                return self.getatt(*name.split(".", 1))
            value = self.ref(name)
            if not isinstance(value, str):
                raise AssertionError("Sub of ${%s}, which is not a string" % name)
            return value
        return re.sub(r"\$\{([^}]+)\}", one, text)


def _if(stack, arg):
    if len(arg) != 3:
        raise AssertionError("Fn::If takes [condition, then, else], got %r" % (arg,))
    return stack.render(arg[1] if stack.condition(arg[0]) else arg[2])


def _join(stack, arg):
    items = stack.render(arg[1])
    return arg[0].join(str(i) for i in (items if isinstance(items, list) else [items]))


def _find_in_map(stack, arg):
    top, second, third = (stack.render(a) for a in arg)
    return stack.t["Mappings"][top][str(second)][third]


def _select(stack, arg):
    index, items = int(stack.render(arg[0])), stack.render(arg[1])
    # A list attribute (GetAtt Endpoint.DnsEntries) and what is split from it stay
    # placeholders: their items are known only once deployed.
    if isinstance(items, list) and (index < len(items) or "<" not in "".join(map(str, items))):
        return items[index]
    return "%s[%d]" % ("".join(map(str, items)) if isinstance(items, list) else items, index)


def _getatt(stack, arg):
    return stack.getatt(arg[0], arg[1])


def _import_value(stack, arg):
    # Another stack's export: known only once deployed, so its name stands for it.
    return "<import %s>" % stack.render(arg)


_FUNCTIONS = {
    "Ref": lambda s, a: s.ref(a),
    "Condition": lambda s, a: s.condition(a),
    "Fn::If": _if,
    "Fn::Equals": lambda s, a: s.render(a[0]) == s.render(a[1]),
    "Fn::Not": lambda s, a: not s.render(a[0]),
    "Fn::And": lambda s, a: all(s.render(x) for x in a),
    "Fn::Or": lambda s, a: any(s.render(x) for x in a),
    "Fn::Join": _join,
    "Fn::Split": lambda s, a: str(s.render(a[1])).split(a[0]),
    "Fn::Select": _select,
    "Fn::Sub": lambda s, a: s.sub(a),
    "Fn::GetAtt": _getatt,
    "Fn::FindInMap": _find_in_map,
    "Fn::ImportValue": _import_value,
}


# ---------------------------------------------------------------- rules ---

def _rule_value(stack, node):
    if isinstance(node, list):
        return [_rule_value(stack, v) for v in node]
    if not isinstance(node, dict):
        return node
    fn, arg = next(iter(node.items()))
    if fn == "Ref":
        return stack.param(arg)
    if fn == "Fn::Equals":
        return _rule_value(stack, arg[0]) == _rule_value(stack, arg[1])
    if fn == "Fn::Not":
        return not _rule_value(stack, arg[0])
    if fn == "Fn::And":
        return all(_rule_value(stack, a) for a in arg)
    if fn == "Fn::Or":
        return any(_rule_value(stack, a) for a in arg)
    if fn == "Fn::EachMemberEquals":
        return all(v == _rule_value(stack, arg[1]) for v in _rule_value(stack, arg[0]))
    raise AssertionError("rule function %s is not known here" % fn)


def rule_violations(template, params):
    """The AssertDescription of every rule assertion the parameter values break."""
    stack = Stack.__new__(Stack)
    stack.t, stack.params, stack._conditions = template, dict(params), {}
    broken = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not _rule_value(stack, rule["RuleCondition"]):
            continue
        for a in rule["Assertions"]:
            if not _rule_value(stack, a["Assert"]):
                broken.append(a["AssertDescription"])
    return broken
