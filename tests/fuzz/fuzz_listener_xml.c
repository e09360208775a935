/* libFuzzer target: the fast switch's listener answers (handler/aws/elbv2_listener.c)
 * as they come off the network, then what a run does with the slots read:
 * the ModifyListener body and the plan (handler/sync/slots.c), whose safety
 * rules must hold for any listener: exactly one slot at weight 1, every
 * weight in 0..999, never a fill of the weighted slot. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handler/aws/elbv2.h"
#include "handler/aws/elbv2_internal.h"
#include "handler/sync/slots.h"
#include "tests/fuzz/fuzz.h"

static void check_listener(const elb_listener *l)
{
    FUZZ_CHECK(memchr(l->arn, '\0', sizeof l->arn) && memchr(l->load_balancer_arn, '\0', sizeof l->load_balancer_arn));
    FUZZ_CHECK(memchr(l->action_type, '\0', sizeof l->action_type));
    FUZZ_CHECK(l->group_count <= ELB_LISTENER_MAX_GROUPS);
    for (size_t i = 0; i < l->group_count; i++) {
        FUZZ_CHECK(memchr(l->groups[i].arn, '\0', sizeof l->groups[i].arn));
        FUZZ_CHECK(l->groups[i].weight >= -1 && l->groups[i].weight <= ELB_WEIGHT_MAX);
    }
}

/* The plan over the slots as read, each empty but the first, which holds
 * 10.0.0.1 (the desired primary is 10.0.0.2: a fill). */
static void check_plan(const elb_listener *l)
{
    slot slots[SLOTS_MAX];
    elb_target held = {.id = "10.0.0.1", .port = 5432, .state = "healthy"};
    ip_addr desired;
    slot_plan p;
    char why[256];
    size_t n = l->group_count;
    for (size_t i = 0; i < n; i++)
        slots[i] = (slot){l->groups[i].arn, l->groups[i].weight, {i == 0 ? &held : NULL, i == 0}};
    FUZZ_CHECK(ip_addr_parse("10.0.0.2", &desired) == 0);
    if (slots_plan(slots, n, &desired, 5432, NULL, NULL, 0, &p, why, sizeof why) != 0)
        return;
    int ones = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(p.weights[i] == 0 || p.weights[i] == 1);
        ones += p.weights[i];
    }
    FUZZ_CHECK(ones == 1 && p.weights[p.target] == 1);
    FUZZ_CHECK(p.fill && slots[p.target].weight <= 0);
    char *body = elbv2_listener_body(l, p.weights);
    FUZZ_CHECK(body != NULL && !strpbrk(body, " \r\n"));
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    elb_listener l;
    elb_error e;
    const char *roots[] = {"DescribeListenersResponse", "ModifyListenerResponse"};
    for (size_t r = 0; r < 2; r++) {
        if (elbv2_listener_parse((const char *)data, size, roots[r], &l, &e) != 0) {
            FUZZ_CHECK(e.code[0] != '\0');
            continue;
        }
        check_listener(&l);
        if (l.group_count >= 2)
            check_plan(&l);
    }
    return 0;
}
