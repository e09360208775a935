/* Test hooks of handler/aws/ca_store.c: the indexer on memory, the DER walk and
 * the lookup, without libcurl. */
#ifndef RNS_CA_STORE_INTERNAL_H
#define RNS_CA_STORE_INTERNAL_H

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stddef.h>
#include <stdint.h>

#include "handler/aws/ca_store.h"

/* Indexes a PEM bundle held in memory; `name` is used in error messages. */
ca_store *ca_store_parse(const char *pem, size_t len, const char *name, char *err, size_t errlen);

/* The subject of the DER certificate der[0..len): its offset and length (the
 * whole Name TLV). 0, or -1 when the DER is not a certificate's outline. */
int ca_der_subject(const unsigned char *der, size_t len, size_t *off, size_t *sublen);

/* A hash of the letters and digits (lowercased) and attribute types of the DER
 * Name: names that OpenSSL's canonical encoding makes equal hash alike. 0 on a
 * Name that cannot be walked. */
uint32_t ca_name_key(const unsigned char *der, size_t len);

/* Entry i: its DER certificate and subject. */
const unsigned char *ca_store_der(const ca_store *s, size_t i, size_t *len);
const unsigned char *ca_store_subject(const ca_store *s, size_t i, size_t *len);

/* Adds to `store` every certificate of s whose subject is `name` (decoding
 * those not decoded yet); the number found. */
int ca_store_lookup(ca_store *s, X509_STORE *store, const X509_NAME *name);

/* Installs s as a lookup of `store` (what the libcurl callback does). */
int ca_store_install(ca_store *s, X509_STORE *store);

#endif
