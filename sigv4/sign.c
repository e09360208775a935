/* sigv4_sign: the canonical request, the string to sign and the Authorization
 * value of one request (sign_input.c decides what is signed).
 *
 * Every output string of one signature lives in a single allocation sized
 * beforehand from the inputs' lengths: one malloc per signature, and the
 * signed-headers list is written once, into the Authorization value, and
 * copied from there into the canonical request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sigv4/sigv4_internal.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SCOPE_END "/aws4_request"

typedef struct sizes {
    size_t creq, authz, sts, total;
} sizes;

/* Upper bounds of each string (without its NUL); 0 when they overflow. */
static int plan(const sv_job *job, sizes *z)
{
    size_t scope = 8 + 1 + job->region_len + 1 + job->service_len + sizeof SCOPE_END;

    if (job->path_len > SIZE_MAX / 16 || job->query_len > SIZE_MAX / 16 || job->hdr_bytes > SIZE_MAX / 16 ||
        job->name_bytes > SIZE_MAX / 16 || job->content_sha256_len > SIZE_MAX / 16 || job->token_len > SIZE_MAX / 16 ||
        scope > SIZE_MAX / 16 || job->akid_len > SIZE_MAX / 16)
        return -1;
    /* path: 3 bytes per byte + 2 slashes; query: 3 per byte + 1 (see canonical.c) */
    z->creq = job->method_len + 3 * job->path_len + 2 + 3 * job->query_len + 1 + job->hdr_bytes + job->name_bytes +
              job->content_sha256_len + SV_HEX_LEN + 8;
    z->authz = sizeof ALGORITHM + sizeof " Credential=" + job->akid_len + scope +
               sizeof ", SignedHeaders=" + job->name_bytes + sizeof ", Signature=" + SV_HEX_LEN;
    z->sts = sizeof ALGORITHM + SV_DATE_LEN + scope + SV_HEX_LEN + 4;
    z->total = z->creq + 1 + z->authz + 1 + z->sts + 1 + sizeof "X-Amz-Date" + SV_DATE_LEN + 1 +
               sizeof "X-Amz-Security-Token" + job->token_len + 1 + sizeof "Authorization" + z->authz + 1;
    return 0;
}

/* The next string of the block, of capacity cap. */
static sv_out slot(char **cursor, size_t cap)
{
    sv_out o = {*cursor, 0, cap, 0};

    *cursor += cap + 1;
    return o;
}

