/* handler/aws/ca_store.c: the bundle indexer (PEM forms, errors naming the file
 * and the certificate), the subject walk against OpenSSL's own decoding, the
 * name key, lazy decoding, and verification through an X509_STORE that has
 * only the index as its source: a chain to a bundled root verifies, an
 * unknown or expired root does not, and a name encoded differently but equal
 * for OpenSSL still finds its issuer. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handler/aws/ca_store_internal.h"
#include "tests/unit/check.h"

#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define DAY (24L * 3600)

typedef struct pem_buf {
    char *data;
    size_t len;
} pem_buf;

static void pem_add(pem_buf *b, const char *text)
{
    size_t n = strlen(text);
    b->data = realloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, text, n + 1);
    b->len += n;
}

static void pem_add_cert(pem_buf *b, X509 *x, int trusted)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p;
    long n;
    if (trusted)
        PEM_write_bio_X509_AUX(bio, x);
    else
        PEM_write_bio_X509(bio, x);
    n = BIO_get_mem_data(bio, &p);
    b->data = realloc(b->data, b->len + (size_t)n + 1);
    memcpy(b->data + b->len, p, (size_t)n);
    b->len += (size_t)n;
    b->data[b->len] = '\0';
    BIO_free(bio);
}

static X509_NAME *name_of(const char *cn, int utf8)
{
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "O", utf8 ? V_ASN1_UTF8STRING : MBSTRING_ASC,
                               (const unsigned char *)(utf8 ? "example  ORG" : "Example Org"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", utf8 ? V_ASN1_UTF8STRING : MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    return n;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* A certificate for `key` named `subject`, issued by `issuer` (its name) and
 * signed with `signer`; valid from `from` to `to` seconds relative to now. */
static X509 *make_cert(X509_NAME *subject, X509_NAME *issuer, EVP_PKEY *key, EVP_PKEY *signer, long from, long to,
                       int ca, long serial)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_set_subject_name(x, subject);
    X509_set_issuer_name(x, issuer);
    X509_gmtime_adj(X509_getm_notBefore(x), from);
    X509_gmtime_adj(X509_getm_notAfter(x), to);
    X509_set_pubkey(x, key);
    add_ext(x, x, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca)
        add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    CHECK(X509_sign(x, signer, EVP_sha256()) > 0);
    return x;
}

typedef struct pki {
    EVP_PKEY *root_key, *other_key, *leaf_key;
    X509_NAME *root_name, *other_name, *leaf_name;
    X509 *root, *expired_root, *other_root, *leaf, *other_leaf;
} pki;

static void pki_make(pki *p)
{
    p->root_key = EVP_EC_gen("P-256");
    p->other_key = EVP_EC_gen("P-256");
    p->leaf_key = EVP_EC_gen("P-256");
    p->root_name = name_of("Test Root CA", 0);
    p->other_name = name_of("Other Root CA", 0);
    p->leaf_name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(p->leaf_name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    p->root = make_cert(p->root_name, p->root_name, p->root_key, p->root_key, -DAY, 30 * DAY, 1, 1);
    p->expired_root = make_cert(p->root_name, p->root_name, p->root_key, p->root_key, -30 * DAY, -DAY, 1, 2);
    p->other_root = make_cert(p->other_name, p->other_name, p->other_key, p->other_key, -DAY, 30 * DAY, 1, 3);
    p->leaf = make_cert(p->leaf_name, p->root_name, p->leaf_key, p->root_key, -DAY, 10 * DAY, 0, 4);
    p->other_leaf = make_cert(p->leaf_name, p->other_name, p->leaf_key, p->other_key, -DAY, 10 * DAY, 0, 5);
}

static void pki_free(pki *p)
{
    X509 *certs[] = {p->root, p->expired_root, p->other_root, p->leaf, p->other_leaf};
    for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++)
        X509_free(certs[i]);
    X509_NAME_free(p->root_name);
    X509_NAME_free(p->other_name);
    X509_NAME_free(p->leaf_name);
    EVP_PKEY_free(p->root_key);
    EVP_PKEY_free(p->other_key);
    EVP_PKEY_free(p->leaf_key);
}

static ca_store *parse(const pem_buf *b, char *err, size_t errlen)
{
    err[0] = '\0';
    return ca_store_parse(b->data, b->len, "bundle.pem", err, errlen);
}

/* X509_verify_cert of leaf against a store whose only source is s; the
 * verification error (X509_V_OK when it verifies). */
static int verify(ca_store *s, X509 *leaf)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc;
    CHECK(ca_store_install(s, store) == 0);
    CHECK(ca_store_install(s, store) == 0); /* a second install finds the first */
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

