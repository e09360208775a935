/* Reads one HTTP/1.1 answer of the Runtime API: the status line, the header
 * block (interim 1xx answers skipped), then a body delimited by
 * Content-Length, by chunks, or by the end of the connection (RFC 9112
 * section 6.3). The Runtime API is a local server of Lambda's; anything this
 * reader does not understand is refused (RT_REPLY_MALFORMED), never guessed
 * at. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/digits.h"
#include "runtime/internal.h"

#define READ_CHUNK 16384
#define MAX_LINE 65536             /* one header or chunk-size line */
#define MAX_HEADER_BLOCK (1 << 20) /* all header lines of one answer */

typedef struct reader {
    const rt_source *src;
    rns_buf *in; /* received, from `pos` on not yet used */
    size_t pos;
    int got_any; /* a byte of the answer arrived */
    rt_reply *r;
} reader;

static rt_reply_status fail(reader *rd, rt_reply_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static rt_reply_status fail(reader *rd, rt_reply_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->r->err, sizeof rd->r->err, fmt, ap);
    va_end(ap);
    return st;
}

/* Why the stream ended: nothing at all, or part of an answer. */
static rt_reply_status ended(reader *rd, ssize_t n, int err)
{
    rt_reply_status st = rd->got_any ? RT_REPLY_PARTIAL : RT_REPLY_NOTHING;
    const char *what = rd->got_any ? "the connection ended mid-answer" : "the connection ended without an answer";
    if (n < 0)
        return fail(rd, st, "%s: %s", what, strerror(err));
    return fail(rd, st, "%s", what);
}

/* Reads at most n bytes to p; > 0, or the stream's end or failure. */
static ssize_t pull(reader *rd, char *p, size_t n, rt_reply_status *st)
{
    ssize_t got;
    do
        got = rd->src->read(rd->src->ctx, p, n);
    while (got < 0 && errno == EINTR);
    if (got > 0) {
        rd->got_any = 1;
        return got;
    }
    *st = ended(rd, got, errno);
    return -1;
}

/* More bytes into `in`, after dropping what was used. */
static rt_reply_status fill(reader *rd)
{
    if (rd->pos > 0) {
        memmove(rd->in->data, rd->in->data + rd->pos, rd->in->len - rd->pos);
        rd->in->len -= rd->pos;
        rd->pos = 0;
    }
    int rc;
    char *p = rns_buf_room(rd->in, READ_CHUNK, &rc);
    if (!p)
        return fail(rd, RT_REPLY_NOMEM, "out of memory reading the answer");
    rt_reply_status st = RT_REPLY_OK;
    ssize_t got = pull(rd, p, READ_CHUNK, &st);
    if (got > 0)
        rns_buf_commit(rd->in, (size_t)got);
    return st;
}

/* The next line, its "\n" included, at *line (inside `in`, valid until the
 * next read). */
static rt_reply_status next_line(reader *rd, char **line, size_t *len)
{
    for (;;) {
        char *start = rd->in->data ? rd->in->data + rd->pos : NULL;
        size_t have = rd->in->len - rd->pos;
        char *nl = have ? memchr(start, '\n', have) : NULL;
        if (nl && (size_t)(nl - start) >= MAX_LINE)
            break;
        if (nl) {
            *line = start;
            *len = (size_t)(nl - start) + 1;
            rd->pos += *len;
            return RT_REPLY_OK;
        }
        if (have >= MAX_LINE)
            break;
        rt_reply_status st = fill(rd);
        if (st != RT_REPLY_OK)
            return st;
    }
    return fail(rd, RT_REPLY_MALFORMED, "a line of the answer is longer than %d bytes", MAX_LINE);
}

/* The line without its CRLF or LF. */
static size_t content_len(const char *line, size_t len)
{
    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    return len;
}

/* "HTTP/1.x NNN reason": the status, or -1. */
static long parse_status_line(const char *line, size_t len, int *minor)
{
    len = content_len(line, len);
    uint64_t status;
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
        rns_parse_digits(line + 9, 3, 3, &status) != 0)
        return -1;
    if (status < 100 || (len > 12 && line[12] != ' '))
        return -1;
    *minor = line[7] - '0';
    return (long)status;
}

/* The value of a header line if its name is `name`, trimmed; NULL if not. */
static const char *header_value(const char *line, size_t len, const char *name, size_t *vlen)
{
    size_t n = strlen(name);
    len = content_len(line, len);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return NULL;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *vlen = (size_t)(end - v);
    return v;
}

