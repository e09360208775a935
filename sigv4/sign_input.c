/* The checks before signing and the choice of what is signed, following
 * botocore's SigV4Auth: which headers, which timestamp, which token. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sigv4/sigv4_internal.h"

/* Headers the signing treats apart. */
enum kind { K_OTHER, K_UNSIGNED, K_HOST, K_DATE, K_TOKEN, K_CONTENT_SHA256 };

static enum kind classify(const char *n, size_t len)
{
    switch (len) {
    case 4: return sv_name_is(n, len, "host") ? K_HOST : K_OTHER;
    case 6: return sv_name_is(n, len, "expect") ? K_UNSIGNED : K_OTHER;
    case 10:
        if (sv_name_is(n, len, "x-amz-date"))
            return K_DATE;
        return sv_name_is(n, len, "user-agent") ? K_UNSIGNED : K_OTHER;
    case 13: /* signing replaces it */ return sv_name_is(n, len, "authorization") ? K_UNSIGNED : K_OTHER;
    case 15: return sv_name_is(n, len, "x-amzn-trace-id") ? K_UNSIGNED : K_OTHER;
    case 20:
        if (sv_name_is(n, len, "x-amz-security-token"))
            return K_TOKEN;
        return sv_name_is(n, len, "x-amz-content-sha256") ? K_CONTENT_SHA256 : K_OTHER;
    default: return K_OTHER;
    }
}

/* The length of a token made of tchar only; 0 when s is empty or has another byte. */
static size_t token_len(const char *s)
{
    size_t n = 0;

    while (sv_is_tchar((unsigned char)s[n]))
        n++;
    return s[n] ? 0 : n;
}

/* Printable ASCII without '/' and ',', which would break the scope. */
static size_t scope_part_len(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 0x7f || s[n] == '/' || s[n] == ',')
            return 0;
    return n;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' || (unsigned char)*s == 0x7f)
            return 1;
    return 0;
}

static int check_target(sv_job *job, const char *t, char *err, size_t errlen)
{
    const char *q;

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
    q = strchr(t, '?');
    job->path_len = q ? (size_t)(q - t) : strlen(t);
    job->query = q ? q + 1 : NULL;
    job->query_len = q ? strlen(q + 1) : 0;
    return 0;
}

