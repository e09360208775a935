/* A growable byte buffer for answer bodies and log lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

static int rt_buf_reserve(rt_buf *b, size_t need)
{
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int rt_buf_append(rt_buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - b->len - 1)
        return -1;
    if (rt_buf_reserve(b, b->len + n + 1) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void rt_buf_clear(rt_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void rt_buf_free(rt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
