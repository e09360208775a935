/* Endpoints and regions: the region rule, the default endpoint of a service
 * in a region's partition, and an endpoint URL (default or override) split
 * for sending and signing. */
#ifndef RNS_AWS_QUERY_ENDPOINT_H
#define RNS_AWS_QUERY_ENDPOINT_H

#include <stddef.h>

struct query_service; /* query.h */

/* The region rule: 4..32 characters of a-z, 0-9 and '-', a letter first,
 * a digit last, at least one '-' ("eu-west-1", "us-gov-west-1"). */
int aws_region_valid(const char *region);

/* https://<endpoint_prefix>.<region>.<DNS suffix of the region's partition>
 * (amazonaws.com, amazonaws.com.cn, c2s.ic.gov, ...). 0, or -1 for a region
 * that breaks the rule or a URL that does not fit. */
int query_default_endpoint(const struct query_service *svc, const char *region, char *out, size_t outlen);

/* An endpoint URL split for sending and signing. */
typedef struct query_endpoint {
    char url[1024]; /* scheme://authority/path, what libcurl is given */
    char host[300]; /* the Host header: authority without a default port */
    char path[512]; /* the request target that is signed, "/" at least */
} query_endpoint;

/* 0, or -1 with err naming what is wrong with the URL. */
int query_parse_endpoint(const char *url, query_endpoint *out, char *err, size_t errlen);

#endif
