/* libFuzzer target: ELBv2 response bodies (handler/aws/elbv2_xml.c) as they come
 * off the network, then what the reconcile does with the targets read:
 * sorting, planning, formatting, the next request's body and the error
 * message. The plan must keep the contract's safety rules for any answer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/aws/elbv2.h"
#include "handler/aws/elbv2_internal.h"
#include "handler/sync/plan.h"
#include "handler/sync/reconcile.h"
#include "handler/sync/reconcile_internal.h"
#include "tests/fuzz/fuzz.h"

#define PORT 5432

static void check_target(const elb_target *t)
{
    FUZZ_CHECK(t->id[0] != '\0');
    FUZZ_CHECK(memchr(t->id, '\0', sizeof t->id) && memchr(t->az, '\0', sizeof t->az));
    FUZZ_CHECK(memchr(t->state, '\0', sizeof t->state) && memchr(t->reason, '\0', sizeof t->reason));
    FUZZ_CHECK(t->port >= 0 && t->port <= 65535);
}

static int in_list(const elb_target_list *l, const elb_target *t)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].id, t->id) == 0 && l->items[i].port == t->port && strcmp(l->items[i].az, t->az) == 0)
            return 1;
    return 0;
}

/* Rules 3 and 4 of README.md, "Result", and "only desired addresses are
 * registered", for the targets this answer reported. */
static void check_plan(const elb_target_list *current)
{
    addr_list desired = {NULL, 0};
    ip_addr a;
    target_plan p;
    FUZZ_CHECK(ip_addr_parse("10.20.2.118", &a) == 0);
    FUZZ_CHECK(addr_list_add(&desired, &a) == 0);
    FUZZ_CHECK(plan_targets(&desired, PORT, NULL, current, &p) == 0);
    FUZZ_CHECK(p.to_register.count + p.unchanged.count == 1);
    for (size_t i = 0; i < p.to_register.count; i++)
        FUZZ_CHECK(strcmp(p.to_register.items[i].id, "10.20.2.118") == 0 && p.to_register.items[i].port == PORT);
    for (size_t i = 0; i < p.to_deregister.count; i++) {
        const elb_target *t = &p.to_deregister.items[i];
        FUZZ_CHECK(in_list(current, t)); /* the exact Id, Port and AZ described */
        FUZZ_CHECK(!target_is_draining(t));
    }
    char *body = elbv2_build_body("DeregisterTargets", "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/t/1",
                                  p.to_deregister.items, p.to_deregister.count);
    FUZZ_CHECK(body != NULL);
    FUZZ_CHECK(!strpbrk(body, " \r\n"));
    free(body);
    target_plan_free(&p);
    addr_list_free(&desired);
}

/* Fleet discovery's answers (elbv2_groups.c): every field NUL-terminated,
 * nothing kept from a failed parse. */
static void check_discovery(const char *xml, size_t size)
{
    elb_target_group_list g;
    elb_tag_set_list t;
    elb_error err;
    char marker[ELB_MARKER_MAX];
    if (elbv2_parse_target_groups(xml, size, &g, marker, sizeof marker, &err) == 0) {
        FUZZ_CHECK(memchr(marker, '\0', sizeof marker) != NULL);
        for (size_t i = 0; i < g.count; i++)
            FUZZ_CHECK(g.items[i].arn[0] && g.items[i].port >= 0 && g.items[i].port <= 65535);
    } else {
        FUZZ_CHECK(g.items == NULL && g.count == 0);
    }
    elb_target_group_list_free(&g);
    if (elbv2_parse_tags(xml, size, "rds-nlb-sync:", &t, &err) == 0) {
        for (size_t i = 0; i < t.count; i++)
            for (size_t j = 0; j < t.items[i].count; j++)
                FUZZ_CHECK(strncmp(t.items[i].items[j].key, "rds-nlb-sync:", 13) == 0);
    } else {
        FUZZ_CHECK(t.items == NULL && t.count == 0);
    }
    elb_tag_set_list_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_discovery((const char *)data, size);
    elb_target_list list;
    elb_error err;
    char msg[1024];
    int rc = elb_parse_response((const char *)data, size, &list, &err);
    FUZZ_CHECK(memchr(err.code, '\0', sizeof err.code) && memchr(err.message, '\0', sizeof err.message));
    FUZZ_CHECK(memchr(err.request_id, '\0', sizeof err.request_id));
    if (rc != 0) {
        FUZZ_CHECK(err.code[0] != '\0');
        FUZZ_CHECK(list.items == NULL && list.count == 0);
        err.attempts = 1;
        reconcile_format_elb_error("RegisterTargets", NULL, 0, &err, msg, sizeof msg);
        (void)query_error_is_retryable(&err);
    } else {
        for (size_t i = 0; i < list.count; i++) {
            char text[300];
            check_target(&list.items[i]);
            target_format(&list.items[i], text, sizeof text);
        }
        target_list_sort(&list);
        check_plan(&list);
        reconcile_format_elb_error("DeregisterTargets", list.items, list.count, &err, msg, sizeof msg);
        elb_target_list_free(&list);
    }
    /* The same body as the answer to a change: no targets wanted. */
    rc = elbv2_xml_parse((const char *)data, size, "RegisterTargetsResponse", NULL, &err);
    FUZZ_CHECK(rc == 0 || err.code[0] != '\0');
    return 0;
}
