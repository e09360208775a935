/* UTF-8 cleaning (utf8.h). */
#include "common/utf8.h"

#include <stdlib.h>
#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD";

/* The length of the valid character at s (n bytes left), or 0 with *bad
 * the length of the maximal subpart to replace: the longest prefix of a
 * valid sequence that s starts with, at least one byte. */
static size_t char_len(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need, i;
    *bad = 1;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        need = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        need = 3;
        lo = s[0] == 0xE0 ? 0xA0 : 0x80;
        hi = s[0] == 0xED ? 0x9F : 0xBF;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        need = 4;
        lo = s[0] == 0xF0 ? 0x90 : 0x80;
        hi = s[0] == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    for (i = 1; i < need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need;
}

size_t rns_utf8_clean_to(char *out, size_t max, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (n > 0) {
        size_t bad, k = char_len(p, n, &bad);
        size_t w = k ? k : sizeof replacement - 1;
        if (w > max - o)
            break;
        if (out)
            memcpy(out + o, k ? (const char *)p : replacement, w);
        o += w;
        p += k ? k : bad;
        n -= k ? k : bad;
    }
    return o;
}

char *rns_utf8_clean(const char *s, size_t n, size_t max, size_t *len)
{
    size_t cap, o;
    char *out;
    if (!s)
        s = "", n = 0;
    cap = n > max / 3 ? max : n * 3; /* an invalid byte grows to 3 */
    if (!(out = malloc(cap + 1)))
        return NULL;
    o = rns_utf8_clean_to(out, cap, s, n);
    out[o] = '\0';
    if (len)
        *len = o;
    return out;
}

void rns_utf8_copy(char *out, size_t size, const char *s)
{
    if (size == 0)
        return;
    out[rns_utf8_clean_to(out, size - 1, s ? s : "", s ? strlen(s) : 0)] = '\0';
}

json_t *rns_json_text(const char *s, size_t n, size_t max)
{
    size_t len;
    char *clean = rns_utf8_clean(s, n, max, &len);
    json_t *j;
    if (!clean)
        return NULL;
    j = json_stringn_nocheck(clean, len); /* valid by construction */
    free(clean);
    return j;
}
