/* A handler failure as the handler answers it: one of the error types of
 * the handler's answer (README.md, "Result", Errors) and a message a person can act
 * on. Never holds a secret or a CloudFormation response URL.
 *
 * The types are an enum; their names, the errorType values a user sees,
 * are in one table (error.c), as jansson pairs json_error_code with text. */
#ifndef RNS_ERROR_H
#define RNS_ERROR_H

#include <stddef.h>

typedef enum rns_error_type {
    RNS_ERR_NONE = 0,
    RNS_ERR_INVALID_EVENT, /* the event is empty, not JSON, or unusable */
    RNS_ERR_RESOLVE,       /* no usable address; nothing changed */
    RNS_ERR_ELB_API,       /* an ELBv2 call failed */
    RNS_ERR_RDS_API,       /* an RDS API call failed */
    RNS_ERR_TIMEOUT,       /* the deadline came before convergence */
    RNS_ERR_CFN_RESPONSE,  /* the CloudFormation answer could not be delivered */
    RNS_ERR_CONFIG,        /* missing or invalid configuration */
    RNS_ERR_NO_MEMORY,     /* out of memory, wherever it happened */
    RNS_ERR_BINDING,       /* fleet mode: a target group's binding tags are invalid */
    RNS_ERR_FLEET,         /* fleet mode: at least one binding failed (after every one was handled) */
    RNS_ERR_LISTENER,      /* the fast switch's listener is not usable; nothing changed */
    RNS_ERR_TYPE_COUNT
} rns_error_type;

typedef struct rns_error {
    rns_error_type type; /* RNS_ERR_NONE while there is no error */
    char message[1024];
} rns_error;

/* The errorType of a type ("" for RNS_ERR_NONE). */
const char *rns_error_type_name(rns_error_type type);
/* The errorType of an error ("" when there is none). */
const char *rns_error_name(const rns_error *e);
/* Whether e holds an error. */
int rns_error_failed(const rns_error *e);

void rns_error_set(rns_error *e, rns_error_type type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* RNS_ERR_NO_MEMORY: "out of memory <doing what>". */
void rns_error_nomem(rns_error *e, const char *doing);
void rns_error_clear(rns_error *e);

#endif