/* Whether a comma-separated list holds `token` (case-insensitive). */
static int has_token(const char *v, size_t len, const char *token)
{
    size_t t = strlen(token);
    const char *end = v + len;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *s = v;
        while (v < end && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == t && strncasecmp(s, token, t) == 0)
            return 1;
    }
    return 0;
}

typedef struct framing {
    int64_t length; /* Content-Length, -1: none */
    int chunked;
    int close;
    int keep_alive; /* "Connection: keep-alive" (HTTP/1.0) */
} framing;

/* Content-Length: digits only, and every copy the same. */
static int parse_length(const char *v, size_t n, framing *f)
{
    uint64_t len;
    if (rns_parse_digits(v, n, 15, &len) != 0 || (f->length >= 0 && (uint64_t)f->length != len))
        return -1;
    f->length = (int64_t)len;
    return 0;
}

static rt_reply_status framing_header(reader *rd, const char *line, size_t len, framing *f)
{
    size_t n;
    const char *v;
    if ((v = header_value(line, len, "Content-Length", &n)) != NULL) {
        if (parse_length(v, n, f) != 0)
            return fail(rd, RT_REPLY_MALFORMED, "the answer's Content-Length is not a (single) byte count");
    } else if ((v = header_value(line, len, "Transfer-Encoding", &n)) != NULL) {
        /* only "chunked" is read; a compressed body could not be used */
        if (n != 7 || strncasecmp(v, "chunked", 7) != 0)
            return fail(rd, RT_REPLY_MALFORMED, "the answer uses a transfer coding other than chunked");
        f->chunked = 1;
    } else if ((v = header_value(line, len, "Connection", &n)) != NULL) {
        f->close |= has_token(v, n, "close");
        f->keep_alive |= has_token(v, n, "keep-alive");
    }
    return RT_REPLY_OK;
}

/* The header block after a status line, up to its empty line. */
static rt_reply_status read_headers(reader *rd, framing *f)
{
    size_t total = 0;
    for (;;) {
        char *line;
        size_t len;
        rt_reply_status st = next_line(rd, &line, &len);
        if (st != RT_REPLY_OK)
            return st;
        if (content_len(line, len) == 0)
            return RT_REPLY_OK;
        total += len;
        if (total > MAX_HEADER_BLOCK)
            return fail(rd, RT_REPLY_MALFORMED, "the answer's headers are longer than %d bytes", MAX_HEADER_BLOCK);
        if (line[0] == ' ' || line[0] == '\t' || !memchr(line, ':', len))
            return fail(rd, RT_REPLY_MALFORMED, "the answer has a header line that is not \"Name: value\"");
        /* a CR or NUL inside a field becomes a space (RFC 9110 section 5.5),
         * so none reaches a value, a path or a log line */
        for (size_t i = 0, n = content_len(line, len); i < n; i++)
            if (line[i] == '\r' || line[i] == '\0')
                line[i] = ' ';
        st = framing_header(rd, line, len, f);
        if (st != RT_REPLY_OK)
            return st;
        if (rd->r->headers && rt_headers_feed(rd->r->headers, line, len) != 0)
            return fail(rd, RT_REPLY_NOMEM, "out of memory reading the answer's headers");
    }
}

/* The status line and headers of the final answer (interim 1xx skipped). */
static rt_reply_status read_head(reader *rd, framing *f)
{
    for (;;) {
        char *line;
        size_t len;
        int minor = 1;
        rt_reply_status st = next_line(rd, &line, &len);
        if (st != RT_REPLY_OK)
            return st;
        long status = parse_status_line(line, len, &minor);
        if (status < 0)
            return fail(rd, RT_REPLY_MALFORMED, "the answer does not start with an HTTP/1.x status line");
        if (rd->r->headers)
            rt_headers_clear(rd->r->headers);
        *f = (framing){.length = -1};
        st = read_headers(rd, f);
        if (st != RT_REPLY_OK)
            return st;
        if (status == 101)
            return fail(rd, RT_REPLY_MALFORMED, "the answer switches protocols");
        if (status >= 200) {
            rd->r->status = status;
            /* both framings: chunked is read, and the connection is not
             * trusted with another request (RFC 9112 section 6.3) */
            rd->r->keep_alive = !f->close && (minor == 1 || f->keep_alive) && !(f->chunked && f->length >= 0);
            return RT_REPLY_OK;
        }
    }
}

