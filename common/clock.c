/* Clocks and sleeping (clock.h). */
#include "common/clock.h"

#include <errno.h>
#include <time.h>

static int64_t ms_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rns_wall_ms(void)
{
    return ms_of(CLOCK_REALTIME);
}

int64_t rns_mono_ms(void)
{
    return ms_of(CLOCK_MONOTONIC);
}

void rns_sleep_ms(long ms)
{
    struct timespec ts;
    if (ms <= 0)
        return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ; /* ts now holds the time left */
}
