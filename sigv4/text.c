/* Byte-level helpers of the signer: bounded output, character classes,
 * whitespace trimming, percent-encoding, header names, dates. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/digits.h"
#include "common/pct.h"
#include "sigv4/sigv4_internal.h"

void sv_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* SV_TCHAR: RFC 7230 tchar; SV_SPACE:
 * ASCII whitespace of Python's str.split(); SV_LEAD: first byte of a UTF-8
 * whitespace character (U+0085 U+00A0 U+1680 U+2000-U+3000). */
/* clang-format off */
const unsigned char sv_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4,
    4, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 8, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
/* clang-format on */

size_t sv_space_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];

    if (!(sv_class[c] & (SV_SPACE | SV_LEAD)))
        return 0;
    if (sv_class[c] & SV_SPACE)
        return 1;
    if (c == 0xc2)
        return n >= 2 && (s[1] == 0x85 || s[1] == 0xa0) ? 2 : 0;
    if (n < 3)
        return 0;
    if (c == 0xe1)
        return s[1] == 0x9a && s[2] == 0x80 ? 3 : 0;
    if (c == 0xe3)
        return s[1] == 0x80 && s[2] == 0x80 ? 3 : 0;
    if (c == 0xe2 && s[1] == 0x80)
        return s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf ? 3 : 0;
    if (c == 0xe2 && s[1] == 0x81)
        return s[2] == 0x9f ? 3 : 0;
    return 0;
}

/* 1 when s has no whitespace but single spaces between other bytes, as
 * most values: Trimall leaves them as they are. */
static int plain(const unsigned char *s, size_t n)
{
    size_t i;

    if (n && (s[0] == ' ' || s[n - 1] == ' '))
        return 0;
    for (i = 0; i < n; i++)
        if ((sv_class[s[i]] & (SV_SPACE | SV_LEAD)) && (s[i] != ' ' || s[i + 1] == ' '))
            return 0; /* s[i + 1] exists: s[n - 1] is no space */
    return 1;
}

/* A byte that may start whitespace; most bytes of a value are not. */
static int maybe_space(const unsigned char *s, size_t n)
{
    return (sv_class[*s] & (SV_SPACE | SV_LEAD)) && sv_space_len(s, n);
}

void sv_trimall(sv_out *o, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, start;
    int wrote = 0;

    if (plain(u, n)) {
        sv_put(o, s, n);
        return;
    }
    while (i < n) {
        if (maybe_space(u + i, n - i)) {
            i += sv_space_len(u + i, n - i);
            continue;
        }
        start = i++;
        while (i < n && !maybe_space(u + i, n - i))
            i++;
        if (wrote)
            sv_putc(o, ' ');
        sv_put(o, s + start, i - start);
        wrote = 1;
    }
}

void sv_uri_encode(sv_out *o, const char *s, size_t n, int keep_slash)
{
    if (n > (o->cap - o->len) / 3) {
        o->overflow = 1;
        return;
    }
    o->len += rns_pct_encode(o->p + o->len, s, n, keep_slash);
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

int sv_name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i, n = an < bn ? an : bn;

    for (i = 0; i < n; i++) {
        unsigned char x = lower((unsigned char)a[i]), y = lower((unsigned char)b[i]);

        if (x != y)
            return x < y ? -1 : 1;
    }
    return an == bn ? 0 : an < bn ? -1 : 1;
}

int sv_name_is(const char *name, size_t n, const char *lower_name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!lower_name[i] || lower((unsigned char)name[i]) != (unsigned char)lower_name[i])
            return 0;
    return lower_name[n] == '\0';
}

/* Exactly n digits at s, inside the longer date. */
static int digits(const char *s, size_t n, int *v)
{
    uint64_t u;

    if (rns_parse_digits(s, n, n, &u) != 0)
        return 0;
    *v = (int)u;
    return 1;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

int sv_valid_date(const char *s, size_t n)
{
    int y, mo, d, h, mi, se;

    if (n != SV_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return 0;
    if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) || !digits(s + 9, 2, &h) ||
        !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &se))
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return 0;
    return h <= 23 && mi <= 59 && se <= 60;
}

void sigv4_format_date(time_t t, char out[17])
{
    struct tm tm;
    int year;

    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof tm);
    year = tm.tm_year + 1900;
    if (year < 0 || year > 9999)
        year = year < 0 ? 0 : 9999;
    snprintf(out, 17, "%04u%02u%02uT%02u%02u%02uZ", (unsigned)year, (unsigned)(tm.tm_mon + 1) % 100,
             (unsigned)tm.tm_mday % 100, (unsigned)tm.tm_hour % 100, (unsigned)tm.tm_min % 100,
             (unsigned)tm.tm_sec % 100);
}
