/* A raw HTTP/1.1 request, as build/sigv4 reads it and as the SigV4 test suite
 * writes it: request line, header lines (folded lines continue the header
 * before them), empty line, body. Lines end in LF or CRLF. Any bytes are
 * accepted without crashing; what is not a request gives an error. */
#include <stdlib.h>
#include <string.h>

#include "sigv4/sigv4_internal.h"

typedef struct span {
    size_t start, end;
} span;

typedef struct raw_header {
    span name;
    span value;
} raw_header;

/* The line at *pos, without its LF and a CR before it; *pos moves past it. */
static span next_line(const char *s, size_t len, size_t *pos)
{
    const char *nl = memchr(s + *pos, '\n', len - *pos);
    span line = {*pos, nl ? (size_t)(nl - s) : len};

    *pos = nl ? line.end + 1 : len;
    if (line.end > line.start && s[line.end - 1] == '\r')
        line.end--;
    return line;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int valid_version(const char *v, size_t n)
{
    return n == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' && v[7] >= '0' &&
           v[7] <= '9';
}

/* METHOD SP target SP HTTP/x.y, split at the first and the last space so that
 * a target may hold spaces (the suite's get-space case). */
static int request_line(char *s, span line, sigv4_raw_request *out, char *err, size_t errlen)
{
    char *p = s + line.start;
    size_t n = line.end - line.start, i;
    char *sp1 = memchr(p, ' ', n), *sp2 = memrchr(p, ' ', n);

    if (n == 0) {
        sv_error(err, errlen, "no request line: the request starts with an empty line");
        return -1;
    }
    if (!sp1 || sp1 == sp2) {
        sv_error(err, errlen, "line 1 is not a request line (METHOD TARGET HTTP/1.1)");
        return -1;
    }
    for (i = 0; p + i < sp1; i++)
        if (!sv_is_tchar((unsigned char)p[i]))
            break;
    if (i == 0 || p + i != sp1) {
        sv_error(err, errlen, "line 1: the method is not an HTTP token");
        return -1;
    }
    if (!valid_version(sp2 + 1, (size_t)(p + n - sp2 - 1))) {
        sv_error(err, errlen, "line 1: the request line must end with HTTP/1.1");
        return -1;
    }
    if (sp2 == sp1 + 1) {
        sv_error(err, errlen, "line 1: the request target is empty");
        return -1;
    }
    *sp1 = '\0';
    *sp2 = '\0';
    out->method = p;
    out->target = sp1 + 1;
    return 0;
}

static int header_line(const char *s, span line, size_t line_no, raw_header *h, char *err, size_t errlen)
{
    const char *colon = memchr(s + line.start, ':', line.end - line.start);
    size_t i;

    if (!colon) {
        sv_error(err, errlen, "line %zu: header line has no ':'", line_no);
        return -1;
    }
    h->name.start = line.start;
    h->name.end = (size_t)(colon - s);
    if (h->name.end == h->name.start) {
        sv_error(err, errlen, "line %zu: header name is empty", line_no);
        return -1;
    }
    for (i = h->name.start; i < h->name.end; i++) {
        if (!sv_is_tchar((unsigned char)s[i])) {
            sv_error(err, errlen, "line %zu: header name has a character not allowed in an HTTP token", line_no);
            return -1;
        }
    }
    h->value.start = h->name.end + 1;
    while (h->value.start < line.end && is_ows(s[h->value.start]))
        h->value.start++;
    h->value.end = line.end;
    return 0;
}

/* Reads the header lines up to the empty line; returns the body's offset. */
static int header_block(const char *s, size_t len, size_t pos, raw_header *hs, size_t *count, size_t *body, char *err,
                        size_t errlen)
{
    size_t line_no = 1;

    *count = 0;
    *body = len;
    while (pos < len) {
        span line = next_line(s, len, &pos);

        line_no++;
        if (memchr(s + line.start, '\0', line.end - line.start)) {
            sv_error(err, errlen, "line %zu contains a NUL byte", line_no);
            return -1;
        }
        if (line.start == line.end) {
            *body = pos;
            return 0;
        }
        if (is_ows(s[line.start])) {
            if (*count == 0) {
                sv_error(err, errlen, "line %zu: continuation line before any header", line_no);
                return -1;
            }
            hs[*count - 1].value.end = line.end; /* a folded value keeps its line breaks */
            continue;
        }
        if (header_line(s, line, line_no, &hs[*count], err, errlen))
            return -1;
        (*count)++;
    }
    return 0;
}

static int parse(char *s, size_t len, raw_header *hs, sigv4_raw_request *out, char *err, size_t errlen)
{
    size_t pos = 0, count, body, i;
    span first = next_line(s, len, &pos);

    if (memchr(s + first.start, '\0', first.end - first.start)) {
        sv_error(err, errlen, "line 1 contains a NUL byte");
        return -1;
    }
    if (request_line(s, first, out, err, errlen) || header_block(s, len, pos, hs, &count, &body, err, errlen))
        return -1;
    for (i = 0; i < count; i++) {
        while (hs[i].value.end > hs[i].value.start && is_ows(s[hs[i].value.end - 1]))
            hs[i].value.end--;
    }
    /* Only now cut the strings: the line scan above needs the line ends. */
    for (i = 0; i < count; i++) {
        out->headers[i].name = s + hs[i].name.start;
        out->headers[i].value = s + hs[i].value.start;
        s[hs[i].name.end] = '\0';
        s[hs[i].value.end] = '\0';
    }
    out->header_count = count;
    out->body = s + body;
    out->body_len = len - body;
    return 0;
}

/* The lines before the empty line (or the end): a bound on the headers,
 * however many lines the body has. */
static size_t head_lines(const char *s, size_t len)
{
    size_t pos = 0, n = 0;

    while (pos < len) {
        span line = next_line(s, len, &pos);

        n++;
        if (line.start == line.end && n > 1)
            break;
    }
    return n ? n : 1;
}

int sigv4_parse_raw_request(const char *data, size_t len, sigv4_raw_request *out, char *err, size_t errlen)
{
    size_t lines;
    raw_header *hs;
    int rc;

    memset(out, 0, sizeof *out);
    if (!data || len == 0) {
        sv_error(err, errlen, "empty request");
        return -1;
    }
    lines = head_lines(data, len);
    out->storage = malloc(len + 1);
    out->headers = malloc(lines * sizeof *out->headers);
    hs = malloc(lines * sizeof *hs);
    if (!out->storage || !out->headers || !hs) {
        free(hs);
        sigv4_raw_request_free(out);
        sv_error(err, errlen, "out of memory reading a request of %zu bytes", len);
        return -1;
    }
    memcpy(out->storage, data, len);
    out->storage[len] = '\0';
    rc = parse(out->storage, len, hs, out, err, errlen);
    free(hs);
    if (rc)
        sigv4_raw_request_free(out);
    return rc;
}

void sigv4_raw_request_free(sigv4_raw_request *req)
{
    if (!req)
        return;
    free(req->headers);
    free(req->storage);
    memset(req, 0, sizeof *req);
}
