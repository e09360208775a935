"""A deterministic corpus of hostile events for ./bootstrap (tests/robust/test_hostile_events.py).

    from hostile.gen import corpus
    for h in corpus(cfn_url, dead_url):   # Hostile(name, data, expect)
        ...

Every event is bytes, fed as they are through --invoke and through the Runtime API. `expect` is
what the contract makes of it, with DNS answering one allowed address (NEW) and the target group
holding another (OLD):
  invalid          InvalidEvent: empty, not JSON, not an object (section 4); no API call
  reconcile        a success that registers NEW and deregisters OLD
  dry              a success of a dry run: only DescribeTargetHealth, the group unchanged
  cfn              a CloudFormation request answered to cfn_url (any status), the group
                   reconciled (Create/Update) or unchanged (Delete)
  cfn-unreachable  CloudFormationResponseError: the ResponseURL cannot be reached; a
                   Create/Update reconciles first, a Delete changes nothing
The data never decides what is registered: with any of them the group ends holding OLD or NEW.
"""
import json
from collections import namedtuple

Hostile = namedtuple("Hostile", "name data expect")

DB = "orders-db"
STACK_ID = "arn:aws:cloudformation:eu-west-1:111122223333:stack/s/1c2d3e4f-0000-4000-8000-000000000001"
SIX_MB = 6 * 1024 * 1024


