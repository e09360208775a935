/* EMF lines (metrics.h). */
#include "handler/sync/metrics.h"
#include "handler/sync/metrics_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/utf8.h"

/* The metric definitions after the namespace, fixed text. */
static const char definitions[] = ",\"Dimensions\":[[\"TargetGroup\"]],\"Metrics\":["
                                  "{\"Name\":\"TargetsRegistered\",\"Unit\":\"Count\"},"
                                  "{\"Name\":\"TargetsDeregistered\",\"Unit\":\"Count\"},"
                                  "{\"Name\":\"DnsWaitMs\",\"Unit\":\"Milliseconds\"},"
                                  "{\"Name\":\"ReconcileMs\",\"Unit\":\"Milliseconds\"},"
                                  "{\"Name\":\"Errors\",\"Unit\":\"Count\"}]}],\"Timestamp\":";

static void member(jw *w, const char *key, long long value)
{
    jw_lit(w, ",\"");
    jw_raw(w, key, strlen(key));
    jw_lit(w, "\":");
    jw_int(w, value);
}

static void text_member(jw *w, const char *key, const char *value)
{
    jw_lit(w, ",\"");
    jw_raw(w, key, strlen(key));
    jw_lit(w, "\":");
    jw_string(w, value, strlen(value));
}

/* Written directly, in the order and form jansson's json_dumps gave it. */
char *metrics_line(const char *ns, const char *target_group, const metrics_values *v, int64_t now_ms)
{
    jw w = {0};
    if (!ns || !*ns)
        return NULL;
    jw_lit(&w, "{\"_aws\":{\"CloudWatchMetrics\":[{\"Namespace\":");
    jw_string(&w, ns, strlen(ns));
    jw_raw(&w, definitions, sizeof definitions - 1);
    jw_int(&w, now_ms);
    jw_lit(&w, "}");
    text_member(&w, "TargetGroup", target_group ? target_group : "");
    member(&w, "TargetsRegistered", v->registered);
    member(&w, "TargetsDeregistered", v->deregistered);
    member(&w, "DnsWaitMs", v->dns_wait_ms);
    member(&w, "ReconcileMs", v->reconcile_ms);
    member(&w, "Errors", v->errors);
    text_member(&w, "trigger", v->trigger ? v->trigger : "manual");
    /* These two were left out, not the line, when not UTF-8 (json_object_set_new of a NULL string). */
    if (v->event_id && *v->event_id && rns_utf8_valid(v->event_id, strlen(v->event_id)))
        text_member(&w, "eventId", v->event_id);
    if (v->error_type && *v->error_type && rns_utf8_valid(v->error_type, strlen(v->error_type)))
        text_member(&w, "errorType", v->error_type);
    jw_lit(&w, "}");
    return jw_finish(&w, NULL);
}

void metrics_emit(logger *lg, const char *ns, const char *target_group, const metrics_values *v, int64_t now_ms)
{
    char *line = metrics_line(ns, target_group, v, now_ms);
    if (line)
        log_raw_line(lg, line);
    free(line);
}
