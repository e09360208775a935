/* Reads ELBv2 Query API responses with expat.
 *
 * Elements are matched by local name (any namespace or prefix) and by their
 * place in the tree, so child order does not matter and elements we do not
 * know (AnomalyDetection, AdministrativeOverride, ...) are skipped. A value
 * that does not fit its field fails the parse instead of being truncated: a
 * cut target Id would later deregister the wrong thing. The one exception is
 * an error's Message, human text that is cut with "..." rather than losing
 * the error code that comes with it. */
#include "handler/aws/elbv2_internal.h"

#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XML_MAX_DEPTH 32
#define XML_NAME_MAX 64
#define XML_TEXT_MAX 2048

typedef struct xml_state {
    XML_Parser parser;
    char names[XML_MAX_DEPTH][XML_NAME_MAX]; /* local names of the open elements */
    int depth;                               /* open elements */
    char text[XML_TEXT_MAX + 1];             /* character data of the current leaf */
    size_t text_len;
    int text_overflow;
    int is_error;                            /* root is ErrorResponse or Response */
    elb_target_list *out;                    /* NULL: targets are not wanted */
    size_t cap;
    int member_depth;                        /* depth of the open <member>, 0 if none */
    elb_error *err;
    int saw_code;
    char fail[256];                          /* first reason the document is rejected */
} xml_state;

