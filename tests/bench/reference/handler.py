"""The benchmark's reference: a port of the AWS sample's Lambda handler.

Ports the inline Python function of the AWS sample CloudFormation template that
"will create all the required AWS components to synchronize IP address from RDS,
RDS Proxy and Aurora Cluster to Amazon Network Load Balancer Target group"
(Amazon.com, 2021, MIT-0), the design rds-nlb-sync replaces. Written for the
benchmark from a reading of that sample; its behaviour is kept step by step:

- configuration from Cluster_EndPoint, NLB_TG_ARN and RDS_Port; one elbv2 client
  created at module level (so at init, and reused by warm invocations);
- every event, whatever it is, does the same thing: resolve the endpoint once
  with socket.gethostbyname_ex, call DescribeTargetHealth once, and compare the
  address sets (ports and target health play no part in the comparison);
- an empty target group gets every address registered, one RegisterTargets call
  per address (and, as in the sample, once more by the loop below);
- then each new address is registered (one call each, port int(RDS_Port)), then
  each described target whose address DNS no longer answers is deregistered
  with the Id, Port and AvailabilityZone the description gave (one call each);
- it prints what it does on stdout and returns None (the response is `null`).

The one change: botocore 1.29 (Debian 12) does not read the SDKs' endpoint
variables, so the client gets endpoint_url from
AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2 (else AWS_ENDPOINT_URL) to reach the
local stack. Credentials, region (AWS_DEFAULT_REGION) and AWS_CA_BUNDLE are read
by botocore itself, as in Lambda.
"""
import os
import socket

import boto3

DB_ENDPOINT = os.environ.get("Cluster_EndPoint")
TARGET_GROUP_ARN = os.environ.get("NLB_TG_ARN")
DB_PORT = os.environ.get("RDS_Port")

elbv2 = boto3.client(
    "elbv2",
    endpoint_url=os.environ.get("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2") or os.environ.get("AWS_ENDPOINT_URL"))


def register(address, port):
    elbv2.register_targets(TargetGroupArn=TARGET_GROUP_ARN, Targets=[{"Id": address, "Port": int(port)}])


def deregister(address, port, zone):
    elbv2.deregister_targets(TargetGroupArn=TARGET_GROUP_ARN,
                             Targets=[{"Id": address, "Port": port, "AvailabilityZone": zone}])


def lambda_handler(event, context):
    addresses = socket.gethostbyname_ex(DB_ENDPOINT)[2]
    print("IP list from DNS:", addresses)

    described = elbv2.describe_target_health(TargetGroupArn=TARGET_GROUP_ARN)["TargetHealthDescriptions"]
    registered = [d.get("Target").get("Id") for d in described]

    if not registered:
        for address in addresses:
            print("Register New IP", address, "Port:", DB_PORT)
            register(address, DB_PORT)

    stale = set(registered) - set(addresses)
    new = set(addresses) - set(registered)
    if stale:
        print("IP:", stale, "will be DeRegistered from NLB Target")
    if new:
        print("IP:", new, "will be registered to NLB Target")

    for address in new:
        print("Registering New IP", address, "Port:", DB_PORT)
        register(address, DB_PORT)

    for d in described:
        target = d.get("Target")
        address, port, zone = target.get("Id"), target.get("Port"), target.get("AvailabilityZone")
        print("IP list from NLB Target Group:", address)
        if address in stale:
            print("DeRegister IP:", address, "Port:", port, "AZ:", zone)
            deregister(address, port, zone)
