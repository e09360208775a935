/* A lazily decoded CA bundle (ca_store.h).
 *
 * The bundle is read into memory once and every PEM block of type
 * CERTIFICATE, X509 CERTIFICATE or TRUSTED CERTIFICATE (the ones
 * X509_STORE_load_file takes as certificates) is base64-decoded into one DER
 * buffer; other blocks and text outside blocks are skipped, as OpenSSL skips
 * them. A block that does not decode, or whose DER is not a certificate's
 * outline, makes the whole bundle an error, as it does for OpenSSL.
 *
 * Lookup: a name's key (ca_name_key) narrows the candidates to the subjects
 * made of the same letters, digits and attribute types; a candidate is a match
 * when its DER is byte-identical or, failing that, when X509_NAME_cmp (the
 * canonical encodings) says equal. The key is only a filter, so a miss (an
 * issuer the bundle lacks, such as a server-sent intermediate looked up first
 * with X509_V_FLAG_TRUSTED_FIRST) costs a scan of integers, not 145 decodes. */
#include "handler/aws/ca_store_internal.h"

#include "common/buf.h"
#include "handler/aws/curl.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CA_BUNDLE_MAX (16u << 20) /* far above any system bundle (~220 KB) */

typedef struct ca_entry {
    size_t der_off, der_len;   /* in s->der */
    size_t subj_off, subj_len; /* in s->der */
    uint32_t key;
    int aux;         /* TRUSTED CERTIFICATE: DER followed by trust settings */
    int bad;         /* OpenSSL would not decode it: never offered */
    X509 *x509;      /* NULL until verification asks for it */
    X509_NAME *name; /* decoded subject, only for names not byte-identical */
} ca_entry;

struct ca_store {
    unsigned char *der;
    size_t der_len;
    ca_entry *entries;
    size_t count, cap, decoded;
    X509_LOOKUP_METHOD *method;
};

/* ------------------------------------------------------------- DER walk --- */

/* One TLV at p[0..end): its tag, content start and content length. Only the
 * single-byte tags and definite lengths of DER. */
static int der_tlv(const unsigned char *p, const unsigned char *end, unsigned *tag, const unsigned char **content,
                   size_t *len)
{
    size_t n;
    if (end - p < 2 || (p[0] & 0x1f) == 0x1f)
        return -1;
    *tag = p[0];
    n = p[1];
    p += 2;
    if (n & 0x80) {
        size_t bytes = n & 0x7f;
        if (bytes == 0 || bytes > 4 || (size_t)(end - p) < bytes)
            return -1;
        for (n = 0; bytes > 0; bytes--)
            n = n << 8 | *p++;
    }
    if (n > (size_t)(end - p))
        return -1;
    *content = p;
    *len = n;
    return 0;
}

/* Steps over one TLV with the given tag (any tag when want < 0). */
static int der_skip(const unsigned char **p, const unsigned char *end, int want)
{
    unsigned tag;
    const unsigned char *c;
    size_t n;
    if (der_tlv(*p, end, &tag, &c, &n) != 0 || (want >= 0 && tag != (unsigned)want))
        return -1;
    *p = c + n;
    return 0;
}

int ca_der_subject(const unsigned char *der, size_t len, size_t *off, size_t *sublen)
{
    const unsigned char *end = der + len, *p, *tbs_end, *subj;
    unsigned tag;
    size_t n;
    if (der_tlv(der, end, &tag, &p, &n) != 0 || tag != 0x30)
        return -1;
    if (der_tlv(p, p + n, &tag, &p, &n) != 0 || tag != 0x30) /* tbsCertificate */
        return -1;
    tbs_end = p + n;
    if (p < tbs_end && *p == 0xa0 && der_skip(&p, tbs_end, 0xa0) != 0) /* [0] version */
        return -1;
    if (der_skip(&p, tbs_end, 0x02) != 0 || der_skip(&p, tbs_end, 0x30) != 0 || /* serial, algorithm */
        der_skip(&p, tbs_end, 0x30) != 0 || der_skip(&p, tbs_end, 0x30) != 0)   /* issuer, validity */
        return -1;
    subj = p;
    if (der_skip(&p, tbs_end, 0x30) != 0)
        return -1;
    *off = (size_t)(subj - der);
    *sublen = (size_t)(p - subj);
    return 0;
}

