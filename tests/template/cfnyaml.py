"""CloudFormation YAML for Debian's python3-yaml: the short-form tags (!Ref, !Sub,
!GetAtt, ...) are read into the long form ({"Ref": x}, {"Fn::Sub": ...}), as
CloudFormation itself reads them, plus a few helpers for walking templates.

    import cfnyaml
    tpl = cfnyaml.load("template.yml")
    for path, fn, arg in cfnyaml.intrinsics(tpl["Resources"]): ...
"""
import re

import yaml

FUNCTIONS = ["Base64", "Cidr", "FindInMap", "GetAZs", "ImportValue", "Join", "Select", "Split", "Sub",
             "Transform", "And", "Equals", "If", "Not", "Or", "Length", "ToJsonString"]
PSEUDO = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
          "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}


class Loader(yaml.SafeLoader):
    pass


def _value(loader, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _function(name):
    def construct(loader, node):
        return {name: _value(loader, node)}
    return construct


def _getatt(loader, node):
    value = _value(loader, node)
    if isinstance(value, str):  # !GetAtt Resource.Attribute (the attribute may hold dots)
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


for _name in FUNCTIONS:
    Loader.add_constructor("!" + _name, _function("Fn::" + _name))
Loader.add_constructor("!Ref", _function("Ref"))
Loader.add_constructor("!Condition", _function("Condition"))
Loader.add_constructor("!GetAtt", _getatt)


def loads(text):
    return yaml.load(text, Loader=Loader)


def load(path):
    with open(path) as f:
        return loads(f.read())


def is_intrinsic(value):
    return isinstance(value, dict) and len(value) == 1 and \
        next(iter(value)) in (["Ref", "Condition"] + ["Fn::" + n for n in FUNCTIONS + ["GetAtt"]])


def intrinsics(node, path=""):
    """Yields (path, function name, argument) for every intrinsic function under node."""
    if isinstance(node, dict):
        if is_intrinsic(node):
            fn, arg = next(iter(node.items()))
            yield path, fn, arg
        for k, v in node.items():
            for item in intrinsics(v, "%s/%s" % (path, k)):
                yield item
    elif isinstance(node, list):
        for i, v in enumerate(node):
            for item in intrinsics(v, "%s[%d]" % (path, i)):
                yield item


def sub_names(arg):
    """The ${Name} and ${Resource.Attr} references of an Fn::Sub argument, minus its own variables."""
    if isinstance(arg, list):
        text, local = arg[0], set(arg[1]) if len(arg) > 1 else set()
    else:
        text, local = arg, set()
    names = re.findall(r"\$\{(?!!)([^}]+)\}", text)
    return [n for n in names if n not in local]


def statements(policy_document):
    """The statements of a policy document, Fn::If branches flattened (AWS::NoValue dropped)."""
    out = []
    for st in policy_document.get("Statement", []):
        if isinstance(st, dict) and "Fn::If" in st:
            for branch in st["Fn::If"][1:]:
                if branch != {"Ref": "AWS::NoValue"}:
                    out.append(dict(branch, _condition=st["Fn::If"][0]))
        else:
            out.append(st)
    return out


def as_list(value):
    return value if isinstance(value, list) else [value]
