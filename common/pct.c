/* Percent-encoding (pct.h). */
#include "common/pct.h"

#include <stdint.h>

#include "common/digits.h"

int rns_pct_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

size_t rns_pct_encode(char *out, const char *s, size_t n, int keep_slash)
{
    char *w = out;
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (rns_pct_unreserved(c) || (keep_slash && c == '/')) {
            *w++ = (char)c;
        } else {
            *w++ = '%';
            *w++ = rns_hex_upper[c >> 4];
            *w++ = rns_hex_upper[c & 15];
        }
    }
    return (size_t)(w - out);
}

int rns_pct_encode_buf(rns_buf *b, const char *s, size_t n)
{
    int rc;
    char *at = n > SIZE_MAX / 3 ? NULL : rns_buf_room(b, n * 3, &rc);
    if (n > SIZE_MAX / 3)
        return RNS_BUF_TOOBIG;
    if (!at)
        return rc;
    rns_buf_commit(b, rns_pct_encode(at, s, n, 0));
    return RNS_BUF_OK;
}
