/* The time left of an invocation, on the wall clock Lambda's deadlines are
 * expressed in (common/clock.h). */
#include "common/clock.h"
#include "runtime/internal.h"

/* Without a deadline header (some emulators) the handler still needs a
 * finite budget; Lambda's longest timeout is the honest upper bound. */
int64_t lambda_invocation_remaining_ms(const lambda_invocation *inv)
{
    if (!inv || inv->deadline_ms <= 0)
        return RT_NO_DEADLINE_REMAINING_MS;
    return inv->deadline_ms - rns_wall_ms();
}
