#include "common/digits.h"

int rns_parse_digits(const char *s, size_t n, size_t max_digits, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > max_digits || max_digits > 19)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}
