#!/usr/bin/python3
"""Writes tests/template/cfn-spec.json: the CloudFormation resource specification of
the resource types template.yml and consumer.yml use, so tests/template can check
property names, required properties, allowed values and GetAtt attributes offline.

The source is AWS's own database of CloudFormation resources as the AWS CDK ships it
(npm package @aws-cdk/aws-service-spec, Apache-2.0, file db.json.gz). To refresh:

    npm install --prefix /tmp/cfnspec @aws-cdk/aws-service-spec
    /usr/bin/python3 scripts/cfn-spec-subset.py \\
        /tmp/cfnspec/node_modules/@aws-cdk/aws-service-spec template.yml consumer.yml \\
        > tests/template/cfn-spec.json
"""
import gzip
import json
import os
import re
import sys

CUSTOM = "AWS::CloudFormation::CustomResource"


def load(package_dir):
    with open(os.path.join(package_dir, "package.json")) as f:
        meta = json.load(f)
    with gzip.open(os.path.join(package_dir, "db.json.gz"), "rt") as f:
        schema = json.load(f)["schema"]
    return meta, schema


def used_types(paths):
    types = set()
    for path in paths:
        with open(path) as f:
            text = f.read()
        # The Resources section only (parameters have types such as AWS::EC2::VPC::Id).
        section = re.search(r"^Resources:\n(.*?)(^\S|\Z)", text, re.M | re.S).group(1)
        for m in re.finditer(r"^    Type:\s+((AWS|Custom)::\S+)\s*$", section, re.M):
            types.add(CUSTOM if m.group(1).startswith("Custom::") else m.group(1))
    return sorted(types)


class Converter:
    def __init__(self, schema):
        self.typedefs = {t["$id"]: t for t in schema["typeDefinition"]["entities"]}
        self.out_types = {}

    def type_of(self, t, owner):
        kind = t["type"]
        if kind == "string":
            out = {"kind": "string"}
            if t.get("allowedValues"):
                out["enum"] = list(t["allowedValues"])
            return out
        if kind in ("integer", "number", "boolean", "json", "tag", "date-time"):
            return {"kind": kind}
        if kind == "array":
            return {"kind": "list", "of": self.type_of(t["element"], owner)}
        if kind == "map":
            return {"kind": "map", "of": self.type_of(t["element"], owner)}
        if kind == "union":
            return {"kind": "union", "of": [self.type_of(x, owner) for x in t["types"]]}
        if kind == "ref":
            td = self.typedefs[t["reference"]["$ref"]]
            name = "%s.%s" % (owner, td["name"])
            if name not in self.out_types:
                self.out_types[name] = None  # recursion guard
                self.out_types[name] = self.shape(td.get("properties", {}), owner)
            return {"kind": "ref", "name": name}
        raise ValueError("unknown type kind %r" % kind)

    def shape(self, props, owner):
        return {"properties": {n: self.type_of(p["type"], owner) for n, p in sorted(props.items())},
                "required": sorted(n for n, p in props.items() if p.get("required"))}


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    meta, schema = load(argv[1])
    wanted = used_types(argv[2:])
    by_type = {r["cloudFormationType"]: r for r in schema["resource"]["entities"]}
    conv = Converter(schema)
    resources = {}
    for name in wanted:
        if name not in by_type:
            sys.stderr.write("cfn-spec-subset: %s is not in the specification\n" % name)
            return 1
        r = by_type[name]
        shape = conv.shape(r.get("properties", {}), name)
        shape["attributes"] = sorted(r.get("attributes", {}))
        resources[name] = shape
    json.dump({"source": "%s %s (%s), db.json.gz" % (meta["name"], meta["version"], meta.get("license")),
               "resources": resources, "types": conv.out_types}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
