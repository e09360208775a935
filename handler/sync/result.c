/* The result JSON (result.h). jansson keeps insertion order, which is the
 * contract's order here. */
#include "handler/sync/result.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/utf8.h"
#include "handler/sync/plan.h"

static json_t *string_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

json_t *result_addresses(const addr_list *l)
{
    addr_list sorted = {NULL, 0};
    json_t *arr = json_array();
    for (size_t i = 0; i < l->count; i++)
        addr_list_add(&sorted, &l->items[i]);
    addr_list_sort(&sorted);
    for (size_t i = 0; i < sorted.count; i++) {
        char text[ADDR_TEXT_MAX];
        ip_addr_format(&sorted.items[i], text, sizeof text);
        json_array_append_new(arr, json_string(text));
    }
    addr_list_free(&sorted);
    return arr;
}

static json_t *targets(const elb_target_list *l)
{
    json_t *arr = json_array();
    elb_target_list sorted = {NULL, 0};
    if (l->count) {
        sorted.items = malloc(l->count * sizeof *sorted.items);
        if (!sorted.items)
            return arr;
        memcpy(sorted.items, l->items, l->count * sizeof *sorted.items);
        sorted.count = l->count;
        target_list_sort(&sorted);
    }
    for (size_t i = 0; i < sorted.count; i++) {
        char text[300];
        target_format(&sorted.items[i], text, sizeof text);
        json_array_append_new(arr, json_string(text));
    }
    free(sorted.items);
    return arr;
}

/* CONTRACT.md section 13: "routing" always; the fast switch's fields with it. */
static void result_add_routing(json_t *o, const binding *b, const reconcile_report *rep)
{
    json_object_set_new(o, "routing", json_string(b->listener_arn ? "weights" : "targets"));
    if (!b->listener_arn)
        return;
    json_object_set_new(o, "listenerArn", json_string(b->listener_arn));
    json_object_set_new(o, "weightsChanged", json_boolean(rep->weights_changed));
    json_object_set_new(o, "slots", rep->slots ? json_incref(rep->slots) : json_array());
}

json_t *result_build(const binding *b, const event_info *ev, const reconcile_report *rep)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "trigger", json_string(event_trigger_name(ev->trigger)));
    json_object_set_new(o, "eventId", string_or_null(ev->event_id));
    json_object_set_new(o, "sourceId", string_or_null(ev->source_id));
    json_object_set_new(o, "endpoint", b->endpoint ? json_string(b->endpoint) : json_null());
    json_object_set_new(o, "port", json_integer(b->port));
    json_object_set_new(o, "targetGroupArn", string_or_null(b->target_group_arn));
    json_object_set_new(o, "resolved", result_addresses(&rep->resolved));
    json_object_set_new(o, "rejected", result_addresses(&rep->rejected));
    json_object_set_new(o, "registered", targets(&rep->registered));
    json_object_set_new(o, "deregistered", targets(&rep->deregistered));
    json_object_set_new(o, "unchanged", targets(&rep->unchanged));
    json_object_set_new(o, "dryRun", json_boolean(rep->dry_run));
    json_object_set_new(o, "dnsChanged", json_boolean(rep->dns_changed));
    json_object_set_new(o, "waitedMs", json_integer(rep->waited_ms));
    json_object_set_new(o, "converged", json_boolean(rep->converged));
    json_object_set_new(o, "discovery", json_string("dns"));
    result_add_routing(o, b, rep);
    if (b->source.add_result)
        b->source.add_result(b->source.ctx, o, rep->source_detail);
    return o;
}

json_t *result_error(const rns_error *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "errorType", json_string(rns_error_name(err)));
    json_object_set_new(o, "errorMessage", rns_json_text(err->message, strlen(err->message), (size_t)-1));
    return o;
}

void result_add_cloudformation(json_t *result, const char *status, const rns_error *err)
{
    json_object_set_new(result, "cloudformationStatus", json_string(status));
    if (err && rns_error_failed(err))
        json_object_set_new(result, "error", result_error(err));
}

/* What json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) gave, through the JSON
 * writer (common/jsonw.h), at a fifth of its cost. */
char *result_dump(const json_t *json, size_t *len)
{
    jw w = {0};
    char *text;
    if (len)
        *len = 0;
    if (!json_is_object(json) && !json_is_array(json))
        return NULL; /* json_dumps dumps nothing else without JSON_ENCODE_ANY */
    jw_value(&w, json);
    text = jw_finish(&w, len);
    if (!text && len)
        *len = 0;
    return text;
}