static char *finish(sv_out *o)
{
    o->p[o->len] = '\0';
    return o->p;
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

static void put_scope(sv_out *o, const sv_job *job, const sigv4_params *p)
{
    sv_put(o, job->date8, 8);
    sv_putc(o, '/');
    sv_put(o, p->region, job->region_len);
    sv_putc(o, '/');
    sv_put(o, p->service, job->service_len);
    sv_put(o, SCOPE_END, sizeof SCOPE_END - 1);
}

/* "name:v1,v2\n" per name, then "\n"; the names also go to sh, ';'-separated. */
static void put_headers(sv_out *o, const sv_job *job, sv_out *sh)
{
    size_t i;

    for (i = 0; i < job->count; i++) {
        const sv_hdr *h = &job->hdrs[i], *prev = i ? h - 1 : NULL;

        if (prev && sv_name_cmp(h->name, h->name_len, prev->name, prev->name_len) == 0) {
            sv_putc(o, ',');
        } else {
            if (prev) {
                sv_putc(o, '\n');
                sv_putc(sh, ';');
            }
            put_case(o, h->name, h->name_len, 0);
            sv_putc(o, ':');
            put_case(sh, h->name, h->name_len, 0);
        }
        sv_trimall(o, h->value, h->value_len);
    }
    sv_put(o, "\n\n", 2);
}

static void put_payload_hash(sigv4_signer *s, sv_out *o, const sigv4_request *req, const sv_job *job)
{
    char hash[SV_HEX_LEN + 1];

    if (job->content_sha256)
        sv_trimall(o, job->content_sha256, job->content_sha256_len);
    else if (sv_sha256_hex(s, req->body_len ? req->body : "", req->body_len, hash) == 0)
        sv_put(o, hash, SV_HEX_LEN);
    else
        o->overflow = 1;
}

static int canonical_request(sigv4_signer *s, const sigv4_request *req, const sv_job *job, sv_out *cr, sv_out *az)
{
    size_t sh_start = az->len;

    put_case(cr, req->method, job->method_len, 1);
    sv_putc(cr, '\n');
    sv_canonical_path(cr, req->target, job->path_len);
    sv_putc(cr, '\n');
    if (job->query && sv_canonical_query(cr, job->query, job->query_len) != 0)
        return -1;
    sv_putc(cr, '\n');
    put_headers(cr, job, az);
    if (az->overflow)
        return -1;
    sv_put(cr, az->p + sh_start, az->len - sh_start);
    sv_putc(cr, '\n');
    put_payload_hash(s, cr, req, job);
    return cr->overflow ? -1 : 0;
}

static int string_to_sign(sigv4_signer *s, const sv_job *job, const sigv4_params *p, const sv_out *cr, sv_out *st)
{
    char hash[SV_HEX_LEN + 1];

    if (sv_sha256_hex(s, cr->p, cr->len, hash) != 0)
        return -1;
    sv_put(st, ALGORITHM "\n", sizeof ALGORITHM);
    sv_put(st, job->date, SV_DATE_LEN);
    sv_putc(st, '\n');
    put_scope(st, job, p);
    sv_putc(st, '\n');
    sv_put(st, hash, SV_HEX_LEN);
    return st->overflow ? -1 : 0;
}

static int signature(sigv4_signer *s, const sv_job *job, const sigv4_credentials *c, const sigv4_params *p,
                     const sv_out *st, sv_out *az)
{
    char sig[SV_HEX_LEN + 1];
    int rc = sv_signature_hex(s, job->date8, p->region, p->service, c->secret_access_key, st->p, st->len, sig);

    if (rc == 0) {
        sv_puts(az, ", Signature=");
        sv_put(az, sig, SV_HEX_LEN);
    }
    OPENSSL_cleanse(sig, sizeof sig);
    return rc == 0 && !az->overflow ? 0 : -1;
}

static char *put_string(char **cursor, const char *s, size_t n)
{
    char *start = *cursor;

    memcpy(start, s, n);
    start[n] = '\0';
    *cursor += n + 1;
    return start;
}

/* The headers the caller sets, each replacing any header of the same name. */
static void headers_to_add(sigv4_signature *out, const sv_job *job, char *cursor, size_t authz_len)
{
    size_t n = 0;

    if (job->add_date) {
        out->add[n].name = put_string(&cursor, "X-Amz-Date", 10);
        out->add[n++].value = put_string(&cursor, job->date, SV_DATE_LEN);
    }
    if (job->add_token) {
        out->add[n].name = put_string(&cursor, "X-Amz-Security-Token", 20);
        out->add[n++].value = put_string(&cursor, job->token, job->token_len);
    }
    out->add[n].name = put_string(&cursor, "Authorization", 13);
    out->add[n++].value = put_string(&cursor, out->authorization, authz_len);
    out->add_count = n;
}

static int build(sigv4_signer *s, const sigv4_request *req, const sigv4_credentials *c, const sigv4_params *p,
                 const sv_job *job, sigv4_signature *out)
{
    sizes z;
    char *block, *cursor;
    sv_out cr, az, st;

    if (plan(job, &z) != 0 || !(block = malloc(z.total)))
        return -1;
    cursor = block;
    cr = slot(&cursor, z.creq);
    az = slot(&cursor, z.authz);
    st = slot(&cursor, z.sts);
    sv_puts(&az, ALGORITHM " Credential=");
    sv_put(&az, c->access_key_id, job->akid_len);
    sv_putc(&az, '/');
    put_scope(&az, job, p);
    sv_puts(&az, ", SignedHeaders=");
    if (canonical_request(s, req, job, &cr, &az) != 0 || string_to_sign(s, job, p, &cr, &st) != 0 ||
        signature(s, job, c, p, &st, &az) != 0) {
        OPENSSL_clear_free(block, z.total);
        return -1;
    }
    out->canonical_request = finish(&cr);
    out->string_to_sign = finish(&st);
    out->authorization = finish(&az);
    headers_to_add(out, job, cursor, az.len);
    return 0;
}

int sigv4_sign(sigv4_signer *signer, const sigv4_request *req, const sigv4_credentials *creds,
               const sigv4_params *params, sigv4_signature *out, char *err, size_t errlen)
{
    sv_job job;
    int rc;

    if (!out || !signer) {
        sv_error(err, errlen, "no signer or no output given");
        return -1;
    }
    memset(out, 0, sizeof *out);
    rc = sv_job_init(&job, req, creds, params, err, errlen);
    if (rc == 0 && (rc = build(signer, req, creds, params, &job, out)) != 0)
        sv_error(err, errlen, "signing failed: out of memory or an OpenSSL error");
    sv_job_free(&job);
    return rc;
}

/* explicit_bzero: a memset the compiler keeps, much faster than
 * OPENSSL_cleanse's byte loop on the kilobyte a signature holds. */
static void wipe(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
}

/* The strings may hold the session token and the signature: wiped before the
 * block (which starts with the canonical request) is freed. */
void sigv4_signature_free(sigv4_signature *sig)
{
    size_t i;

    if (!sig)
        return;
    wipe(sig->canonical_request);
    wipe(sig->authorization);
    for (i = 0; i < sig->add_count && i < 3; i++)
        wipe(sig->add[i].value);
    free(sig->canonical_request);
    memset(sig, 0, sizeof *sig);
}
