/* Endpoints and regions (query_endpoint.h): the region rule, the partitions'
 * DNS suffixes, and endpoint URLs split for sending and signing. */
#include "handler/aws/query_endpoint.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/digits.h"
#include "handler/aws/query.h"

int aws_region_valid(const char *r)
{
    size_t n = r ? strlen(r) : 0, i;
    if (n < 4 || n > 32 || !(r[0] >= 'a' && r[0] <= 'z') || !(r[n - 1] >= '0' && r[n - 1] <= '9') || !strchr(r, '-'))
        return 0;
    for (i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
            return 0;
    return 1;
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* DNS suffix of the partition a region belongs to (partitions.json). */
static const char *partition_suffix(const char *region)
{
    if (starts(region, "cn-"))
        return "amazonaws.com.cn";
    if (starts(region, "us-isob-"))
        return "sc2s.sgov.gov";
    if (starts(region, "us-isof-"))
        return "csp.hci.ic.gov";
    if (starts(region, "us-iso-"))
        return "c2s.ic.gov";
    if (starts(region, "eu-isoe-"))
        return "cloud.adc-e.uk";
    if (starts(region, "eusc-"))
        return "amazonaws.eu";
    return "amazonaws.com"; /* aws, and aws-us-gov which the rule set pins here */
}

int query_default_endpoint(const query_service *svc, const char *region, char *out, size_t outlen)
{
    int n;
    if (!aws_region_valid(region))
        return -1;
    n = snprintf(out, outlen, "https://%s.%s.%s", svc->endpoint_prefix, region, partition_suffix(region));
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static int valid_port(const char *p, size_t n)
{
    uint64_t v;
    return rns_parse_digits(p, n, 5, &v) == 0 && v >= 1 && v <= 65535;
}

/* Splits "host[:port]" or "[v6][:port]"; *port_at is NULL without a port. */
static int split_authority(const char *a, size_t n, const char **port_at, size_t *host_len)
{
    const char *end = a + n, *colon;
    *port_at = NULL;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close || close == a + 1)
            return -1;
        if (close + 1 < end && close[1] != ':')
            return -1;
        colon = close + 1 < end ? close + 1 : NULL;
    } else {
        colon = memchr(a, ':', n);
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return -1;
    }
    *host_len = colon ? (size_t)(colon - a) : n;
    if (*host_len == 0)
        return -1;
    if (colon) {
        *port_at = colon + 1;
        if (!valid_port(colon + 1, (size_t)(end - colon - 1)))
            return -1;
    }
    return 0;
}

static int fits(char *dst, size_t size, const char *src, size_t n)
{
    if (n >= size)
        return 0;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 1;
}

int query_parse_endpoint(const char *url, query_endpoint *out, char *err, size_t errlen)
{
    const char *a, *path, *port, *defport;
    size_t alen, hlen, i;
    int https;
    if (!url || !*url) {
        snprintf(err, errlen, "endpoint URL is empty");
        return -1;
    }
    https = strncasecmp(url, "https://", 8) == 0;
    if (!https && strncasecmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "endpoint URL must start with http:// or https://");
        return -1;
    }
    a = url + (https ? 8 : 7);
    alen = strcspn(a, "/?#");
    path = a + alen;
    if (strpbrk(path, "?#") || memchr(a, '@', alen) || strpbrk(a, " \t\r\n")) {
        snprintf(err, errlen,
                 "endpoint URL must be scheme://host[:port][/path] without "
                 "credentials, query or fragment");
        return -1;
    }
    if (split_authority(a, alen, &port, &hlen) != 0) {
        snprintf(err, errlen, "endpoint URL has an invalid host or port");
        return -1;
    }
    /* The Host header omits the scheme's default port, as HTTP clients send it. */
    defport = https ? "443" : "80";
    if (port && (size_t)(a + alen - port) == strlen(defport) && strncmp(port, defport, strlen(defport)) == 0)
        alen = hlen;
    if (!fits(out->host, sizeof out->host, a, alen) ||
        !fits(out->path, sizeof out->path, *path ? path : "/", *path ? strlen(path) : 1))
        goto too_long;
    for (i = 0; out->host[i]; i++)
        if (out->host[i] >= 'A' && out->host[i] <= 'Z')
            out->host[i] = (char)(out->host[i] - 'A' + 'a');
    if (snprintf(out->url, sizeof out->url, "%s://%s%s", https ? "https" : "http", out->host, out->path) >=
        (int)sizeof out->url)
        goto too_long;
    return 0;
too_long:
    snprintf(err, errlen, "endpoint URL is too long");
    return -1;
}
