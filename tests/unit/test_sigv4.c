/* sigv4_sign through the public API: what is signed, what is added, the
 * signing-key cache, and errors that never show a secret. Signatures are
 * re-derived here with OpenSSL's one-shot HMAC()/SHA256, independently of the
 * library's cached EVP contexts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sigv4/sigv4.h"
#include "tests/unit/check.h"

#define DATE "20150830T123600Z"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void hex(const unsigned char *b, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char d[32];
    unsigned int len = 0;

    EVP_Digest(data, n, d, &len, EVP_sha256(), NULL);
    hex(d, 32, out);
}

static void hmac(const unsigned char *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int len = 32;

    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len);
}

/* The signature SigV4 defines for this string to sign, computed from scratch. */
static void expected_signature(const char *secret, const char *date8, const char *region, const char *service,
                               const char *sts, char out[65])
{
    size_t n = strlen(secret) + 4;
    unsigned char *seed = malloc(n), k[32], k2[32];

    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, n - 4);
    hmac(seed, n, date8, k);
    hmac(k, 32, region, k2);
    hmac(k2, 32, service, k);
    hmac(k, 32, "aws4_request", k2);
    hmac(k2, 32, sts, k);
    hex(k, 32, out);
    free(seed);
}

/* The string to sign's parts, and the Authorization's signature, checked
 * against the canonical request and the key chain. */
static void check_consistent(const sigv4_signature *sig, const char *akid, const char *secret, const char *date,
                             const char *region, const char *service)
{
    char want[1024], creq_hash[65], signature[65];

    sha256_hex(sig->canonical_request, strlen(sig->canonical_request), creq_hash);
    snprintf(want, sizeof want, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", date, date, region, service,
             creq_hash);
    CHECK_STR(sig->string_to_sign, want);
    snprintf(want, sizeof want, "%.8s", date);
    expected_signature(secret, want, region, service, sig->string_to_sign, signature);
    snprintf(want, sizeof want, "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=", akid, date,
             region, service);
    CHECK(strncmp(sig->authorization, want, strlen(want)) == 0);
    snprintf(want, sizeof want, ", Signature=%s", signature);
    CHECK(strlen(sig->authorization) > strlen(want));
    CHECK_STR(sig->authorization + strlen(sig->authorization) - strlen(want), want);
    CHECK_STR(sig->add[sig->add_count - 1].name, "Authorization");
    CHECK_STR(sig->add[sig->add_count - 1].value, sig->authorization);
}

static int sign(sigv4_signer *s, const char *method, const char *target, const sigv4_header *h, size_t n,
                const char *body, const char *token, sigv4_signature *sig)
{
    const sigv4_request req = {method, target, h, n, body, body ? strlen(body) : 0};
    const sigv4_credentials creds = {"AKIDEXAMPLE", SECRET, token};
    const sigv4_params params = {"us-east-1", "service", DATE};
    char err[256];
    int rc = sigv4_sign(s, &req, &creds, &params, sig, err, sizeof err);

    if (rc)
        fprintf(stderr, "  sigv4_sign: %s\n", err);
    return rc;
}