/* n bytes of body: first what `in` holds, then straight from the source. */
static rt_reply_status take(reader *rd, int64_t n)
{
    rns_buf *body = rd->r->body;
    size_t have = rd->in->len - rd->pos;
    size_t now = (int64_t)have < n ? have : (size_t)n;
    if (now && rns_buf_add(body, rd->in->data + rd->pos, now) != RNS_BUF_OK)
        return fail(rd, RT_REPLY_NOMEM, "out of memory reading the answer's body");
    rd->pos += now;
    n -= (int64_t)now;
    while (n > 0) {
        size_t want = n < READ_CHUNK * 4 ? (size_t)n : READ_CHUNK * 4;
        int rc;
        char *p = rns_buf_room(body, want, &rc);
        if (!p)
            return fail(rd, RT_REPLY_NOMEM, "out of memory reading the answer's body");
        rt_reply_status st = RT_REPLY_OK;
        ssize_t got = pull(rd, p, want, &st);
        if (got < 0)
            return st;
        rns_buf_commit(body, (size_t)got);
        n -= got;
    }
    return RT_REPLY_OK;
}

/* A chunk-size line: hex digits, then optional extensions. */
static int64_t chunk_size(const char *line, size_t len)
{
    len = content_len(line, len);
    int64_t size = 0;
    size_t i = 0;
    for (; i < len; i++) {
        int d = rns_hex_value(line[i]);
        if (d < 0)
            break;
        if (i >= 15)
            return -1;
        size = size * 16 + d;
    }
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == 0 || (i < len && line[i] != ';'))
        return -1;
    return size;
}

static rt_reply_status read_chunks(reader *rd)
{
    for (;;) {
        char *line;
        size_t len;
        rt_reply_status st = next_line(rd, &line, &len);
        if (st != RT_REPLY_OK)
            return st;
        int64_t size = chunk_size(line, len);
        if (size < 0)
            return fail(rd, RT_REPLY_MALFORMED, "the answer has a bad chunk size line");
        if (size == 0)
            break;
        if ((st = take(rd, size)) != RT_REPLY_OK || (st = next_line(rd, &line, &len)) != RT_REPLY_OK)
            return st;
        if (content_len(line, len) != 0)
            return fail(rd, RT_REPLY_MALFORMED, "a chunk of the answer is longer than its size line says");
    }
    /* trailer fields, if any, up to the empty line: read and dropped */
    framing ignored = {.length = -1};
    rt_headers *h = rd->r->headers;
    rd->r->headers = NULL;
    rt_reply_status st = read_headers(rd, &ignored);
    rd->r->headers = h;
    return st;
}

/* Until the connection ends: the answer had no length. */
static rt_reply_status read_to_end(reader *rd)
{
    rt_reply_status st = take(rd, (int64_t)(rd->in->len - rd->pos));
    while (st == RT_REPLY_OK) {
        int rc;
        char *p = rns_buf_room(rd->r->body, READ_CHUNK, &rc);
        if (!p)
            return fail(rd, RT_REPLY_NOMEM, "out of memory reading the answer's body");
        ssize_t got;
        do
            got = rd->src->read(rd->src->ctx, p, READ_CHUNK);
        while (got < 0 && errno == EINTR);
        if (got == 0)
            break;
        if (got < 0)
            return ended(rd, got, errno);
        rns_buf_commit(rd->r->body, (size_t)got);
    }
    return st;
}

static rt_reply_status read_body(reader *rd, const framing *f)
{
    long s = rd->r->status;
    if (s == 204 || s == 304)
        return RT_REPLY_OK;
    if (f->chunked)
        return read_chunks(rd);
    if (f->length >= 0)
        return take(rd, f->length);
    rd->r->keep_alive = 0;
    return read_to_end(rd);
}

rt_reply_status rt_reply_read(const rt_source *src, rns_buf *in, rt_reply *r)
{
    reader rd = {.src = src, .in = in, .r = r};
    r->status = 0;
    r->keep_alive = 0;
    r->err[0] = '\0';
    rns_buf_reset(in);
    rns_buf_reset(r->body);
    if (r->headers)
        rt_headers_clear(r->headers);
    framing f;
    rt_reply_status st = read_head(&rd, &f);
    if (st == RT_REPLY_OK)
        st = read_body(&rd, &f);
    if (st == RT_REPLY_OK && rd.pos != in->len)
        r->keep_alive = 0; /* bytes past the answer: nothing asked for them */
    return st;
}

const char *rt_reply_status_name(rt_reply_status st)
{
    switch (st) {
    case RT_REPLY_OK: return "ok";
    case RT_REPLY_NOTHING: return "nothing";
    case RT_REPLY_PARTIAL: return "partial";
    case RT_REPLY_MALFORMED: return "malformed";
    case RT_REPLY_NOMEM: return "out of memory";
    }
    return "?";
}
