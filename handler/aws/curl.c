/* Checked libcurl options (curl.h). */
#include "handler/aws/curl.h"

#include <stdio.h>

int aws_curl_check(CURLcode rc, const char *what, char *err, size_t errlen)
{
    if (rc == CURLE_OK)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "cannot configure libcurl (%s): %s", what, curl_easy_strerror(rc));
    return -1;
}
