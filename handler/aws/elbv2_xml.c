/* The ELBv2 part of reading responses (query.h does the rest): the targets
 * of a DescribeTargetHealth answer, DescribeTargetHealthResult/
 * TargetHealthDescriptions/member/{Target/{Id,Port,AvailabilityZone},
 * TargetHealth/{State,Reason}}. Elements we do not know (AnomalyDetection,
 * AdministrativeOverride, ...) are skipped. */
#include "handler/aws/elbv2_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

typedef elbv2_target_reader reader;

static void reset(void *ctx)
{
    reader *r = ctx;
    elb_target_list_free(r->out);
    r->member_depth = 0;
}

static void on_start(query_xml *x, void *ctx)
{
    reader *r = ctx;
    elb_target_list *l = r->out;
    if (r->member_depth || !query_xml_is(x, 0, "member") || !query_xml_is(x, 1, "TargetHealthDescriptions") ||
        !query_xml_is(x, 2, "DescribeTargetHealthResult"))
        return;
    r->member_depth = query_xml_depth(x);
    if (RNS_GROW_LIST(l, 1) != 0) {
        query_xml_fail(x, "out of memory reading targets");
        return;
    }
    memset(&l->items[l->count++], 0, sizeof(elb_target));
}

static void end_field(query_xml *x, elb_target *t)
{
    long port;
    if (query_xml_is(x, 1, "Target")) {
        if (query_xml_is(x, 0, "Id"))
            query_xml_take(x, t->id, sizeof t->id, "Target/Id");
        else if (query_xml_is(x, 0, "Port") &&
                 query_xml_take_long(x, 1, 65535, &port, "Target/Port", "a port number") == 0)
            t->port = (int)port;
        else if (query_xml_is(x, 0, "AvailabilityZone"))
            query_xml_take(x, t->az, sizeof t->az, "Target/AvailabilityZone");
    } else if (query_xml_is(x, 1, "TargetHealth")) {
        if (query_xml_is(x, 0, "State"))
            query_xml_take(x, t->state, sizeof t->state, "TargetHealth/State");
        else if (query_xml_is(x, 0, "Reason"))
            query_xml_take(x, t->reason, sizeof t->reason, "TargetHealth/Reason");
    }
}

static void on_end(query_xml *x, void *ctx)
{
    reader *r = ctx;
    elb_target *t;
    if (!r->member_depth || !r->out->count)
        return;
    t = &r->out->items[r->out->count - 1];
    if (query_xml_depth(x) - r->member_depth == 2) /* Target/Id */
        end_field(x, t);
    if (query_xml_depth(x) == r->member_depth) {
        if (!t->id[0])
            query_xml_fail(x, "a TargetHealthDescriptions member has no Target/Id");
        r->member_depth = 0;
    }
}

query_xml_callbacks elbv2_target_callbacks(elbv2_target_reader *r, elb_target_list *out)
{
    query_xml_callbacks cb = {r, on_start, on_end, reset};
    r->out = out;
    r->member_depth = 0;
    return cb;
}

int elbv2_xml_parse(const char *xml, size_t len, const char *expect_root, elb_target_list *out, elb_error *err)
{
    reader r;
    query_xml_callbacks cb = elbv2_target_callbacks(&r, out);
    if (out)
        memset(out, 0, sizeof *out);
    return query_xml_parse(xml, len, expect_root, out ? &cb : NULL, err);
}

int elb_parse_response(const char *xml, size_t len, elb_target_list *out, elb_error *err)
{
    return elbv2_xml_parse(xml, len, NULL, out, err);
}
