/* rns_error (error.h). */
#include "handler/sync/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rns_error_set(rns_error *e, const char *type, const char *fmt, ...)
{
    va_list ap;
    snprintf(e->type, sizeof e->type, "%s", type);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

void rns_error_clear(rns_error *e)
{
    e->type[0] = '\0';
    e->message[0] = '\0';
}
