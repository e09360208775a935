/* runtime/reply.c without a server: answers from memory, handed over in
 * pieces of every size from one byte up (a socket may split an answer
 * anywhere), and every way an answer can end early or be malformed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "tests/unit/check.h"

typedef struct mem_source {
    const char *data;
    size_t len, pos;
    size_t piece;    /* most bytes one read returns */
    int fail_errno;  /* at the end: fail with this instead of ending (0: end) */
    int eintr_every; /* every n-th read fails with EINTR first (0: never) */
    int reads;
} mem_source;

static ssize_t mem_read(void *ctx, char *p, size_t n)
{
    mem_source *m = ctx;
    if (m->eintr_every && ++m->reads % m->eintr_every == 0) {
        errno = EINTR;
        return -1;
    }
    if (m->pos == m->len) {
        if (m->fail_errno) {
            errno = m->fail_errno;
            return -1;
        }
        return 0;
    }
    size_t k = m->len - m->pos;
    if (k > n)
        k = n;
    if (m->piece && k > m->piece)
        k = m->piece;
    memcpy(p, m->data + m->pos, k);
    m->pos += k;
    return (ssize_t)k;
}

typedef struct outcome {
    rt_reply_status st;
    long status;
    int keep_alive;
    char body[256];
    size_t body_len;
    char request_id[64];
    char err[160];
} outcome;

static outcome read_as(const char *answer, size_t len, size_t piece, int fail_errno)
{
    mem_source m = {.data = answer, .len = len, .piece = piece, .fail_errno = fail_errno, .eintr_every = 3};
    rt_source src = {.read = mem_read, .ctx = &m};
    rns_buf in, body;
    rt_headers h = {0};
    rns_buf_init(&in, 0);
    rns_buf_init(&body, 0);
    rt_reply r = {.body = &body, .headers = &h};
    outcome o = {0};
    o.st = rt_reply_read(&src, &in, &r);
    o.status = r.status;
    o.keep_alive = r.keep_alive;
    o.body_len = body.len;
    if (body.len < sizeof o.body && body.data)
        memcpy(o.body, body.data, body.len);
    if (h.value[RT_H_REQUEST_ID])
        snprintf(o.request_id, sizeof o.request_id, "%s", h.value[RT_H_REQUEST_ID]);
    snprintf(o.err, sizeof o.err, "%s", r.err);
    rt_headers_clear(&h);
    rns_buf_free(&in);
    rns_buf_free(&body);
    return o;
}

/* The same outcome whatever the pieces the answer arrives in. */
static outcome read_all_ways(const char *answer)
{
    size_t len = strlen(answer);
    outcome first = read_as(answer, len, 0, 0);
    for (size_t piece = 1; piece <= len; piece++) {
        outcome o = read_as(answer, len, piece, 0);
        if (o.st != first.st || o.status != first.status || o.keep_alive != first.keep_alive ||
            o.body_len != first.body_len || memcmp(o.body, first.body, sizeof o.body) != 0 ||
            strcmp(o.request_id, first.request_id) != 0) {
            fprintf(stderr, "  pieces of %zu bytes: %s, status %ld (whole: %s, %ld)\n", piece,
                    rt_reply_status_name(o.st), o.status, rt_reply_status_name(first.st), first.status);
            CHECK(0);
            break;
        }
    }
    return first;
}

static void test_content_length(void)
{
    outcome o = read_all_ways("HTTP/1.1 200 OK\r\n"
                              "Content-Type: application/json\r\n"
                              "Lambda-Runtime-Aws-Request-Id: rid-1\r\n"
                              "Content-Length: 11\r\n\r\n"
                              "{\"op\":\"x\"}\n");
    CHECK_INT(o.st, RT_REPLY_OK);
    CHECK_INT(o.status, 200);
    CHECK_INT(o.keep_alive, 1);
    CHECK_INT(o.body_len, 11);
    CHECK_STR(o.body, "{\"op\":\"x\"}\n");
    CHECK_STR(o.request_id, "rid-1");
}

static void test_chunked_with_extensions_and_trailers(void)
{
    outcome o = read_all_ways("HTTP/1.1 200 OK\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "lambda-runtime-aws-request-id:  rid-2 \r\n\r\n"
                              "5\r\nhello\r\n"
                              "1;name=value\r\n \r\n"
                              "A \r\n0123456789\r\n"
                              "0\r\n"
                              "X-Trailer: dropped\r\n\r\n");
    CHECK_INT(o.st, RT_REPLY_OK);
    CHECK_STR(o.body, "hello 0123456789");
    CHECK_INT(o.body_len, 16);
    CHECK_STR(o.request_id, "rid-2");
    CHECK_INT(o.keep_alive, 1);
}

static void test_chunked_wins_over_length(void)
{
    outcome o = read_all_ways("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: Chunked\r\n\r\n"
                              "2\r\nok\r\n0\r\n\r\n");
    CHECK_INT(o.st, RT_REPLY_OK);
    CHECK_STR(o.body, "ok");
    CHECK_INT(o.keep_alive, 0);
}

static void test_interim_answers_are_skipped(void)
{
    outcome o = read_all_ways("HTTP/1.1 100 Continue\r\nLambda-Runtime-Aws-Request-Id: interim\r\n\r\n"
                              "HTTP/1.1 102 Processing\r\n\r\n"
                              "HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n");
    CHECK_INT(o.st, RT_REPLY_OK);
    CHECK_INT(o.status, 202);
    CHECK_STR(o.request_id, ""); /* the interim answer's header is forgotten */
    CHECK_STR(o.body, "{\"status\":\"OK\"}\n");
}