static uint32_t fnv(uint32_t h, unsigned char c)
{
    return (h ^ c) * 16777619u;
}

/* The code units of one string value: BMPString 2 bytes, UniversalString 4,
 * every other type 1 (UTF-8's multi-byte sequences are all >= 0x80, so their
 * bytes are never ASCII letters or digits). */
static uint32_t key_value(uint32_t h, unsigned tag, const unsigned char *p, size_t n)
{
    size_t width = tag == 0x1e ? 2 : tag == 0x1c ? 4 : 1, i, k;
    for (i = 0; i + width <= n; i += width) {
        unsigned long u = 0;
        for (k = 0; k < width; k++)
            u = u << 8 | p[i + k];
        if (u < 0x80 && ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')))
            h = fnv(h, (unsigned char)(u | (u >= 'A' && u <= 'Z' ? 0x20 : 0)));
    }
    return h;
}

/* OpenSSL's canonical form keeps every attribute, its type (OID) and, of its
 * value, lowercases ASCII and collapses white space after conversion to UTF-8:
 * equal canonical forms have equal sequences of types and ASCII letters and
 * digits, which is what is hashed. */
uint32_t ca_name_key(const unsigned char *der, size_t len)
{
    const unsigned char *end = der + len, *p, *rdn_end, *set, *set_end, *attr, *v;
    unsigned tag;
    size_t n;
    uint32_t h = 2166136261u;
    if (der_tlv(der, end, &tag, &p, &n) != 0 || tag != 0x30)
        return 0;
    for (rdn_end = p + n; p < rdn_end; p = set_end) {
        if (der_tlv(p, rdn_end, &tag, &set, &n) != 0 || tag != 0x31)
            return 0;
        for (set_end = set + n; set < set_end; set = attr + n) {
            const unsigned char *a_end;
            if (der_tlv(set, set_end, &tag, &attr, &n) != 0 || tag != 0x30)
                return 0;
            a_end = attr + n;
            if (der_tlv(attr, a_end, &tag, &v, &n) != 0 || tag != 0x06)
                return 0;
            h = fnv(h, 0xff); /* one separator per attribute */
            for (size_t i = 0; i < n; i++)
                h = fnv(h, v[i]);
            if (der_tlv(v + n, a_end, &tag, &v, &n) != 0)
                return 0;
            h = key_value(h, tag, v, n);
            n = (size_t)(a_end - attr);
        }
    }
    return h ? h : 1;
}

/* ---------------------------------------------------------------- PEM --- */

/* Base64 digits: 1 + their value; white space 1 + B64_SPACE, '=' 1 + B64_PAD;
 * 0 for anything else (so that value - 1 is out of every range). */
enum { B64_SPACE = 64, B64_PAD = 65 };
static const unsigned char b64_table[256] = {
    ['A'] = 1,
    ['B'] = 2,
    ['C'] = 3,
    ['D'] = 4,
    ['E'] = 5,
    ['F'] = 6,
    ['G'] = 7,
    ['H'] = 8,
    ['I'] = 9,
    ['J'] = 10,
    ['K'] = 11,
    ['L'] = 12,
    ['M'] = 13,
    ['N'] = 14,
    ['O'] = 15,
    ['P'] = 16,
    ['Q'] = 17,
    ['R'] = 18,
    ['S'] = 19,
    ['T'] = 20,
    ['U'] = 21,
    ['V'] = 22,
    ['W'] = 23,
    ['X'] = 24,
    ['Y'] = 25,
    ['Z'] = 26,
    ['a'] = 27,
    ['b'] = 28,
    ['c'] = 29,
    ['d'] = 30,
    ['e'] = 31,
    ['f'] = 32,
    ['g'] = 33,
    ['h'] = 34,
    ['i'] = 35,
    ['j'] = 36,
    ['k'] = 37,
    ['l'] = 38,
    ['m'] = 39,
    ['n'] = 40,
    ['o'] = 41,
    ['p'] = 42,
    ['q'] = 43,
    ['r'] = 44,
    ['s'] = 45,
    ['t'] = 46,
    ['u'] = 47,
    ['v'] = 48,
    ['w'] = 49,
    ['x'] = 50,
    ['y'] = 51,
    ['z'] = 52,
    ['0'] = 53,
    ['1'] = 54,
    ['2'] = 55,
    ['3'] = 56,
    ['4'] = 57,
    ['5'] = 58,
    ['6'] = 59,
    ['7'] = 60,
    ['8'] = 61,
    ['9'] = 62,
    ['+'] = 63,
    ['/'] = 64,
    [' '] = 1 + B64_SPACE,
    ['\t'] = 1 + B64_SPACE,
    ['\r'] = 1 + B64_SPACE,
    ['\n'] = 1 + B64_SPACE,
    ['='] = 1 + B64_PAD,
};

/* Decodes the base64 text from p up to the first '-' (the END line) to out:
 * white space ignored, '=' padding only at the end, and the text a whole
 * number of 4-character groups, as OpenSSL's PEM reader wants it. The number
 * of bytes (*stop at the '-'), or -1. A 64-character line is decoded 4
 * characters at a time. */
static long b64_decode(const char *p, const char *end, unsigned char *out, const char **stop)
{
    const unsigned char *s = (const unsigned char *)p, *e = (const unsigned char *)end;
    unsigned long acc = 0;
    size_t chars = 0, pad = 0;
    int bits = 0;
    long len = 0;
    for (; s < e && *s != '-'; s++) {
        unsigned v;
        if (bits == 0 && !pad && e - s >= 4) {
            unsigned a = b64_table[s[0]] - 1u, b = b64_table[s[1]] - 1u, c = b64_table[s[2]] - 1u,
                     d = b64_table[s[3]] - 1u;
            if ((a | b | c | d) < 64) {
                unsigned long g = (unsigned long)a << 18 | b << 12 | c << 6 | d;
                out[len] = (unsigned char)(g >> 16);
                out[len + 1] = (unsigned char)(g >> 8);
                out[len + 2] = (unsigned char)g;
                len += 3;
                chars += 4;
                s += 3;
                continue;
            }
        }
        v = b64_table[*s] - 1u;
        if (v == B64_SPACE)
            continue;
        if (v == B64_PAD) {
            pad++;
            continue;
        }
        if (pad || v > 63)
            return -1;
        chars++;
        acc = (acc << 6 | v) & 0xffffff;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[len++] = (unsigned char)(acc >> bits);
        }
    }
    if (pad > 2 || chars % 4 == 1 || (chars + pad) % 4 != 0)
        return -1;
    *stop = (const char *)s;
    return len;
}

