/* A token bucket shared by threads: the client-side share of an AWS API's
 * request rate (fleet mode paces its calls under the account's buckets,
 * README.md "Fleet mode"). `burst` tokens, refilled at `per_second`; a call
 * takes one, waiting for it when the bucket is empty, never past a deadline. */
#ifndef RNS_COMMON_BUCKET_H
#define RNS_COMMON_BUCKET_H

#include <pthread.h>
#include <stdint.h>

typedef struct rns_bucket {
    pthread_mutex_t lock;
    double tokens;
    double burst;
    double per_second;
    int64_t at_ms;  /* monotonic ms of the last refill */
    long waited_ms; /* total time callers waited, for the result and bench */
} rns_bucket;

void rns_bucket_init(rns_bucket *b, double burst, double per_second);
void rns_bucket_destroy(rns_bucket *b);
/* Takes a token, sleeping until one is there: 0, or -1 (nothing taken)
 * when it would come after deadline_ms (Unix ms). */
int rns_bucket_take(rns_bucket *b, int64_t deadline_ms);
/* A take for a call that can wait (fleet mode's DeregisterTargets: the
 * clients wait for the registrations): it takes its token only while
 * `reserve` more stay for the others, so that the calls that cannot wait
 * keep the burst; after max_defer_ms, or when waiting for the reserve
 * would pass deadline_ms, it takes one in turn. 0, or -1 as a take. */
int rns_bucket_take_deferred(rns_bucket *b, double reserve, long max_defer_ms, int64_t deadline_ms);
/* The wait a take would need now, in ms (0: a token is there); for tests. */
long rns_bucket_wait_ms(rns_bucket *b, int64_t now_mono_ms);

#endif
