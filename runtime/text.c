/* Text made safe for JSON, URL paths and header values (the cleaning and
 * encoding themselves are common/utf8.c and common/pct.c). */
#include <stdlib.h>
#include <string.h>

#include "common/pct.h"
#include "common/utf8.h"
#include "runtime/internal.h"

json_t *rt_json_text(const char *s, size_t max)
{
    return rns_json_text(s, s ? strlen(s) : 0, max);
}

int rt_path_escape(const char *s, char *out, size_t size)
{
    size_t n = strlen(s), o = 0, i;
    for (i = 0; i < n; i++)
        o += rns_pct_unreserved((unsigned char)s[i]) ? 1 : 3;
    if (o >= size)
        return -1;
    out[rns_pct_encode(out, s, n, 0)] = '\0';
    return 0;
}

void rt_header_safe(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            *s = '_';
}
