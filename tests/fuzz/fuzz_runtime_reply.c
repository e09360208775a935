/* libFuzzer target: one Runtime API answer read from a socket-like source
 * (runtime/reply.c: rt_reply_read). The first byte picks the most bytes one
 * read returns (0: as many as asked for), the rest is the stream. Beyond no
 * crash: the outcome does not depend on how the stream is cut (a socket may
 * cut it anywhere), a body is never longer than the stream and is always
 * NUL-terminated, a failure always says why on one line. */
#include <errno.h>
#include <string.h>

#include "runtime/internal.h"
#include "tests/fuzz/fuzz.h"

typedef struct stream {
    const char *data;
    size_t len, pos, piece;
} stream;

static ssize_t stream_read(void *ctx, char *p, size_t n)
{
    stream *s = ctx;
    size_t k = s->len - s->pos;
    if (k > n)
        k = n;
    if (s->piece && k > s->piece)
        k = s->piece;
    memcpy(p, s->data + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

typedef struct result {
    rt_reply_status st;
    long status;
    rns_buf body;
    rt_headers headers;
    char err[sizeof((rt_reply *)0)->err];
} result;

static void read_one(const char *data, size_t len, size_t piece, result *out)
{
    stream s = {.data = data, .len = len, .piece = piece};
    rt_source src = {.read = stream_read, .ctx = &s};
    rns_buf in;
    rns_buf_init(&in, 0);
    rns_buf_init(&out->body, 0);
    memset(&out->headers, 0, sizeof out->headers);
    rt_reply r = {.body = &out->body, .headers = &out->headers};
    out->st = rt_reply_read(&src, &in, &r);
    out->status = r.status;
    memcpy(out->err, r.err, sizeof out->err);
    rns_buf_free(&in);

    FUZZ_CHECK(out->st >= RT_REPLY_OK && out->st <= RT_REPLY_NOMEM);
    FUZZ_CHECK(out->body.len <= len);
    FUZZ_CHECK(!out->body.data || out->body.data[out->body.len] == '\0');
    if (out->st == RT_REPLY_OK) {
        FUZZ_CHECK(out->status >= 200 && out->status <= 999);
        FUZZ_CHECK(r.keep_alive == 0 || r.keep_alive == 1);
    } else {
        FUZZ_CHECK(out->err[0] != '\0' && strlen(out->err) < sizeof out->err);
        for (const char *p = out->err; *p; p++)
            FUZZ_CHECK((unsigned char)*p >= 0x20);
    }
    for (int i = 0; i < RT_H_COUNT; i++)
        if (out->headers.value[i])
            FUZZ_CHECK(strpbrk(out->headers.value[i], "\r\n") == NULL);
}

static void free_result(result *r)
{
    rns_buf_free(&r->body);
    rt_headers_clear(&r->headers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *stream_data = (const char *)data + 1;
    size_t len = size - 1;
    result whole, cut;
    read_one(stream_data, len, 0, &whole);
    read_one(stream_data, len, data[0] ? data[0] : 1, &cut);
    FUZZ_CHECK(whole.st == cut.st && whole.status == cut.status && whole.body.len == cut.body.len);
    FUZZ_CHECK(whole.body.len == 0 || memcmp(whole.body.data, cut.body.data, whole.body.len) == 0);
    for (int i = 0; i < RT_H_COUNT; i++) {
        const char *a = whole.headers.value[i], *b = cut.headers.value[i];
        FUZZ_CHECK((!a && !b) || (a && b && strcmp(a, b) == 0));
    }
    free_result(&whole);
    free_result(&cut);
    return 0;
}