static void test_get_vanilla_vector(void)
{
    /* The AWS SigV4 test suite's get-vanilla case and its published signature. */
    const sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", DATE}};
    sigv4_signer *s = sigv4_signer_new();
    sigv4_signature sig;

    CHECK_INT(sign(s, "GET", "/", h, 2, NULL, NULL, &sig), 0);
    CHECK_STR(sig.canonical_request,
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:" DATE "\n\nhost;x-amz-date\n" EMPTY_SHA256);
    CHECK_STR(sig.authorization, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                                 "SignedHeaders=host;x-amz-date, "
                                 "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    CHECK_INT(sig.add_count, 1); /* the request had its X-Amz-Date: only Authorization */
    check_consistent(&sig, "AKIDEXAMPLE", SECRET, DATE, "us-east-1", "service");
    sigv4_signature_free(&sig);
    sigv4_signer_free(s);
}

static void test_signature_many_keys(void)
{
    /* Secret lengths around the HMAC block: "AWS4" + 60 bytes is exactly 64. */
    static const char *const dates[] = {"20150830T123600Z", "19991231T235959Z", "20240229T000000Z"};
    static const char *const regions[] = {"us-east-1", "eu-west-1", "cn-north-1", "x"};
    static const char *const services[] = {"elasticloadbalancing", "sts", "execute-api"};
    static const size_t secret_lens[] = {0, 1, 40, 59, 60, 61, 200};
    const sigv4_header h[] = {{"Host", "example.com"}};
    sigv4_signer *s = sigv4_signer_new();
    char secret[201];
    size_t i;

    for (i = 0; i < 200; i++)
        secret[i] = (char)('!' + (i * 7) % 90);
    for (i = 0; i < 3 * 4 * 3 * 7; i++) {
        const char *date = dates[i % 3], *region = regions[i / 3 % 4], *service = services[i / 12 % 3];
        size_t len = secret_lens[i / 36 % 7];
        char saved = secret[len];
        sigv4_request req = {"POST", "/", h, 1, "body", 4};
        sigv4_credentials creds = {"AKID", secret, i % 2 ? "token" : NULL};
        sigv4_params params = {region, service, date};
        sigv4_signature sig;
        char err[256];

        secret[len] = '\0';
        CHECK_INT(sigv4_sign(s, &req, &creds, &params, &sig, err, sizeof err), 0);
        check_consistent(&sig, "AKID", secret, date, region, service);
        sigv4_signature_free(&sig);
        secret[len] = saved;
    }
    sigv4_signer_free(s);
}

static void test_header_canonicalisation(void)
{
    const sigv4_header h[] = {
        {"Host", "example.com"},  {"My-Header", "  b  "},       {"X-Amz-Meta", "x \t  y"},
        {"my-header", "a"},       {"User-Agent", "ua"},         {"Expect", "100-continue"},
        {"X-Amzn-Trace-Id", "t"}, {"Authorization", "old"},     {"MY-HEADER", "c\n  d"},
        {"A-First", ""},          {"x!#$%&'*+.^_`|~", "tchar"},
    };
    sigv4_signer *s = sigv4_signer_new();
    sigv4_signature sig;
    char body_hash[65], want[1024];

    sha256_hex("x", 1, body_hash);
    CHECK_INT(sign(s, "post", "/", h, sizeof h / sizeof *h, "x", NULL, &sig), 0);
    /* Names lower-cased and sorted; values trimmed, repeated names joined in
     * the order given; User-Agent, Expect, X-Amzn-Trace-Id and Authorization
     * not signed; the method upper-cased. */
    snprintf(want, sizeof want,
             "POST\n/\n\na-first:\nhost:example.com\nmy-header:b,a,c d\nx!#$%%&'*+.^_`|~:tchar\n"
             "x-amz-date:" DATE "\nx-amz-meta:x y\n\n"
             "a-first;host;my-header;x!#$%%&'*+.^_`|~;x-amz-date;x-amz-meta\n%s",
             body_hash);
    CHECK_STR(sig.canonical_request, want);
    CHECK_INT(sig.add_count, 2);
    CHECK_STR(sig.add[0].name, "X-Amz-Date");
    CHECK_STR(sig.add[0].value, DATE);
    check_consistent(&sig, "AKIDEXAMPLE", SECRET, DATE, "us-east-1", "service");
    sigv4_signature_free(&sig);
    sigv4_signer_free(s);
}

static int starts_with(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) == 0)
        return 1;
    fprintf(stderr, "  \"%s\" does not start with \"%s\"\n", s, prefix);
    return 0;
}