def j(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def sns(message, **record):
    """An SNS envelope around `message` (any JSON value, not only a string)."""
    rec = {"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {"Type": "Notification", "Message": message}}
    rec.update(record)
    return {"Records": [rec]}


def rds_message(event_id="RDS-EVENT-0049", source=DB):
    return {"Event Source": "db-instance", "Source ID": source,
            "Event ID": "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#" + event_id,
            "Event Message": "Multi-AZ instance failover completed."}


def eventbridge(detail, **top):
    ev = {"version": "0", "source": "aws.rds", "detail-type": "RDS DB Instance Event", "detail": detail}
    ev.update(top)
    return ev


def cfn(url, request_type="Create", **fields):
    ev = {"RequestType": request_type, "ResponseURL": url, "StackId": STACK_ID, "RequestId": "req-1",
          "LogicalResourceId": "InitialTargets", "ResourceType": "Custom::TargetSync"}
    ev.update(fields)
    return ev


def nested(depth, open_, close, inner=b"1"):
    return open_ * depth + inner + close * depth


def six_mb():
    """A console event of about 6 MB: many keys with mid-sized values (under Lambda's 6 MB
    synchronous payload limit once the rest of the request is counted)."""
    value = "v" * 1000
    n = (SIX_MB - 2048) // (len(value) + 16)
    return ("{" + ",".join('"k%07d":"%s"' % (i, value) for i in range(n)) + "}").encode()


def corpus(cfn_url, dead_url):
    H = Hostile
    out = [
        # ---- not an event at all: InvalidEvent, nothing called ----
        H("empty", b"", "invalid"),
        H("blanks", b" \t\r\n ", "invalid"),
        H("null", b"null", "invalid"),
        H("true", b"true", "invalid"),
        H("number", b"42", "invalid"),
        H("string", b'"{\\"source\\":\\"aws.events\\"}"', "invalid"),
        H("array", b"[{}]", "invalid"),
        H("truncated-object", b'{"Records":[{"EventSource":"aws:sns"', "invalid"),
        H("trailing-garbage", b"{} {}", "invalid"),
        H("single-quotes", b"{'source': 'aws.events'}", "invalid"),
        H("comment", b'{/* x */"a":1}', "invalid"),
        H("deep-arrays-10k", nested(10000, b"[", b"]"), "invalid"),
        H("deep-objects-10k", nested(10000, b'{"a":', b"}"), "invalid"),
        H("deep-in-object-10k", b'{"dryRun":false,"x":' + nested(10000, b"[", b"]") + b"}", "invalid"),
        H("invalid-utf8", b'{"source":"aws.events","x":"\xff\xfe\xc0\xaf"}', "invalid"),
        H("overlong-utf8-key", b'{"\xc0\xa2":1}', "invalid"),
        H("lone-surrogate", b'{"x":"\\ud800"}', "invalid"),
        H("raw-nul-in-string", b'{"x":"a\x00b"}', "invalid"),
        H("raw-nul-after-object", b"{}\x00", "invalid"),
        H("nul-only", b"\x00" * 64, "invalid"),
        H("utf8-bom", b"\xef\xbb\xbf{}", "invalid"),
        H("huge-integer", b'{"dryRun":' + b"9" * 400 + b"}", "invalid"),
        H("huge-real", b'{"x":1e99999}', "invalid"),
        # ---- objects: reconcile whatever they hold ----
        H("empty-object", b"{}", "reconcile"),
        H("deep-2000-inside", b'{"x":' + nested(2000, b"[", b"]") + b"}", "reconcile"),
        H("escaped-nul-value", b'{"note":"a\\u0000b"}', "reconcile"),
        # jansson cannot hold a NUL in an object key: refused, nothing called.
        H("escaped-nul-key", b'{"a\\u0000b":1,"source":"aws.events"}', "invalid"),
        H("escaped-nul-source-id", j(eventbridge({"EventID": "RDS-EVENT-0049", "SourceIdentifier": DB + "\u0000x"})),
          "reconcile"),
        H("escaped-nul-request-type", j(cfn(dead_url, "Create\u0000Delete")), "reconcile"),
        H("huge-string-5mb", j({"x": "A" * (5 * 1024 * 1024)}), "reconcile"),
        H("huge-key-1mb", j({"K" * (1024 * 1024): 1}), "reconcile"),
        H("payload-6mb", six_mb(), "reconcile"),
        H("many-records-50k", j({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "x"}}] * 50000}),
          "reconcile"),
        H("duplicate-keys", b'{"source":"aws.rds","source":"aws.events","detail-type":"Scheduled Event"}',
          "reconcile"),
        H("records-object", j({"Records": {"EventSource": "aws:sns", "Sns": {"Message": j(rds_message()).decode()}}}),
          "reconcile"),
        H("records-string", j({"Records": "aws:sns"}), "reconcile"),
        H("records-mixed-types", j({"Records": [1, None, "x", [], {}, True, 2.5]}), "reconcile"),
        H("event-source-number", j({"Records": [{"EventSource": 5, "Sns": {"Message": "x"}}]}), "reconcile"),
        H("sns-string", j({"Records": [{"EventSource": "aws:sns", "Sns": "Message"}]}), "reconcile"),
        H("message-number", j(sns(49)), "reconcile"),
        H("message-object", j(sns(rds_message())), "reconcile"),
        H("message-array", j(sns([rds_message()])), "reconcile"),
        H("message-null", j(sns(None)), "reconcile"),
        H("message-json-array", j(sns("[1,2,3]")), "reconcile"),
        H("message-json-string", j(sns('"RDS-EVENT-0049"')), "reconcile"),
        H("message-json-number", j(sns("123")), "reconcile"),
        H("message-deep-json", j(sns(nested(10000, b"[", b"]").decode())), "reconcile"),
        H("message-invalid-json", j(sns('{"Event ID": "#RDS-EVENT-0049", "Source ID": ')), "reconcile"),
        H("message-fields-wrong-types", j(sns(j({"Event ID": 49, "Source ID": [DB], "Event Source": {}}).decode())),
          "reconcile"),
        H("message-attributes-wrong-types", j(sns("plain text", **{})) .replace(
            b'"Type"', b'"MessageAttributes":{"EventID":{"Value":49},"Resource":"x"},"Type"'), "reconcile"),
        H("sns-in-sns", j(sns(j(sns(j(rds_message()).decode())).decode())), "reconcile"),
        H("sns-in-sns-in-sns", j(sns(j(sns(j(sns(j(rds_message()).decode())).decode())).decode())), "reconcile"),
        H("event-id-five-digits", j(sns(j(rds_message("RDS-EVENT-00490")).decode())), "reconcile"),
        H("source-id-long-non-ascii", j(eventbridge({"EventID": "RDS-EVENT-0049", "SourceIdentifier": "\u00e9" * 300})),
          "reconcile"),
        H("source-id-long-ascii", j(eventbridge({"EventID": "RDS-EVENT-0049", "SourceIdentifier": "rds:" + "x" * 5000})),
          "reconcile"),
        H("source-number", j({"source": 5, "detail-type": "Scheduled Event"}), "reconcile"),
        H("detail-type-number", j({"source": "aws.events", "detail-type": 5}), "reconcile"),
        H("detail-string", j(eventbridge("RDS-EVENT-0049")), "reconcile"),
        H("detail-fields-wrong-types", j(eventbridge({"EventID": 49, "SourceIdentifier": {}, "SourceArn": [1]},
                                                     resources="x")), "reconcile"),
        H("resources-wrong-types", j(eventbridge({"EventID": "RDS-EVENT-0049"}, resources=[5, None])), "reconcile"),
        H("dry-run-string", j({"dryRun": "true"}), "reconcile"),
        H("dry-run-number", j({"dryRun": 1}), "reconcile"),
        H("dry-run-nested", j({"detail": {"dryRun": True}}), "reconcile"),
        H("dry-run-true", j({"dryRun": True, "x": [None] * 1000}), "dry"),
        H("cfn-request-type-number", j(cfn(cfn_url, 1)), "reconcile"),
        H("cfn-response-url-object", j(cfn({"url": cfn_url})), "reconcile"),
        H("cfn-stack-id-array", j(cfn(cfn_url, StackId=[STACK_ID])), "reconcile"),
        # ---- CloudFormation requests with hostile fields: always answered ----
        H("cfn-wrong-type-fields", j(cfn(cfn_url, RequestId=5, LogicalResourceId=None, PhysicalResourceId=7)), "cfn"),
        H("cfn-unknown-request-type", j(cfn(cfn_url, "Bogus")), "cfn"),
        H("cfn-huge-physical-id", j(cfn(cfn_url, "Update", PhysicalResourceId="p" * 100000)), "cfn"),
        H("cfn-non-ascii-request-type", j(cfn(cfn_url, "Cr\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
                                                         "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9")),
          "cfn"),
        H("cfn-delete-hostile-ids", j(cfn(cfn_url, "Delete", PhysicalResourceId="\u2028\u0085\"<x>")), "cfn"),
        H("cfn-url-closed-port", j(cfn(dead_url)), "cfn-unreachable"),
        H("cfn-url-closed-port-delete", j(cfn(dead_url, "Delete", PhysicalResourceId="p")), "cfn-unreachable"),
        H("cfn-url-file-scheme", j(cfn("file:///etc/passwd", "Delete", PhysicalResourceId="p")), "cfn-unreachable"),
        H("cfn-url-userinfo", j(cfn(dead_url.replace("http://", "http://user:pa@ss@"), "Update",
                                    PhysicalResourceId="p")), "cfn-unreachable"),
    ]
    names = [h.name for h in out]
    assert len(names) == len(set(names)), "duplicate names"
    return out
