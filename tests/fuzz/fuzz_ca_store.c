/* libFuzzer target: the CA bundle indexer (handler/aws/ca_store.c) on any text.
 * Invariants: an error names the bundle; an index holds at least one entry,
 * each subject inside its certificate's DER and found again by the DER walk;
 * where OpenSSL decodes a certificate (with its trust settings, if any), its subject is byte for byte the one
 * indexed and a lookup of that subject finds it; names OpenSSL calls equal
 * have equal keys (the key only narrows a search, it must never hide a
 * match). */
#include <openssl/x509.h>
#include <stdint.h>
#include <string.h>

#include "handler/aws/ca_store_internal.h"
#include "tests/fuzz/fuzz.h"

#define CHECKED 4 /* certificates decoded per input: each costs OpenSSL ~1 M instructions */

static X509_NAME *decoded_subject(const ca_store *s, size_t i)
{
    size_t len;
    const unsigned char *p = ca_store_subject(s, i, &len);
    return d2i_X509_NAME(NULL, &p, (long)len);
}

static void check_entry(ca_store *s, size_t i)
{
    size_t dlen, slen, off, len, nlen;
    const unsigned char *der = ca_store_der(s, i, &dlen), *subj = ca_store_subject(s, i, &slen), *p = der, *nder;
    FUZZ_CHECK(subj > der && subj + slen <= der + dlen && subj[0] == 0x30);
    FUZZ_CHECK(ca_der_subject(der, dlen, &off, &len) == 0 && der + off == subj && len == slen);
    /* As the store decodes it: a TRUSTED CERTIFICATE's trust settings follow
     * its DER, and a plain certificate has nothing after it to read. */
    X509 *x = d2i_X509_AUX(NULL, &p, (long)dlen);
    if (!x)
        return;
    FUZZ_CHECK(X509_NAME_get0_der(X509_get_subject_name(x), &nder, &nlen) == 1);
    FUZZ_CHECK(nlen == slen && memcmp(nder, subj, slen) == 0);
    X509_STORE *store = X509_STORE_new();
    FUZZ_CHECK(store != NULL);
    FUZZ_CHECK(ca_store_lookup(s, store, X509_get_subject_name(x)) >= 1);
    X509_STORE_free(store);
    X509_free(x);
}

static void check_keys(const ca_store *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        X509_NAME *a = decoded_subject(s, i);
        size_t alen;
        const unsigned char *ader = ca_store_subject(s, i, &alen);
        if (!a)
            continue;
        for (size_t j = i + 1; j < n; j++) {
            X509_NAME *b = decoded_subject(s, j);
            size_t blen;
            const unsigned char *bder = ca_store_subject(s, j, &blen);
            if (b && X509_NAME_cmp(a, b) == 0)
                FUZZ_CHECK(ca_name_key(ader, alen) == ca_name_key(bder, blen));
            X509_NAME_free(b);
        }
        X509_NAME_free(a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    size_t n;
    err[0] = '\0';
    ca_store *s = ca_store_parse((const char *)data, size, "fuzz.pem", err, sizeof err);
    if (!s) {
        FUZZ_CHECK(strstr(err, "CA bundle fuzz.pem: ") == err);
        return 0;
    }
    n = ca_store_count(s);
    FUZZ_CHECK(n >= 1 && ca_store_decoded(s) == 0);
    for (size_t i = 0; i < n && i < CHECKED; i++)
        check_entry(s, i);
    check_keys(s, n < CHECKED ? n : CHECKED);
    ca_store_free(s);
    return 0;
}
