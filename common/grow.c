/* Array growth (grow.h). */
#include "common/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int rns_grow(void **items, size_t *cap, size_t need, size_t size, size_t first)
{
    size_t n = *cap ? *cap : (first ? first : 1);
    void *p;
    if (need <= *cap)
        return 0;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -1;
        n *= 2;
    }
    if (size && n > SIZE_MAX / size)
        return -1;
    if (!(p = realloc(*items, n * size)))
        return -1;
    *items = p;
    *cap = n;
    return 0;
}

/* The capacity a list of `count` elements has (grow.h). */
static size_t implied_cap(size_t count)
{
    size_t cap = RNS_GROW_MIN;
    if (count == 0)
        return 0;
    while (cap < count && cap <= SIZE_MAX / 2)
        cap *= 2;
    return cap;
}

int rns_grow_list(void *items_ptr, size_t count, size_t add, size_t size)
{
    void *p;
    size_t cap = implied_cap(count);
    int rc;
    if (add > SIZE_MAX - count)
        return -1;
    memcpy(&p, items_ptr, sizeof p);
    rc = rns_grow(&p, &cap, count + add, size, RNS_GROW_MIN);
    memcpy(items_ptr, &p, sizeof p);
    return rc;
}
