/* Reads Query API responses with expat (query.h): the element path, the
 * text of the current leaf, the error document, the RequestId; the success
 * elements go to the client's callbacks.
 *
 * A value that does not fit its field fails the parse instead of being
 * truncated. The one exception is an error's Message, human text that is cut
 * with "..." rather than losing the error code that comes with it. */
#include "handler/aws/query.h"

#include <expat.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digits.h"

#define XML_MAX_DEPTH 32
#define XML_NAME_MAX 64
#define XML_TEXT_MAX 2048

struct query_xml {
    XML_Parser parser;
    char names[XML_MAX_DEPTH][XML_NAME_MAX]; /* local names of the open elements */
    int depth;                               /* open elements */
    char text[XML_TEXT_MAX + 1];             /* character data of the current leaf */
    size_t text_len;
    int text_overflow;
    int is_error;                  /* root is ErrorResponse or Response */
    const query_xml_callbacks *cb; /* NULL: success elements are not wanted */
    aws_error *err;
    int saw_code;
    char fail[256]; /* first reason the document is rejected */
};

void query_xml_fail(query_xml *x, const char *fmt, ...)
{
    va_list ap;
    if (x->fail[0])
        return;
    va_start(ap, fmt);
    vsnprintf(x->fail, sizeof x->fail, fmt, ap);
    va_end(ap);
    XML_StopParser(x->parser, XML_FALSE);
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
static const char *name_at(const query_xml *x, int up)
{
    int i = x->depth - 1 - up;
    if (i < 0 || i >= XML_MAX_DEPTH)
        return "";
    return x->names[i];
}

int query_xml_is(const query_xml *x, int up, const char *want)
{
    return strcmp(name_at(x, up), want) == 0;
}

int query_xml_depth(const query_xml *x)
{
    return x->depth;
}

int query_xml_take(query_xml *x, char *field, size_t size, const char *what)
{
    if (x->text_overflow || x->text_len >= size) {
        query_xml_fail(x, "value of %s is longer than the %zu bytes this client accepts", what, size - 1);
        return -1;
    }
    memcpy(field, x->text, x->text_len);
    field[x->text_len] = '\0'; /* an empty element leaves the buffer as the last text left it */
    return 0;
}

int query_xml_take_long(query_xml *x, long min, long max, long *out, const char *what, const char *kind)
{
    uint64_t v;
    size_t digits = 1;
    for (long m = max; m >= 10; m /= 10)
        digits++;
    if (x->text_len == 0 || x->text_len > digits || x->text_overflow) {
        query_xml_fail(x, "%s is not %s", what, kind);
        return -1;
    }
    /* The length is in bounds: only a byte that is not a digit fails here. */
    if (rns_parse_digits(x->text, x->text_len, digits, &v) != 0) {
        query_xml_fail(x, "%s \"%s\" is not %s", what, x->text, kind);
        return -1;
    }
    if (v > (uint64_t)max || (min > 0 && v < (uint64_t)min)) {
        query_xml_fail(x, "%s %s is out of range", what, x->text);
        return -1;
    }
    *out = (long)v;
    return 0;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    query_xml *x = ud;
    const char *local = local_name(name);
    (void)attrs;
    if (x->depth < XML_MAX_DEPTH) {
        size_t n = strlen(local);
        /* A name too long to keep can match nothing we look for. */
        memcpy(x->names[x->depth], local, n < XML_NAME_MAX ? n + 1 : 1);
        if (n >= XML_NAME_MAX)
            x->names[x->depth][0] = '\0';
    }
    x->depth++;
    x->text_len = 0;
    x->text_overflow = 0;
    if (x->depth == 1) {
        x->is_error = strcmp(local, "ErrorResponse") == 0 || strcmp(local, "Response") == 0;
        return;
    }
    if (!x->is_error && x->cb && x->cb->on_start && !x->fail[0])
        x->cb->on_start(x, x->cb->ctx);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    query_xml *x = ud;
    size_t n = (size_t)len;
    if (x->text_overflow)
        return;
    if (n > XML_TEXT_MAX - x->text_len) {
        x->text_overflow = 1;
        return;
    }
    memcpy(x->text + x->text_len, s, n);
    x->text_len += n;
    x->text[x->text_len] = '\0';
}

static void take_message(query_xml *x)
{
    aws_error *e = x->err;
    size_t n = x->text_len;
    if (!x->text_overflow && n < sizeof e->message) {
        memcpy(e->message, x->text, n + 1);
        return;
    }
    n = sizeof e->message - 4;
    memcpy(e->message, x->text, n);
    memcpy(e->message + n, "...", 4);
}

static void end_error_field(query_xml *x)
{
    aws_error *e = x->err;
    if (query_xml_is(x, 1, "Error")) {
        if (query_xml_is(x, 0, "Code")) {
            query_xml_take(x, e->code, sizeof e->code, "Error/Code");
            x->saw_code = e->code[0] != '\0';
        } else if (query_xml_is(x, 0, "Message")) {
            take_message(x);
        }
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    query_xml *x = ud;
    (void)name;
    if (x->is_error)
        end_error_field(x);
    else if (x->depth > 1 && x->cb && x->cb->on_end && !x->fail[0])
        x->cb->on_end(x, x->cb->ctx);
    /* RequestId: ErrorResponse/RequestId, XResponse/ResponseMetadata/RequestId
     * (and RequestID in the EC2-style Response). */
    if ((query_xml_is(x, 0, "RequestId") || query_xml_is(x, 0, "RequestID")) &&
        (x->depth == 2 || query_xml_is(x, 1, "ResponseMetadata")))
        query_xml_take(x, x->err->request_id, sizeof x->err->request_id, "RequestId");
    x->depth--;
    x->text_len = 0;
    x->text_overflow = 0;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    query_xml_fail(ud, "a DOCTYPE is not allowed in a response");
}

static int no_memory(aws_error *err, const char *why)
{
    snprintf(err->code, sizeof err->code, QUERY_CODE_NO_MEMORY);
    snprintf(err->message, sizeof err->message, "out of memory %s", why);
    return -1;
}

static int malformed(aws_error *err, const char *why)
{
    snprintf(err->code, sizeof err->code, QUERY_CODE_MALFORMED);
    snprintf(err->message, sizeof err->message, "%s", why);
    return -1;
}

static int check_root(query_xml *x, const char *expect_root)
{
    const char *root = x->names[0];
    size_t n = strlen(root);
    if (x->is_error) {
        if (!x->saw_code)
            return malformed(x->err, "error response without an Error/Code");
        return -1;
    }
    if (n < 8 || strcmp(root + n - 8, "Response") != 0) {
        snprintf(x->fail, sizeof x->fail, "unexpected root element <%s>", root);
        return malformed(x->err, x->fail);
    }
    if (expect_root && strcmp(root, expect_root) != 0) {
        snprintf(x->fail, sizeof x->fail, "root element <%s>, expected <%s>", root, expect_root);
        return malformed(x->err, x->fail);
    }
    return 0;
}

static int run_parser(query_xml *x, const char *xml, size_t len)
{
    char why[200];
    XML_Parser p = XML_ParserCreateNS(NULL, '|');
    enum XML_Status status;
    if (!p)
        return no_memory(x->err, "creating the XML parser");
    x->parser = p;
    XML_SetUserData(p, x);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    status = len > (size_t)0x7fffffff ? XML_STATUS_ERROR : XML_Parse(p, xml, (int)len, XML_TRUE);
    if (x->fail[0]) {
        XML_ParserFree(p);
        return malformed(x->err, x->fail);
    }
    if (status != XML_STATUS_OK) {
        snprintf(why, sizeof why, "response is not well-formed XML: %s at line %lu",
                 len > (size_t)0x7fffffff ? "too large" : XML_ErrorString(XML_GetErrorCode(p)),
                 (unsigned long)XML_GetCurrentLineNumber(p));
        XML_ParserFree(p);
        return malformed(x->err, why);
    }
    XML_ParserFree(p);
    return 0;
}

int query_xml_parse(const char *xml, size_t len, const char *expect_root, const query_xml_callbacks *cb, aws_error *err)
{
    query_xml *x;
    aws_error scratch;
    int rc;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    if (cb && cb->reset)
        cb->reset(cb->ctx);
    if (!xml || len == 0)
        return malformed(err, "empty response body");
    if (!(x = calloc(1, sizeof *x)))
        return no_memory(err, "reading the response");
    x->cb = cb;
    x->err = err;
    rc = run_parser(x, xml, len);
    if (rc == 0)
        rc = check_root(x, expect_root);
    if (rc != 0 && cb && cb->reset)
        cb->reset(cb->ctx);
    free(x);
    return rc;
}