static const char *find_line(const char *p, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    while (p && (size_t)(end - p) >= n) {
        if (memcmp(p, prefix, n) == 0)
            return p;
        if ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
            p++;
    }
    return NULL;
}

static int add_entry(ca_store *s, size_t off, size_t len, int aux)
{
    ca_entry *e;
    size_t so, sl;
    if (ca_der_subject(s->der + off, len, &so, &sl) != 0)
        return -1;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        ca_entry *grown = realloc(s->entries, cap * sizeof *grown);
        if (!grown)
            return -2;
        s->entries = grown;
        s->cap = cap;
    }
    e = &s->entries[s->count++];
    memset(e, 0, sizeof *e);
    e->der_off = off;
    e->der_len = len;
    e->subj_off = off + so;
    e->subj_len = sl;
    e->key = ca_name_key(s->der + e->subj_off, sl);
    e->aux = aux;
    return 0;
}

/* The type of a "-----BEGIN <type>-----" line: 1 certificate, 2 trusted
 * certificate, 0 anything else. */
static int block_type(const char *line, const char *end, const char **body)
{
    static const struct {
        const char *text;
        int type;
    } types[] = {
        {"-----BEGIN CERTIFICATE-----", 1},
        {"-----BEGIN X509 CERTIFICATE-----", 1},
        {"-----BEGIN TRUSTED CERTIFICATE-----", 2},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i].text);
        if ((size_t)(end - line) >= n && memcmp(line, types[i].text, n) == 0) {
            *body = line + n;
            return types[i].type;
        }
    }
    return 0;
}

