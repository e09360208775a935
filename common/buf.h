/* A growable byte buffer, always NUL-terminated once used (curl's dynbuf is
 * the model): answer bodies, form bodies, log lines, files read whole.
 *
 *   rns_buf b;
 *   rns_buf_init(&b, 8u << 20);          // at most 8 MiB, 0: no limit
 *   if (rns_buf_add(&b, p, n) != RNS_BUF_OK) ...
 *   use b.data, b.len ... rns_buf_free(&b);
 *
 * A failed add leaves the buffer as it was; the caller still frees it. */
#ifndef RNS_COMMON_BUF_H
#define RNS_COMMON_BUF_H

#include <stddef.h>
#include <stdio.h>

typedef struct rns_buf {
    char *data; /* NULL until the first add */
    size_t len;
    size_t cap;
    size_t max; /* longest content accepted, 0: no limit */
} rns_buf;

enum { RNS_BUF_OK = 0, RNS_BUF_NOMEM = -1, RNS_BUF_TOOBIG = -2, RNS_BUF_IOERR = -3 };

void rns_buf_init(rns_buf *b, size_t max);
/* RNS_BUF_OK, RNS_BUF_NOMEM, or RNS_BUF_TOOBIG past b->max. */
int rns_buf_add(rns_buf *b, const void *p, size_t n);
int rns_buf_adds(rns_buf *b, const char *s);
int rns_buf_addf(rns_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Room for n more bytes; a pointer to write them at (then rns_buf_commit). */
char *rns_buf_room(rns_buf *b, size_t n, int *rc);
void rns_buf_commit(rns_buf *b, size_t n);
/* Appends what f holds up to its end: RNS_BUF_OK, RNS_BUF_NOMEM,
 * RNS_BUF_TOOBIG (more than b->max) or RNS_BUF_IOERR (errno from the read). */
int rns_buf_read(rns_buf *b, FILE *f);
void rns_buf_reset(rns_buf *b); /* len = 0, keeps the memory */
void rns_buf_free(rns_buf *b);
/* Hands the content to the caller (malloc'd, "" when empty) and leaves the
 * buffer empty; NULL when out of memory. */
char *rns_buf_take(rns_buf *b, size_t *len);

#endif
