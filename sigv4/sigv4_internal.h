/* Internals shared by the sigv4 library files; not part of the public API.
 * Unit tests may include it to check the pieces one by one. */
#ifndef RNS_SIGV4_INTERNAL_H
#define RNS_SIGV4_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sigv4/sigv4.h"

#define SV_DATE_LEN 16 /* YYYYMMDDTHHMMSSZ */
#define SV_HEX_LEN 64  /* a SHA-256 in hex */

/* An output area whose capacity is computed before writing; a write past it
 * sets `overflow` instead of writing, so a wrong bound is an error, not a bug. */
typedef struct sv_out {
    char *p;
    size_t len;
    size_t cap;
    int overflow;
} sv_out;

static inline void sv_put(sv_out *o, const char *s, size_t n)
{
    if (n > o->cap - o->len) {
        o->overflow = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static inline void sv_putc(sv_out *o, char c)
{
    if (o->len >= o->cap) {
        o->overflow = 1;
        return;
    }
    o->p[o->len++] = c;
}

static inline void sv_puts(sv_out *o, const char *s)
{
    sv_put(o, s, strlen(s));
}

/* Error messages: never pass a secret, a token, a header value or a signature. */
void sv_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Character classes of bytes (text.c). */
enum { SV_TCHAR = 1, SV_SPACE = 4, SV_LEAD = 8 };
extern const unsigned char sv_class[256];

/* RFC 7230 token character */
static inline int sv_is_tchar(unsigned char c)
{
    return sv_class[c] & SV_TCHAR;
}

/* Length of the whitespace character starting at s (0 when s[0] is none).
 * Whitespace is what Python's str.split() splits on, so that header values
 * canonicalise exactly as in botocore: ASCII \t \n \v \f \r \x1c-\x1f space,
 * and the UTF-8 forms of U+0085 U+00A0 U+1680 U+2000-U+200A U+2028 U+2029
 * U+202F U+205F U+3000. */
size_t sv_space_len(const unsigned char *s, size_t n);

/* SigV4 "Trimall": drops leading and trailing whitespace and turns every run
 * of inner whitespace into one space. Writes at most n bytes to out. */
void sv_trimall(sv_out *o, const char *s, size_t n);

/* Percent-encodes every byte but the unreserved ones (and '/' when keep_slash),
 * with upper-case hex (common/pct.h). Writes at most 3n bytes. */
void sv_uri_encode(sv_out *o, const char *s, size_t n, int keep_slash);

/* The canonical URI of a raw path (no query): dot segments removed, empty
 * segments dropped, trailing slash kept, then each byte URI-encoded (so a '%'
 * already in the path is encoded again, as SigV4 wants for non-S3 services).
 * Writes at most 3n + 2 bytes. */
void sv_canonical_path(sv_out *o, const char *path, size_t n);

/* The canonical query string of a raw query (the text after '?'): each
 * key=value pair percent-decoded, then re-encoded per RFC 3986, sorted by key
 * then value (byte order); a pair without '=' gets an empty value. Writes at
 * most 4n bytes. Returns 0, or -1 when out of memory. */
int sv_canonical_query(sv_out *o, const char *query, size_t n);

/* 1 when s is YYYYMMDDTHHMMSSZ with a real calendar date and time. */
int sv_valid_date(const char *s, size_t n);

/* Lower-case ASCII compare of two header names; like memcmp's sign. */
int sv_name_cmp(const char *a, size_t an, const char *b, size_t bn);
/* 1 when the header name (any case) equals lower, which is lower-case. */
int sv_name_is(const char *name, size_t n, const char *lower);

/* A header that takes part in the signature; `order` keeps repeated names in
 * the order they were given. */
typedef struct sv_hdr {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    size_t order;
} sv_hdr;

#define SV_SMALL 16 /* headers sorted without an allocation */

/* One signing's checked inputs and the lengths the output is sized from
 * (sign_input.c), consumed by sign.c. */
typedef struct sv_job {
    size_t method_len, path_len, query_len, akid_len, region_len, service_len, token_len;
    const char *query;          /* the text after '?', or NULL */
    const char *token;          /* the session token to sign, or NULL */
    const char *content_sha256; /* the first X-Amz-Content-SHA256 value, or NULL */
    size_t content_sha256_len;
    char date[SV_DATE_LEN + 1];
    char date8[9];
    int add_date, add_token;
    sv_hdr *hdrs; /* the signed headers, sorted by lower-case name */
    size_t count;
    size_t hdr_bytes;  /* sum of name_len + value_len + 3 */
    size_t name_bytes; /* sum of name_len + 1 */
    sv_hdr small[SV_SMALL];
} sv_job;

/* Checks the inputs and fills job; 0, or -1 with a message. job->hdrs may be
 * allocated: release with sv_job_free whatever the result. */
int sv_job_init(sv_job *job, const sigv4_request *req, const sigv4_credentials *creds, const sigv4_params *params,
                char *err, size_t errlen);
void sv_job_free(sv_job *job);

/* Crypto of a signer (sigv4_signer.c). */
int sv_sha256_hex(sigv4_signer *s, const void *data, size_t n, char hex[SV_HEX_LEN + 1]);
/* HMAC-SHA256(kSigning, msg) in hex, kSigning cached per (date, region, service, secret). */
int sv_signature_hex(sigv4_signer *s, const char *date8, const char *region, const char *service, const char *secret,
                     const char *msg, size_t n, char hex[SV_HEX_LEN + 1]);

#endif
