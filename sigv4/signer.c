/* A signer: OpenSSL objects fetched once, and a small cache of derived
 * signing keys so that a steady stream of requests costs two SHA-256 and one
 * HMAC each. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sigv4/sigv4_internal.h"

/* Enough for a handful of (date, region, service) in use at once; the oldest
 * entry makes room. */
#define SV_KEYS 4

typedef struct sv_key {
    char date[9];
    char *region;
    char *service;
    char *secret;
    size_t secret_len;
    EVP_MAC_CTX *mac; /* keyed with kSigning; re-initialised for each use */
    unsigned long last_use;
} sv_key;

struct sigv4_signer {
    EVP_MD *sha256;
    EVP_MD_CTX *md;
    EVP_MAC *hmac;
    EVP_MAC_CTX *derive; /* HMAC-SHA256 for the key chain */
    sv_key keys[SV_KEYS];
    unsigned long clock;
    unsigned long derivations;
};

static void key_clear(sv_key *k)
{
    EVP_MAC_CTX_free(k->mac); /* frees the HMAC state with OPENSSL_clear_free */
    if (k->secret)
        OPENSSL_clear_free(k->secret, k->secret_len + 1);
    free(k->region);
    free(k->service);
    memset(k, 0, sizeof *k);
}

sigv4_signer *sigv4_signer_new(void)
{
    sigv4_signer *s = calloc(1, sizeof *s);
    OSSL_PARAM params[2];

    if (!s)
        return NULL;
    /* Signing must not depend on the host's openssl.cnf (Lambda has none;
     * OpenSSL would read the build's OPENSSLDIR one wherever it exists). */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
    s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    s->md = EVP_MD_CTX_new();
    s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    s->derive = s->hmac ? EVP_MAC_CTX_new(s->hmac) : NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!s->sha256 || !s->md || !s->derive || !EVP_MAC_CTX_set_params(s->derive, params)) {
        sigv4_signer_free(s);
        return NULL;
    }
    return s;
}

void sigv4_signer_free(sigv4_signer *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < SV_KEYS; i++)
        key_clear(&s->keys[i]);
    EVP_MAC_CTX_free(s->derive);
    EVP_MAC_free(s->hmac);
    EVP_MD_CTX_free(s->md);
    EVP_MD_free(s->sha256);
    free(s);
}

unsigned long sigv4_signer_derivations(const sigv4_signer *s)
{
    return s->derivations;
}

static void to_hex(const unsigned char *b, size_t n, char *hex)
{
    static const char pairs[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                                "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                                "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
                                "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                                "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                                "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                                "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
                                "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    size_t i;

    for (i = 0; i < n; i++)
        memcpy(hex + 2 * i, pairs + 2 * b[i], 2);
    hex[2 * n] = '\0';
}

int sv_sha256_hex(sigv4_signer *s, const void *data, size_t n, char hex[SV_HEX_LEN + 1])
{
    unsigned char digest[32];
    unsigned int len = 0;

    if (!EVP_DigestInit_ex2(s->md, s->sha256, NULL) || !EVP_DigestUpdate(s->md, data, n) ||
        !EVP_DigestFinal_ex(s->md, digest, &len) || len != sizeof digest)
        return -1;
    to_hex(digest, sizeof digest, hex);
    return 0;
}

/* out = HMAC-SHA256(key, msg) with the signer's derivation context. */
static int hmac_once(sigv4_signer *s, const unsigned char *key, size_t keylen, const char *msg, unsigned char out[32])
{
    size_t len = 0;

    return EVP_MAC_init(s->derive, key, keylen, NULL) &&
                   EVP_MAC_update(s->derive, (const unsigned char *)msg, strlen(msg)) &&
                   EVP_MAC_final(s->derive, out, &len, 32) && len == 32
               ? 0
               : -1;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service), "aws4_request"),
 * loaded into a fresh HMAC context. Every intermediate key is wiped. */
