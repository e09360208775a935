/* Event recognition (event.h), following the shapes of docs/events.md: SNS
 * envelopes (RDS notification JSON, EventBridge JSON or plain
 * text in Message), EventBridge RDS and scheduled events, CloudFormation
 * custom resource requests, and anything else. */
#include "handler/sync/event.h"
#include "handler/sync/event_internal.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"

/* What one RDS event source (an SNS record or an EventBridge event) said. */
typedef struct rds_event {
    int is_rds;
    char event_id[16];
    char source_id[256];
} rds_event;

static const char *const failover_ids[] = {
    "RDS-EVENT-0015", "RDS-EVENT-0049", "RDS-EVENT-0051", "RDS-EVENT-0065", /* instance */
    "RDS-EVENT-0071", "RDS-EVENT-0185",                                     /* cluster */
    "RDS-EVENT-0248", "RDS-EVENT-0251", "RDS-EVENT-0260",                   /* blue/green */
};

int event_is_failover_id(const char *event_id)
{
    for (size_t i = 0; i < sizeof failover_ids / sizeof *failover_ids; i++)
        if (strcmp(event_id, failover_ids[i]) == 0)
            return 1;
    return 0;
}

int event_is_cluster_failover_start(const char *event_id)
{
    return strcmp(event_id, "RDS-EVENT-0072") == 0 || strcmp(event_id, "RDS-EVENT-0073") == 0;
}

int event_find_id(const char *text, char out[16])
{
    static const char prefix[] = "RDS-EVENT-";
    const size_t plen = sizeof prefix - 1;
    for (const char *p = text ? strstr(text, prefix) : NULL; p; p = strstr(p + 1, prefix)) {
        const char *d = p + plen;
        if (isdigit((unsigned char)d[0]) && isdigit((unsigned char)d[1]) && isdigit((unsigned char)d[2]) &&
            isdigit((unsigned char)d[3]) && !isdigit((unsigned char)d[4])) {
            memcpy(out, p, plen + 4);
            out[plen + 4] = '\0';
            return 0;
        }
    }
    return -1;
}

const char *event_trigger_name(event_trigger t)
{
    switch (t) {
    case TRIGGER_RDS_EVENT: return "rds-event";
    case TRIGGER_SCHEDULE: return "schedule";
    case TRIGGER_CLOUDFORMATION: return "cloudformation";
    default: return "manual";
    }
}

/* A string's text, or NULL when it is not a string or holds a NUL (\u0000 is
 * valid JSON, but such a value would be read cut short: it counts as absent). */
