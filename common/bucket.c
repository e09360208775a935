/* Token buckets (bucket.h). A take reserves its token at once, even one
 * that is only there later (the count goes below zero), and sleeps outside
 * the lock until it is: callers are served in the order they came and a
 * sleeper never holds the others up. */
#include "common/bucket.h"

#include "common/clock.h"

void rns_bucket_init(rns_bucket *b, double burst, double per_second)
{
    pthread_mutex_init(&b->lock, NULL);
    b->tokens = b->burst = burst;
    b->per_second = per_second > 0 ? per_second : 1;
    b->at_ms = rns_mono_ms();
    b->waited_ms = 0;
}

void rns_bucket_destroy(rns_bucket *b)
{
    pthread_mutex_destroy(&b->lock);
}

static void refill(rns_bucket *b, int64_t now)
{
    b->tokens += (double)(now - b->at_ms) * b->per_second / 1000.0;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->at_ms = now;
}

static long deficit_ms(const rns_bucket *b, double tokens)
{
    return tokens >= 0 ? 0 : (long)(-tokens * 1000.0 / b->per_second + 0.999);
}

long rns_bucket_wait_ms(rns_bucket *b, int64_t now_mono_ms)
{
    long w;
    pthread_mutex_lock(&b->lock);
    refill(b, now_mono_ms);
    w = deficit_ms(b, b->tokens - 1);
    pthread_mutex_unlock(&b->lock);
    return w;
}

/* Reserves one token (the lock held): the wait until it is there, or -1
 * (nothing taken) when that is after deadline_ms. */
static long reserve_token(rns_bucket *b, int64_t deadline_ms)
{
    long wait = deficit_ms(b, b->tokens - 1);
    if (wait > 0 && rns_wall_ms() + wait > deadline_ms)
        return -1;
    b->tokens -= 1;
    b->waited_ms += wait;
    return wait;
}

int rns_bucket_take(rns_bucket *b, int64_t deadline_ms)
{
    long wait;
    pthread_mutex_lock(&b->lock);
    refill(b, rns_mono_ms());
    wait = reserve_token(b, deadline_ms);
    pthread_mutex_unlock(&b->lock);
    if (wait < 0)
        return -1;
    rns_sleep_ms(wait);
    return 0;
}

int rns_bucket_take_deferred(rns_bucket *b, double reserve, long max_defer_ms, int64_t deadline_ms)
{
    int64_t until = rns_mono_ms() + max_defer_ms;
    for (;;) {
        int64_t now = rns_mono_ms();
        pthread_mutex_lock(&b->lock);
        refill(b, now);
        /* Others' takes only lower the count: the reserve is not there
         * before this wait, so sleeping it never oversleeps a chance. */
        long wait = deficit_ms(b, b->tokens - 1 - reserve);
        if (wait > until - now)
            wait = (long)(until - now);
        if (wait <= 0 || rns_wall_ms() + wait > deadline_ms) {
            wait = reserve_token(b, deadline_ms); /* its turn, like any take */
            pthread_mutex_unlock(&b->lock);
            if (wait < 0)
                return -1;
            rns_sleep_ms(wait);
            return 0;
        }
        pthread_mutex_unlock(&b->lock);
        rns_sleep_ms(wait);
    }
}
