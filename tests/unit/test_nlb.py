"""The NLB data plane's routing and health rules (tests/lib/nlb.py), without sockets: weights across
target groups, round robin, fail-open, and each target's health states."""
import nlb
import tap


@tap.case
def weights_split_new_connections_in_proportion():
    r = nlb.Router()
    picks = [r.pick_group([("a", 3), ("b", 1), ("c", 0)]) for _ in range(400)]
    tap.eq((picks.count("a"), picks.count("b"), picks.count("c")), (300, 100, 0))
    tap.ok(all(picks[i:i + 4].count("b") == 1 for i in range(0, 400, 4)), "b spread evenly: %s" % picks[:12])


@tap.case
def one_group_is_the_default_case():
    r = nlb.Router()
    tap.eq({r.pick_group([("only", 1)]) for _ in range(10)}, {"only"})


@tap.case
def every_weight_zero_routes_nowhere():
    tap.eq(nlb.Router().pick_group([("a", 0), ("b", 0)]), None)


@tap.case
def a_weight_change_takes_the_next_connection():
    r = nlb.Router()
    tap.eq([r.pick_group([("a", 1), ("b", 0)]) for _ in range(3)], ["a"] * 3)
    tap.eq([r.pick_group([("a", 0), ("b", 1)]) for _ in range(3)], ["b"] * 3)


@tap.case
def round_robin_over_a_groups_targets():
    r = nlb.Router()
    tap.eq([r.pick_target("g", ["10.0.0.2:1", "10.0.0.1:1"]) for _ in range(4)],
           ["10.0.0.1:1", "10.0.0.2:1"] * 2)
    tap.eq(r.pick_target("g", []), None)


@tap.case
def only_healthy_targets_while_one_is_healthy():
    states = {"a": "healthy", "b": "unhealthy", "c": "initial", "d": "draining", "e": "unhealthy.draining"}
    tap.eq(nlb.routable(states, {k: True for k in states}), ["a"])


@tap.case
def no_healthy_target_fails_open_to_every_registered_one():
    states = {"b": "unhealthy", "c": "initial", "d": "draining", "e": "unhealthy.draining", "f": "initial"}
    past = {"b": True, "c": True, "d": True, "e": True, "f": False}  # f: still in registration
    tap.eq(sorted(nlb.routable(states, past)), ["b", "c", "e"])
    tap.eq(nlb.routable({"d": "draining"}, {"d": True}), [])


class _Elb:
    """What the data plane reads of the fake ELBv2: a listener's weights and each group's targets."""

    def __init__(self, groups, targets):
        self.groups, self.by_group, self.on_weights = groups, targets, None

    def weights(self, listener):
        return list(self.groups)

    def targets(self, arn):
        return [{"Id": k.split(":")[0], "Port": int(k.split(":")[1]), "State": st} for k, st in self.by_group[arn]]

    def set_delays(self, *a):
        pass

    def set_health(self, *a):
        pass


def slots_plane(states_a, states_b, **timing):
    """A data plane following listener "L": slot a (weight 1) and slot b (weight 0), targets in
    those states, each past registration."""
    elb = _Elb([("a", 1), ("b", 0)], {"a": states_a, "b": states_b})
    dp = nlb.DataPlane(elb, ("127.0.0.1", 0), timing=nlb.Timing(registration_delay=0.0, **timing), listener="L")
    dp.poll()
    return elb, dp


@tap.case
def the_listener_weights_apply_after_the_weight_delay():
    elb, dp = slots_plane([("10.0.0.1:5432", "healthy")], [("10.0.0.2:5432", "healthy")], weight_delay=3600)
    tap.eq(elb.on_weights, dp._weights_modified, "the data plane hooks the fake's ModifyListener")
    tap.eq(dp.route(), ("a", "10.0.0.1:5432"))
    elb.on_weights("L", [("a", 0), ("b", 1)])
    tap.eq(dp.route(), ("a", "10.0.0.1:5432"), "not before the delay")
    tap.eq(dp.weight_changes, [])
    dp.timing.weight_delay = 0.0
    elb.on_weights("other-listener", [("a", 1), ("b", 1)])
    dp._pending[0] = (0.0, dp._pending[0][1])  # the first change's delay has passed
    tap.eq(dp.route(), ("b", "10.0.0.2:5432"), "after it")
    tap.eq([w for _, w in dp.weight_changes], [[("a", 0), ("b", 1)]], "another listener's change is not ours")
    dp.close()
    tap.eq(elb.on_weights, None, "unhooked at close")