static const char *text_of(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* A string member, or NULL when absent or of another type. */
static const char *str_at(const json_t *obj, const char *key)
{
    return text_of(json_object_get(obj, key));
}

static int str_is(const json_t *obj, const char *key, const char *want)
{
    const char *v = str_at(obj, key);
    return v && strcmp(v, want) == 0;
}

/* The identifier at the end of "rds:name" or an ARN; the text itself otherwise. */
static void set_source(char out[256], const char *text)
{
    if (!text || !*text)
        return;
    const char *colon = strrchr(text, ':');
    rns_utf8_copy(out, 256, colon ? colon + 1 : text);
}

/* EventBridge RDS event (docs/events.md): detail.EventID, detail.SourceIdentifier. */
static void read_eventbridge_rds(const json_t *root, rds_event *ev)
{
    const json_t *detail = json_object_get(root, "detail");
    ev->is_rds = 1;
    event_find_id(str_at(detail, "EventID"), ev->event_id);
    set_source(ev->source_id, str_at(detail, "SourceIdentifier"));
    if (!ev->source_id[0])
        set_source(ev->source_id, str_at(detail, "SourceArn"));
    if (!ev->source_id[0])
        set_source(ev->source_id, text_of(json_array_get(json_object_get(root, "resources"), 0)));
}

static const char *attribute(const json_t *sns, const char *name)
{
    const json_t *attrs = json_object_get(sns, "MessageAttributes");
    return str_at(json_object_get(attrs, name), "Value");
}

/* RDS notification JSON inside an SNS Message (docs/events.md); message attributes as a fallback. */
static void read_rds_notification(const json_t *msg, const json_t *sns, rds_event *ev)
{
    ev->is_rds = 1;
    if (event_find_id(str_at(msg, "Event ID"), ev->event_id) != 0)
        event_find_id(attribute(sns, "EventID"), ev->event_id);
    set_source(ev->source_id, str_at(msg, "Source ID"));
    if (!ev->source_id[0])
        set_source(ev->source_id, str_at(msg, "Source ARN"));
    if (!ev->source_id[0])
        set_source(ev->source_id, attribute(sns, "Resource"));
}

/* One SNS record; returns the kind of its message. */
static const char *read_sns_record(const json_t *record, rds_event *ev)
{
    const json_t *sns = json_object_get(record, "Sns");
    const json_t *message = json_object_get(sns, "Message");
    const char *text = json_string_value(message);
    if (!text)
        return "sns-other";
    json_t *msg = json_loadb(text, json_string_length(message), JSON_ALLOW_NUL, NULL);
    const char *kind = "sns-other";
    if (!json_is_object(msg)) {
        kind = msg ? "sns-other" : "sns-text";
    } else if (json_object_get(msg, "source")) {
        if (str_is(msg, "source", "aws.rds")) {
            read_eventbridge_rds(msg, ev);
            kind = "sns-eventbridge-rds";
        }
    } else if (json_object_get(msg, "Event ID") || json_object_get(msg, "Source ID") ||
               json_object_get(msg, "Event Source")) {
        read_rds_notification(msg, sns, ev);
        kind = "sns-rds";
    }
    json_decref(msg);
    return kind;
}

static int for_us(const rds_event *ev, const char *db_identifier)
{
    return ev->event_id[0] && event_is_failover_id(ev->event_id) && ev->source_id[0] && db_identifier &&
           strcasecmp(ev->source_id, db_identifier) == 0;
}

/* Prefers a failover event for us, then any event with an ID, then the first RDS one. */
static int better(const rds_event *cand, const rds_event *best, const char *db_identifier)
{
    if (!cand->is_rds)
        return 0;
    if (!best->is_rds)
        return 1;
    if (for_us(cand, db_identifier) != for_us(best, db_identifier))
        return for_us(cand, db_identifier);
    return cand->event_id[0] && !best->event_id[0];
}

static void apply_rds(event_info *out, const rds_event *ev, const char *db_identifier)
{
    memcpy(out->event_id, ev->event_id, sizeof out->event_id);
    memcpy(out->source_id, ev->source_id, sizeof out->source_id);
    out->trigger = ev->event_id[0] ? TRIGGER_RDS_EVENT : TRIGGER_MANUAL;
    out->failover = for_us(ev, db_identifier);
    out->ours = ev->source_id[0] && db_identifier && strcasecmp(ev->source_id, db_identifier) == 0;
}

static void read_sns(const json_t *records, const char *db_identifier, event_info *out)
{
    rds_event best;
    memset(&best, 0, sizeof best);
    out->kind = "sns-other";
    size_t i;
    const json_t *record;
    json_array_foreach(records, i, record)
    {
        if (!str_is(record, "EventSource", "aws:sns"))
            continue;
        rds_event ev;
        memset(&ev, 0, sizeof ev);
        const char *kind = read_sns_record(record, &ev);
        int take = better(&ev, &best, db_identifier);
        if (take || out->records == 0)
            out->kind = kind;
        if (take)
            best = ev;
        out->records++;
    }
    apply_rds(out, &best, db_identifier);
}

static int is_sns(const json_t *root)
{
    const json_t *records = json_object_get(root, "Records");
    size_t i;
    const json_t *record;
    json_array_foreach(records, i, record) if (str_is(record, "EventSource", "aws:sns")) return 1;
    return 0;
}

static int is_cloudformation(const json_t *root)
{
    return str_at(root, "RequestType") && str_at(root, "ResponseURL") && str_at(root, "StackId");
}

static char *dup_str(const json_t *root, const char *key, const char *dflt)
{
    const char *v = str_at(root, key);
    return v ? strdup(v) : dflt ? strdup(dflt) : NULL;
}

static int read_cloudformation(const json_t *root, cfn_request *cfn)
{
    const char *type = str_at(root, "RequestType");
    rns_utf8_copy(cfn->request_type, sizeof cfn->request_type, type);
    cfn->type = strcmp(type, "Create") == 0   ? CFN_CREATE
                : strcmp(type, "Update") == 0 ? CFN_UPDATE
                : strcmp(type, "Delete") == 0 ? CFN_DELETE
                                              : CFN_OTHER;
    cfn->response_url = dup_str(root, "ResponseURL", NULL);
    cfn->stack_id = dup_str(root, "StackId", NULL);
    cfn->request_id = dup_str(root, "RequestId", "");
    cfn->logical_resource_id = dup_str(root, "LogicalResourceId", "");
    cfn->physical_resource_id = dup_str(root, "PhysicalResourceId", NULL);
    if (!cfn->response_url || !cfn->stack_id || !cfn->request_id || !cfn->logical_resource_id ||
        (str_at(root, "PhysicalResourceId") && !cfn->physical_resource_id))
        return -1;
    return 0;
}

static void classify(const json_t *root, const char *db_identifier, event_info *out)
{
    if (is_cloudformation(root)) {
        out->trigger = TRIGGER_CLOUDFORMATION;
        out->kind = "cloudformation";
    } else if (is_sns(root)) {
        read_sns(json_object_get(root, "Records"), db_identifier, out);
    } else if (str_is(root, "source", "aws.rds")) {
        rds_event ev;
        memset(&ev, 0, sizeof ev);
        read_eventbridge_rds(root, &ev);
        apply_rds(out, &ev, db_identifier);
        out->kind = "eventbridge-rds";
    } else if (str_is(root, "source", "aws.events") && str_is(root, "detail-type", "Scheduled Event")) {
        out->trigger = TRIGGER_SCHEDULE;
        out->kind = "schedule";
    } else {
        out->trigger = TRIGGER_MANUAL;
        out->kind = "manual";
        out->dry_run = json_is_true(json_object_get(root, "dryRun"));
    }
}

static int blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)p[i]))
            return 0;
    return 1;
}

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    default: return "not an object";
    }
}

