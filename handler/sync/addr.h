/* IP addresses and CIDR ranges, IPv4 and IPv6. */
#ifndef RNS_ADDR_H
#define RNS_ADDR_H

#include <stddef.h>

typedef struct ip_addr {
    int family;              /* AF_INET or AF_INET6 */
    unsigned char bytes[16]; /* network order; 4 used for AF_INET */
} ip_addr;

typedef struct addr_list {
    ip_addr *items;
    size_t count;
} addr_list;

typedef struct cidr {
    ip_addr base;
    int prefix;
} cidr;

typedef struct cidr_list {
    cidr *items;
    size_t count;
} cidr_list;

#define ADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* Parses a textual address (no brackets). 0, or -1. */
int ip_addr_parse(const char *text, ip_addr *out);
/* Formats into out (ADDR_TEXT_MAX bytes), canonical form. */
void ip_addr_format(const ip_addr *a, char *out, size_t outlen);
/* Contract order: IPv4 before IPv6, then byte order. */
int ip_addr_compare(const ip_addr *a, const ip_addr *b);

/* Adds a copy of a unless already present. 0, or -1 on allocation failure. */
int addr_list_add(addr_list *l, const ip_addr *a);
void addr_list_sort(addr_list *l);
int addr_list_contains(const addr_list *l, const ip_addr *a);
void addr_list_free(addr_list *l);

/* Parses "10.0.0.0/8, fd00::/8" (spaces around commas allowed). 0, or -1 with
 * a message naming the bad entry and why. Host bits set is an error. */
int cidr_list_parse(const char *text, cidr_list *out, char *err, size_t errlen);
int cidr_list_contains(const cidr_list *l, const ip_addr *a);
void cidr_list_free(cidr_list *l);

#endif
