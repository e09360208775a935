/* The trusted CA certificates of the HTTPS clients, loaded lazily.
 *
 * OpenSSL 3.0 decodes a certificate for about 1.3 M instructions (most of it
 * setting up the public-key decoder), so loading a 145-root system bundle
 * costs some 236 M instructions, ~0.3 s of a 128 MB Lambda function. Here the
 * bundle is only indexed: each PEM block is base64-decoded and its DER walked
 * as far as the subject. During verification OpenSSL asks the store for the
 * issuers of a name (an X509_LOOKUP_METHOD with get_by_subject, as for a
 * hashed CA folder); only the certificates with that subject are decoded, once
 * per process, and added to the verifying store. Names compare as OpenSSL
 * compares them (its canonical encoding), so the chains accepted and refused
 * are those of X509_STORE_load_file on the same bundle: hostname, expiry and
 * unknown roots are checked by OpenSSL as before. */
#ifndef RNS_CA_STORE_H
#define RNS_CA_STORE_H

#include <stddef.h>

typedef struct ca_store ca_store;

/* Reads and indexes the PEM bundle at path. NULL on failure, with err naming
 * the file and what is wrong (unreadable, malformed certificate N, none). */
ca_store *ca_store_open(const char *path, char *err, size_t errlen);
void ca_store_free(ca_store *s);

/* Makes the libcurl handle `curl` (a CURL *) trust exactly the certificates of
 * s: libcurl loads no CA file or folder of its own, and every TLS context it
 * creates for the handle looks issuers up in s. s must outlive the handle.
 * 0, or -1 with err set. */
int ca_store_attach(ca_store *s, void *curl, char *err, size_t errlen);

/* Certificates in the bundle, and how many of them have been decoded. */
size_t ca_store_count(const ca_store *s);
size_t ca_store_decoded(const ca_store *s);

#endif
