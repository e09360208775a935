/* Digits. Strict decimal numbers: a run of digits and nothing else (no sign,
 * blank or trailing junk), as configuration values, ports, prefix lengths,
 * XML numbers, dates, the Runtime API's deadline and an HTTP answer's status
 * and Content-Length are read. And the hex digits, both ways. */
#ifndef RNS_COMMON_DIGITS_H
#define RNS_COMMON_DIGITS_H

#include <stddef.h>
#include <stdint.h>

/* s[0..n): 0 with *out set when 1 <= n <= max_digits and every byte is a
 * digit, else -1. max_digits is at most 19, so the value cannot overflow. */
int rns_parse_digits(const char *s, size_t n, size_t max_digits, uint64_t *out);

/* s[0..n): 0 with *out set when n >= 1, every byte is a digit and the value
 * is at most max (leading zeros do not count against it), else -1. */
int rns_parse_decimal(const char *s, size_t n, uint64_t max, uint64_t *out);

/* "0123456789ABCDEF": the upper-case digits of percent-encoding and of
 * JSON's \u00XX escapes. */
extern const char rns_hex_upper[];

/* The value of one hex digit (either case), or -1. */
int rns_hex_value(char c);

#endif
