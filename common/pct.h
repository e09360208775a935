/* Percent-encoding (RFC 3986), for SigV4's canonical request, the Query
 * protocol's form bodies and the Runtime API's request-id path segment. */
#ifndef RNS_COMMON_PCT_H
#define RNS_COMMON_PCT_H

#include <stddef.h>

#include "common/buf.h"

/* ALPHA DIGIT - . _ ~ */
int rns_pct_unreserved(unsigned char c);

/* Every byte of s[0..n) but the unreserved ones (and '/' when keep_slash)
 * as %XX with upper-case hex. out holds at least 3n bytes; returns the
 * bytes written (no NUL). */
size_t rns_pct_encode(char *out, const char *s, size_t n, int keep_slash);

/* rns_pct_encode appended to a buffer; an rns_buf result code. */
int rns_pct_encode_buf(rns_buf *b, const char *s, size_t n);

#endif
