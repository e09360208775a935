/* The retry policy (retry.h). */
#include "common/retry.h"

#include <stddef.h>
#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/clock.h"

const rns_retry_policy rns_retry_aws = {
    .base_ms = 50,
    .throttle_base_ms = 1000,
    .max_backoff_ms = 20000,
    .jitter = 1,
    .quota = 1,
};
const rns_retry_policy rns_retry_cfn_put = {.base_ms = 250};
const rns_retry_policy rns_retry_runtime_api = {.base_ms = 50};

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double unit_random(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

void rns_retry_state_init(rns_retry_state *s)
{
    s->tokens = RNS_RETRY_QUOTA_MAX;
    if (getrandom(&s->rng, sizeof s->rng, GRND_NONBLOCK) != (ssize_t)sizeof s->rng)
        s->rng = (uint64_t)rns_mono_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
}

long rns_retry_backoff_ms(const rns_retry_policy *p, int attempt, int throttling, double u)
{
    long cap = throttling && p->throttle_base_ms ? p->throttle_base_ms : p->base_ms;
    long max = p->max_backoff_ms ? p->max_backoff_ms : 3600L * 1000;
    int i;
    for (i = 1; i < attempt && cap < max; i++)
        cap *= 2;
    if (cap > max)
        cap = max;
    if (!p->jitter)
        return cap;
    if (u < 0)
        u = 0;
    return (long)(u * (double)cap);
}

rns_retry_verdict rns_retry_next(const rns_retry_policy *p, rns_retry_state *s, const rns_retry_failure *f,
                                 int64_t now_ms, int64_t deadline_ms, long *wait_ms, int *cost)
{
    int price = 0;
    *wait_ms = 0;
    *cost = 0;
    if (!f->retryable || f->attempt >= f->max_attempts)
        return RNS_RETRY_FINAL;
    if (p->quota && s) {
        price = f->timed_out ? RNS_RETRY_TIMEOUT_COST : RNS_RETRY_COST;
        if (s->tokens < price)
            return RNS_RETRY_NO_TOKENS;
    }
    *wait_ms = rns_retry_backoff_ms(p, f->attempt, f->throttling, p->jitter && s ? unit_random(&s->rng) : 0.0);
    if (deadline_ms && now_ms + *wait_ms >= deadline_ms)
        return RNS_RETRY_PAST_DEADLINE;
    if (price) {
        s->tokens -= price;
        *cost = price;
    }
    return RNS_RETRY_WAIT;
}

void rns_retry_refund(rns_retry_state *s, int last_cost)
{
    s->tokens += last_cost ? last_cost : RNS_RETRY_SUCCESS_REFUND;
    if (s->tokens > RNS_RETRY_QUOTA_MAX)
        s->tokens = RNS_RETRY_QUOTA_MAX;
}
