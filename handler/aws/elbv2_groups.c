/* ELBv2 discovery calls (elbv2.h): DescribeTargetGroups (by load balancer,
 * in Marker pages, or by up to 20 ARNs) and DescribeTags (up to 20 ARNs),
 * their form bodies and their answers:
 *   DescribeTargetGroupsResult/TargetGroups/member/{TargetGroupArn,
 *     TargetGroupName,Port,Protocol,TargetType}, DescribeTargetGroupsResult/NextMarker;
 *   DescribeTagsResult/TagDescriptions/member/{ResourceArn,Tags/member/{Key,Value}};
 * AddTags and RemoveTags (one resource: what a run keeps on its own group).
 * Unknown elements are skipped, as in elbv2_xml.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "handler/aws/elbv2.h"
#include "handler/aws/elbv2_internal.h"

/* ---- requests ---- */

static int add_members(rns_buf *b, const char *list, const char *const *arns, size_t count)
{
    int rc = RNS_BUF_OK;
    size_t i;
    for (i = 0; i < count; i++)
        rc |= query_form_addk(b, arns[i], "%s.member.%zu", list, i + 1);
    return rc;
}

static char *finish_body(rns_buf *b, int rc)
{
    if (rc != RNS_BUF_OK) {
        rns_buf_free(b);
        return NULL;
    }
    return rns_buf_take(b, NULL);
}

char *elbv2_groups_body(const char *load_balancer_arn, const char *const *arns, size_t count, const char *marker,
                        int page_size)
{
    rns_buf b;
    char num[16];
    int rc;
    rns_buf_init(&b, 0);
    rc = query_form_init(&b, &elbv2_service, "DescribeTargetGroups");
    if (load_balancer_arn)
        rc |= query_form_add(&b, "LoadBalancerArn", load_balancer_arn);
    rc |= add_members(&b, "TargetGroupArns", arns, count);
    if (marker && *marker)
        rc |= query_form_add(&b, "Marker", marker);
    if (page_size > 0) {
        snprintf(num, sizeof num, "%d", page_size);
        rc |= query_form_add(&b, "PageSize", num);
    }
    return finish_body(&b, rc);
}

char *elbv2_tags_body(const char *const *arns, size_t count)
{
    rns_buf b;
    int rc;
    rns_buf_init(&b, 0);
    rc = query_form_init(&b, &elbv2_service, "DescribeTags");
    rc |= add_members(&b, "ResourceArns", arns, count);
    return finish_body(&b, rc);
}

char *elbv2_add_tags_body(const char *arn, const elb_tag *tags, size_t count)
{
    rns_buf b;
    size_t i;
    int rc;
    rns_buf_init(&b, 0);
    rc = query_form_init(&b, &elbv2_service, "AddTags");
    rc |= add_members(&b, "ResourceArns", &arn, 1);
    for (i = 0; i < count; i++) {
        rc |= query_form_addk(&b, tags[i].key, "Tags.member.%zu.Key", i + 1);
        rc |= query_form_addk(&b, tags[i].value, "Tags.member.%zu.Value", i + 1);
    }
    return finish_body(&b, rc);
}

char *elbv2_remove_tags_body(const char *arn, const char *const *keys, size_t count)
{
    rns_buf b;
    int rc;
    rns_buf_init(&b, 0);
    rc = query_form_init(&b, &elbv2_service, "RemoveTags");
    rc |= add_members(&b, "ResourceArns", &arn, 1);
    rc |= add_members(&b, "TagKeys", keys, count);
    return finish_body(&b, rc);
}

/* ---- DescribeTargetGroups answers ---- */

typedef struct groups_reader {
    elb_target_group_list *out;
    char *next_marker;
    size_t next_len;
    int member_depth;
} groups_reader;

static void groups_reset(void *ctx)
{
    groups_reader *r = ctx;
    elb_target_group_list_free(r->out);
    if (r->next_len)
        r->next_marker[0] = '\0';
    r->member_depth = 0;
}