static int index_pem(ca_store *s, const char *pem, size_t len, const char *name, char *err, size_t errlen)
{
    const char *end = pem + len, *p = pem, *begin;
    while ((begin = find_line(p, end, "-----BEGIN ")) != NULL) {
        const char *body, *stop;
        int type = block_type(begin, end, &body);
        long n;
        p = begin + 1;
        if (!type)
            continue;
        n = b64_decode(body, end, s->der + s->der_len, &stop);
        if (n <= 0 || (size_t)(end - stop) < 9 || memcmp(stop, "-----END ", 9) != 0 || stop[-1] != '\n') {
            snprintf(err, errlen, "CA bundle %s: certificate %zu is not valid PEM", name, s->count + 1);
            return -1;
        }
        int rc = add_entry(s, s->der_len, (size_t)n, type == 2);
        if (rc != 0) {
            snprintf(err, errlen,
                     rc == -2 ? "CA bundle %s: out of memory"
                              : "CA bundle %s: certificate %zu is not a DER certificate",
                     name, s->count + 1);
            return -1;
        }
        s->der_len += (size_t)n;
        p = stop;
    }
    if (s->count == 0) {
        snprintf(err, errlen, "CA bundle %s: no certificate in it", name);
        return -1;
    }
    return 0;
}

ca_store *ca_store_parse(const char *pem, size_t len, const char *name, char *err, size_t errlen)
{
    ca_store *s = calloc(1, sizeof *s);
    /* Decoded DER is at most 3/4 of its base64 text. */
    if (!s || !(s->der = malloc(len / 4 * 3 + 4))) {
        free(s);
        snprintf(err, errlen, "CA bundle %s: out of memory", name);
        return NULL;
    }
    if (index_pem(s, pem, len, name, err, errlen) != 0) {
        ca_store_free(s);
        return NULL;
    }
    return s;
}

/* -------------------------------------------------------------- reading --- */

ca_store *ca_store_open(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    rns_buf b;
    ca_store *s = NULL;
    int rc;
    if (!f) {
        snprintf(err, errlen, "CA bundle %s: cannot open it: %s", path, strerror(errno));
        return NULL;
    }
    rns_buf_init(&b, CA_BUNDLE_MAX);
    rc = rns_buf_read(&b, f);
    if (rc == RNS_BUF_OK)
        s = ca_store_parse(b.data ? b.data : "", b.len, path, err, errlen);
    else if (rc == RNS_BUF_IOERR)
        snprintf(err, errlen, "CA bundle %s: cannot read it: %s", path, strerror(errno));
    else
        snprintf(err, errlen,
                 rc == RNS_BUF_TOOBIG ? "CA bundle %s: larger than %u bytes" : "CA bundle %s: out of memory", path,
                 CA_BUNDLE_MAX);
    fclose(f);
    rns_buf_free(&b);
    return s;
}

void ca_store_free(ca_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++) {
        X509_free(s->entries[i].x509);
        X509_NAME_free(s->entries[i].name);
    }
    X509_LOOKUP_meth_free(s->method);
    free(s->entries);
    free(s->der);
    free(s);
}

size_t ca_store_count(const ca_store *s)
{
    return s ? s->count : 0;
}

size_t ca_store_decoded(const ca_store *s)
{
    return s ? s->decoded : 0;
}

const unsigned char *ca_store_der(const ca_store *s, size_t i, size_t *len)
{
    *len = s->entries[i].der_len;
    return s->der + s->entries[i].der_off;
}

const unsigned char *ca_store_subject(const ca_store *s, size_t i, size_t *len)
{
    *len = s->entries[i].subj_len;
    return s->der + s->entries[i].subj_off;
}

/* --------------------------------------------------------------- lookup --- */

