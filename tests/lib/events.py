"""The events that reach the function, built as AWS sends them: an RDS event through SNS or EventBridge,
a DB cluster event, the schedule's event, and a CloudFormation custom resource request.

    import events
    events.rds_event("RDS-EVENT-0049")                 # default source: const.DB_IDENTIFIER
    events.cluster_event("RDS-EVENT-0071", via="eventbridge")
    events.schedule_event()
    events.cloudformation_event("Create", receiver.url())
"""
import json
import random
import time

from const import ACCOUNT, AURORA_IDS, CLUSTER_ID, DB_IDENTIFIER, FUNCTION_ARN, REGION


def rds_event(event_id="RDS-EVENT-0049", source_id=DB_IDENTIFIER, via="sns"):
    """An RDS event notification as RDS sends it, through SNS (via="sns") or EventBridge
    (via="eventbridge")."""
    number = event_id.rsplit("-", 1)[-1]
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    if via == "eventbridge":
        return {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                "detail-type": "RDS DB Instance Event", "source": "aws.rds", "account": ACCOUNT,
                "time": now[:19] + "Z", "region": REGION,
                "resources": ["arn:aws:rds:%s:%s:db:%s" % (REGION, ACCOUNT, source_id)],
                "detail": {"EventCategories": ["failover"], "SourceType": "DB_INSTANCE",
                           "SourceArn": "arn:aws:rds:%s:%s:db:%s" % (REGION, ACCOUNT, source_id),
                           "Date": now, "Message": "Multi-AZ instance failover completed.",
                           "SourceIdentifier": source_id, "EventID": event_id}}
    message = {"Event Source": "db-instance", "Event Time": now.replace("T", " ")[:23],
               "Identifier Link": "https://console.aws.amazon.com/rds/home?region=%s#dbinstance:id=%s"
               % (REGION, source_id),
               "Source ID": source_id, "Source ARN": "arn:aws:rds:%s:%s:db:%s" % (REGION, ACCOUNT, source_id),
               "Event ID": "http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/"
                           "USER_Events.html#RDS-EVENT-%s" % number,
               "Event Message": "Multi-AZ instance failover completed."}
    topic = "arn:aws:sns:%s:%s:rds-failover" % (REGION, ACCOUNT)
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "EventSubscriptionArn": topic + ":0f3c8e2a-5b7d-4c19-9e6a-2d8b1f4a7c30",
                         "Sns": {"Type": "Notification",
                                 "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                                 "TopicArn": topic, "Subject": "RDS Notification Message",
                                 "Message": json.dumps(message), "Timestamp": now,
                                 "SignatureVersion": "1", "Signature": "EXAMPLE",
                                 "SigningCertUrl": "https://sns.%s.amazonaws.com/cert.pem" % REGION,
                                 "UnsubscribeUrl": "https://sns.%s.amazonaws.com/?Action=Unsubscribe"
                                 % REGION, "MessageAttributes": {}}}]}


CLUSTER_EVENT_MESSAGES = {
    "RDS-EVENT-0071": "Completed failover to DB instance: %s",
    "RDS-EVENT-0072": "Started same AZ failover to DB instance: %s",
    "RDS-EVENT-0073": "Started cross AZ failover to DB instance: %s",
    "RDS-EVENT-0069": "Cluster failover failed, check the health of your cluster instances and try again.",
}


def cluster_event(event_id="RDS-EVENT-0071", cluster_id=CLUSTER_ID, new_writer=AURORA_IDS[1], via="sns"):
    """A DB cluster event (Event Source db-cluster, SourceType CLUSTER) through SNS or EventBridge;
    the failover messages name new_writer, as RDS's do."""
    text = CLUSTER_EVENT_MESSAGES.get(event_id, "DB cluster event.")
    text = text % new_writer if "%s" in text else text
    ev = rds_event(event_id, cluster_id, via)
    arn = "arn:aws:rds:%s:%s:cluster:%s" % (REGION, ACCOUNT, cluster_id)
    if via == "eventbridge":
        ev["detail-type"] = "RDS DB Cluster Event"
        ev["resources"] = [arn]
        ev["detail"].update(SourceType="CLUSTER", SourceArn=arn, Message=text)
        return ev
    sns = ev["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    message.update({"Event Source": "db-cluster", "Source ARN": arn, "Event Message": text,
                    "Identifier Link": "https://console.aws.amazon.com/rds/home?region=%s#database:id=%s;"
                                       "is-cluster=true" % (REGION, cluster_id)})
    sns["Message"] = json.dumps(message)
    return ev


def schedule_event():
    return {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": ACCOUNT, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION, "resources": ["arn:aws:events:%s:%s:rule/rds-nlb-sync-schedule" % (REGION, ACCOUNT)],
            "detail": {}}


def cloudformation_event(request_type, response_url, physical_id=None, request_id=None):
    """A CloudFormation custom resource request (Create, Update or Delete) for our function."""
    ev = {"RequestType": request_type, "ServiceToken": FUNCTION_ARN, "ResponseURL": response_url,
          "StackId": "arn:aws:cloudformation:%s:%s:stack/orders-privatelink/"
                     "1c2d3e4f-0000-4000-8000-000000000001" % (REGION, ACCOUNT),
          "RequestId": request_id or "req-%s-%08x" % (request_type.lower(), random.getrandbits(32)),
          "ResourceType": "Custom::TargetSync", "LogicalResourceId": "InitialTargets",
          "ResourceProperties": {"ServiceToken": FUNCTION_ARN}}
    if physical_id is not None:
        ev["PhysicalResourceId"] = physical_id
    if request_type == "Update":
        ev["OldResourceProperties"] = {"ServiceToken": FUNCTION_ARN}
    return ev
