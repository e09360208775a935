/* A handler failure as the contract reports it: an errorType from CONTRACT.md
 * section 5 (InvalidEvent, ResolveError, ElbApiError, Timeout,
 * CloudFormationResponseError, Runtime.ConfigError) and a message a person
 * can act on. Never holds a secret or a CloudFormation response URL. */
#ifndef RNS_ERROR_H
#define RNS_ERROR_H

#include <stddef.h>

typedef struct rns_error {
    char type[48];       /* "" while there is no error */
    char message[1024];
} rns_error;

void rns_error_set(rns_error *e, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rns_error_clear(rns_error *e);

#endif