static void groups_start(query_xml *x, void *ctx)
{
    groups_reader *r = ctx;
    elb_target_group_list *l = r->out;
    if (r->member_depth || !query_xml_is(x, 0, "member") || !query_xml_is(x, 1, "TargetGroups") ||
        !query_xml_is(x, 2, "DescribeTargetGroupsResult"))
        return;
    r->member_depth = query_xml_depth(x);
    if (RNS_GROW_LIST(l, 1) != 0) {
        query_xml_fail(x, "out of memory reading target groups");
        return;
    }
    memset(&l->items[l->count++], 0, sizeof(elb_target_group));
}

static void group_field(query_xml *x, elb_target_group *g)
{
    long port;
    if (query_xml_is(x, 0, "TargetGroupArn"))
        query_xml_take(x, g->arn, sizeof g->arn, "TargetGroupArn");
    else if (query_xml_is(x, 0, "TargetGroupName"))
        query_xml_take(x, g->name, sizeof g->name, "TargetGroupName");
    else if (query_xml_is(x, 0, "Protocol"))
        query_xml_take(x, g->protocol, sizeof g->protocol, "Protocol");
    else if (query_xml_is(x, 0, "TargetType"))
        query_xml_take(x, g->target_type, sizeof g->target_type, "TargetType");
    else if (query_xml_is(x, 0, "Port") &&
             query_xml_take_long(x, 1, 65535, &port, "TargetGroup/Port", "a port number") == 0)
        g->port = (int)port;
}

static void groups_end(query_xml *x, void *ctx)
{
    groups_reader *r = ctx;
    if (!r->member_depth) {
        if (r->next_len && query_xml_is(x, 0, "NextMarker") && query_xml_is(x, 1, "DescribeTargetGroupsResult"))
            query_xml_take(x, r->next_marker, r->next_len, "NextMarker");
        return;
    }
    if (query_xml_depth(x) == r->member_depth + 1)
        group_field(x, &r->out->items[r->out->count - 1]);
    if (query_xml_depth(x) == r->member_depth) {
        if (!r->out->items[r->out->count - 1].arn[0])
            query_xml_fail(x, "a TargetGroups member has no TargetGroupArn");
        r->member_depth = 0;
    }
}

int elbv2_parse_target_groups(const char *xml, size_t len, elb_target_group_list *out, char *next_marker,
                              size_t next_len, elb_error *err)
{
    groups_reader r = {out, next_marker, next_len, 0};
    query_xml_callbacks cb = {&r, groups_start, groups_end, groups_reset};
    memset(out, 0, sizeof *out);
    if (next_len)
        next_marker[0] = '\0';
    return query_xml_parse(xml, len, "DescribeTargetGroupsResponse", &cb, err);
}

/* ---- DescribeTags answers ---- */

typedef struct tags_reader {
    elb_tag_set_list *out;
    const char *prefix;
    int member_depth;
    elb_tag pending; /* the Tags member being read */
} tags_reader;

static void tags_reset(void *ctx)
{
    tags_reader *r = ctx;
    elb_tag_set_list_free(r->out);
    r->member_depth = 0;
}

static void tags_start(query_xml *x, void *ctx)
{
    tags_reader *r = ctx;
    elb_tag_set_list *l = r->out;
    if (r->member_depth) {
        if (query_xml_depth(x) == r->member_depth + 2 && query_xml_is(x, 1, "Tags"))
            memset(&r->pending, 0, sizeof r->pending);
        return;
    }
    if (!query_xml_is(x, 0, "member") || !query_xml_is(x, 1, "TagDescriptions") ||
        !query_xml_is(x, 2, "DescribeTagsResult"))
        return;
    r->member_depth = query_xml_depth(x);
    if (RNS_GROW_LIST(l, 1) != 0) {
        query_xml_fail(x, "out of memory reading tags");
        return;
    }
    memset(&l->items[l->count++], 0, sizeof(elb_tag_set));
}

