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

/* value (0 <= value < 10^width, as the bounds below keep it) in width digits. */
static void digits(char *out, int value, int width)
{
    while (width-- > 0) {
        out[width] = (char)('0' + value % 10);
        value /= 10;
    }
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
    /* Digits written directly: snprintf cost more than the rest of a log line. */
    digits(out, tm.tm_year + 1900, 4);
    out[4] = '-';
    digits(out + 5, tm.tm_mon + 1, 2);
    out[7] = '-';
    digits(out + 8, tm.tm_mday, 2);
    out[10] = 'T';
    digits(out + 11, tm.tm_hour, 2);
    out[13] = ':';
    digits(out + 14, tm.tm_min, 2);
    out[16] = ':';
    digits(out + 17, tm.tm_sec, 2);
    out[19] = '.';
    digits(out + 20, ms, 3);
    out[23] = 'Z';
    out[RT_TIMESTAMP_SIZE - 1] = '\0';
}
