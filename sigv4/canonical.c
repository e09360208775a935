/* The canonical URI and query string of SigV4 (non-S3 flavour). */
#include <stdlib.h>
#include <string.h>

#include "common/digits.h"
#include "sigv4/sigv4_internal.h"

void sv_canonical_path(sv_out *o, const char *path, size_t n)
{
    size_t base = o->len, kept = 0, i = 0;

    /* RFC 3986 dot-segment removal as botocore does it, with empty segments
     * dropped too: "//a/./b/../" becomes "/a/". Encoded segments hold no '/',
     * so ".." can drop the last one by cutting back to the previous '/'. */
    while (i <= n) {
        const char *seg = path + i;
        size_t len = 0;

        while (i + len < n && seg[len] != '/')
            len++;
        i += len + 1;
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            if (kept) {
                while (o->len > base && o->p[o->len - 1] != '/')
                    o->len--;
                o->len--;
                kept--;
            }
            continue;
        }
        sv_putc(o, '/');
        sv_uri_encode(o, seg, len, 0);
        kept++;
        if (o->overflow)
            return;
    }
    if (!kept || path[n - 1] == '/')
        sv_putc(o, '/');
}

typedef struct pair {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} pair;

/* Percent-decodes s (a '%' not followed by two hex digits stays literal) and
 * re-encodes the bytes per RFC 3986, so "%e1%88%b4", raw UTF-8 and "%E1%88%B4"
 * all give "%E1%88%B4". */
static void recode(sv_out *o, const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t start = i;
        char byte;

        while (i < n && s[i] != '%')
            i++;
        sv_uri_encode(o, s + start, i - start, 0);
        if (i == n)
            break;
        if (i + 2 < n && rns_hex_value(s[i + 1]) >= 0 && rns_hex_value(s[i + 2]) >= 0) {
            byte = (char)(rns_hex_value(s[i + 1]) * 16 + rns_hex_value(s[i + 2]));
            i += 3;
        } else {
            byte = '%';
            i++;
        }
        sv_uri_encode(o, &byte, 1, 0);
    }
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    return c ? c : an == bn ? 0 : an < bn ? -1 : 1;
}

static int pair_cmp(const void *x, const void *y)
{
    const pair *a = x, *b = y;
    int c = bytes_cmp(a->key, a->key_len, b->key, b->key_len);

    return c ? c : bytes_cmp(a->value, a->value_len, b->value, b->value_len);
}

/* Splits the query at '&' and each pair at its first '=', recoding both parts
 * into scratch; the pairs point into scratch. */
static void split_pairs(const char *q, size_t n, sv_out *scratch, pair *pairs)
{
    size_t i = 0, k = 0;

    for (;;) {
        const char *piece = q + i, *amp = memchr(piece, '&', n - i);
        size_t len = amp ? (size_t)(amp - piece) : n - i;
        const char *eq = memchr(piece, '=', len);
        size_t klen = eq ? (size_t)(eq - piece) : len;

        pairs[k].key = scratch->p + scratch->len;
        recode(scratch, piece, klen);
        pairs[k].key_len = (size_t)(scratch->p + scratch->len - pairs[k].key);
        pairs[k].value = scratch->p + scratch->len;
        if (eq)
            recode(scratch, eq + 1, len - klen - 1);
        pairs[k].value_len = (size_t)(scratch->p + scratch->len - pairs[k].value);
        k++;
        if (!amp)
            return;
        i += len + 1;
    }
}

int sv_canonical_query(sv_out *o, const char *query, size_t n)
{
    size_t count = 1, i;
    pair *pairs;
    sv_out scratch = {0};

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        count += query[i] == '&';
    if (n > (SIZE_MAX - count * sizeof(pair)) / 3)
        return -1;
    pairs = malloc(count * sizeof(pair) + 3 * n);
    if (!pairs)
        return -1;
    scratch.p = (char *)(pairs + count);
    scratch.cap = 3 * n;
    split_pairs(query, n, &scratch, pairs);
    if (count > 1)
        qsort(pairs, count, sizeof(pair), pair_cmp);
    for (i = 0; i < count; i++) {
        if (i)
            sv_putc(o, '&');
        sv_put(o, pairs[i].key, pairs[i].key_len);
        sv_putc(o, '=');
        sv_put(o, pairs[i].value, pairs[i].value_len);
    }
    o->overflow |= scratch.overflow;
    free(pairs);
    return 0;
}