static void keep_pending(query_xml *x, tags_reader *r, elb_tag_set *s)
{
    if (!r->pending.key[0]) {
        query_xml_fail(x, "a Tags member has no Key");
        return;
    }
    if (r->prefix && strncmp(r->pending.key, r->prefix, strlen(r->prefix)) != 0)
        return;
    if (RNS_GROW_LIST(s, 1) != 0) {
        query_xml_fail(x, "out of memory reading tags");
        return;
    }
    s->items[s->count++] = r->pending;
}

static void tags_end(query_xml *x, void *ctx)
{
    tags_reader *r = ctx;
    elb_tag_set *s;
    int d;
    if (!r->member_depth)
        return;
    s = &r->out->items[r->out->count - 1];
    d = query_xml_depth(x) - r->member_depth;
    if (d == 1 && query_xml_is(x, 0, "ResourceArn"))
        query_xml_take(x, s->arn, sizeof s->arn, "ResourceArn");
    else if (d == 3 && query_xml_is(x, 2, "Tags") && query_xml_is(x, 0, "Key"))
        query_xml_take(x, r->pending.key, sizeof r->pending.key, "Tag/Key");
    else if (d == 3 && query_xml_is(x, 2, "Tags") && query_xml_is(x, 0, "Value"))
        query_xml_take(x, r->pending.value, sizeof r->pending.value, "Tag/Value");
    else if (d == 2 && query_xml_is(x, 1, "Tags"))
        keep_pending(x, r, s);
    else if (d == 0) {
        if (!s->arn[0])
            query_xml_fail(x, "a TagDescriptions member has no ResourceArn");
        r->member_depth = 0;
    }
}

static query_xml_callbacks tags_callbacks(tags_reader *r, elb_tag_set_list *out, const char *key_prefix)
{
    query_xml_callbacks cb = {r, tags_start, tags_end, tags_reset};
    memset(r, 0, sizeof *r);
    r->out = out;
    r->prefix = key_prefix;
    memset(out, 0, sizeof *out);
    return cb;
}

int elbv2_parse_tags(const char *xml, size_t len, const char *key_prefix, elb_tag_set_list *out, elb_error *err)
{
    tags_reader r;
    query_xml_callbacks cb = tags_callbacks(&r, out, key_prefix);
    return query_xml_parse(xml, len, "DescribeTagsResponse", &cb, err);
}

/* ---- the calls ---- */

static int check_arns(const char *const *arns, size_t count, elb_error *err)
{
    size_t i;
    if (count == 0 || count > ELB_MAX_ARNS_PER_DESCRIBE) {
        aws_error_set(err, QUERY_CODE_INVALID_PARAMETER, "%zu ARNs in one call; 1 to %d are allowed", count,
                      ELB_MAX_ARNS_PER_DESCRIBE);
        return -1;
    }
    for (i = 0; i < count; i++) {
        if (!arns[i] || !*arns[i]) {
            aws_error_set(err, QUERY_CODE_INVALID_PARAMETER, "ARN %zu is empty", i + 1);
            return -1;
        }
    }
    return 0;
}

static int call_groups(elb_client *c, char *body, int64_t deadline_ms, elb_target_group_list *out, char *next_marker,
                       size_t next_len, elb_error *err)
{
    groups_reader r = {out, next_marker, next_len, 0};
    query_xml_callbacks cb = {&r, groups_start, groups_end, groups_reset};
    int rc;
    if (!body) {
        aws_error_set(err, QUERY_CODE_NO_MEMORY, "out of memory building the DescribeTargetGroups request");
        return -1;
    }
    rc = query_call(elb_query_client(c), "DescribeTargetGroups", body, deadline_ms, &cb, err);
    free(body);
    return rc;
}

int elb_describe_target_groups_page(elb_client *c, const char *load_balancer_arn, const char *marker, int page_size,
                                    int64_t deadline_ms, elb_target_group_list *out, char *next_marker, size_t next_len,
                                    elb_error *err)
{
    char *body;
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if (!load_balancer_arn || !*load_balancer_arn || page_size < 0 || page_size > ELB_MAX_PAGE_SIZE) {
        aws_error_set(err, QUERY_CODE_INVALID_PARAMETER, "a load balancer ARN and a page size of 1 to %d are needed",
                      ELB_MAX_PAGE_SIZE);
        return -1;
    }
    /* The body first: next_marker may be the buffer marker points into. */
    body = elbv2_groups_body(load_balancer_arn, NULL, 0, marker, page_size);
    if (next_len)
        next_marker[0] = '\0';
    return call_groups(c, body, deadline_ms, out, next_marker, next_len, err);
}