static void test_path_and_query(void)
{
    const sigv4_header h[] = {{"Host", "h"}};
    sigv4_signer *s = sigv4_signer_new();
    sigv4_signature sig;

    CHECK_INT(sign(s, "GET", "//a/./b/../c%2F/\xe1\x88\xb4/?z=1&a=%41&a&b=x y", h, 1, NULL, NULL, &sig), 0);
    CHECK(starts_with(sig.canonical_request, "GET\n/a/c%252F/%E1%88%B4/\na=&a=A&b=x%20y&z=1\nhost:h\n"));
    sigv4_signature_free(&sig);
    CHECK_INT(sign(s, "GET", "/?", h, 1, NULL, NULL, &sig), 0);
    CHECK(starts_with(sig.canonical_request, "GET\n/\n\nhost:h\n"));
    sigv4_signature_free(&sig);
    sigv4_signer_free(s);
}

static int has_line(const char *creq, const char *line)
{
    size_t n = strlen(line);
    const char *p = creq;

    while ((p = strstr(p, line)) != NULL) {
        if ((p == creq || p[-1] == '\n') && p[n] == '\n')
            return 1;
        p += n;
    }
    return 0;
}

static int count(const char *s, const char *what)
{
    int n = 0;

    while ((s = strstr(s, what)) != NULL) {
        n++;
        s += strlen(what);
    }
    return n;
}

static void test_session_token_rules(void)
{
    const sigv4_header none[] = {{"Host", "h"}};
    const sigv4_header same[] = {{"Host", "h"}, {"X-Amz-Security-Token", " TOKEN "}};
    const sigv4_header other[] = {{"Host", "h"}, {"x-amz-security-token", "OTHER"}};
    const sigv4_header two[] = {{"Host", "h"}, {"X-Amz-Security-Token", "TOKEN"}, {"X-Amz-Security-Token", "TOKEN"}};
    sigv4_signer *s = sigv4_signer_new();
    sigv4_signature sig;

    /* Given, absent from the request: signed and added. */
    CHECK_INT(sign(s, "GET", "/", none, 1, NULL, "TOKEN", &sig), 0);
    CHECK(has_line(sig.canonical_request, "x-amz-security-token:TOKEN"));
    CHECK(has_line(sig.canonical_request, "host;x-amz-date;x-amz-security-token"));
    CHECK_INT(sig.add_count, 3);
    CHECK_STR(sig.add[0].name, "X-Amz-Date");
    CHECK_STR(sig.add[1].name, "X-Amz-Security-Token");
    CHECK_STR(sig.add[1].value, "TOKEN");
    check_consistent(&sig, "AKIDEXAMPLE", SECRET, DATE, "us-east-1", "service");
    sigv4_signature_free(&sig);
    /* Already there with that value: signed once, nothing to add. */
    CHECK_INT(sign(s, "GET", "/", same, 2, NULL, "TOKEN", &sig), 0);
    CHECK_INT(count(sig.canonical_request, "x-amz-security-token:"), 1);
    CHECK(has_line(sig.canonical_request, "x-amz-security-token:TOKEN"));
    CHECK_INT(sig.add_count, 2);
    CHECK_STR(sig.add[1].name, "Authorization");
    sigv4_signature_free(&sig);
    /* Another value in the request: replaced by the credentials' token (botocore). */
    CHECK_INT(sign(s, "GET", "/", other, 2, NULL, "TOKEN", &sig), 0);
    CHECK(has_line(sig.canonical_request, "x-amz-security-token:TOKEN"));
    CHECK(!strstr(sig.canonical_request, "OTHER"));
    CHECK_INT(sig.add_count, 3);
    CHECK_STR(sig.add[1].value, "TOKEN");
    sigv4_signature_free(&sig);
    /* Twice in the request: one replaces both. */
    CHECK_INT(sign(s, "GET", "/", two, 3, NULL, "TOKEN", &sig), 0);
    CHECK_INT(count(sig.canonical_request, "TOKEN"), 1);
    CHECK_INT(sig.add_count, 3);
    sigv4_signature_free(&sig);
    /* No token given: the request's header is an ordinary signed header. */
    CHECK_INT(sign(s, "GET", "/", other, 2, NULL, NULL, &sig), 0);
    CHECK(has_line(sig.canonical_request, "x-amz-security-token:OTHER"));
    CHECK_INT(sig.add_count, 2);
    sigv4_signature_free(&sig);
    /* "" is no token. */
    CHECK_INT(sign(s, "GET", "/", none, 1, NULL, "", &sig), 0);
    CHECK(!strstr(sig.canonical_request, "x-amz-security-token"));
    CHECK_INT(sig.add_count, 2);
    sigv4_signature_free(&sig);
    sigv4_signer_free(s);
}

