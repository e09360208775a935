"""Checks resources against the CloudFormation resource specification subset in
cfn-spec.json (written by scripts/cfn-spec-subset.py from AWS's own database):
property names, required properties, value kinds and allowed values, nested
property types, and GetAtt attribute names. Intrinsic functions are accepted in
place of any value; both branches of an Fn::If are checked."""
import json
import os

import cfnyaml

SPEC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cfn-spec.json")
CUSTOM = "AWS::CloudFormation::CustomResource"
NO_VALUE = {"Ref": "AWS::NoValue"}


def load():
    with open(SPEC_FILE) as f:
        return json.load(f)


def spec_type(spec, resource_type):
    key = CUSTOM if resource_type.startswith("Custom::") else resource_type
    return spec["resources"].get(key)


class Checker:
    def __init__(self, spec):
        self.spec = spec
        self.errors = []

    def resource(self, name, res):
        shape = spec_type(self.spec, res.get("Type", ""))
        if shape is None:
            self.errors.append("%s: type %s is not in the specification subset" % (name, res.get("Type")))
            return
        custom = res["Type"].startswith("Custom::") or res["Type"] == CUSTOM
        self.shape(shape, res.get("Properties", {}), name, open_ended=custom)

    def shape(self, shape, value, path, open_ended=False):
        if self._branches(value, lambda v: self.shape(shape, v, path, open_ended)):
            return
        if not isinstance(value, dict):
            self.errors.append("%s: expected an object, got %r" % (path, value))
            return
        for key, v in value.items():
            if key in shape["properties"]:
                self.value(shape["properties"][key], v, "%s.%s" % (path, key))
            elif not open_ended:
                self.errors.append("%s: unknown property %s" % (path, key))
        for key in shape["required"]:
            if key not in value:
                self.errors.append("%s: required property %s is missing" % (path, key))

    def _branches(self, value, check):
        """Fn::If: checks both branches; other intrinsics are taken as valid. True when handled."""
        if not cfnyaml.is_intrinsic(value):
            return False
        fn, arg = next(iter(value.items()))
        if fn == "Fn::If":
            for branch in arg[1:]:
                if branch != NO_VALUE:
                    check(branch)
        return True

    def value(self, t, value, path):
        if self._branches(value, lambda v: self.value(t, v, path)):
            return
        kind = t["kind"]
        if kind == "string":
            if isinstance(value, (dict, list)):
                self.errors.append("%s: expected a string, got %r" % (path, value))
            elif "enum" in t and isinstance(value, str) and value not in t["enum"]:
                self.errors.append("%s: %r is not one of %s" % (path, value, t["enum"]))
        elif kind in ("integer", "number"):
            try:
                float(value) if kind == "number" else int(str(value))
            except (TypeError, ValueError):
                self.errors.append("%s: expected an %s, got %r" % (path, kind, value))
        elif kind == "boolean":
            if value not in (True, False, "true", "false"):
                self.errors.append("%s: expected a boolean, got %r" % (path, value))
        elif kind == "list":
            if not isinstance(value, list):
                self.errors.append("%s: expected a list, got %r" % (path, value))
                return
            for i, v in enumerate(value):
                self.value(t["of"], v, "%s[%d]" % (path, i))
        elif kind == "map":
            if not isinstance(value, dict):
                self.errors.append("%s: expected a map, got %r" % (path, value))
                return
            for k, v in value.items():
                self.value(t["of"], v, "%s.%s" % (path, k))
        elif kind == "tag":
            if not isinstance(value, dict) or set(value) != {"Key", "Value"}:
                self.errors.append("%s: expected a tag {Key, Value}, got %r" % (path, value))
        elif kind == "ref":
            self.shape(self.spec["types"][t["name"]], value, path)
        elif kind == "union":
            trial = Checker(self.spec)
            for option in t["of"]:
                trial.errors = []
                trial.value(option, value, path)
                if not trial.errors:
                    return
            self.errors.append("%s: %r matches none of the allowed types" % (path, value))
        # json, date-time: anything


def getatt_errors(spec, template):
    """GetAtt of an unknown resource or an attribute its type does not have."""
    errors = []
    resources = template.get("Resources", {})
    for path, fn, arg in cfnyaml.intrinsics(template):
        if fn != "Fn::GetAtt":
            continue
        name, attribute = arg[0], arg[1]
        if name not in resources:
            errors.append("%s: GetAtt of unknown resource %s" % (path, name))
            continue
        rtype = resources[name]["Type"]
        if rtype.startswith("Custom::"):
            continue  # a custom resource's attributes are whatever its function returns
        shape = spec_type(spec, rtype)
        if shape is not None and attribute not in shape["attributes"]:
            errors.append("%s: %s (%s) has no attribute %s" % (path, name, rtype, attribute))
    return errors


def packaged(template):
    """The template as `aws cloudformation package` turns it: a local Code path becomes S3."""
    out = json.loads(json.dumps(template))
    for res in out.get("Resources", {}).values():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Lambda::Function" and isinstance(props.get("Code"), str):
            props["Code"] = {"S3Bucket": "bucket", "S3Key": "key"}
    return out