static EVP_MAC_CTX *derive_key(sigv4_signer *s, const char *date8, const char *region, const char *service,
                               const char *secret, size_t secret_len)
{
    unsigned char a[32], b[32];
    unsigned char *seed = malloc(secret_len + 4);
    EVP_MAC_CTX *mac = NULL;
    int ok;

    if (!seed)
        return NULL;
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, secret_len);
    ok = hmac_once(s, seed, secret_len + 4, date8, a) == 0 && hmac_once(s, a, 32, region, b) == 0 &&
         hmac_once(s, b, 32, service, a) == 0 && hmac_once(s, a, 32, "aws4_request", b) == 0;
    if (ok) {
        mac = EVP_MAC_CTX_dup(s->derive); /* carries the digest parameter */
        if (mac && !EVP_MAC_init(mac, b, 32, NULL)) {
            EVP_MAC_CTX_free(mac);
            mac = NULL;
        }
    }
    /* s->derive still holds the last intermediate key: re-key it with nothing. */
    EVP_MAC_init(s->derive, (const unsigned char *)"", 0, NULL);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    OPENSSL_clear_free(seed, secret_len + 4);
    return mac;
}

static int key_matches(const sv_key *k, const char *date8, const char *region, const char *service, const char *secret,
                       size_t secret_len)
{
    return k->mac && memcmp(k->date, date8, 8) == 0 && strcmp(k->region, region) == 0 &&
           strcmp(k->service, service) == 0 && k->secret_len == secret_len &&
           memcmp(k->secret, secret, secret_len) == 0; /* both the caller's: no oracle */
}

static sv_key *oldest(sigv4_signer *s)
{
    sv_key *pick = &s->keys[0];
    size_t i;

    for (i = 0; i < SV_KEYS; i++) {
        if (!s->keys[i].mac)
            return &s->keys[i];
        if (s->keys[i].last_use < pick->last_use)
            pick = &s->keys[i];
    }
    return pick;
}

static EVP_MAC_CTX *signing_key(sigv4_signer *s, const char *date8, const char *region, const char *service,
                                const char *secret)
{
    size_t i, secret_len = strlen(secret);
    sv_key *k;

    for (i = 0; i < SV_KEYS; i++) {
        if (key_matches(&s->keys[i], date8, region, service, secret, secret_len)) {
            s->keys[i].last_use = ++s->clock;
            return s->keys[i].mac;
        }
    }
    k = oldest(s);
    key_clear(k);
    k->region = strdup(region);
    k->service = strdup(service);
    k->secret = malloc(secret_len + 1);
    if (!k->region || !k->service || !k->secret) {
        key_clear(k);
        return NULL;
    }
    memcpy(k->secret, secret, secret_len + 1);
    k->secret_len = secret_len;
    memcpy(k->date, date8, 8);
    k->mac = derive_key(s, date8, region, service, secret, secret_len);
    if (!k->mac) {
        key_clear(k);
        return NULL;
    }
    s->derivations++;
    k->last_use = ++s->clock;
    return k->mac;
}

int sv_signature_hex(sigv4_signer *s, const char *date8, const char *region, const char *service, const char *secret,
                     const char *msg, size_t n, char hex[SV_HEX_LEN + 1])
{
    EVP_MAC_CTX *mac = signing_key(s, date8, region, service, secret);
    unsigned char sig[32];
    size_t len = 0;
    int ok;

    if (!mac)
        return -1;
    /* A NULL key re-initialises with the key already set: no re-derivation. */
    ok = EVP_MAC_init(mac, NULL, 0, NULL) && EVP_MAC_update(mac, (const unsigned char *)msg, n) &&
         EVP_MAC_final(mac, sig, &len, sizeof sig) && len == sizeof sig;
    if (ok)
        to_hex(sig, sizeof sig, hex);
    OPENSSL_cleanse(sig, sizeof sig);
    return ok ? 0 : -1;
}
