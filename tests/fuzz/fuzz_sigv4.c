/* libFuzzer target: the raw request parser of build/sigv4
 * (sigv4_parse_raw_request) and the signer on what it accepts. The first
 * input byte chooses the options (session token, date from the request), so
 * the signer's every path is reached; the rest is the request. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4/sigv4.h"
#include "tests/fuzz/fuzz.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN "IQoJb3JpZ2luX2VjFuzzSessionTokenForTheSignerTarget=="

static sigv4_signer *signer(void)
{
    static sigv4_signer *s; /* one per process, as the client keeps one */
    if (!s)
        s = sigv4_signer_new();
    return s;
}

/* Whether the input itself carries the secret (libFuzzer learns the string
 * from the strstr below); only then may the canonical request hold it. */
static int input_has_secret;

static void check_secret_free(const char *text)
{
    if (!input_has_secret)
        FUZZ_CHECK(!strstr(text, SECRET));
}

static void sign(const sigv4_raw_request *raw, unsigned options)
{
    sigv4_request req = {raw->method, raw->target, raw->headers, raw->header_count, raw->body, raw->body_len};
    sigv4_credentials creds = {"AKIDEXAMPLE", SECRET, (options & 1) ? TOKEN : NULL};
    sigv4_params params = {"us-east-1", (options & 2) ? "elasticloadbalancing" : "service", "20150830T123600Z"};
    sigv4_signature a, b;
    char err[256];
    if (sigv4_sign(signer(), &req, &creds, &params, &a, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        check_secret_free(err);
        FUZZ_CHECK(!strstr(err, TOKEN));
        return;
    }
    FUZZ_CHECK(a.add_count <= 3);
    FUZZ_CHECK(strncmp(a.authorization, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 40) == 0);
    check_secret_free(a.canonical_request);
    check_secret_free(a.string_to_sign);
    check_secret_free(a.authorization);
    for (size_t i = 0; i < a.add_count; i++)
        FUZZ_CHECK(a.add[i].name && a.add[i].value && !strpbrk(a.add[i].value, "\r\n"));
    /* The cached key must give the same signature as the first derivation. */
    FUZZ_CHECK(sigv4_sign(signer(), &req, &creds, &params, &b, err, sizeof err) == 0);
    FUZZ_CHECK(strcmp(a.authorization, b.authorization) == 0);
    sigv4_signature_free(&a);
    sigv4_signature_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sigv4_raw_request raw;
    char err[256];
    if (size == 0)
        return 0;
    unsigned options = data[0];
    input_has_secret = memmem(data, size, SECRET, strlen(SECRET)) != NULL;
    if (sigv4_parse_raw_request((const char *)data + 1, size - 1, &raw, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(raw.storage == NULL && raw.headers == NULL);
        return 0;
    }
    FUZZ_CHECK(raw.method && raw.target && raw.method[0] && raw.target[0]);
    FUZZ_CHECK(raw.body_len <= size - 1);
    for (size_t i = 0; i < raw.header_count; i++)
        FUZZ_CHECK(raw.headers[i].name[0] != '\0');
    sign(&raw, options);
    sigv4_raw_request_free(&raw);
    return 0;
}
