/* Clocks and sleeping. Deadlines are Unix time in ms, the clock Lambda's
 * Lambda-Runtime-Deadline-Ms is given in; durations that must not jump with
 * the wall clock use the monotonic one. */
#ifndef RNS_COMMON_CLOCK_H
#define RNS_COMMON_CLOCK_H

#include <stdint.h>

/* Unix time in ms (CLOCK_REALTIME). */
int64_t rns_wall_ms(void);
/* ms since an arbitrary start (CLOCK_MONOTONIC). */
int64_t rns_mono_ms(void);
/* Sleeps ms (nothing for ms <= 0). A signal does not cut the sleep short:
 * it resumes with the time left. Any other failure ends it at once, so a
 * bad argument can never turn it into a busy loop. */
void rns_sleep_ms(long ms);

#endif
