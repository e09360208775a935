/* rns_buf (buf.h). */
#include "common/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

#define MIN_CAP 256

void rns_buf_init(rns_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

char *rns_buf_room(rns_buf *b, size_t n, int *rc)
{
    size_t limit = b->max ? b->max : SIZE_MAX - 1;
    void *p = b->data;
    *rc = RNS_BUF_OK;
    if (n > limit || b->len > limit - n) {
        *rc = RNS_BUF_TOOBIG;
        return NULL;
    }
    if (rns_grow(&p, &b->cap, b->len + n + 1, 1, MIN_CAP) != 0) {
        *rc = RNS_BUF_NOMEM;
        return NULL;
    }
    b->data = p;
    b->data[b->len] = '\0'; /* terminated even if nothing is committed */
    return b->data + b->len;
}

void rns_buf_commit(rns_buf *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

int rns_buf_add(rns_buf *b, const void *p, size_t n)
{
    int rc;
    char *at;
    /* The common case, a short add that fits: the JSON writer makes hundreds
     * an invocation. Anything else takes rns_buf_room's checks. */
    if (b->cap - b->len > n && (!b->max || (b->len <= b->max && b->max - b->len >= n))) {
        memcpy(b->data + b->len, p, n);
        rns_buf_commit(b, n);
        return RNS_BUF_OK;
    }
    at = rns_buf_room(b, n, &rc);
    if (!at)
        return rc;
    if (n)
        memcpy(at, p, n);
    rns_buf_commit(b, n);
    return RNS_BUF_OK;
}

int rns_buf_adds(rns_buf *b, const char *s)
{
    return rns_buf_add(b, s, strlen(s));
}

int rns_buf_addf(rns_buf *b, const char *fmt, ...)
{
    va_list ap;
    char *at;
    int n, rc;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return RNS_BUF_NOMEM;
    if (!(at = rns_buf_room(b, (size_t)n, &rc)))
        return rc;
    va_start(ap, fmt);
    vsnprintf(at, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rns_buf_commit(b, (size_t)n);
    return RNS_BUF_OK;
}

int rns_buf_read(rns_buf *b, FILE *f)
{
    for (;;) {
        size_t chunk = 65536, got;
        char *at;
        int rc;
        if (b->max && b->max - b->len < chunk)
            chunk = b->max - b->len;
        if (chunk == 0)
            return fgetc(f) == EOF ? (ferror(f) ? RNS_BUF_IOERR : RNS_BUF_OK) : RNS_BUF_TOOBIG;
        if (!(at = rns_buf_room(b, chunk, &rc)))
            return rc;
        got = fread(at, 1, chunk, f);
        rns_buf_commit(b, got);
        if (got < chunk)
            return ferror(f) ? RNS_BUF_IOERR : RNS_BUF_OK;
    }
}

void rns_buf_reset(rns_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void rns_buf_free(rns_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *rns_buf_take(rns_buf *b, size_t *len)
{
    char *p = b->data ? b->data : calloc(1, 1);
    if (len)
        *len = p ? b->len : 0;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
