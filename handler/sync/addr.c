/* IP addresses and CIDR ranges (addr.h). Parsing leans on inet_pton, which
 * accepts only the strict forms: dotted-quad IPv4 (no octal, no short forms)
 * and RFC 4291 IPv6 without zone ids or brackets. */
#include "handler/sync/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digits.h"
#include "common/grow.h"

static size_t addr_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

int ip_addr_parse(const char *text, ip_addr *out)
{
    ip_addr a;
    memset(&a, 0, sizeof a);
    if (!text)
        return -1;
    if (inet_pton(AF_INET, text, a.bytes) == 1) {
        a.family = AF_INET;
    } else if (inet_pton(AF_INET6, text, a.bytes) == 1) {
        a.family = AF_INET6;
    } else {
        return -1;
    }
    *out = a;
    return 0;
}

void ip_addr_format(const ip_addr *a, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    if (!inet_ntop(a->family, a->bytes, out, (socklen_t)outlen))
        out[0] = '\0';
}

int ip_addr_compare(const ip_addr *a, const ip_addr *b)
{
    if (a->family != b->family)
        return a->family == AF_INET ? -1 : 1;
    return memcmp(a->bytes, b->bytes, addr_len(a->family));
}

static int ip_addr_equal(const ip_addr *a, const ip_addr *b)
{
    return ip_addr_compare(a, b) == 0;
}

int addr_list_contains(const addr_list *l, const ip_addr *a)
{
    for (size_t i = 0; i < l->count; i++)
        if (ip_addr_equal(&l->items[i], a))
            return 1;
    return 0;
}

int addr_list_add(addr_list *l, const ip_addr *a)
{
    if (addr_list_contains(l, a))
        return 0;
    if (RNS_GROW_LIST(l, 1) != 0)
        return -1;
    l->items[l->count++] = *a;
    return 0;
}

static int compare_void(const void *a, const void *b)
{
    return ip_addr_compare(a, b);
}

void addr_list_sort(addr_list *l)
{
    if (l->count > 1)
        qsort(l->items, l->count, sizeof *l->items, compare_void);
}

void addr_list_free(addr_list *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* Whether the bits of a after the first `prefix` are all zero. */
static int host_bits_clear(const ip_addr *a, int prefix)
{
    size_t n = addr_len(a->family);
    for (size_t i = 0; i < n; i++) {
        int first = (int)i * 8;
        unsigned char keep;
        if (prefix >= first + 8)
            keep = 0xff;
        else if (prefix <= first)
            keep = 0;
        else
            keep = (unsigned char)(0xff << (8 - (prefix - first)));
        if (a->bytes[i] & (unsigned char)~keep)
            return 0;
    }
    return 1;
}

static void mask_host_bits(ip_addr *a, int prefix)
{
    size_t n = addr_len(a->family);
    for (size_t i = 0; i < n; i++) {
        int first = (int)i * 8;
        if (prefix <= first)
            a->bytes[i] = 0;
        else if (prefix < first + 8)
            a->bytes[i] &= (unsigned char)(0xff << (8 - (prefix - first)));
    }
}

static int cidr_contains(const cidr *c, const ip_addr *a)
{
    if (c->base.family != a->family)
        return 0;
    ip_addr masked = *a;
    mask_host_bits(&masked, c->prefix);
    return ip_addr_equal(&masked, &c->base);
}

int cidr_list_contains(const cidr_list *l, const ip_addr *a)
{
    for (size_t i = 0; i < l->count; i++)
        if (cidr_contains(&l->items[i], a))
            return 1;
    return 0;
}

/* Strict decimal: digits only, at most 3 of them. -1 if not a number. */
static int parse_prefix(const char *s)
{
    uint64_t v;
    return rns_parse_digits(s, strlen(s), 3, &v) == 0 ? (int)v : -1;
}

/* Parses one entry "addr/prefix" (a bare address means a single host). */
static int cidr_parse_one(const char *entry, cidr *out, char *err, size_t errlen)
{
    char buf[128];
    if (strlen(entry) >= sizeof buf) {
        snprintf(err, errlen, "\"%.40s...\": too long for a CIDR", entry);
        return -1;
    }
    strcpy(buf, entry);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    cidr c;
    if (ip_addr_parse(buf, &c.base) != 0) {
        snprintf(err, errlen, "\"%s\": \"%s\" is not an IPv4 or IPv6 address", entry, buf);
        return -1;
    }
    int max = c.base.family == AF_INET ? 32 : 128;
    c.prefix = slash ? parse_prefix(slash + 1) : max;
    if (c.prefix < 0 || c.prefix > max) {
        snprintf(err, errlen, "\"%s\": prefix must be 0..%d", entry, max);
        return -1;
    }
    if (!host_bits_clear(&c.base, c.prefix)) {
        ip_addr net = c.base;
        char text[ADDR_TEXT_MAX];
        mask_host_bits(&net, c.prefix);
        ip_addr_format(&net, text, sizeof text);
        snprintf(err, errlen, "\"%s\": host bits set (did you mean %s/%d?)", entry, text, c.prefix);
        return -1;
    }
    *out = c;
    return 0;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Copies text[start, end) without surrounding blanks into buf. */
static void trimmed_copy(const char *start, const char *end, char *buf, size_t buflen)
{
    while (start < end && is_space(*start))
        start++;
    while (end > start && is_space(end[-1]))
        end--;
    size_t n = (size_t)(end - start);
    if (n >= buflen)
        n = buflen - 1;
    memcpy(buf, start, n);
    buf[n] = '\0';
}

static int cidr_list_push(cidr_list *l, const cidr *c)
{
    if (RNS_GROW_LIST(l, 1) != 0)
        return -1;
    l->items[l->count++] = *c;
    return 0;
}

int cidr_list_parse(const char *text, cidr_list *out, char *err, size_t errlen)
{
    cidr_list l = {NULL, 0};
    const char *p = text ? text : "";
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        char entry[160];
        cidr c;
        trimmed_copy(p, end, entry, sizeof entry);
        if (entry[0] == '\0') {
            snprintf(err, errlen, "empty entry (entries are separated by single commas)");
            goto fail;
        }
        if (cidr_parse_one(entry, &c, err, errlen) != 0)
            goto fail;
        if (cidr_list_push(&l, &c) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = l;
    return 0;
fail:
    cidr_list_free(&l);
    return -1;
}

void cidr_list_free(cidr_list *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}