@tap.case
def a_weighted_group_without_a_healthy_target_does_no_healthy():
    unhealthy, healthy = [("10.0.0.1:5432", "unhealthy")], [("10.0.0.2:5432", "healthy")]
    want = {"fail_open": ("a", "10.0.0.1:5432"), "spill": ("b", "10.0.0.2:5432"), "reset": ("a", None)}
    for mode, route in want.items():
        _, dp = slots_plane(unhealthy, healthy, no_healthy=mode)
        tap.eq(dp.route(), route, mode)
    _, dp = slots_plane(unhealthy, [("10.0.0.2:5432", "unhealthy")], no_healthy="spill")
    tap.eq(dp.route(), ("a", None), "spill: only to a healthy standby")
    try:
        nlb.Timing(no_healthy="maybe")
        tap.ok(False, "an unknown no_healthy is refused")
    except ValueError:
        pass


def health(**timing):
    return nlb.TargetHealth(0.0, nlb.Timing(registration_delay=1.0, healthy_threshold=2, unhealthy_threshold=2,
                                            **timing))


@tap.case
def a_new_target_waits_out_registration_then_passes_its_checks():
    h = health()
    tap.ok(not h.checkable(0.5), "checked during registration")
    tap.eq(h.reason(0.5), "Elb.RegistrationInProgress")
    tap.ok(h.checkable(1.0), "not checked after registration")
    tap.eq(h.reason(1.0), "Elb.InitialHealthChecking")
    tap.eq(h.step(True, 1.0), None)
    tap.eq(h.state, "initial")
    tap.eq(h.step(True, 1.25), "healthy")
    tap.eq(h.reason(1.25), None)


@tap.case
def failures_in_a_row_make_it_unhealthy_and_successes_bring_it_back():
    h = health()
    h.step(True, 1.0), h.step(True, 1.1)
    tap.eq(h.step(False, 1.2), None)
    tap.eq(h.step(True, 1.3), None, "a success breaks the run of failures")
    h.step(False, 1.4)
    tap.eq(h.step(False, 1.5), "unhealthy")
    tap.eq(h.reason(1.5), "Target.FailedHealthChecks")
    h.step(True, 1.6)
    tap.eq(h.step(True, 1.7), "healthy")


@tap.case
def a_new_target_that_fails_its_checks_is_unhealthy():
    h = health()
    h.step(False, 1.0)
    tap.eq(h.step(False, 1.1), "unhealthy")


@tap.case
def unhealthy_draining_for_its_interval_then_unhealthy():
    h = health(unhealthy_draining=2.0)
    h.step(True, 1.0), h.step(True, 1.1)
    h.step(False, 1.2)
    tap.eq(h.step(False, 1.3), "unhealthy.draining")
    tap.eq(h.tick(3.2), None)
    tap.eq(h.tick(3.4), "unhealthy")


@tap.case
def unhealthy_draining_recovers_to_healthy():
    h = health(unhealthy_draining=2.0)
    h.step(True, 1.0), h.step(True, 1.1), h.step(False, 1.2), h.step(False, 1.3)
    h.step(True, 1.4)
    tap.eq(h.step(True, 1.5), "healthy")
    tap.eq(h.tick(9.0), None)


@tap.case
def timing_scales_delays_not_thresholds():
    t = nlb.Timing(registration_delay=1.0, interval=0.25, healthy_threshold=3).scaled(4)
    tap.eq((t.registration_delay, t.interval, t.healthy_threshold), (4.0, 1.0, 3))


@tap.case
def the_tests_timing_is_aws_at_the_test_scale():
    tap.eq(vars(nlb.Timing()), vars(nlb.AWS.scaled(nlb.TEST_SCALE)))


tap.main()
