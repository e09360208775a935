/* Array growth by doubling, for every buffer and list that grows a piece
 * at a time (never one realloc per element). */
#ifndef RNS_COMMON_GROW_H
#define RNS_COMMON_GROW_H

#include <stddef.h>

/* Makes *items hold at least `need` elements of `size` bytes: *cap doubles
 * (from `first`) until it is enough. 0, or -1 (out of memory, or a size that
 * does not fit size_t) with *items and *cap unchanged. */
int rns_grow(void **items, size_t *cap, size_t need, size_t size, size_t first);

/* For a list of {items, count} that only ever grows through this (from
 * empty): its capacity is count rounded up to a power of two, at least
 * RNS_GROW_MIN, so it needs no field of its own. Makes room for `add` more
 * elements; 0, or -1 with the list unchanged. `items_ptr` is the address of
 * the list's element pointer. */
#define RNS_GROW_MIN 8
int rns_grow_list(void *items_ptr, size_t count, size_t add, size_t size);

#define RNS_GROW_LIST(list, add) rns_grow_list(&(list)->items, (list)->count, (add), sizeof *(list)->items)

#endif
