/* The JSON writer (jsonw.h). Runs of bytes that need no escape are copied
 * with one memcpy; only control characters, quotes, backslashes and (for
 * jw_text and jw_string) the bytes >= 0x80 are looked at one by one. */
#include "runtime/jsonw.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

static int reserve(jw *w, size_t n)
{
    size_t cap;
    char *p;
    if (w->failed)
        return -1;
    if (n <= w->cap - w->len)
        return 0;
    cap = w->cap ? w->cap : 512;
    while (cap - w->len < n) {
        if (cap > ((size_t)-1) / 2)
            goto fail;
        cap *= 2;
    }
    if (!(p = realloc(w->data, cap)))
        goto fail;
    w->data = p;
    w->cap = cap;
    return 0;
fail:
    w->failed = 1;
    return -1;
}

void jw_raw(jw *w, const char *s, size_t n)
{
    if (reserve(w, n + 1) != 0)
        return;
    memcpy(w->data + w->len, s, n);
    w->len += n;
}

/* jansson's escape of one byte below 0x20, a quote or a backslash. */
static void escape(jw *w, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char seq[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (c) {
    case '"': seq[1] = '"'; break;
    case '\\': seq[1] = '\\'; break;
    case '\b': seq[1] = 'b'; break;
    case '\f': seq[1] = 'f'; break;
    case '\n': seq[1] = 'n'; break;
    case '\r': seq[1] = 'r'; break;
    case '\t': seq[1] = 't'; break;
    default:
        memcpy(seq + 1, "u00", 3);
        seq[4] = hex[c >> 4];
        seq[5] = hex[c & 15];
        n = 6;
    }
    jw_raw(w, seq, n);
}

static int plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The string body of p[0..n): clean != 0 replaces invalid UTF-8 and stops
 * before the character that would take the text past max bytes; clean == 0
 * fails on invalid UTF-8. */
static void body(jw *w, const unsigned char *p, size_t n, int clean, size_t max)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    size_t used = 0;
    while (n > 0 && !w->failed) {
        size_t run = 0;
        while (run < n && plain(p[run]))
            run++;
        if (run > max - used)
            run = max - used;
        jw_raw(w, (const char *)p, run);
        p += run;
        n -= run;
        used += run;
        if (n == 0 || used == max)
            return;
        if (p[0] < 0x80) {
            escape(w, p[0]);
            p++, n--, used++;
            continue;
        }
        size_t k = rt_utf8_len(p, n), width = k ? k : sizeof replacement - 1;
        if (!k && !clean) {
            w->failed = 1;
            return;
        }
        if (width > max - used)
            return;
        jw_raw(w, k ? (const char *)p : replacement, width);
        p += k ? k : 1;
        n -= k ? k : 1;
        used += width;
    }
}

void jw_string(jw *w, const char *s, size_t n)
{
    jw_raw(w, "\"", 1);
    body(w, (const unsigned char *)s, n, 0, (size_t)-1);
    jw_raw(w, "\"", 1);
}

void jw_text(jw *w, const char *s, size_t max)
{
    s = s ? s : "";
    jw_raw(w, "\"", 1);
    body(w, (const unsigned char *)s, strlen(s), 1, max);
    jw_raw(w, "\"", 1);
}

int jw_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    while (n > 0) {
        size_t k = p[0] < 0x80 ? 1 : rt_utf8_len(p, n);
        if (!k)
            return 0;
        p += k;
        n -= k;
    }
    return 1;
}

void jw_int(jw *w, long long v)
{
    char digits[24], *p = digits + sizeof digits;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    jw_raw(w, p, (size_t)(digits + sizeof digits - p));
}

static void object(jw *w, const json_t *o)
{
    const char *key;
    json_t *v;
    int first = 1;
    jw_raw(w, "{", 1);
    json_object_foreach((json_t *)o, key, v) {
        if (!first)
            jw_raw(w, ",", 1);
        first = 0;
        jw_string(w, key, strlen(key));
        jw_raw(w, ":", 1);
        jw_value(w, v);
    }
    jw_raw(w, "}", 1);
}

void jw_value(jw *w, const json_t *v)
{
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        object(w, v);
        return;
    case JSON_ARRAY:
        jw_raw(w, "[", 1);
        for (i = 0; i < json_array_size(v); i++) {
            if (i)
                jw_raw(w, ",", 1);
            jw_value(w, json_array_get(v, i));
        }
        jw_raw(w, "]", 1);
        return;
    case JSON_STRING:
        jw_string(w, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        jw_int(w, (long long)json_integer_value(v));
        return;
    case JSON_TRUE:
        jw_raw(w, "true", 4);
        return;
    case JSON_FALSE:
        jw_raw(w, "false", 5);
        return;
    case JSON_NULL:
        jw_raw(w, "null", 4);
        return;
    case JSON_REAL: { /* not in our lines; jansson's own format, rather than a copy of it */
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s) {
            w->failed = 1;
            return;
        }
        jw_raw(w, s, strlen(s));
        free(s);
        return;
    }
    }
}

char *jw_finish(jw *w, size_t *len)
{
    char *out;
    if (reserve(w, 1) != 0) {
        jw_free(w);
        return NULL;
    }
    w->data[w->len] = '\0';
    out = w->data;
    if (len)
        *len = w->len;
    memset(w, 0, sizeof *w);
    return out;
}

void jw_free(jw *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}
