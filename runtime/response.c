/* Handler results and the JSON error body the Runtime API expects. */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

lambda_response lambda_response_success(char *payload, size_t len, const char *content_type)
{
    lambda_response r = {0};
    r.success = 1;
    r.payload = payload;
    r.payload_len = payload ? len : 0;
    r.content_type = strdup(content_type && *content_type ? content_type : "application/json");
    return r;
}

lambda_response lambda_response_failure(const char *error_message, const char *error_type)
{
    lambda_response r = {0};
    r.error_message = strdup(error_message ? error_message : "");
    r.error_type = strdup(error_type && *error_type ? error_type : "Unhandled");
    return r;
}

void lambda_response_free(lambda_response *resp)
{
    if (!resp)
        return;
    free(resp->payload);
    free(resp->content_type);
    free(resp->error_type);
    free(resp->error_message);
    memset(resp, 0, sizeof *resp);
}

/* Built with jansson in this key order, as the Lambda documentation shows
 * it; the stack trace of a C handler is not meaningful, so it is empty. */
char *rt_error_body(const char *message, const char *type)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char *out = NULL;
    if (json_object_set_new(o, "errorMessage", rt_json_text(message, RT_MAX_ERROR_MESSAGE)) == 0 &&
        json_object_set_new(o, "errorType", rt_json_text(type, 1024)) == 0 &&
        json_object_set_new(o, "stackTrace", json_array()) == 0)
        out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return out;
}
