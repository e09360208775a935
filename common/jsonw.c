/* The JSON writer (jsonw.h). Runs of bytes that need no escape are copied
 * with one add; only control characters, quotes and backslashes are looked
 * at one by one. Text is checked for UTF-8 before it is escaped, so the
 * escaping itself copies bytes >= 0x80 as they are. */
#include "common/jsonw.h"

#include <stdlib.h>
#include <string.h>

#include "common/digits.h"
#include "common/utf8.h"

void jw_raw(jw *w, const char *s, size_t n)
{
    if (!w->failed && rns_buf_add(&w->buf, s, n) != RNS_BUF_OK)
        w->failed = 1;
}

/* jansson's escape of one byte below 0x20, a quote or a backslash. */
static void escape(jw *w, unsigned char c)
{
    char seq[6] = {'\\', 'u', '0', '0', 0, 0};
    switch (c) {
    case '"': seq[1] = '"'; break;
    case '\\': seq[1] = '\\'; break;
    case '\b': seq[1] = 'b'; break;
    case '\f': seq[1] = 'f'; break;
    case '\n': seq[1] = 'n'; break;
    case '\r': seq[1] = 'r'; break;
    case '\t': seq[1] = 't'; break;
    default:
        seq[4] = rns_hex_upper[c >> 4];
        seq[5] = rns_hex_upper[c & 15];
        jw_raw(w, seq, 6);
        return;
    }
    jw_raw(w, seq, 2);
}

static int plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

/* A quoted string of valid UTF-8 s[0..n). Most strings need no escape: they
 * are written with their quotes in one step. */
static void quoted(jw *w, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0;
    char *at;
    int rc;
    while (run < n && plain(p[run]))
        run++;
    if (run == n) {
        if (w->failed)
            return;
        if (!(at = rns_buf_room(&w->buf, n + 2, &rc))) {
            w->failed = 1;
            return;
        }
        at[0] = '"';
        if (n)
            memcpy(at + 1, s, n);
        at[n + 1] = '"';
        rns_buf_commit(&w->buf, n + 2);
        return;
    }
    jw_raw(w, "\"", 1);
    for (;;) {
        jw_raw(w, (const char *)p, run);
        if (run == n)
            break;
        escape(w, p[run]);
        p += run + 1;
        n -= run + 1;
        for (run = 0; run < n && plain(p[run]);)
            run++;
    }
    jw_raw(w, "\"", 1);
}

void jw_string(jw *w, const char *s, size_t n)
{
    if (!rns_utf8_valid(s, n))
        w->failed = 1;
    else
        quoted(w, s, n);
}

void jw_text(jw *w, const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0, len;
    char *clean;
    if (n <= max && rns_utf8_valid(s, n)) { /* the clean form is the text itself */
        quoted(w, s ? s : "", n);
        return;
    }
    if (!(clean = rns_utf8_clean(s, n, max, &len))) {
        w->failed = 1;
        return;
    }
    quoted(w, clean, len);
    free(clean);
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
    json_object_foreach((json_t *)o, key, v)
    {
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
    case JSON_OBJECT: object(w, v); return;
    case JSON_ARRAY:
        jw_raw(w, "[", 1);
        for (i = 0; i < json_array_size(v); i++) {
            if (i)
                jw_raw(w, ",", 1);
            jw_value(w, json_array_get(v, i));
        }
        jw_raw(w, "]", 1);
        return;
    case JSON_STRING: jw_string(w, json_string_value(v), json_string_length(v)); return;
    case JSON_INTEGER: jw_int(w, (long long)json_integer_value(v)); return;
    case JSON_TRUE: jw_raw(w, "true", 4); return;
    case JSON_FALSE: jw_raw(w, "false", 5); return;
    case JSON_NULL: jw_raw(w, "null", 4); return;
    case JSON_REAL: { /* not in our lines: jansson's own format rather than a copy of it */
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
    char *out = w->failed ? NULL : rns_buf_take(&w->buf, len);
    rns_buf_free(&w->buf);
    w->failed = 0;
    return out;
}
