# rns: namespace
"""Every row of the event table of README.md ("Events") through the real ./bootstrap --invoke, inside a
private namespace against dnsmasq and the fake ELBv2.

DNS already answers the new primary while the group holds the old one, so each event converges at
once; what tells the rows apart is the result's trigger, eventId and sourceId, and dnsChanged, which
is true only when the event started a failover wait (a failover-completion event for DB_IDENTIFIER).
"""
import const
import events
import stack

import tap
from handler_common import NEW, OLD, actions, failed, ok, our_event, reset, shared_event

S = stack.LocalStack().start()
FLIPPED = {const.DB_ENDPOINT: [const.NEW_PRIMARY]}


def run(payload, db_identifier=None, **env):
    reset(S, records=dict(const.DEFAULT_RECORDS, **FLIPPED))
    if db_identifier:
        env["DB_IDENTIFIER"] = db_identifier
    return S.invoke(payload, env=S.env(**env))


def expect(payload, trigger, event_id, source_id, waits, db_identifier=None, **env):
    res = ok(run(payload, db_identifier, **env))
    tap.eq((res["trigger"], res["eventId"], res["sourceId"]), (trigger, event_id, source_id), "recognised as")
    tap.eq(res["dnsChanged"], waits, "dnsChanged (a failover wait took place)")
    tap.eq(res["waitedMs"], 0, "waitedMs (DNS had already changed)")
    tap.eq((res["registered"], res["deregistered"], res["unchanged"]), ([NEW], [OLD], []), "change")
    tap.eq((res["converged"], res["dryRun"]), (True, False), "converged, dryRun")
    tap.eq(S.registered(), [NEW], "the target group afterwards")
    tap.eq(actions(S), ["DescribeTargetHealth", "RegisterTargets", "DeregisterTargets"], "API calls")
    return res


# ---- SNS: RDS notifications (ours) ----

@tap.case
def sns_rds_instance_failover_completed_0049():
    expect(our_event("sns-rds-instance-failover-completed-0049.json"), "rds-event", "RDS-EVENT-0049", "orders-db", True)


@tap.case
def sns_rds_legacy_event_id_url_0015():
    expect(our_event("sns-rds-instance-failover-complete-legacy-0015.json"), "rds-event", "RDS-EVENT-0015",
           "orders-db", True)


@tap.case
def sns_rds_activation_0051_and_partial_failover_0065():
    expect(our_event("sns-rds-instance-activation-completed-0051.json"), "rds-event", "RDS-EVENT-0051", "orders-db", True)
    expect(our_event("sns-rds-instance-partial-failover-recovered-0065.json"), "rds-event", "RDS-EVENT-0065",
           "orders-db", True)


@tap.case
def sns_rds_cluster_0071_and_global_0185():
    expect(our_event("sns-rds-cluster-failover-completed-0071.json"), "rds-event", "RDS-EVENT-0071",
           "orders-cluster", True, db_identifier="orders-cluster")
    expect(our_event("sns-rds-global-failover-finished-0185.json"), "rds-event", "RDS-EVENT-0185",
           "orders-cluster", True, db_identifier="orders-cluster")


@tap.case
def sns_rds_failover_started_0013_no_wait():
    expect(our_event("sns-rds-instance-failover-started-0013.json"), "rds-event", "RDS-EVENT-0013", "orders-db", False)


@tap.case
def sns_rds_failover_of_another_db_no_wait():
    expect(our_event("sns-rds-other-db-failover-completed-0049.json"), "rds-event", "RDS-EVENT-0049", "billing-db",
           False)


@tap.case
def sns_rds_cluster_event_when_following_an_instance_no_wait():
    expect(our_event("sns-rds-cluster-failover-completed-0071.json"), "rds-event", "RDS-EVENT-0071",
           "orders-cluster", False)


@tap.case
def sns_rds_non_failover_backup_0002():
    expect(our_event("sns-rds-backup-finished-0002.json"), "rds-event", "RDS-EVENT-0002", "orders-db", False)


@tap.case
def sns_subscription_notice_plain_text():
    expect(our_event("sns-subscription-notice-plain-text.json"), "manual", None, None, False)


@tap.case
def sns_message_not_an_rds_event():
    expect(our_event("sns-not-rds-json.json"), "manual", None, None, False)
    expect(our_event("sns-eventbridge-scheduled.json"), "manual", None, None, False)


@tap.case
def sns_two_records_failover_wins():
    expect(our_event("sns-two-records-backup-then-failover.json"), "rds-event", "RDS-EVENT-0049", "orders-db", True)


# ---- EventBridge ----

@tap.case
def eventbridge_rds_instance_failover_completed_0049():
    expect(our_event("eventbridge-rds-instance-failover-completed-0049.json"), "rds-event", "RDS-EVENT-0049",
           "orders-db", True)


@tap.case
def eventbridge_rds_cluster_0071_with_rds_prefix():
    expect(our_event("eventbridge-rds-cluster-failover-completed-0071-prefixed.json"), "rds-event",
           "RDS-EVENT-0071", "orders-cluster", True, db_identifier="orders-cluster")


