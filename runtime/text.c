/* Text made safe for JSON, URL paths and header values. */
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * RFC 3629, so no overlong forms, surrogates or code points above U+10FFFF. */
size_t rt_utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        if (s[0] == 0xE0)
            lo = 0xA0;
        else if (s[0] == 0xED)
            hi = 0x9F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        if (s[0] == 0xF0)
            lo = 0x90;
        else if (s[0] == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

char *rt_utf8_clean(const char *s, size_t max, size_t *len)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p), o = 0;
    size_t cap = n > max / 3 ? max : n * 3; /* an invalid byte grows to 3 */
    char *out = malloc(cap + 1);
    if (!out)
        return NULL;
    while (n > 0) {
        size_t k = rt_utf8_len(p, n);
        size_t w = k ? k : 3;
        if (o + w > max)
            break;
        memcpy(out + o, k ? (const char *)p : replacement, w);
        o += w;
        p += k ? k : 1;
        n -= k ? k : 1;
    }
    out[o] = '\0';
    *len = o;
    return out;
}

json_t *rt_json_text(const char *s, size_t max)
{
    size_t len;
    char *clean = rt_utf8_clean(s, max, &len);
    if (!clean)
        return NULL;
    json_t *j = json_stringn_nocheck(clean, len); /* checked above */
    free(clean);
    return j;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int rt_path_escape(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        size_t w = unreserved(*p) ? 1 : 3;
        if (o + w >= size)
            return -1;
        if (w == 1) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (size == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

void rt_header_safe(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            *s = '_';
}
