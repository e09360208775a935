/* rns_error (error.h): the one table of error type names. */
#include "handler/sync/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The errorType values of the handler's answer (README.md, "Result", Errors).
 * Out of memory is reported as Lambda reports a function that ran out of
 * memory. */
static const char *const names[RNS_ERR_TYPE_COUNT] = {
    [RNS_ERR_NONE] = "",
    [RNS_ERR_INVALID_EVENT] = "InvalidEvent",
    [RNS_ERR_RESOLVE] = "ResolveError",
    [RNS_ERR_ELB_API] = "ElbApiError",
    [RNS_ERR_RDS_API] = "RdsApiError",
    [RNS_ERR_TIMEOUT] = "Timeout",
    [RNS_ERR_CFN_RESPONSE] = "CloudFormationResponseError",
    [RNS_ERR_CONFIG] = "Runtime.ConfigError",
    [RNS_ERR_NO_MEMORY] = "Runtime.OutOfMemory",
    [RNS_ERR_BINDING] = "ConfigError",
    [RNS_ERR_FLEET] = "FleetError",
};

const char *rns_error_type_name(rns_error_type type)
{
    return (unsigned)type < RNS_ERR_TYPE_COUNT ? names[type] : names[RNS_ERR_NO_MEMORY];
}

const char *rns_error_name(const rns_error *e)
{
    return rns_error_type_name(e->type);
}

int rns_error_failed(const rns_error *e)
{
    return e->type != RNS_ERR_NONE;
}

void rns_error_set(rns_error *e, rns_error_type type, const char *fmt, ...)
{
    va_list ap;
    e->type = type;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

void rns_error_nomem(rns_error *e, const char *doing)
{
    rns_error_set(e, RNS_ERR_NO_MEMORY, "out of memory %s", doing);
}

void rns_error_clear(rns_error *e)
{
    e->type = RNS_ERR_NONE;
    e->message[0] = '\0';
}