@tap.case
def eventbridge_rds_started_0073_and_snapshot_no_wait():
    expect(our_event("eventbridge-rds-cluster-failover-started-0073.json"), "rds-event", "RDS-EVENT-0073",
           "orders-cluster", False, db_identifier="orders-cluster")
    expect(our_event("eventbridge-rds-snapshot-0042.json"), "rds-event", "RDS-EVENT-0042", "orders-db-snap", False)


@tap.case
def eventbridge_blue_green_switchover_0248():
    expect(our_event("eventbridge-rds-blue-green-switchover-0248.json"), "rds-event", "RDS-EVENT-0248",
           "orders-db", True)


@tap.case
def eventbridge_wrapped_in_sns():
    expect(our_event("sns-eventbridge-rds-instance-failover-completed-0049.json"), "rds-event", "RDS-EVENT-0049",
           "orders-db", True)


@tap.case
def eventbridge_other_source_is_manual():
    expect(our_event("eventbridge-ec2-state-change.json"), "manual", None, None, False)


@tap.case
def eventbridge_scheduled():
    expect(our_event("eventbridge-scheduled.json"), "schedule", None, None, False)
    expect(events.schedule_event(), "schedule", None, None, False)


@tap.case
def stack_generated_rds_events():
    expect(events.rds_event("RDS-EVENT-0049"), "rds-event", "RDS-EVENT-0049", "orders-db", True)
    expect(events.rds_event("RDS-EVENT-0071", via="eventbridge"), "rds-event", "RDS-EVENT-0071", "orders-db", True)


# ---- any other object ----

@tap.case
def manual_empty_object():
    expect(b"{}", "manual", None, None, False)
    expect(our_event("manual-empty.json"), "manual", None, None, False)


@tap.case
def manual_console_test_object():
    expect({"key1": "value1", "key2": "value2", "key3": "value3"}, "manual", None, None, False)


@tap.case
def manual_dry_run_only_describes():
    res = ok(run(our_event("manual-dry-run.json")))
    tap.eq((res["trigger"], res["dryRun"]), ("manual", True), "trigger, dryRun")
    tap.eq((res["registered"], res["deregistered"], res["converged"]), ([NEW], [OLD], True), "would change")
    tap.eq(actions(S), ["DescribeTargetHealth"], "API calls")
    tap.eq(S.registered(), [OLD], "the target group is untouched")


@tap.case
def manual_dry_run_string_is_not_a_dry_run():
    expect(our_event("manual-dry-run-string.json"), "manual", None, None, False)


@tap.case
def wrong_types_never_crash():
    for name in ("odd-records-not-array.json", "odd-sns-message-number.json", "odd-eventbridge-detail-array.json",
                 "odd-eventbridge-ids-wrong-types.json", "odd-cloudformation-missing-stack.json"):
        expect(our_event(name), "manual", None, None, False)


# ---- invalid events: InvalidEvent, no API call ----

@tap.case
def invalid_events():
    for payload in (b"", b"   \n", b"not json", b"[1, 2]", b"null", b"42", b'"text"', b'{"a": 1',
                    our_event("invalid-not-json.txt"), our_event("invalid-array.json"),
                    our_event("invalid-truncated.json")):
        r = run(payload)
        msg = failed(r, "InvalidEvent")
        tap.ok(msg.startswith("the event is"), "message: %s" % msg)
        tap.eq(actions(S), [], "no API call for %r" % payload[:20])
        tap.eq(S.registered(), [OLD], "group untouched")


# ---- the shared fixtures ----

SHARED_ROWS = [
    ("sns-rds-instance-failover-completed-0049.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0049", True),
    ("sns-rds-instance-failover-legacy-0015.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0015", True),
    ("sns-rds-instance-failover-started-0013.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0013", False),
    ("sns-rds-cluster-failover-completed-0071.json", "aurora-orders", "rds-event", "RDS-EVENT-0071", True),
    ("sns-rds-cluster-failover-started-0073.json", "aurora-orders", "rds-event", "RDS-EVENT-0073", False),
    ("sns-rds-non-failover-backup-0002.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0002", False),
    ("sns-rds-subscription-notice-text.json", "pg-orders-prod", "manual", None, False),
    ("eventbridge-rds-instance-failover-completed-0049.json", "pg-orders-prod", "rds-event", "RDS-EVENT-0049", True),
    ("eventbridge-rds-cluster-failover-completed-0071.json", "aurora-orders", "rds-event", "RDS-EVENT-0071", True),
    ("eventbridge-rds-cluster-failover-started-0072-prefixed-id.json", "aurora-orders", "rds-event",
     "RDS-EVENT-0072", False),
    ("eventbridge-scheduled.json", "pg-orders-prod", "schedule", None, False),
]


@tap.case
def shared_fixtures():
    for name, db, trigger, event_id, waits in SHARED_ROWS:
        source = db if event_id else None
        expect(shared_event(name), trigger, event_id, source, waits, db_identifier=db)


try:
    tap.main()
finally:
    S.close()
