/* EMF lines (metrics.h). */
#include "handler/sync/metrics.h"
#include "handler/sync/internal.h"

#include <jansson.h>
#include <stdlib.h>

static json_t *definitions(const char *ns)
{
    return json_pack("{s:[{s:s, s:[[s]], s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]}]}",
                     "CloudWatchMetrics", "Namespace", ns, "Dimensions", "TargetGroup", "Metrics",
                     "Name", "TargetsRegistered", "Unit", "Count",
                     "Name", "TargetsDeregistered", "Unit", "Count",
                     "Name", "DnsWaitMs", "Unit", "Milliseconds",
                     "Name", "ReconcileMs", "Unit", "Milliseconds",
                     "Name", "Errors", "Unit", "Count");
}

char *metrics_line(const char *ns, const char *target_group, const metrics_values *v, int64_t now_ms)
{
    if (!ns || !*ns)
        return NULL;
    json_t *aws = definitions(ns);
    if (!aws)
        return NULL;
    json_object_set_new(aws, "Timestamp", json_integer(now_ms));
    json_t *o = json_pack("{s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "_aws", aws, "TargetGroup",
                          target_group ? target_group : "", "TargetsRegistered", (json_int_t)v->registered,
                          "TargetsDeregistered", (json_int_t)v->deregistered, "DnsWaitMs",
                          (json_int_t)v->dns_wait_ms, "ReconcileMs", (json_int_t)v->reconcile_ms, "Errors",
                          (json_int_t)v->errors, "trigger", v->trigger ? v->trigger : "manual");
    if (!o)
        return NULL;
    if (v->event_id && *v->event_id)
        json_object_set_new(o, "eventId", json_string(v->event_id));
    if (v->error_type && *v->error_type)
        json_object_set_new(o, "errorType", json_string(v->error_type));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return line;
}

void metrics_emit(logger *lg, const char *ns, const char *target_group, const metrics_values *v,
                  int64_t now_ms)
{
    char *line = metrics_line(ns, target_group, v, now_ms);
    if (line)
        log_raw_line(lg, line);
    free(line);
}
