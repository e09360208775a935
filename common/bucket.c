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

int rns_bucket_take(rns_bucket *b, int64_t deadline_ms)
{
    long wait;
    pthread_mutex_lock(&b->lock);
    refill(b, rns_mono_ms());
    wait = deficit_ms(b, b->tokens - 1);
    if (wait > 0 && rns_wall_ms() + wait > deadline_ms) {
        pthread_mutex_unlock(&b->lock);
        return -1;
    }
    b->tokens -= 1;
    b->waited_ms += wait;
    pthread_mutex_unlock(&b->lock);
    rns_sleep_ms(wait);
    return 0;
}
