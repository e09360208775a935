/* sigv4_sign: the canonical request, the string to sign and the Authorization
 * value of one request, following botocore's SigV4Auth for non-S3 services. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sigv4/sigv4_internal.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

/* A header that takes part in the signature; `order` keeps repeated names in
 * the order they were given. */
typedef struct sv_hdr {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    size_t order;
} sv_hdr;

/* What a pass over the request's headers found. */
typedef struct sv_scan {
    size_t signed_count; /* headers of the request that are signed */
    size_t bytes;        /* their names and values */
    int has_host;
    const sigv4_header *amz_date; /* the request's X-Amz-Date, if any */
    size_t token_count;           /* X-Amz-Security-Token headers in the request */
    const sigv4_header *token;
    const sigv4_header *content_sha256; /* the first X-Amz-Content-SHA256 */
} sv_scan;

/* The signing's inputs once checked, and what it builds. */
typedef struct sv_job {
    char date[SV_DATE_LEN + 1];
    char date8[9];
    const char *token; /* the session token to sign and send, or NULL */
    int add_date;
    int add_token;
    sv_hdr *hdrs;
    size_t count;
} sv_job;

static int valid_scope_part(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || *s == '/' || *s == ',')
            return 0;
    return 1;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || (unsigned char)*s == 0x7f)
            return 1;
    return 0;
}

static int check_method(const char *m)
{
    if (!m || !*m)
        return 0;
    for (; *m; m++)
        if (!sv_is_tchar((unsigned char)*m))
            return 0;
    return 1;
}

static int check_target(const char *t, char *err, size_t errlen)
{
    if (!t || t[0] != '/') {
        sv_error(err, errlen, "request target must start with '/'");
        return -1;
    }
    if (has_control(t)) {
        sv_error(err, errlen, "request target contains a control character");
        return -1;
    }
    if (strchr(t, '#')) {
        sv_error(err, errlen, "request target contains '#' (a fragment is never sent)");
        return -1;
    }
    return 0;
}

static int check_creds(const sigv4_credentials *c, char *err, size_t errlen)
{
    if (!c->access_key_id || !valid_scope_part(c->access_key_id)) {
        sv_error(err, errlen, "access key id is missing or has a character outside printable ASCII, '/' or ','");
        return -1;
    }
    if (!c->secret_access_key) {
        sv_error(err, errlen, "secret access key is missing");
        return -1;
    }
    if (c->session_token && has_control(c->session_token)) {
        sv_error(err, errlen, "session token contains a control character");
        return -1;
    }
    return 0;
}

static int check_params(const sigv4_params *p, char *err, size_t errlen)
{
    if (!p->region || !valid_scope_part(p->region)) {
        sv_error(err, errlen, "region is missing or has a character outside printable ASCII, '/' or ','");
        return -1;
    }
    if (!p->service || !valid_scope_part(p->service)) {
        sv_error(err, errlen, "service is missing or has a character outside printable ASCII, '/' or ','");
        return -1;
    }
    if (p->amz_date && !sv_valid_date(p->amz_date, strlen(p->amz_date))) {
        sv_error(err, errlen, "date is not a valid YYYYMMDDTHHMMSSZ");
        return -1;
    }
    return 0;
}

static int check_inputs(const sigv4_request *req, const sigv4_credentials *creds,
                        const sigv4_params *params, char *err, size_t errlen)
{
    if (!req || !creds || !params) {
        sv_error(err, errlen, "no request, credentials or parameters given");
        return -1;
    }
    if (!check_method(req->method)) {
        sv_error(err, errlen, "method is missing or not an HTTP token");
        return -1;
    }
    if (req->header_count && !req->headers) {
        sv_error(err, errlen, "header_count is set but headers is NULL");
        return -1;
    }
    if (req->body_len && !req->body) {
        sv_error(err, errlen, "body_len is set but body is NULL");
        return -1;
    }
    if (check_target(req->target, err, errlen) || check_creds(creds, err, errlen))
        return -1;
    return check_params(params, err, errlen);
}

static int check_name(const char *name)
{
    if (!name || !*name)
        return 0;
    for (; *name; name++)
        if (!sv_is_tchar((unsigned char)*name))
            return 0;
    return 1;
}

/* Headers the request keeps but botocore never signs, and Authorization,
 * which signing replaces. */
static int unsigned_name(const char *n, size_t len)
{
    return sv_name_is(n, len, "authorization") || sv_name_is(n, len, "user-agent") ||
           sv_name_is(n, len, "expect") || sv_name_is(n, len, "x-amzn-trace-id");
}

