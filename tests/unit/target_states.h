/* Every state of ELBv2's TargetHealthStateEnum but "healthy" and "draining",
 * with each reason the API gives for it (the reference, "Target health"):
 * all are registered targets (CONTRACT.md section 5, rule 4). Shared by the
 * plan's and the reconcile's unit tests; include after check.h. */
#ifndef RNS_TEST_TARGET_STATES_H
#define RNS_TEST_TARGET_STATES_H

#include <stddef.h>

static const struct {
    const char *state, *reason;
} registered_states[] = {
    {"initial", "Elb.RegistrationInProgress"},
    {"initial", "Elb.InitialHealthChecking"},
    {"unhealthy", "Target.FailedHealthChecks"},
    {"unhealthy", "Target.ResponseCodeMismatch"},
    {"unhealthy", "Target.Timeout"},
    {"unhealthy", "Elb.InternalError"},
    {"unhealthy.draining", "Target.FailedHealthChecks"},
    {"unused", "Target.NotInUse"},
    {"unused", "Target.NotRegistered"},
    {"unused", "Target.InvalidState"},
    {"unused", "Target.IpUnusable"},
    {"unavailable", "Target.HealthCheckDisabled"},
    {"unavailable", "Elb.InternalError"},
};
#define N_REGISTERED_STATES (sizeof registered_states / sizeof registered_states[0])

/* Names the state of a loop's round when checks failed in it (failed_before:
 * check_case_failed when the round began). */
static inline void registered_state_context(int failed_before, size_t i)
{
    if (check_case_failed > failed_before)
        fprintf(stderr, "  ... with the target in state %s (%s)\n", registered_states[i].state,
                registered_states[i].reason);
}

#endif