/* jansson's message without its "near '<payload text>'" part. */
static void invalid_json(const json_error_t *e, char *err, size_t errlen)
{
    int n = (int)strcspn(e->text, "\n");
    const char *near = strstr(e->text, " near ");
    if (near && near - e->text < n)
        n = (int)(near - e->text);
    snprintf(err, errlen, "the event is not valid JSON (line %d, column %d: %.*s)", e->line, e->column, n, e->text);
}

int event_parse(const char *payload, size_t len, const char *db_identifier, event_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kind = "invalid";
    if (!payload || blank(payload, len)) {
        snprintf(err, errlen, "the event is empty");
        return -1;
    }
    json_error_t jerr;
    /* \u0000 is valid JSON: allowed, and the strings holding one count as absent. */
    json_t *root = json_loadb(payload, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        invalid_json(&jerr, err, errlen);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the event is JSON but not an object (it is %s)", json_type_name(root));
        json_decref(root);
        return -1;
    }
    classify(root, db_identifier, out);
    int rc = 0;
    if (out->trigger == TRIGGER_CLOUDFORMATION && read_cloudformation(root, &out->cfn) != 0) {
        snprintf(err, errlen, "out of memory reading the CloudFormation request");
        event_info_free(out);
        rc = -2;
    }
    json_decref(root);
    return rc;
}

void event_info_free(event_info *ev)
{
    free(ev->cfn.response_url);
    free(ev->cfn.stack_id);
    free(ev->cfn.request_id);
    free(ev->cfn.logical_resource_id);
    free(ev->cfn.physical_resource_id);
    memset(&ev->cfn, 0, sizeof ev->cfn);
}