static void test_connection_close_and_http10(void)
{
    outcome o = read_all_ways("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 2\r\n\r\nok");
    CHECK_INT(o.st, RT_REPLY_OK);
    CHECK_INT(o.keep_alive, 0);
    o = read_all_ways("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK_INT(o.keep_alive, 0);
    o = read_all_ways("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok");
    CHECK_INT(o.keep_alive, 1);
    /* no length: the body runs to the end of the connection */
    o = read_all_ways("HTTP/1.1 500 Internal Server Error\nContent-Type: text/plain\n\nbroken\n");
    CHECK_INT(o.st, RT_REPLY_OK);
    CHECK_INT(o.status, 500);
    CHECK_STR(o.body, "broken\n");
    CHECK_INT(o.keep_alive, 0);
    /* bytes past the answer, when they came with it: the connection is not
     * reused (later ones are caught before the next request, runtime/api.c) */
    o = read_as("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 45, 0, 0);
    CHECK_STR(o.body, "ok");
    CHECK_INT(o.keep_alive, 0);
}

static void test_no_body_statuses(void)
{
    outcome o = read_all_ways("HTTP/1.1 204 No Content\r\n\r\n");
    CHECK_INT(o.st, RT_REPLY_OK);
    CHECK_INT(o.status, 204);
    CHECK_INT(o.body_len, 0);
    CHECK_INT(o.keep_alive, 1);
}

static void test_ended_early(void)
{
    outcome o = read_all_ways("");
    CHECK_INT(o.st, RT_REPLY_NOTHING);
    CHECK_STR(o.err, "the connection ended without an answer");
    const char *cut[] = {"H", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"};
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        o = read_all_ways(cut[i]);
        CHECK_INT(o.st, RT_REPLY_PARTIAL);
        CHECK_STR(o.err, "the connection ended mid-answer");
    }
    o = read_as("", 0, 0, ECONNRESET);
    CHECK_INT(o.st, RT_REPLY_NOTHING);
    CHECK(strstr(o.err, "reset") != NULL);
    o = read_as("HTTP/1.1 2", 10, 0, ECONNRESET);
    CHECK_INT(o.st, RT_REPLY_PARTIAL);
    CHECK(strstr(o.err, "mid-answer: ") != NULL);
}

static void test_malformed(void)
{
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded: header\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        outcome o = read_all_ways(bad[i]);
        if (o.st != RT_REPLY_MALFORMED)
            fprintf(stderr, "  answer %zu: %s (%s)\n", i, rt_reply_status_name(o.st), o.err);
        CHECK_INT(o.st, RT_REPLY_MALFORMED);
        CHECK(o.err[0] != '\0');
    }
}

static void test_cr_and_nul_in_a_field_become_spaces(void)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\n"
                                 "Lambda-Runtime-Aws-Request-Id: r1\r6X-Injected: 1\0tail\r\n"
                                 "Content-Length: 0\r\n\r\n";
    outcome o = read_as(answer, sizeof answer - 1, 0, 0);
    CHECK_INT(o.st, RT_REPLY_OK);
    CHECK_STR(o.request_id, "r1 6X-Injected: 1 tail");
}

static void test_limits(void)
{
    /* a header line past 64 KiB is refused, not buffered without end */
    size_t n = 70000;
    char *big = malloc(n + 64);
    CHECK(big != NULL);
    if (!big)
        return;
    int head = snprintf(big, 64, "HTTP/1.1 200 OK\r\nX-Long: ");
    memset(big + head, 'a', n);
    memcpy(big + head + n, "\r\n\r\n", 5);
    outcome o = read_as(big, strlen(big), 0, 0);
    CHECK_INT(o.st, RT_REPLY_MALFORMED);
    CHECK(strstr(o.err, "longer than") != NULL);
    free(big);
}

static void test_large_body(void)
{
    size_t n = 3u << 20;
    const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\n\r\n";
    size_t hl = strlen(head);
    char *answer = malloc(hl + n);
    CHECK(answer != NULL);
    if (!answer)
        return;
    memcpy(answer, head, hl);
    for (size_t i = 0; i < n; i++)
        answer[hl + i] = (char)('a' + i % 26);
    mem_source m = {.data = answer, .len = hl + n, .piece = 70001};
    rt_source src = {.read = mem_read, .ctx = &m};
    rns_buf in, body;
    rns_buf_init(&in, 0);
    rns_buf_init(&body, 0);
    rt_reply r = {.body = &body};
    CHECK_INT(rt_reply_read(&src, &in, &r), RT_REPLY_OK);
    CHECK_INT(body.len, n);
    CHECK(body.len == n && memcmp(body.data, answer + hl, n) == 0 && body.data[n] == '\0');
    /* the next answer on the same buffers starts clean */
    const char *next = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    m = (mem_source){.data = next, .len = strlen(next)};
    CHECK_INT(rt_reply_read(&src, &in, &r), RT_REPLY_OK);
    CHECK_INT(body.len, 0);
    rns_buf_free(&in);
    rns_buf_free(&body);
    free(answer);
}

int main(void)
{
    RUN(test_content_length);
    RUN(test_chunked_with_extensions_and_trailers);
    RUN(test_chunked_wins_over_length);
    RUN(test_interim_answers_are_skipped);
    RUN(test_connection_close_and_http10);
    RUN(test_no_body_statuses);
    RUN(test_ended_early);
    RUN(test_malformed);
    RUN(test_cr_and_nul_in_a_field_become_spaces);
    RUN(test_limits);
    RUN(test_large_body);
    return check_done();
}
