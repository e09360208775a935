"""The one place for the names and values every harness shares: the account, the database and its
addresses, the cluster of the RDS API mode, the target group, the test credentials, the stack's
starting state, and the contract's error types.

    import const
    const.DB_ENDPOINT, const.NEW_PRIMARY, const.CLUSTER_ENV, const.ERROR_TYPES
"""

REGION = "eu-west-1"
ACCOUNT = "111122223333"
DB_PORT = 5432
DB_IDENTIFIER = "orders-db"
DB_ENDPOINT = "orders-db.abc123xyz.eu-west-1.rds.amazonaws.com"
OLD_PRIMARY = "10.20.1.9"
NEW_PRIMARY = "10.20.2.118"
AURORA_CLUSTER = "aurora-orders.cluster-abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_INSTANCE_1 = "aurora-orders-instance-1.abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_INSTANCE_2 = "aurora-orders-instance-2.abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_ADDRESS_1 = "10.20.1.21"
AURORA_ADDRESS_2 = "10.20.2.22"
# The cluster of the RDS API mode (README.md, "Clusters (RDS API mode)"): instance 1 the writer, 2 and 3 readers.
CLUSTER_ID = "aurora-orders"
AURORA_READER = "aurora-orders.cluster-ro-abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_INSTANCE_3 = "aurora-orders-instance-3.abc123xyz.eu-west-1.rds.amazonaws.com"
AURORA_ADDRESS_3 = "10.20.3.23"
AURORA_IDS = ["aurora-orders-instance-1", "aurora-orders-instance-2", "aurora-orders-instance-3"]
AURORA_ENDPOINTS = dict(zip(AURORA_IDS, (AURORA_INSTANCE_1, AURORA_INSTANCE_2, AURORA_INSTANCE_3)))
AURORA_ADDRESSES = dict(zip(AURORA_IDS, (AURORA_ADDRESS_1, AURORA_ADDRESS_2, AURORA_ADDRESS_3)))
PROXY_ENDPOINT = "orders-proxy.proxy-abc123xyz.eu-west-1.rds.amazonaws.com"
PROXY_ADDRESSES = ["10.20.1.31", "10.20.2.32", "10.20.3.33"]
TARGET_GROUP_ARN = ("arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
                    "targetgroup/orders-db-tg/5d2c7e41a9b3f086")
VPC_CIDR = "10.20.0.0/16"
FUNCTION_NAME = "rds-nlb-sync"
FUNCTION_ARN = "arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, FUNCTION_NAME)

# Test credentials: distinctive, so a test can grep logs for them.
ACCESS_KEY_ID = "ASIAQSTACKTESTKEY0001"
SECRET_ACCESS_KEY = "stackTestSecret/K7MDENG+bPxRfiCYSTACKKEY"
SESSION_TOKEN = ("IQoJb3JpZ2luX2VjEStackTestSessionToken/"
                 "xmNotARealTokenButLongEnoughToLookLikeOne==")
# The signature of the presigned URLs the CloudFormation receiver (fake_cfn.py) hands out.
CFN_SIGNATURE = "cfnPresignedSignatureStackTest0123456789abcdef"

# The local stack's starting state (stack.LocalStack, .reset()).
DEFAULT_RECORDS = {
    DB_ENDPOINT: [OLD_PRIMARY],
    AURORA_INSTANCE_1: [AURORA_ADDRESS_1],
    AURORA_INSTANCE_2: [AURORA_ADDRESS_2],
    AURORA_INSTANCE_3: [AURORA_ADDRESS_3],
    PROXY_ENDPOINT: list(PROXY_ADDRESSES),
}
DEFAULT_CNAMES = {AURORA_CLUSTER: AURORA_INSTANCE_1, AURORA_READER: AURORA_INSTANCE_2}
OLD_TARGET = "%s:%d" % (OLD_PRIMARY, DB_PORT)
NEW_TARGET = "%s:%d" % (NEW_PRIMARY, DB_PORT)
DEFAULT_TARGETS = [OLD_TARGET]
# DNS after the failover: the endpoint on the new primary, every other record as before.
FLIPPED_RECORDS = dict(DEFAULT_RECORDS, **{DB_ENDPOINT: [NEW_PRIMARY]})

# The configuration of cluster mode for the stack's cluster.
CLUSTER_ENV = {"DB_CLUSTER_IDENTIFIER": CLUSTER_ID, "DB_ENDPOINT": None}
AURORA_MEMBERS = [(AURORA_IDS[0], True, "available", AURORA_INSTANCE_1),
                  (AURORA_IDS[1], False, "available", AURORA_INSTANCE_2),
                  (AURORA_IDS[2], False, "available", AURORA_INSTANCE_3)]

# Every errorType the binary reports (CONTRACT.md sections 3, 5, 11, 13 and 14; handler/sync/error.c
# names them, and tests/unit checks the two agree).
ERROR_TYPES = frozenset({"InvalidEvent", "ResolveError", "ElbApiError", "Timeout", "CloudFormationResponseError",
                         "Runtime.OutOfMemory", "RdsApiError", "Runtime.ConfigError", "ConfigError",
                         "FleetError"})