static int scan_headers(const sigv4_request *req, int have_token, sv_scan *sc, char *err,
                        size_t errlen)
{
    size_t i;

    memset(sc, 0, sizeof *sc);
    for (i = 0; i < req->header_count; i++) {
        const sigv4_header *h = &req->headers[i];
        size_t n;

        if (!check_name(h->name) || !h->value) {
            sv_error(err, errlen, "header %zu has %s", i + 1,
                     h->value ? "an invalid name (not an HTTP token)" : "no value (NULL)");
            return -1;
        }
        n = strlen(h->name);
        if (unsigned_name(h->name, n))
            continue;
        if (sv_name_is(h->name, n, "host")) {
            sc->has_host = 1;
        } else if (sv_name_is(h->name, n, "x-amz-date")) {
            if (sc->amz_date) {
                sv_error(err, errlen, "X-Amz-Date header appears more than once");
                return -1;
            }
            sc->amz_date = h;
        } else if (sv_name_is(h->name, n, "x-amz-security-token")) {
            sc->token_count++;
            sc->token = h;
            if (have_token)
                continue; /* replaced by the credentials' token, as botocore does */
        } else if (sv_name_is(h->name, n, "x-amz-content-sha256") && !sc->content_sha256) {
            sc->content_sha256 = h;
        }
        sc->signed_count++;
        sc->bytes += n + strlen(h->value) + 3;
    }
    if (!sc->has_host) {
        sv_error(err, errlen, "request has no Host header");
        return -1;
    }
    return 0;
}

/* Trimall of a short value into buf; 0 when it does not fit. */
static size_t trimmed(const char *v, char *buf, size_t cap)
{
    sv_out o = {buf, 0, cap - 1, 0};

    sv_trimall(&o, v, strlen(v));
    if (o.overflow)
        return 0;
    buf[o.len] = '\0';
    return o.len;
}

static int pick_date(const sv_scan *sc, const sigv4_params *params, sv_job *job, char *err,
                     size_t errlen)
{
    if (sc->amz_date) {
        size_t n = trimmed(sc->amz_date->value, job->date, sizeof job->date);

        if (!sv_valid_date(job->date, n)) {
            sv_error(err, errlen, "X-Amz-Date header is not a valid YYYYMMDDTHHMMSSZ");
            return -1;
        }
    } else if (params->amz_date) {
        memcpy(job->date, params->amz_date, SV_DATE_LEN + 1);
        job->add_date = 1;
    } else {
        sv_error(err, errlen, "request has no X-Amz-Date header and no date was given");
        return -1;
    }
    memcpy(job->date8, job->date, 8);
    job->date8[8] = '\0';
    return 0;
}

