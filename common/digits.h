/* Strict decimal numbers: a run of digits and nothing else (no sign, blank
 * or trailing junk), as configuration values, the Runtime API's port and an
 * HTTP answer's status and Content-Length are read. */
#ifndef RNS_COMMON_DIGITS_H
#define RNS_COMMON_DIGITS_H

#include <stddef.h>
#include <stdint.h>

/* s[0..n): 0 with *out set when 1 <= n <= max_digits and every byte is a
 * digit, else -1. max_digits is at most 19, so the value cannot overflow. */
int rns_parse_digits(const char *s, size_t n, size_t max_digits, uint64_t *out);

#endif