static void test_system_bundle_matches_openssl(void)
{
    char err[256];
    ca_store *s;
    X509_STORE *store;
    STACK_OF(X509_OBJECT) * objs;
    int loaded = 0;
    if (access(SYSTEM_BUNDLE, R_OK) != 0) {
        check_skip("test_system_bundle_matches_openssl", SYSTEM_BUNDLE " is not on this machine");
        return;
    }
    s = ca_store_open(SYSTEM_BUNDLE, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT(ca_store_decoded(s), 0);
    store = X509_STORE_new();
    CHECK(X509_STORE_load_file(store, SYSTEM_BUNDLE) == 1);
    objs = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
        loaded += X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_X509;
    CHECK(ca_store_count(s) > 100);
    CHECK_INT(ca_store_count(s), loaded);
    for (size_t i = 0; i < ca_store_count(s); i++) {
        size_t dlen, slen, nlen;
        const unsigned char *der = ca_store_der(s, i, &dlen), *p = der, *subj = ca_store_subject(s, i, &slen), *nder;
        X509 *x = d2i_X509(NULL, &p, (long)dlen);
        CHECK(x != NULL);
        if (!x)
            continue;
        CHECK(X509_NAME_get0_der(X509_get_subject_name(x), &nder, &nlen) == 1);
        CHECK(nlen == slen && memcmp(nder, subj, slen) == 0);
        CHECK(ca_name_key(subj, slen) != 0);
        /* Every bundled root is found by its own subject, as OpenSSL finds it. */
        X509_STORE *mine = X509_STORE_new();
        CHECK(ca_store_lookup(s, mine, X509_get_subject_name(x)) >= 1);
        X509_STORE_free(mine);
        X509_free(x);
    }
    X509_STORE_free(store);
    ca_store_free(s);
}

static void test_verifies_only_through_bundled_roots(void)
{
    pki p;
    pem_buf b = {0};
    char err[256];
    ca_store *s;
    pki_make(&p);
    pem_add(&b, "# a comment line\n");
    pem_add_cert(&b, p.root, 0);
    s = parse(&b, err, sizeof err);
    CHECK(s != NULL);
    CHECK_INT(ca_store_count(s), 1);
    CHECK_INT(ca_store_decoded(s), 0);
    CHECK_INT(verify(s, p.leaf), X509_V_OK);
    CHECK_INT(ca_store_decoded(s), 1);
    CHECK_INT(verify(s, p.leaf), X509_V_OK);
    CHECK_INT(ca_store_decoded(s), 1); /* decoded once per process, not per store */
    CHECK_INT(verify(s, p.other_leaf), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    CHECK_INT(ca_store_decoded(s), 1);
    ca_store_free(s);

    free(b.data);
    b = (pem_buf){0};
    pem_add_cert(&b, p.expired_root, 0);
    s = parse(&b, err, sizeof err);
    CHECK_INT(verify(s, p.leaf), X509_V_ERR_CERT_HAS_EXPIRED);
    ca_store_free(s);
    free(b.data);
    pki_free(&p);
}

static void test_renewed_root_with_the_same_subject(void)
{
    pki p;
    pem_buf b = {0};
    char err[256];
    ca_store *s;
    pki_make(&p);
    /* The expired copy first: OpenSSL still picks the valid one of the two. */
    pem_add_cert(&b, p.expired_root, 0);
    pem_add_cert(&b, p.other_root, 0);
    pem_add_cert(&b, p.root, 0);
    pem_add_cert(&b, p.root, 0); /* a duplicate, as concatenated bundles have */
    s = parse(&b, err, sizeof err);
    CHECK_INT(ca_store_count(s), 4);
    CHECK_INT(verify(s, p.leaf), X509_V_OK);
    CHECK_INT(ca_store_decoded(s), 3); /* the three with that subject, not the other root */
    ca_store_free(s);
    free(b.data);
    pki_free(&p);
}

static void test_name_equal_for_openssl_but_not_bytewise(void)
{
    pki p;
    pem_buf b = {0};
    char err[256];
    const unsigned char *d1, *d2;
    size_t n1, n2;
    ca_store *s;
    X509_NAME *utf8;
    X509 *leaf;
    pki_make(&p);
    /* The leaf names its issuer in UTF8String, lower case, doubled spaces. */
    utf8 = name_of("test   root ca", 1);
    X509_NAME_get0_der(utf8, &d1, &n1);
    X509_NAME_get0_der(p.root_name, &d2, &n2);
    CHECK(n1 != n2 || memcmp(d1, d2, n1) != 0);
    CHECK_INT(X509_NAME_cmp(utf8, p.root_name), 0);
    CHECK(ca_name_key(d1, n1) == ca_name_key(d2, n2));
    leaf = make_cert(p.leaf_name, utf8, p.leaf_key, p.root_key, -DAY, DAY, 0, 9);
    pem_add_cert(&b, p.root, 0);
    s = parse(&b, err, sizeof err);
    CHECK_INT(verify(s, leaf), X509_V_OK);
    ca_store_free(s);
    X509_free(leaf);
    X509_NAME_free(utf8);
    free(b.data);
    pki_free(&p);
}

static void test_pem_forms(void)
{
    pki p;
    pem_buf b = {0}, crlf = {0};
    char err[256];
    ca_store *s;
    pki_make(&p);
    pem_add(&b, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
    pem_add(&b, "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n");
    pem_add_cert(&b, p.other_root, 1); /* TRUSTED CERTIFICATE */
    pem_add(&b, "text between blocks\n\n");
    pem_add_cert(&b, p.root, 0);
    for (size_t i = 0; i < b.len; i++) { /* the same bundle with CRLF line ends */
        char c[3] = {b.data[i], 0, 0};
        if (c[0] == '\n')
            memcpy(c, "\r\n", 3);
        pem_add(&crlf, c);
    }
    s = parse(&b, err, sizeof err);
    CHECK_INT(ca_store_count(s), 2);
    CHECK_INT(verify(s, p.other_leaf), X509_V_OK);
    CHECK_INT(verify(s, p.leaf), X509_V_OK);
    ca_store_free(s);
    s = parse(&crlf, err, sizeof err);
    CHECK_INT(ca_store_count(s), 2);
    CHECK_INT(verify(s, p.leaf), X509_V_OK);
    ca_store_free(s);
    free(b.data);
    free(crlf.data);
    pki_free(&p);
}

static void check_error(const char *pem, const char *want)
{
    char err[256];
    pem_buf b = {(char *)pem, strlen(pem)};
    ca_store *s = parse(&b, err, sizeof err);
    CHECK(s == NULL);
    if (!strstr(err, want))
        fprintf(stderr, "  error \"%s\" does not hold \"%s\"\n", err, want);
    CHECK(strstr(err, want) != NULL);
    CHECK(strstr(err, "bundle.pem") != NULL);
    ca_store_free(s);
}

static void test_bad_bundles_name_the_file_and_certificate(void)
{
    pki p;
    pem_buf good = {0}, b = {0};
    pki_make(&p);
    pem_add_cert(&good, p.root, 0);
    check_error("", "no certificate in it");
    check_error("just some text\n", "no certificate in it");
    check_error("-----BEGIN CRL-----\nAAAA\n-----END CRL-----\n", "no certificate in it");
    check_error("-----BEGIN CERTIFICATE-----\nMIIB*x==\n-----END CERTIFICATE-----\n", "certificate 1 is not valid PEM");
    check_error("-----BEGIN CERTIFICATE-----\nMIIBxA\n-----END CERTIFICATE-----\n", "certificate 1 is not valid PEM");
    check_error("-----BEGIN CERTIFICATE-----\nMIIBxA==\n", "certificate 1 is not valid PEM");
    check_error("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "certificate 1 is not a DER");
    pem_add(&b, good.data);
    pem_add(&b, "-----BEGIN CERTIFICATE-----\nMIIBxA=A\n-----END CERTIFICATE-----\n");
    check_error(b.data, "certificate 2 is not valid PEM");
    /* A truncated copy of a real certificate: the DER walk refuses it. */
    free(b.data);
    b = (pem_buf){0};
    pem_add(&b, "-----BEGIN CERTIFICATE-----\n");
    char *body = strchr(good.data, '\n') + 1;
    char line[96];
    memcpy(line, body, 64);
    memcpy(line + 64, "\n-----END CERTIFICATE-----\n", 28);
    pem_add(&b, line);
    check_error(b.data, "certificate 1 is not a DER certificate");
    free(b.data);
    free(good.data);
    pki_free(&p);
}

static void test_unreadable_files(void)
{
    char err[256];
    CHECK(ca_store_open("/nonexistent/ca.pem", err, sizeof err) == NULL);
    CHECK(strstr(err, "CA bundle /nonexistent/ca.pem: cannot open it") != NULL);
    CHECK(ca_store_open("/", err, sizeof err) == NULL);
    CHECK(strstr(err, "CA bundle /:") != NULL);
}

static void test_der_walk_edges(void)
{
    size_t off, len;
    static const unsigned char not_seq[] = {0x31, 0x00};
    static const unsigned char short_len[] = {0x30, 0x05, 0x30};
    static const unsigned char long_len[] = {0x30, 0x85, 1, 0, 0, 0, 0};
    static const unsigned char empty_tbs[] = {0x30, 0x02, 0x30, 0x00};
    CHECK(ca_der_subject(not_seq, sizeof not_seq, &off, &len) == -1);
    CHECK(ca_der_subject(short_len, sizeof short_len, &off, &len) == -1);
    CHECK(ca_der_subject(long_len, sizeof long_len, &off, &len) == -1);
    CHECK(ca_der_subject(empty_tbs, sizeof empty_tbs, &off, &len) == -1);
    CHECK(ca_name_key(not_seq, sizeof not_seq) == 0);
    static const unsigned char empty_name[] = {0x30, 0x00};
    CHECK(ca_name_key(empty_name, sizeof empty_name) != 0);
}

int main(void)
{
    RUN(test_system_bundle_matches_openssl);
    RUN(test_verifies_only_through_bundled_roots);
    RUN(test_renewed_root_with_the_same_subject);
    RUN(test_name_equal_for_openssl_but_not_bytewise);
    RUN(test_pem_forms);
    RUN(test_bad_bundles_name_the_file_and_certificate);
    RUN(test_unreadable_files);
    RUN(test_der_walk_edges);
    return check_done();
}