int elb_describe_target_groups_by_arn(elb_client *c, const char *const *arns, size_t count, int64_t deadline_ms,
                                      elb_target_group_list *out, elb_error *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if (check_arns(arns, count, err) != 0)
        return -1;
    return call_groups(c, elbv2_groups_body(NULL, arns, count, NULL, 0), deadline_ms, out, NULL, 0, err);
}

int elb_describe_tags(elb_client *c, const char *const *arns, size_t count, const char *key_prefix, int64_t deadline_ms,
                      elb_tag_set_list *out, elb_error *err)
{
    tags_reader r;
    query_xml_callbacks cb = tags_callbacks(&r, out, key_prefix);
    char *body;
    int rc;
    memset(err, 0, sizeof *err);
    if (check_arns(arns, count, err) != 0)
        return -1;
    if (!(body = elbv2_tags_body(arns, count))) {
        aws_error_set(err, QUERY_CODE_NO_MEMORY, "out of memory building the DescribeTags request");
        return -1;
    }
    rc = query_call(elb_query_client(c), "DescribeTags", body, deadline_ms, &cb, err);
    free(body);
    return rc;
}

/* AddTags and RemoveTags: one resource, 1..ELB_MAX_TAGS_PER_ADD keys. */
static int tags_check(const char *action, const char *arn, size_t count, elb_error *err)
{
    memset(err, 0, sizeof *err);
    if (check_arns(&arn, 1, err) != 0)
        return -1;
    if (count == 0 || count > ELB_MAX_TAGS_PER_ADD) {
        aws_error_set(err, QUERY_CODE_INVALID_PARAMETER, "%zu tags in one %s call; 1 to %d are allowed", count, action,
                      ELB_MAX_TAGS_PER_ADD);
        return -1;
    }
    return 0;
}

static int tags_call(elb_client *c, const char *action, char *body, int64_t deadline_ms, elb_error *err)
{
    int rc;
    if (!body) {
        aws_error_set(err, QUERY_CODE_NO_MEMORY, "out of memory building the %s request", action);
        return -1;
    }
    rc = query_call(elb_query_client(c), action, body, deadline_ms, NULL, err);
    free(body);
    return rc;
}

int elb_add_tags(elb_client *c, const char *arn, const elb_tag *tags, size_t count, int64_t deadline_ms, elb_error *err)
{
    if (tags_check("AddTags", arn, count, err) != 0)
        return -1;
    return tags_call(c, "AddTags", elbv2_add_tags_body(arn, tags, count), deadline_ms, err);
}

int elb_remove_tags(elb_client *c, const char *arn, const char *const *keys, size_t count, int64_t deadline_ms,
                    elb_error *err)
{
    if (tags_check("RemoveTags", arn, count, err) != 0)
        return -1;
    return tags_call(c, "RemoveTags", elbv2_remove_tags_body(arn, keys, count), deadline_ms, err);
}

void elb_client_set_pacer(elb_client *c, query_pacer pacer, void *ctx)
{
    query_client_set_pacer(elb_query_client(c), pacer, ctx);
}

long elb_requests_sent(const elb_client *c)
{
    return c ? query_requests_sent(elb_query_client((elb_client *)c)) : 0;
}

/* ---- the lists ---- */

const char *elb_tag_value(const elb_tag_set *s, const char *key)
{
    size_t i;
    for (i = 0; s && i < s->count; i++)
        if (strcmp(s->items[i].key, key) == 0)
            return s->items[i].value;
    return NULL;
}

void elb_target_group_list_free(elb_target_group_list *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

void elb_tag_set_list_free(elb_tag_set_list *l)
{
    size_t i;
    for (i = 0; i < l->count; i++)
        free(l->items[i].items);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}
