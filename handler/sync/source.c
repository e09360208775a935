/* The answer of an address source (source.h). */
#include "handler/sync/source.h"

#include <string.h>

int source_answer_ok(const source_answer *a)
{
    return !rns_error_failed(&a->error);
}

void source_answer_free(source_answer *a)
{
    addr_list_free(&a->addresses);
    json_decref(a->detail);
    memset(a, 0, sizeof *a);
}
