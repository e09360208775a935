/* Private to event.c and its tests. */
#ifndef RNS_SYNC_EVENT_INTERNAL_H
#define RNS_SYNC_EVENT_INTERNAL_H

/* Finds RDS-EVENT-NNNN (exactly four digits) anywhere in text, e.g. at the
 * end of an "Event ID" URL of either documentation host. 0, or -1. */
int event_find_id(const char *text, char out[16]);

#endif