static int check_request(sv_job *job, const sigv4_request *req, char *err, size_t errlen)
{
    job->method_len = req->method ? token_len(req->method) : 0;
    if (!job->method_len) {
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
    return check_target(job, req->target, err, errlen);
}

static int check_creds(sv_job *job, const sigv4_credentials *c, char *err, size_t errlen)
{
    job->akid_len = c->access_key_id ? scope_part_len(c->access_key_id) : 0;
    if (!job->akid_len) {
        sv_error(err, errlen, "access key id is missing or has a character other than printable ASCII (no '/' or ',')");
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
    job->token = c->session_token && *c->session_token ? c->session_token : NULL;
    job->token_len = job->token ? strlen(job->token) : 0;
    return 0;
}

static int check_params(sv_job *job, const sigv4_params *p, char *err, size_t errlen)
{
    job->region_len = p->region ? scope_part_len(p->region) : 0;
    if (!job->region_len) {
        sv_error(err, errlen, "region is missing or has a character other than printable ASCII (no '/' or ',')");
        return -1;
    }
    job->service_len = p->service ? scope_part_len(p->service) : 0;
    if (!job->service_len) {
        sv_error(err, errlen, "service is missing or has a character other than printable ASCII (no '/' or ',')");
        return -1;
    }
    if (p->amz_date && !sv_valid_date(p->amz_date, strlen(p->amz_date))) {
        sv_error(err, errlen, "date is not a valid YYYYMMDDTHHMMSSZ");
        return -1;
    }
    return 0;
}

static void push(sv_job *job, const char *name, size_t name_len, const char *value, size_t value_len, size_t order)
{
    sv_hdr *h = &job->hdrs[job->count++];

    h->name = name;
    h->name_len = name_len;
    h->value = value;
    h->value_len = value_len;
    h->order = order;
    job->hdr_bytes += name_len + value_len + 3;
    job->name_bytes += name_len + 1;
}

/* What the pass over the request's headers found besides the signed ones. */
typedef struct found {
    int host;
    const sigv4_header *date;
    const sigv4_header *token;
    size_t tokens;
} found;

static int scan_one(sv_job *job, const sigv4_header *h, size_t i, found *f, char *err, size_t errlen)
{
    size_t n = h->name ? token_len(h->name) : 0;

    if (!n || !h->value) {
        sv_error(err, errlen, "header %zu has %s", i + 1,
                 n ? "no value (NULL)" : "an empty name or a character not allowed in an HTTP token");
        return -1;
    }
    switch (classify(h->name, n)) {
    case K_UNSIGNED: return 0;
    case K_HOST: f->host = 1; break;
    case K_DATE:
        if (f->date) {
            sv_error(err, errlen, "X-Amz-Date header appears more than once");
            return -1;
        }
        f->date = h;
        break;
    case K_TOKEN:
        f->tokens++;
        f->token = h;
        if (job->token)
            return 0; /* replaced by the credentials' token, as botocore does */
        break;
    case K_CONTENT_SHA256:
        if (!job->content_sha256) {
            job->content_sha256 = h->value; /* botocore signs it in place of the body's hash */
            job->content_sha256_len = strlen(h->value);
        }
        break;
    case K_OTHER: break;
    }
    push(job, h->name, n, h->value, strlen(h->value), i);
    return 0;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* There is nothing to replace when the request already carries exactly the
 * credentials' token, once. */
static int token_needs_adding(const found *f, const char *token, size_t token_len)
{
    const char *v = f->token ? f->token->value : "";
    size_t n;

    if (f->tokens != 1)
        return 1;
    while (is_ows(*v))
        v++;
    n = strlen(v);
    while (n && is_ows(v[n - 1]))
        n--;
    return !(n == token_len && CRYPTO_memcmp(v, token, n) == 0);
}

/* The request's X-Amz-Date when it has one, else the date given. */
static int pick_date(sv_job *job, const found *f, const sigv4_params *params, char *err, size_t errlen)
{
    if (f->date) {
        sv_out o = {job->date, 0, SV_DATE_LEN, 0};

        sv_trimall(&o, f->date->value, strlen(f->date->value));
        if (o.overflow || !sv_valid_date(job->date, o.len)) {
            sv_error(err, errlen, "X-Amz-Date header is not a valid YYYYMMDDTHHMMSSZ");
            return -1;
        }
    } else if (params->amz_date) {
        memcpy(job->date, params->amz_date, SV_DATE_LEN);
        job->add_date = 1;
    } else {
        sv_error(err, errlen, "request has no X-Amz-Date header and no date was given");
        return -1;
    }
    job->date[SV_DATE_LEN] = '\0';
    memcpy(job->date8, job->date, 8);
    job->date8[8] = '\0';
    return 0;
}

static int hdr_cmp(const sv_hdr *a, const sv_hdr *b)
{
    int c = sv_name_cmp(a->name, a->name_len, b->name, b->name_len);

    return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

static int hdr_qsort_cmp(const void *a, const void *b)
{
    return hdr_cmp(a, b);
}

/* Few headers: insertion sort, no call overhead. Many: qsort. */
static void sort_headers(sv_hdr *h, size_t n)
{
    size_t i, j;

    if (n > SV_SMALL) {
        qsort(h, n, sizeof *h, hdr_qsort_cmp);
        return;
    }
    for (i = 1; i < n; i++) {
        sv_hdr x = h[i];

        for (j = i; j > 0 && hdr_cmp(&h[j - 1], &x) > 0; j--)
            h[j] = h[j - 1];
        h[j] = x;
    }
}

static int scan_headers(sv_job *job, const sigv4_request *req, const sigv4_params *params, char *err, size_t errlen)
{
    found f = {0};
    size_t i;

    if (req->header_count > SV_SMALL - 2) {
        if (req->header_count > SIZE_MAX / sizeof(sv_hdr) - 2 ||
            !(job->hdrs = malloc((req->header_count + 2) * sizeof(sv_hdr)))) {
            sv_error(err, errlen, "out of memory for %zu headers", req->header_count);
            return -1;
        }
    }
    for (i = 0; i < req->header_count; i++)
        if (scan_one(job, &req->headers[i], i, &f, err, errlen))
            return -1;
    if (!f.host) {
        sv_error(err, errlen, "request has no Host header");
        return -1;
    }
    if (pick_date(job, &f, params, err, errlen))
        return -1;
    if (job->add_date)
        push(job, "x-amz-date", 10, job->date, SV_DATE_LEN, SIZE_MAX);
    if (job->token) {
        push(job, "x-amz-security-token", 20, job->token, job->token_len, SIZE_MAX);
        job->add_token = token_needs_adding(&f, job->token, job->token_len);
    }
    sort_headers(job->hdrs, job->count);
    return 0;
}

int sv_job_init(sv_job *job, const sigv4_request *req, const sigv4_credentials *creds, const sigv4_params *params,
                char *err, size_t errlen)
{
    memset(job, 0, offsetof(sv_job, small));
    job->hdrs = job->small;
    if (!req || !creds || !params) {
        sv_error(err, errlen, "no request, credentials or parameters given");
        return -1;
    }
    if (check_request(job, req, err, errlen) || check_creds(job, creds, err, errlen) ||
        check_params(job, params, err, errlen))
        return -1;
    return scan_headers(job, req, params, err, errlen);
}

void sv_job_free(sv_job *job)
{
    if (job->hdrs != job->small)
        free(job->hdrs);
    job->hdrs = NULL;
}