static void test_date_rules(void)
{
    const sigv4_header with_date[] = {{"Host", "h"}, {"x-amz-date", " 20240229T235959Z "}};
    const sigv4_header h[] = {{"Host", "h"}};
    const sigv4_request req = {"GET", "/", with_date, 2, NULL, 0}, bare = {"GET", "/", h, 1, NULL, 0};
    const sigv4_credentials creds = {"AKID", "secret", NULL};
    sigv4_params params = {"r", "s", DATE};
    sigv4_signer *s = sigv4_signer_new();
    sigv4_signature sig;
    char err[256];

    /* The request's X-Amz-Date wins over the date given, and is not added. */
    CHECK_INT(sigv4_sign(s, &req, &creds, &params, &sig, err, sizeof err), 0);
    CHECK(has_line(sig.canonical_request, "x-amz-date:20240229T235959Z"));
    check_consistent(&sig, "AKID", "secret", "20240229T235959Z", "r", "s");
    CHECK_INT(sig.add_count, 1);
    sigv4_signature_free(&sig);
    params.amz_date = NULL;
    CHECK_INT(sigv4_sign(s, &req, &creds, &params, &sig, err, sizeof err), 0);
    sigv4_signature_free(&sig);
    CHECK_INT(sigv4_sign(s, &bare, &creds, &params, &sig, err, sizeof err), -1);
    CHECK(strstr(err, "no X-Amz-Date") != NULL);
    sigv4_signer_free(s);
}

static void test_payload_hash(void)
{
    const sigv4_header h[] = {{"Host", "h"}};
    const sigv4_header unsigned_payload[] = {{"Host", "h"}, {"X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"}};
    static const char binary[] = "a\0b\xff\r\n\r\nc";
    const sigv4_request req = {"PUT", "/", h, 1, binary, sizeof binary - 1};
    const sigv4_credentials creds = {"AKID", "secret", NULL};
    const sigv4_params params = {"r", "s", DATE};
    sigv4_signer *s = sigv4_signer_new();
    sigv4_signature sig;
    char err[256], want[65];
    size_t n;

    CHECK_INT(sigv4_sign(s, &req, &creds, &params, &sig, err, sizeof err), 0);
    sha256_hex(binary, sizeof binary - 1, want); /* every byte, NUL included */
    n = strlen(sig.canonical_request);
    CHECK(n > 64 && strcmp(sig.canonical_request + n - 64, want) == 0);
    sigv4_signature_free(&sig);
    CHECK_INT(sign(s, "GET", "/", h, 1, NULL, NULL, &sig), 0);
    n = strlen(sig.canonical_request);
    CHECK(n > 64 && strcmp(sig.canonical_request + n - 64, EMPTY_SHA256) == 0);
    sigv4_signature_free(&sig);
    /* The header's value stands for the body's hash, and is signed too. */
    CHECK_INT(sign(s, "PUT", "/", unsigned_payload, 2, "ignored", NULL, &sig), 0);
    CHECK(has_line(sig.canonical_request, "x-amz-content-sha256:UNSIGNED-PAYLOAD"));
    n = strlen(sig.canonical_request);
    CHECK(n > 17 && strcmp(sig.canonical_request + n - 17, "\nUNSIGNED-PAYLOAD") == 0);
    sigv4_signature_free(&sig);
    sigv4_signer_free(s);
}

/* Header counts around the signer's small-array limit and far above it:
 * names given in reverse order, each twice, every one must come out sorted
 * with its values joined in the order given. */