static int same_name(ca_store *s, ca_entry *e, const unsigned char *der, size_t len, const X509_NAME *name)
{
    const unsigned char *subj = s->der + e->subj_off;
    if (e->subj_len == len && memcmp(subj, der, len) == 0)
        return 1;
    if (!e->name && !(e->name = d2i_X509_NAME(NULL, &subj, (long)e->subj_len)))
        return 0;
    return X509_NAME_cmp(e->name, name) == 0;
}

static X509 *decoded(ca_store *s, ca_entry *e)
{
    const unsigned char *p = s->der + e->der_off;
    if (e->x509 || e->bad)
        return e->x509;
    e->x509 = e->aux ? d2i_X509_AUX(NULL, &p, (long)e->der_len) : d2i_X509(NULL, &p, (long)e->der_len);
    if (!e->x509)
        e->bad = 1; /* X509_STORE_load_file would have refused it: it trusts nothing */
    else
        s->decoded++;
    return e->x509;
}

int ca_store_lookup(ca_store *s, X509_STORE *store, const X509_NAME *name)
{
    const unsigned char *der;
    size_t len;
    uint32_t key;
    int found = 0;
    if (X509_NAME_get0_der(name, &der, &len) != 1 || !(key = ca_name_key(der, len)))
        return 0;
    for (size_t i = 0; i < s->count; i++) {
        ca_entry *e = &s->entries[i];
        X509 *x;
        if (e->key != key || !same_name(s, e, der, len, name) || !(x = decoded(s, e)))
            continue;
        /* A certificate already in the store counts as added. */
        if (X509_STORE_add_cert(store, x) == 1)
            found++;
    }
    ERR_clear_error(); /* failed decodes leave nothing for the TLS error report */
    return found;
}

/* get_by_subject of the lookup method. The certificates found are owned by
 * the store (and the index); ret points to one of them without a reference
 * of its own, as OpenSSL's file and folder lookups do: the caller,
 * X509_STORE_CTX_get_by_subject, takes the reference. */
static int by_subject(X509_LOOKUP *lu, X509_LOOKUP_TYPE type, const X509_NAME *name, X509_OBJECT *ret)
{
    ca_store *s = X509_LOOKUP_get_method_data(lu);
    X509_STORE *store = X509_LOOKUP_get_store(lu);
    X509_OBJECT *obj;
    X509 *x;
    if (type != X509_LU_X509 || !s || !store || ca_store_lookup(s, store, name) == 0)
        return 0;
    if (!X509_STORE_lock(store))
        return 0;
    obj = X509_OBJECT_retrieve_by_subject(X509_STORE_get0_objects(store), X509_LU_X509, name);
    x = obj ? X509_OBJECT_get0_X509(obj) : NULL;
    X509_STORE_unlock(store);
    if (!x || X509_OBJECT_set1_X509(ret, x) != 1)
        return 0;
    X509_free(x); /* the reference set1 took: see above */
    return 1;
}

int ca_store_install(ca_store *s, X509_STORE *store)
{
    X509_LOOKUP *lu;
    if (!s->method) {
        if (!(s->method = X509_LOOKUP_meth_new("rds-nlb-sync CA bundle index")) ||
            !X509_LOOKUP_meth_set_get_by_subject(s->method, by_subject))
            return -1;
    }
    /* Finds the lookup when this store already has it (libcurl may share one
     * store between the TLS contexts of a handle). */
    if (!(lu = X509_STORE_add_lookup(store, s->method)))
        return -1;
    return X509_LOOKUP_set_method_data(lu, s) == 1 ? 0 : -1;
}

static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *ud)
{
    (void)curl;
    return ca_store_install(ud, SSL_CTX_get_cert_store(ssl_ctx)) == 0 ? CURLE_OK : CURLE_OUT_OF_MEMORY;
}

int ca_store_attach(ca_store *s, void *curl, char *err, size_t errlen)
{
    CURL *h = curl;
    if (AWS_CURL_SET(h, CURLOPT_CAINFO, NULL, err, errlen) || AWS_CURL_SET(h, CURLOPT_CAPATH, NULL, err, errlen) ||
        AWS_CURL_SET(h, CURLOPT_SSL_CTX_DATA, s, err, errlen) ||
        AWS_CURL_SET(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx, err, errlen))
        return -1;
    return 0;
}