static int hdr_cmp(const void *x, const void *y)
{
    const sv_hdr *a = x, *b = y;
    int c = sv_name_cmp(a->name, a->name_len, b->name, b->name_len);

    return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

static void push(sv_job *job, const char *name, size_t name_len, const char *value, size_t order)
{
    sv_hdr *h = &job->hdrs[job->count++];

    h->name = name;
    h->name_len = name_len;
    h->value = value;
    h->value_len = strlen(value);
    h->order = order;
}

/* The signed headers, sorted by lower-case name, repeated names in order. */
static void collect(const sigv4_request *req, sv_job *job)
{
    size_t i;

    for (i = 0; i < req->header_count; i++) {
        const sigv4_header *h = &req->headers[i];
        size_t n = strlen(h->name);

        if (unsigned_name(h->name, n) || (job->token && sv_name_is(h->name, n, "x-amz-security-token")))
            continue;
        push(job, h->name, n, h->value, i);
    }
    if (job->add_date)
        push(job, "x-amz-date", 10, job->date, SIZE_MAX);
    if (job->token)
        push(job, "x-amz-security-token", 20, job->token, SIZE_MAX);
    if (job->count > 1)
        qsort(job->hdrs, job->count, sizeof *job->hdrs, hdr_cmp);
}

static void put_case(sv_out *o, const char *s, size_t n, int upper)
{
    size_t i;

    if (n > o->cap - o->len) {
        o->overflow = 1;
        return;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (upper && c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 32);
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        o->p[o->len++] = (char)c;
    }
}

/* "name:v1,v2\n" per name, then "\n", then "name1;name2" (also copied to sh). */
static void put_headers(sv_out *o, const sv_job *job, sv_out *sh)
{
    size_t i;

    for (i = 0; i < job->count; i++) {
        const sv_hdr *h = &job->hdrs[i];

        if (i && sv_name_cmp(h->name, h->name_len, job->hdrs[i - 1].name, job->hdrs[i - 1].name_len) == 0) {
            sv_putc(o, ',');
        } else {
            if (i)
                sv_putc(o, '\n');
            put_case(o, h->name, h->name_len, 0);
            sv_putc(o, ':');
            if (sh->len)
                sv_putc(sh, ';');
            put_case(sh, h->name, h->name_len, 0);
        }
        sv_trimall(o, h->value, h->value_len);
    }
    sv_put(o, "\n\n", 2);
    sv_put(o, sh->p, sh->len);
    sv_putc(o, '\n');
}

static size_t bound(const sigv4_request *req, const sv_scan *sc, const sv_job *job, size_t *sh_cap)
{
    size_t target = strlen(req->target);
    size_t extra = (job->add_date ? 32 : 0) + (job->token ? 24 + strlen(job->token) : 0);

    *sh_cap = sc->bytes + extra + 1;
    if (target > SIZE_MAX / 8 || sc->bytes > SIZE_MAX / 4)
        return 0;
    return strlen(req->method) + 4 * target + 8 + 2 * (sc->bytes + extra) + SV_HEX_LEN + 8;
}

static void put_payload_hash(sigv4_signer *s, sv_out *o, const sigv4_request *req, const sv_scan *sc)
{
    char hash[SV_HEX_LEN + 1];

    if (sc->content_sha256) {
        /* botocore signs the header's value in place of the body's hash */
        sv_trimall(o, sc->content_sha256->value, strlen(sc->content_sha256->value));
    } else if (sv_sha256_hex(s, req->body_len ? req->body : "", req->body_len, hash) == 0) {
        sv_put(o, hash, SV_HEX_LEN);
    } else {
        o->overflow = 1;
    }
}

/* The canonical request and the signed-headers list, as new strings. */
static int canonical_request(sigv4_signer *s, const sigv4_request *req, const sv_scan *sc,
                             const sv_job *job, char **creq, char **signed_headers)
{
    size_t sh_cap, cap = bound(req, sc, job, &sh_cap);
    const char *q = strchr(req->target, '?');
    size_t path_len = q ? (size_t)(q - req->target) : strlen(req->target);
    sv_out o = {cap ? malloc(cap + 1) : NULL, 0, cap, 0};
    sv_out sh = {cap ? malloc(sh_cap) : NULL, 0, sh_cap - 1, 0};

    if (o.p && sh.p) {
        put_case(&o, req->method, strlen(req->method), 1);
        sv_putc(&o, '\n');
        sv_canonical_path(&o, req->target, path_len);
        sv_putc(&o, '\n');
        if (q && sv_canonical_query(&o, q + 1, strlen(q + 1)) != 0)
            o.overflow = 1;
        sv_putc(&o, '\n');
        put_headers(&o, job, &sh);
        put_payload_hash(s, &o, req, sc);
    }
    if (!o.p || !sh.p || o.overflow || sh.overflow) {
        if (o.p)
            OPENSSL_clear_free(o.p, cap + 1);
        free(sh.p);
        return -1;
    }
    o.p[o.len] = '\0';
    sh.p[sh.len] = '\0';
    *creq = o.p;
    *signed_headers = sh.p;
    return 0;
}

static char *string_to_sign(sigv4_signer *s, const sv_job *job, const sigv4_params *p, const char *creq)
{
    char hash[SV_HEX_LEN + 1];
    size_t cap = sizeof ALGORITHM + SV_DATE_LEN + strlen(p->region) + strlen(p->service) + SV_HEX_LEN + 32;
    sv_out o = {malloc(cap + 1), 0, cap, 0};

    if (!o.p || sv_sha256_hex(s, creq, strlen(creq), hash) != 0) {
        free(o.p);
        return NULL;
    }
    sv_puts(&o, ALGORITHM "\n");
    sv_puts(&o, job->date);
    sv_putc(&o, '\n');
    sv_puts(&o, job->date8);
    sv_putc(&o, '/');
    sv_puts(&o, p->region);
    sv_putc(&o, '/');
    sv_puts(&o, p->service);
    sv_puts(&o, "/aws4_request\n");
    sv_put(&o, hash, SV_HEX_LEN);
    o.p[o.len] = '\0';
    return o.p;
}

static char *authorization(sigv4_signer *s, const sv_job *job, const sigv4_credentials *c,
                           const sigv4_params *p, const char *sts, const char *signed_headers)
{
    char sig[SV_HEX_LEN + 1];
    size_t cap = sizeof ALGORITHM + strlen(c->access_key_id) + strlen(p->region) + strlen(p->service) +
                 strlen(signed_headers) + SV_HEX_LEN + 80;
    sv_out o = {NULL, 0, cap, 0};

    if (sv_signature_hex(s, job->date8, p->region, p->service, c->secret_access_key, sts,
                         strlen(sts), sig) != 0)
        return NULL;
    o.p = malloc(cap + 1);
    if (o.p) {
        sv_puts(&o, ALGORITHM " Credential=");
        sv_puts(&o, c->access_key_id);
        sv_putc(&o, '/');
        sv_puts(&o, job->date8);
        sv_putc(&o, '/');
        sv_puts(&o, p->region);
        sv_putc(&o, '/');
        sv_puts(&o, p->service);
        sv_puts(&o, "/aws4_request, SignedHeaders=");
        sv_puts(&o, signed_headers);
        sv_puts(&o, ", Signature=");
        sv_put(&o, sig, SV_HEX_LEN);
        o.p[o.len] = '\0';
    }
    OPENSSL_cleanse(sig, sizeof sig);
    return o.p;
}

static int add_header(sigv4_signature *out, const char *name, const char *value)
{
    size_t i = out->add_count;

    out->add[i].name = strdup(name);
    out->add[i].value = strdup(value);
    out->add_count++;
    return out->add[i].name && out->add[i].value ? 0 : -1;
}

/* The headers the caller sets on the request; each replaces any header of
 * the same name. */
static int headers_to_add(sigv4_signature *out, const sv_job *job)
{
    if (job->add_date && add_header(out, "X-Amz-Date", job->date) != 0)
        return -1;
    if (job->add_token && add_header(out, "X-Amz-Security-Token", job->token) != 0)
        return -1;
    return add_header(out, "Authorization", out->authorization);
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* With a session token, botocore replaces every X-Amz-Security-Token of the
 * request with it; there is nothing to replace when the request already has
 * exactly that one. */
static int token_needs_adding(const sv_scan *sc, const char *token)
{
    const char *v = sc->token ? sc->token->value : "";
    size_t n;

    if (sc->token_count != 1)
        return 1;
    while (is_ows(*v))
        v++;
    n = strlen(v);
    while (n && is_ows(v[n - 1]))
        n--;
    return !(n == strlen(token) && CRYPTO_memcmp(v, token, n) == 0);
}

static int prepare(const sigv4_request *req, const sigv4_credentials *creds,
                   const sigv4_params *params, sv_scan *sc, sv_job *job, char *err, size_t errlen)
{
    memset(job, 0, sizeof *job);
    if (check_inputs(req, creds, params, err, errlen))
        return -1;
    job->token = creds->session_token && *creds->session_token ? creds->session_token : NULL;
    if (scan_headers(req, job->token != NULL, sc, err, errlen) ||
        pick_date(sc, params, job, err, errlen))
        return -1;
    job->add_token = job->token && token_needs_adding(sc, job->token);
    return 0;
}

int sigv4_sign(sigv4_signer *signer, const sigv4_request *req, const sigv4_credentials *creds,
               const sigv4_params *params, sigv4_signature *out, char *err, size_t errlen)
{
    sv_hdr small[16];
    sv_scan sc;
    sv_job job;
    char *signed_headers = NULL;
    int rc = -1;

    if (!out || !signer) {
        sv_error(err, errlen, "no signer or no output given");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (prepare(req, creds, params, &sc, &job, err, errlen))
        return -1;
    job.hdrs = sc.signed_count + 2 <= 16 ? small : calloc(sc.signed_count + 2, sizeof *job.hdrs);
    if (!job.hdrs) {
        sv_error(err, errlen, "out of memory");
        return -1;
    }
    collect(req, &job);
    if (canonical_request(signer, req, &sc, &job, &out->canonical_request, &signed_headers) == 0 &&
        (out->string_to_sign = string_to_sign(signer, &job, params, out->canonical_request)) &&
        (out->authorization = authorization(signer, &job, creds, params, out->string_to_sign,
                                            signed_headers)) &&
        headers_to_add(out, &job) == 0)
        rc = 0;
    if (rc)
        sv_error(err, errlen, "signing failed: out of memory or an OpenSSL error");
    free(signed_headers);
    if (job.hdrs != small)
        free(job.hdrs);
    if (rc)
        sigv4_signature_free(out);
    return rc;
}

static void clear_free(char *s)
{
    if (s)
        OPENSSL_clear_free(s, strlen(s));
}

/* The strings may hold the session token and the signature: wipe them. */
void sigv4_signature_free(sigv4_signature *sig)
{
    size_t i;

    if (!sig)
        return;
    clear_free(sig->canonical_request);
    clear_free(sig->string_to_sign);
    clear_free(sig->authorization);
    for (i = 0; i < sig->add_count && i < 3; i++) {
        free(sig->add[i].name);
        clear_free(sig->add[i].value);
    }
    memset(sig, 0, sizeof *sig);
}
