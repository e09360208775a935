/* Recognising the invocation's event (README.md, "Events").
 *
 * The event only decides whether to wait for DNS, whether it is a dry run and
 * where a CloudFormation answer goes; what gets registered never comes from
 * it. Fields of the wrong JSON type count as absent, never as an error. */
#ifndef RNS_EVENT_H
#define RNS_EVENT_H

#include <stddef.h>

typedef enum event_trigger {
    TRIGGER_MANUAL = 0,    /* anything else, SNS messages that are not RDS events */
    TRIGGER_RDS_EVENT,     /* an RDS event with an event ID, via SNS or EventBridge */
    TRIGGER_SCHEDULE,      /* EventBridge "Scheduled Event" */
    TRIGGER_CLOUDFORMATION /* a custom resource request */
} event_trigger;

typedef enum cfn_request_type { CFN_CREATE, CFN_UPDATE, CFN_DELETE, CFN_OTHER } cfn_request_type;

/* The parts of a CloudFormation request the answer needs. Strings are owned;
 * response_url is a credential: never log it. */
typedef struct cfn_request {
    cfn_request_type type;
    char request_type[32]; /* as sent, for messages */
    char *response_url;
    char *stack_id;
    char *request_id;           /* "" when absent */
    char *logical_resource_id;  /* "" when absent */
    char *physical_resource_id; /* NULL when absent */
} cfn_request;

typedef struct event_info {
    event_trigger trigger;
    const char *kind;    /* what was recognised, for logs: "sns-rds", "eventbridge-rds", ... */
    char event_id[16];   /* "RDS-EVENT-NNNN", "" when absent */
    char source_id[256]; /* without any "rds:" prefix, "" when absent */
    int failover;        /* a failover-completion event for our DB identifier */
    int ours;            /* an RDS event whose source is our DB identifier */
    int dry_run;         /* {"dryRun": true} in a manual event */
    int records;         /* SNS records seen */
    cfn_request cfn;     /* trigger == TRIGGER_CLOUDFORMATION only */
} event_info;

/* 0, or -1 (the event is empty, not JSON or not an object: InvalidEvent),
 * or -2 (out of memory), with a message that never quotes the payload. */
int event_parse(const char *payload, size_t len, const char *db_identifier, event_info *out, char *err, size_t errlen);
void event_info_free(event_info *ev);

/* Whether this ID is one of the failover-completion IDs (README.md, "Events"). */
int event_is_failover_id(const char *event_id);

/* RDS-EVENT-0072 and 0073, a DB cluster's failover started (same or cross
 * AZ): in the RDS API mode's writer role they start the wait too (README.md,
 * "Clusters (RDS API mode)"). */
int event_is_cluster_failover_start(const char *event_id);

/* "rds-event", "schedule", "cloudformation", "manual". */
const char *event_trigger_name(event_trigger t);

#endif
