/* The retry policy: every retry loop of the program (AWS API calls, the
 * CloudFormation PUT, Runtime API connections) asks rns_retry_next whether
 * and how long to wait, so when and how often we retry is decided here.
 *
 * The AWS policy is the SDKs' "standard" retry mode (docs/aws.md):
 * AWS_MAX_ATTEMPTS attempts, truncated exponential backoff with full jitter,
 * u * min(base * 2^(n-1), 20 s) before the retry after failed attempt n, with
 * a base of 1 s after throttling and 50 ms otherwise, and a client-wide quota
 * of 500 tokens (a retry costs 5, or 10 after a timeout; a success refunds
 * the last retry's cost, or 1). Which errors are retryable is the caller's
 * (for AWS: handler/aws/query_error.c). */
#ifndef RNS_COMMON_RETRY_H
#define RNS_COMMON_RETRY_H

#include <stdint.h>

typedef struct rns_retry_policy {
    long base_ms;          /* the first wait (its cap under jitter) */
    long throttle_base_ms; /* base after a throttling error; 0: base_ms */
    long max_backoff_ms;   /* cap of one wait; 0: none */
    int jitter;            /* full jitter: the wait is u * the capped backoff */
    int quota;             /* retries take tokens from an rns_retry_quota */
} rns_retry_policy;

/* AWS API calls (standard mode). */
extern const rns_retry_policy rns_retry_aws;
/* The CloudFormation response PUT: 250, 500, 1000 ms. */
extern const rns_retry_policy rns_retry_cfn_put;
#define RNS_RETRY_CFN_PUT_ATTEMPTS 4
/* Connections to the Runtime API (local): 50, 100, 200, 400 ms. */
extern const rns_retry_policy rns_retry_runtime_api;
#define RNS_RETRY_RUNTIME_API_ATTEMPTS 5

#define RNS_RETRY_QUOTA_MAX 500
#define RNS_RETRY_COST 5
#define RNS_RETRY_TIMEOUT_COST 10
#define RNS_RETRY_SUCCESS_REFUND 1

/* A client's retry quota and jitter source; lives as long as the client
 * (across invocations, as the SDKs' does). */
typedef struct rns_retry_state {
    int tokens;
    uint64_t rng;
} rns_retry_state;

/* A full quota and a seeded random source (getrandom, else the clock). */
void rns_retry_state_init(rns_retry_state *s);

/* One failed attempt, as the policy needs to know it. */
typedef struct rns_retry_failure {
    int attempt;      /* 1-based number of the attempt that failed */
    int max_attempts; /* the first try included */
    int retryable;    /* the caller's classification */
    int throttling;   /* the service asked us to slow down */
    int timed_out;    /* the attempt ran into its timeout */
} rns_retry_failure;

typedef enum rns_retry_verdict {
    RNS_RETRY_WAIT,         /* wait *wait_ms, then make the next attempt */
    RNS_RETRY_FINAL,        /* not retryable, or the attempts are used up */
    RNS_RETRY_NO_TOKENS,    /* the quota cannot pay for the retry */
    RNS_RETRY_PAST_DEADLINE /* the next attempt could not start before the deadline */
} rns_retry_verdict;

/* The decision after a failed attempt. deadline_ms (Unix ms, 0: none) is
 * compared with now_ms + the wait. On RNS_RETRY_WAIT the retry's cost has
 * been taken from the quota and is in *cost (0 without a quota). `s` may be
 * NULL for a policy without jitter or quota. */
rns_retry_verdict rns_retry_next(const rns_retry_policy *p, rns_retry_state *s, const rns_retry_failure *f,
                                 int64_t now_ms, int64_t deadline_ms, long *wait_ms, int *cost);

/* A success gives back the cost of the retry that led to it (last_cost), or
 * RNS_RETRY_SUCCESS_REFUND after a first try. */
void rns_retry_refund(rns_retry_state *s, int last_cost);

/* The wait before the retry that follows failed attempt `attempt`, u in
 * [0, 1) (ignored without jitter). */
long rns_retry_backoff_ms(const rns_retry_policy *p, int attempt, int throttling, double u);

#endif
