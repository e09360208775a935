/* The target list of the ELBv2 client (elbv2.h), below both the client
 * (elbv2.c) and the reader of its answers (elbv2_xml.c), so that neither
 * calls the other back. */
#include "handler/aws/elbv2.h"

#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

int elb_target_list_append(elb_target_list *l, const elb_target *t, size_t n)
{
    if (n == 0)
        return 0;
    if (RNS_GROW_LIST(l, n) != 0)
        return -1;
    memcpy(l->items + l->count, t, n * sizeof *t);
    l->count += n;
    return 0;
}

void elb_target_list_free(elb_target_list *list)
{
    if (!list)
        return;
    free(list->items);
    memset(list, 0, sizeof *list);
}