static void test_many_headers(void)
{
    static const size_t counts[] = {13, 14, 15, 16, 17, 100};
    sigv4_signer *s = sigv4_signer_new();
    size_t c, i, k;

    for (c = 0; c < sizeof counts / sizeof *counts; c++) {
        size_t n = counts[c], names_used = (n - 1 + 1) / 2;
        sigv4_header *h = calloc(n, sizeof *h);
        char(*names)[32] = calloc(n, 32), (*values)[32] = calloc(n, 32), want[128];
        sigv4_signature sig;
        const char *prev = NULL;

        h[0].name = "Host";
        h[0].value = "h";
        for (i = 1; i < n; i++) {
            snprintf(names[i], 32, "X-H%03zu", (n - i) / 2);
            snprintf(values[i], 32, "v%zu", i);
            h[i].name = names[i];
            h[i].value = values[i];
        }
        CHECK_INT(sign(s, "GET", "/", h, n, NULL, "tok", &sig), 0);
        for (k = 0; k < names_used; k++) {
            const char *at;

            snprintf(want, sizeof want, "\nx-h%03zu:", k);
            for (i = 1; i < n; i++) {
                if ((n - i) / 2 == k) {
                    strcat(want, values[i]);
                    strcat(want, ",");
                }
            }
            want[strlen(want) - 1] = '\n';
            at = strstr(sig.canonical_request, want);
            if (!at)
                fprintf(stderr, "  %zu headers: no \"%s\"\n", n, want);
            CHECK(at != NULL && (!prev || at > prev)); /* present and in order */
            prev = at;
        }
        CHECK(has_line(sig.canonical_request, "x-amz-security-token:tok"));
        CHECK(strstr(sig.canonical_request, "\nhost:h\n") != NULL);
        check_consistent(&sig, "AKIDEXAMPLE", SECRET, DATE, "us-east-1", "service");
        sigv4_signature_free(&sig);
        free(h);
        free(names);
        free(values);
    }
    sigv4_signer_free(s);
}

static void sign_with(sigv4_signer *s, const char *date, const char *region, const char *service, const char *secret,
                      char authz[256])
{
    const sigv4_header h[] = {{"Host", "h"}};
    const sigv4_request req = {"GET", "/", h, 1, NULL, 0};
    const sigv4_credentials creds = {"AKID", secret, NULL};
    const sigv4_params params = {region, service, date};
    sigv4_signature sig;
    char err[256];

    CHECK_INT(sigv4_sign(s, &req, &creds, &params, &sig, err, sizeof err), 0);
    snprintf(authz, 256, "%s", sig.authorization);
    check_consistent(&sig, "AKID", secret, date, region, service);
    sigv4_signature_free(&sig);
}

static void test_key_cache(void)
{
    sigv4_signer *s = sigv4_signer_new(), *fresh;
    char a[256], b[256];

    CHECK_INT(sigv4_signer_derivations(s), 0);
    sign_with(s, "20150830T123600Z", "us-east-1", "sts", "k1", a);
    sign_with(s, "20150830T235959Z", "us-east-1", "sts", "k1", b);
    CHECK_INT(sigv4_signer_derivations(s), 1); /* same day: the key is reused */
    sign_with(s, "20150831T000000Z", "us-east-1", "sts", "k1", b);
    CHECK_INT(sigv4_signer_derivations(s), 2); /* new date */
    sign_with(s, "20150831T000000Z", "eu-west-1", "sts", "k1", b);
    CHECK_INT(sigv4_signer_derivations(s), 3); /* new region */
    sign_with(s, "20150831T000000Z", "eu-west-1", "iam", "k1", b);
    CHECK_INT(sigv4_signer_derivations(s), 4); /* new service */
    sign_with(s, "20150831T000000Z", "eu-west-1", "iam", "k2", b);
    CHECK_INT(sigv4_signer_derivations(s), 5); /* new secret (rotated credentials) */
    sign_with(s, "20150831T000000Z", "eu-west-1", "iam", "k1", b);
    CHECK_INT(sigv4_signer_derivations(s), 5); /* still cached */
    sign_with(s, "20150830T123600Z", "us-east-1", "sts", "k1", b);
    CHECK_INT(sigv4_signer_derivations(s), 6); /* the oldest was dropped for room */
    CHECK_STR(b, a);
    fresh = sigv4_signer_new();
    sign_with(fresh, "20150830T123600Z", "us-east-1", "sts", "k1", b);
    CHECK_STR(b, a);
    CHECK_INT(sigv4_signer_derivations(fresh), 1);
    sigv4_signer_free(fresh);
    sigv4_signer_free(s);
}

