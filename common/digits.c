/* Digits (digits.h). */
#include "common/digits.h"

const char rns_hex_upper[] = "0123456789ABCDEF";

int rns_parse_decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int rns_parse_digits(const char *s, size_t n, size_t max_digits, uint64_t *out)
{
    if (n > max_digits || max_digits > 19)
        return -1;
    return rns_parse_decimal(s, n, UINT64_MAX, out);
}

int rns_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
