/* UTF-8 cleaning, one policy for every text that leaves the process as JSON
 * (log lines, results, error bodies, CloudFormation answers, the sigv4 tool):
 * each ill-formed subsequence becomes U+FFFD, Unicode's "maximal subpart"
 * rule (as Python's errors="replace" and WHATWG decoders), and text is never
 * cut inside a character. Valid UTF-8 (RFC 3629) comes out unchanged. */
#ifndef RNS_COMMON_UTF8_H
#define RNS_COMMON_UTF8_H

#include <stddef.h>

#include <jansson.h>

/* Writes the clean form of s[0..n) to out, at most max bytes (no NUL
 * added); returns the bytes written. out may be NULL to measure. */
size_t rns_utf8_clean_to(char *out, size_t max, const char *s, size_t n);

/* The clean form of s[0..n), at most max bytes, malloc'd and NUL-terminated;
 * s NULL means "". NULL only when out of memory. *len may be NULL. */
char *rns_utf8_clean(const char *s, size_t n, size_t max, size_t *len);

/* Copies the clean form of the C string s into out (size bytes, NUL
 * included). */
void rns_utf8_copy(char *out, size_t size, const char *s);

/* A jansson string of the clean form of s[0..n), at most max bytes; NULL
 * only when out of memory. */
json_t *rns_json_text(const char *s, size_t n, size_t max);

#endif