static void fail(xml_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(xml_state *st, const char *fmt, ...)
{
    va_list ap;
    if (st->fail[0])
        return;
    va_start(ap, fmt);
    vsnprintf(st->fail, sizeof st->fail, fmt, ap);
    va_end(ap);
    XML_StopParser(st->parser, XML_FALSE);
}

/* "uri|Local" -> "Local"; names without a namespace come as they are. */
static const char *local_name(const char *name)
{
    const char *bar = strrchr(name, '|');
    const char *colon;
    name = bar ? bar + 1 : name;
    colon = strchr(name, ':'); /* an undeclared prefix reaches us unsplit */
    return colon ? colon + 1 : name;
}

/* The local name of the element `up` levels above the current one, or "". */
static const char *name_at(const xml_state *st, int up)
{
    int i = st->depth - 1 - up;
    if (i < 0 || i >= XML_MAX_DEPTH)
        return "";
    return st->names[i];
}

static int is(const xml_state *st, int up, const char *want)
{
    return strcmp(name_at(st, up), want) == 0;
}

static elb_target *current_member(xml_state *st)
{
    if (!st->out || !st->member_depth || !st->out->count || st->fail[0])
        return NULL;
    return &st->out->items[st->out->count - 1];
}

static void begin_member(xml_state *st)
{
    st->member_depth = st->depth;
    if (!st->out)
        return;
    if (st->out->count == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        elb_target *items = realloc(st->out->items, cap * sizeof *items);
        if (!items) {
            fail(st, "out of memory reading targets");
            return;
        }
        st->out->items = items;
        st->cap = cap;
    }
    memset(&st->out->items[st->out->count++], 0, sizeof(elb_target));
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    xml_state *st = ud;
    const char *local = local_name(name);
    (void)attrs;
    if (st->depth < XML_MAX_DEPTH) {
        size_t n = strlen(local);
        /* A name too long to keep can match nothing we look for. */
        memcpy(st->names[st->depth], local, n < XML_NAME_MAX ? n + 1 : 1);
        if (n >= XML_NAME_MAX)
            st->names[st->depth][0] = '\0';
    }
    st->depth++;
    st->text_len = 0;
    st->text_overflow = 0;
    if (st->depth == 1) {
        st->is_error = strcmp(local, "ErrorResponse") == 0 || strcmp(local, "Response") == 0;
        return;
    }
    if (!st->is_error && !st->member_depth && is(st, 0, "member") &&
        is(st, 1, "TargetHealthDescriptions") && is(st, 2, "DescribeTargetHealthResult"))
        begin_member(st);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    xml_state *st = ud;
    size_t n = (size_t)len;
    if (st->text_overflow)
        return;
    if (n > XML_TEXT_MAX - st->text_len) {
        st->text_overflow = 1;
        return;
    }
    memcpy(st->text + st->text_len, s, n);
    st->text_len += n;
    st->text[st->text_len] = '\0';
}

/* Copies the current text into a field of `size` bytes, or fails. */
static void take(xml_state *st, char *field, size_t size, const char *what)
{
    if (st->text_overflow || st->text_len >= size) {
        fail(st, "value of %s is longer than the %zu bytes this client accepts", what, size - 1);
        return;
    }
    memcpy(field, st->text, st->text_len + 1);
}

static void take_port(xml_state *st, int *port)
{
    long v = 0;
    size_t i;
    if (st->text_len == 0 || st->text_len > 5 || st->text_overflow) {
        fail(st, "Target/Port is not a port number");
        return;
    }
    for (i = 0; i < st->text_len; i++) {
        if (st->text[i] < '0' || st->text[i] > '9') {
            fail(st, "Target/Port \"%s\" is not a port number", st->text);
            return;
        }
        v = v * 10 + (st->text[i] - '0');
    }
    if (v < 1 || v > 65535) {
        fail(st, "Target/Port %s is out of range", st->text);
        return;
    }
    *port = (int)v;
}

static void take_message(xml_state *st)
{
    elb_error *e = st->err;
    size_t n = st->text_len;
    if (!st->text_overflow && n < sizeof e->message) {
        memcpy(e->message, st->text, n + 1);
        return;
    }
    n = sizeof e->message - 4;
    memcpy(e->message, st->text, n);
    memcpy(e->message + n, "...", 4);
}

static void end_member_field(xml_state *st)
{
    elb_target *t = current_member(st);
    int rel = st->depth - st->member_depth; /* 2 for Target/Id */
    if (!t || rel != 2)
        return;
    if (is(st, 1, "Target")) {
        if (is(st, 0, "Id"))
            take(st, t->id, sizeof t->id, "Target/Id");
        else if (is(st, 0, "Port"))
            take_port(st, &t->port);
        else if (is(st, 0, "AvailabilityZone"))
            take(st, t->az, sizeof t->az, "Target/AvailabilityZone");
    } else if (is(st, 1, "TargetHealth")) {
        if (is(st, 0, "State"))
            take(st, t->state, sizeof t->state, "TargetHealth/State");
        else if (is(st, 0, "Reason"))
            take(st, t->reason, sizeof t->reason, "TargetHealth/Reason");
    }
}

static void end_error_field(xml_state *st)
{
    elb_error *e = st->err;
    if (is(st, 1, "Error")) {
        if (is(st, 0, "Code")) {
            take(st, e->code, sizeof e->code, "Error/Code");
            st->saw_code = e->code[0] != '\0';
        } else if (is(st, 0, "Message")) {
            take_message(st);
        }
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    xml_state *st = ud;
    (void)name;
    if (st->is_error)
        end_error_field(st);
    else if (st->member_depth)
        end_member_field(st);
    /* RequestId: ErrorResponse/RequestId, XResponse/ResponseMetadata/RequestId
     * (and RequestID in the EC2-style Response). */
    if ((is(st, 0, "RequestId") || is(st, 0, "RequestID")) &&
        (st->depth == 2 || is(st, 1, "ResponseMetadata")))
        take(st, st->err->request_id, sizeof st->err->request_id, "RequestId");
    if (st->member_depth == st->depth) {
        elb_target *t = current_member(st);
        if (t && !t->id[0])
            fail(st, "a TargetHealthDescriptions member has no Target/Id");
        st->member_depth = 0;
    }
    st->depth--;
    st->text_len = 0;
    st->text_overflow = 0;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    fail(ud, "a DOCTYPE is not allowed in a response");
}

static int malformed(elb_error *err, const char *why)
{
    snprintf(err->code, sizeof err->code, "MalformedResponse");
    snprintf(err->message, sizeof err->message, "%s", why);
    return -1;
}

static int check_root(xml_state *st, const char *expect_root)
{
    const char *root = st->names[0];
    size_t n = strlen(root);
    if (st->is_error) {
        if (!st->saw_code)
            return malformed(st->err, "error response without an Error/Code");
        return -1;
    }
    if (n < 8 || strcmp(root + n - 8, "Response") != 0) {
        snprintf(st->fail, sizeof st->fail, "unexpected root element <%s>", root);
        return malformed(st->err, st->fail);
    }
    if (expect_root && strcmp(root, expect_root) != 0) {
        snprintf(st->fail, sizeof st->fail, "root element <%s>, expected <%s>", root, expect_root);
        return malformed(st->err, st->fail);
    }
    return 0;
}

static int run_parser(xml_state *st, const char *xml, size_t len)
{
    char why[200];
    XML_Parser p = XML_ParserCreateNS(NULL, '|');
    enum XML_Status status;
    if (!p)
        return malformed(st->err, "out of memory creating the XML parser");
    st->parser = p;
    XML_SetUserData(p, st);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    status = len > (size_t)0x7fffffff ? XML_STATUS_ERROR : XML_Parse(p, xml, (int)len, XML_TRUE);
    if (st->fail[0]) {
        XML_ParserFree(p);
        return malformed(st->err, st->fail);
    }
    if (status != XML_STATUS_OK) {
        snprintf(why, sizeof why, "response is not well-formed XML: %s at line %lu",
                 len > (size_t)0x7fffffff ? "too large" : XML_ErrorString(XML_GetErrorCode(p)),
                 (unsigned long)XML_GetCurrentLineNumber(p));
        XML_ParserFree(p);
        return malformed(st->err, why);
    }
    XML_ParserFree(p);
    return 0;
}

int elbv2_xml_parse(const char *xml, size_t len, const char *expect_root,
                    elb_target_list *out, elb_error *err)
{
    xml_state *st;
    elb_error scratch;
    int rc;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    if (out) {
        out->items = NULL;
        out->count = 0;
    }
    if (!xml || len == 0)
        return malformed(err, "empty response body");
    st = calloc(1, sizeof *st);
    if (!st)
        return malformed(err, "out of memory");
    st->out = out;
    st->err = err;
    rc = run_parser(st, xml, len);
    if (rc == 0)
        rc = check_root(st, expect_root);
    if (rc != 0 && out)
        elb_target_list_free(out);
    free(st);
    return rc;
}

int elb_parse_response(const char *xml, size_t len, elb_target_list *out, elb_error *err)
{
    return elbv2_xml_parse(xml, len, NULL, out, err);
}

void elb_target_list_free(elb_target_list *list)
{
    if (!list)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}