#define MARK "S3CRETMARK"

typedef struct bad_case {
    const char *method, *target, *name, *value, *value2, *akid, *secret, *token, *region, *service, *date;
    const char *says;
} bad_case;

static void test_errors_name_the_problem_not_the_secret(void)
{
    static const bad_case cases[] = {
        {"GET", "/", "X-Other", "v", NULL, "AKID", MARK, MARK, "r", "s", DATE, "no Host header"},
        {"G T", "/", "Host", "h", NULL, "AKID", MARK, MARK, "r", "s", DATE, "method"},
        {"", "/", "Host", "h", NULL, "AKID", MARK, MARK, "r", "s", DATE, "method"},
        {"GET", "a" MARK, "Host", "h", NULL, "AKID", MARK, MARK, "r", "s", DATE, "start with '/'"},
        {"GET", "/" MARK "#x", "Host", "h", NULL, "AKID", MARK, MARK, "r", "s", DATE, "'#'"},
        {"GET", "/" MARK "\n", "Host", "h", NULL, "AKID", MARK, MARK, "r", "s", DATE, "control character"},
        {"GET", "/", "Bad Name", MARK, NULL, "AKID", MARK, MARK, "r", "s", DATE, "header 2"},
        {"GET", "/", "X-Amz-Date", MARK, NULL, "AKID", MARK, MARK, "r", "s", DATE, "X-Amz-Date"},
        {"GET", "/", "X-Amz-Date", DATE, DATE, "AKID", MARK, MARK, "r", "s", DATE, "more than once"},
        {"GET", "/", "Host", "h", NULL, "AKID", MARK, MARK "\r\nX: y", "r", "s", DATE, "session token"},
        {"GET", "/", "Host", "h", NULL, "AK/ID", MARK, MARK, "r", "s", DATE, "access key"},
        {"GET", "/", "Host", "h", NULL, "", MARK, MARK, "r", "s", DATE, "access key"},
        {"GET", "/", "Host", "h", NULL, "AKID", NULL, MARK, "r", "s", DATE, "secret access key is missing"},
        {"GET", "/", "Host", "h", NULL, "AKID", MARK, MARK, "us east", "s", DATE, "region"},
        {"GET", "/", "Host", "h", NULL, "AKID", MARK, MARK, "r", "", DATE, "service"},
        {"GET", "/", "Host", "h", NULL, "AKID", MARK, MARK, "r", "s/x", DATE, "service"},
        {"GET", "/", "Host", "h", NULL, "AKID", MARK, MARK, "r", "s", "2015-08-30", "date"},
        {"GET", "/", "Host", "h", NULL, "AKID", MARK, MARK, "r", "s", NULL, "no X-Amz-Date"},
    };
    sigv4_signer *s = sigv4_signer_new();
    size_t i;

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        const bad_case *c = &cases[i];
        const sigv4_header h[] = {{"Host", "h"}, {c->name, c->value}, {c->name, c->value2}};
        const sigv4_header *hs = strcmp(c->name, "Host") == 0 || strcmp(c->name, "X-Other") == 0 ? h + 1 : h;
        size_t n = (hs == h ? 2 : 1) + (c->value2 != NULL);
        const sigv4_request req = {c->method, c->target, hs, n, NULL, 0};
        const sigv4_credentials creds = {c->akid, c->secret, c->token};
        const sigv4_params params = {c->region, c->service, c->date};
        sigv4_signature sig;
        char err[256] = "";

        memset(&sig, 0x5a, sizeof sig);
        CHECK_INT(sigv4_sign(s, &req, &creds, &params, &sig, err, sizeof err), -1);
        if (!strstr(err, c->says))
            fprintf(stderr, "  case %zu: \"%s\" does not say \"%s\"\n", i, err, c->says);
        CHECK(strstr(err, c->says) != NULL);
        CHECK(strstr(err, MARK) == NULL);
        CHECK(sig.canonical_request == NULL && sig.authorization == NULL && sig.add_count == 0);
        sigv4_signature_free(&sig); /* a failed signing's output is safe to free */
    }
    sigv4_signer_free(s);
}

