/* Checked libcurl options, for every curl handle of the AWS layer (the only
 * user of libcurl: the Runtime API's client speaks HTTP on a plain socket):
 * an option libcurl refuses (one the linked build lacks) is an error that
 * names it, never silently ignored. */
#ifndef RNS_AWS_CURL_H
#define RNS_AWS_CURL_H

#include <stddef.h>

#include <curl/curl.h>

/* 0 when rc is CURLE_OK, else -1 with err "cannot configure libcurl (<what>): <reason>". */
int aws_curl_check(CURLcode rc, const char *what, char *err, size_t errlen);

/* curl_easy_setopt, checked: 0, or -1 with err naming the option. */
#define AWS_CURL_SET(handle, opt, value, err, errlen) \
    aws_curl_check(curl_easy_setopt((handle), (opt), (value)), #opt, (err), (errlen))

#endif
