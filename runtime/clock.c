/* Wall-clock time, the clock Lambda's deadlines are expressed in. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "runtime/internal.h"

int64_t lambda_now_ms(void)
{
    return rns_wall_ms();
}

/* Without a deadline header (some emulators) the handler still needs a
 * finite budget; Lambda's longest timeout is the honest upper bound. */
int64_t lambda_invocation_remaining_ms(const lambda_invocation *inv)
{
    if (!inv || inv->deadline_ms <= 0)
        return RT_NO_DEADLINE_REMAINING_MS;
    return inv->deadline_ms - lambda_now_ms();
}

void rt_format_timestamp(int64_t unix_ms, char out[RT_TIMESTAMP_SIZE])
{
    time_t secs = (time_t)(unix_ms / 1000);
    int ms = (int)(unix_ms % 1000);
    struct tm tm;
    if (unix_ms < 0 || !gmtime_r(&secs, &tm) || tm.tm_year + 1900 > 9999) {
        secs = 0;
        ms = 0;
        gmtime_r(&secs, &tm);
    }
    char tmp[64]; /* room for any int, though the bounds above keep each field at its width */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    memcpy(out, tmp, RT_TIMESTAMP_SIZE - 1);
    out[RT_TIMESTAMP_SIZE - 1] = '\0';
}