static void test_null_inputs(void)
{
    const sigv4_header h[] = {{"Host", "h"}, {NULL, "v"}}, nv[] = {{"Host", "h"}, {"X", NULL}};
    const sigv4_request req = {"GET", "/", h, 2, NULL, 0}, req2 = {"GET", "/", nv, 2, NULL, 0};
    const sigv4_request headless = {"GET", "/", NULL, 3, NULL, 0}, bodiless = {"GET", "/", h, 1, NULL, 5};
    const sigv4_credentials creds = {"AKID", "k", NULL};
    const sigv4_params params = {"r", "s", DATE};
    sigv4_signer *s = sigv4_signer_new();
    sigv4_signature sig;
    char err[256];

    CHECK_INT(sigv4_sign(s, &req, &creds, &params, &sig, err, sizeof err), -1);
    CHECK(strstr(err, "header 2") != NULL);
    CHECK_INT(sigv4_sign(s, &req2, &creds, &params, &sig, err, sizeof err), -1);
    CHECK(strstr(err, "no value") != NULL);
    CHECK_INT(sigv4_sign(s, &headless, &creds, &params, &sig, err, sizeof err), -1);
    CHECK_INT(sigv4_sign(s, &bodiless, &creds, &params, &sig, err, sizeof err), -1);
    CHECK_INT(sigv4_sign(s, NULL, &creds, &params, &sig, err, sizeof err), -1);
    CHECK_INT(sigv4_sign(NULL, &req, &creds, &params, &sig, err, sizeof err), -1);
    CHECK_INT(sigv4_sign(s, &req, &creds, &params, &sig, NULL, 0), -1); /* no room for a message */
    sigv4_signature_free(NULL);
    sigv4_signer_free(NULL);
    sigv4_raw_request_free(NULL);
    sigv4_signer_free(s);
}

static void test_long_values(void)
{
    size_t n = 100000, i;
    char *token = malloc(n + 1), *value = malloc(n + 1), *target = malloc(n + 2);
    sigv4_header h[] = {{"Host", "h"}, {"X-Long", value}};
    sigv4_signer *s = sigv4_signer_new();
    sigv4_signature sig;

    for (i = 0; i < n; i++) {
        token[i] = (char)('A' + i % 26);
        value[i] = i % 3 ? 'v' : ' ';
        target[i + 1] = i % 5 == 0 ? '/' : i % 7 == 0 ? '%' : '\xe1';
    }
    token[n] = value[n] = target[n + 1] = '\0';
    target[0] = '/';
    target[n / 2] = '?';
    CHECK_INT(sign(s, "GET", target, h, 2, NULL, token, &sig), 0);
    CHECK(strstr(sig.canonical_request, token) != NULL);
    CHECK_STR(sig.add[1].value, token);
    check_consistent(&sig, "AKIDEXAMPLE", SECRET, DATE, "us-east-1", "service");
    sigv4_signature_free(&sig);
    free(token);
    free(value);
    free(target);
    sigv4_signer_free(s);
}

int main(void)
{
    RUN(test_get_vanilla_vector);
    RUN(test_signature_many_keys);
    RUN(test_header_canonicalisation);
    RUN(test_path_and_query);
    RUN(test_session_token_rules);
    RUN(test_date_rules);
    RUN(test_payload_hash);
    RUN(test_many_headers);
    RUN(test_key_cache);
    RUN(test_errors_name_the_problem_not_the_secret);
    RUN(test_null_inputs);
    RUN(test_long_values);
    return check_done();
}
