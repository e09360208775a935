/* Private to runtime/: the pieces its files share, declared here so the unit
 * tests (tests/unit/test_runtime*.c) can call them without a server. Not part
 * of the public API; users include runtime/runtime.h (and common/log.h for the logger). */
#ifndef RNS_RUNTIME_INTERNAL_H
#define RNS_RUNTIME_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "runtime/runtime.h"

/* ---- headers.c: the invocation headers of one GET /next answer. */
enum rt_header_id {
    RT_H_REQUEST_ID,
    RT_H_DEADLINE,
    RT_H_FUNCTION_ARN,
    RT_H_TRACE_ID,
    RT_H_CLIENT_CONTEXT,
    RT_H_COGNITO_IDENTITY,
    RT_H_TENANT_ID,
    RT_H_COUNT
};

typedef struct rt_headers {
    char *value[RT_H_COUNT]; /* malloc'd, NULL when absent */
} rt_headers;

/* The header name of an id, as the Runtime API spells it. */
const char *rt_header_name(enum rt_header_id id);
/* Takes one raw header line as runtime/reply.c hands it ("Name: value\r\n",
 * not NUL-terminated). Names match case-insensitively, values are trimmed; a
 * status line ("HTTP/1.1 200 OK") forgets earlier headers (interim answers).
 * 0, or -1 out of memory. */
int rt_headers_feed(rt_headers *h, const char *line, size_t len);
void rt_headers_clear(rt_headers *h);
/* Lambda-Runtime-Deadline-Ms: a positive decimal integer, else 0. */
int64_t rt_parse_deadline(const char *s);
/* Fills an invocation view of the headers (absent ones become ""). */
void rt_headers_view(const rt_headers *h, lambda_invocation *inv);

/* ---- text.c */
/* A jansson string of the C string s (NULL: "") cleaned to at most max bytes
 * of UTF-8 (common/utf8.h); NULL only out of memory. */
json_t *rt_json_text(const char *s, size_t max);
/* Percent-encodes every byte outside RFC 3986's unreserved set, for a request
 * id used as a path segment. 0, or -1 if it does not fit in `size`. */
int rt_path_escape(const char *s, char *out, size_t size);
/* A header value made safe: control characters become '_'. Same length. */
void rt_header_safe(char *s);

/* ---- response.c */
/* {"errorMessage":...,"errorType":...,"stackTrace":[]} as jansson prints it
 * (compact). The message is cut to RT_MAX_ERROR_MESSAGE bytes. NULL if out of
 * memory. */
#define RT_MAX_ERROR_MESSAGE (256 * 1024)
char *rt_error_body(const char *message, const char *type);

/* ---- clock.c */
/* Remaining time when the API sent no deadline: Lambda's longest timeout. */
#define RT_NO_DEADLINE_REMAINING_MS 900000

/* ---- reply.c: one HTTP/1.1 answer, read from a byte source. */
typedef struct rt_source {
    /* Up to n bytes into p: how many (> 0), 0 at the stream's end, or -1
     * with errno set (EINTR is retried). */
    ssize_t (*read)(void *ctx, char *p, size_t n);
    void *ctx;
} rt_source;

typedef enum rt_reply_status {
    RT_REPLY_OK,
    RT_REPLY_NOTHING,   /* the stream ended or failed before the answer's first byte */
    RT_REPLY_PARTIAL,   /* ... after it, before the answer's end */
    RT_REPLY_MALFORMED, /* not an answer this reader takes (no retry helps) */
    RT_REPLY_NOMEM
} rt_reply_status;

typedef struct rt_reply {
    long status;         /* out: of the final answer (interim 1xx skipped) */
    int keep_alive;      /* out: the connection can carry the next request */
    rns_buf *body;       /* in: borrowed; out: the body (reset first) */
    rt_headers *headers; /* in: borrowed, NULL: not kept; out: the final answer's */
    char err[160];       /* out: why, when not RT_REPLY_OK */
} rt_reply;

/* Reads one answer; `in` holds bytes received but not yet used (reset first:
 * nothing is pipelined). */
rt_reply_status rt_reply_read(const rt_source *src, rns_buf *in, rt_reply *r);
const char *rt_reply_status_name(rt_reply_status st);

/* ---- conn.c: the TCP connection to the Runtime API. */
typedef struct rt_addr {
    char host[256]; /* without brackets */
    char port[6];
} rt_addr;

/* Splits "host:port" or "[v6]:port" (port 1-65535). 0, or -1. */
int rt_addr_parse(const char *api, rt_addr *out);
/* A connected, blocking socket (TCP_NODELAY, no SIGPIPE), or -1 with err
 * set. An IP literal or "localhost" (127.0.0.1, then ::1) is not looked up;
 * other names are, with getaddrinfo. Each address gets timeout_ms. */
int rt_conn_open(const rt_addr *a, int timeout_ms, char *err, size_t errlen);
/* Sends head then body whole. 0, or -1 with errno set. */
int rt_conn_send(int fd, const char *head, size_t head_len, const char *body, size_t body_len);
/* An rt_source reading the socket whose descriptor `fd` points to. */
rt_source rt_conn_source(int *fd);

/* ---- api.c: HTTP calls to the Runtime API over one kept-alive connection. */
struct lambda_runtime {
    logger *lg;    /* borrowed, may be NULL */
    char api[256]; /* host:port, the Host header */
    rt_addr addr;
    int fd;              /* the kept-alive connection, -1: none */
    rns_buf request;     /* the head of the call in progress */
    rns_buf in;          /* received, not yet read */
    rns_buf body;        /* answer body of the last call */
    rt_headers headers;  /* of the last GET /next */
    rns_buf trace_env;   /* "_X_AMZN_TRACE_ID=..." given to putenv() */
    int collect_headers; /* only GET /next keeps its headers */
    int attempts;        /* per call, on connection failures (common/retry.h) */
    int init_error_posted;
};

typedef struct rt_call {
    const char *path; /* after the base: "/runtime/invocation/next" */
    const char *body; /* NULL: GET; else POST of body_len bytes */
    size_t body_len;
    const char *content_type; /* POST only */
    const char *error_type;   /* adds Lambda-Runtime-Function-Error-Type */
    long status;              /* out: HTTP status of the answer */
} rt_call;

/* Makes the call, retrying connection failures a bounded number of times
 * with backoff. 0 when an answer arrived (any status, in call->status), -1
 * (already logged) when none did. */
int rt_api_call(lambda_runtime *rt, rt_call *call);
/* Closes the kept-alive connection, if any. */
void rt_api_close(lambda_runtime *rt);

#endif
