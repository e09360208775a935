/* libFuzzer target: the configuration's small parsers on any text:
 * ALLOWED_CIDRS lists, IP addresses (round trip through their canonical
 * form), endpoint URLs (ports included) and the host shown for a
 * CloudFormation response URL. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/aws/elbv2_internal.h"
#include "handler/sync/addr.h"
#include "handler/sync/cfn.h"
#include "tests/fuzz/fuzz.h"

static void check_cidrs(const char *text)
{
    cidr_list l;
    char err[256];
    if (cidr_list_parse(text, &l, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    FUZZ_CHECK(l.count >= 1);
    for (size_t i = 0; i < l.count; i++) {
        const cidr *c = &l.items[i];
        int max = c->base.family == AF_INET ? 32 : 128;
        FUZZ_CHECK(c->base.family == AF_INET || c->base.family == AF_INET6);
        FUZZ_CHECK(c->prefix >= 0 && c->prefix <= max);
        FUZZ_CHECK(cidr_list_contains(&l, &c->base)); /* a network holds its own base */
    }
    cidr_list_free(&l);
}

static void check_address(const char *text)
{
    ip_addr a, b;
    char out[ADDR_TEXT_MAX];
    if (ip_addr_parse(text, &a) != 0)
        return;
    ip_addr_format(&a, out, sizeof out);
    FUZZ_CHECK(ip_addr_parse(out, &b) == 0 && ip_addr_compare(&a, &b) == 0);
}

static void check_endpoint(const char *text)
{
    query_endpoint ep;
    char err[160];
    if (query_parse_endpoint(text, &ep, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    FUZZ_CHECK(strncmp(ep.url, "http://", 7) == 0 || strncmp(ep.url, "https://", 8) == 0);
    FUZZ_CHECK(ep.host[0] != '\0' && !strpbrk(ep.host, "/@ \t\r\n"));
    FUZZ_CHECK(ep.path[0] == '/' && !strpbrk(ep.path, "?# \t\r\n"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char host[256];
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    check_cidrs(text);
    check_address(text);
    check_endpoint(text);
    cfn_url_host(text, host, sizeof host);
    FUZZ_CHECK(!strchr(host, '@') || !strstr(text, "://"));
    free(text);
    return 0;
}
