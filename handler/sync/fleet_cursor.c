/* Fleet mode: where a capped sweep resumes (fleet_internal.h). The cursor
 * lives in a tag on one bound group of the sweep's shard (its holder: the
 * first group of the shard, by ARN, that may be written), so that it
 * survives a cold start without a store of our own: discovery reads every
 * bound group's tags anyway. Its value names the binding the next sweep
 * starts at, so a deleted start is passed over in ARN order; a sweep
 * overwrites the holder's cursor (one AddTags) and removes any other of
 * its shard (a stray: written before the holder changed, or left by a
 * crash), and a complete sweep removes them all. A sweep whose discovery
 * left groups unread writes none of this (fleet_invoke.c, move_cursor),
 * and a binding kept from an earlier discovery carries no cursor
 * (keep_old): what this run could not read it neither starts from nor
 * removes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler/sync/fleet.h"
#include "handler/sync/fleet_internal.h"

int fleet_in_scope(const fleet_scope *s, const char *arn)
{
    return s->shards <= 1 || fleet_shard_of(arn, s->shards) == s->shard;
}

int fleet_cursor_parse(const char *text, fleet_cursor *out)
{
    unsigned shards;
    long long at;
    int pos = -1;
    memset(out, 0, sizeof *out);
    if (!text || sscanf(text, "shards=%u at=%lld next=%n", &shards, &at, &pos) != 2 || pos < 0)
        return -1;
    const char *next = text + pos;
    size_t len = strlen(next);
    if (shards < 1 || at < 0 || len == 0 || len >= sizeof out->next || strchr(next, ' '))
        return -1;
    out->shards = shards;
    out->at_ms = (int64_t)at;
    memcpy(out->next, next, len + 1);
    return 0;
}

int fleet_cursor_format(const fleet_cursor *c, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "shards=%u at=%" PRId64 " next=%s", c->shards, c->at_ms, c->next);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

void fleet_cursor_read(fleet_binding *b, const elb_tag_set *tags)
{
    fleet_cursor c;
    if (fleet_cursor_parse(elb_tag_value(tags, FLEET_CURSOR_TAG), &c) != 0)
        return; /* none, or not ours to read: ignored */
    b->cursor = malloc(sizeof *b->cursor);
    if (b->cursor)
        *b->cursor = c;
}

/* A group the function may write its state to: a valid binding that is not
 * in dry run ("change nothing in this group"). */
static int writable(const fleet_binding *b)
{
    return !b->invalid && !b->dry_run;
}

/* b holds a cursor of this scope's sweeps. */
static int holds(const fleet_binding *b, const fleet_scope *s)
{
    return b->cursor && b->cursor->shards == s->shards && writable(b) && fleet_in_scope(s, b->tg.arn);
}

/* Where the scope's cursor is written: its first writable group. */
static const fleet_binding *holder_of(const fleet_binding *bl, size_t n, const fleet_scope *s)
{
    for (size_t i = 0; i < n; i++)
        if (writable(&bl[i]) && fleet_in_scope(s, bl[i].tg.arn))
            return &bl[i];
    return NULL;
}

size_t fleet_cursor_start(const fleet_binding *bl, size_t n, const fleet_scope *s)
{
    const fleet_cursor *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (holds(&bl[i], s) && fleet_in_scope(s, bl[i].cursor->next) && (!best || bl[i].cursor->at_ms > best->at_ms))
            best = bl[i].cursor;
    for (size_t i = 0; best && i < n; i++)
        if (strcmp(bl[i].tg.arn, best->next) >= 0)
            return i;
    return 0; /* none, or past the last ARN: from the first */
}

long fleet_cursor_reserve(const fleet_binding *bl, size_t n, const fleet_scope *s)
{
    const fleet_binding *h = holder_of(bl, n, s);
    long held = 0;
    for (size_t i = 0; i < n; i++)
        held += holds(&bl[i], s) != 0;
    if (!h)
        return 0;
    /* capped: AddTags, then a RemoveTags for each other; complete: one for each */
    long capped = 1 + held - (holds(h, s) != 0);
    return capped > held ? capped : held;
}

int fleet_cursor_plan_of(const fleet_binding *bl, size_t n, const fleet_scope *s, const char *next, int64_t now_ms,
                         fleet_cursor_plan *out)
{
    const fleet_binding *h = holder_of(bl, n, s);
    memset(out, 0, sizeof *out);
    if (next) {
        fleet_cursor c = {s->shards, now_ms, ""};
        snprintf(c.next, sizeof c.next, "%s", next);
        snprintf(out->tag.key, sizeof out->tag.key, "%s", FLEET_CURSOR_TAG);
        if (!h || fleet_cursor_format(&c, out->tag.value, sizeof out->tag.value) != 0)
            return 0; /* nowhere to write it: the old cursors stay */
        if (!holds(h, s) || strcmp(h->cursor->next, next) != 0)
            out->holder = h; /* else it is there already (the sweep started nothing) */
    }
    for (size_t i = 0; i < n; i++) {
        if (!holds(&bl[i], s) || (next && &bl[i] == h))
            continue;
        if (!out->clear && !(out->clear = calloc(n, sizeof *out->clear)))
            return -1;
        out->clear[out->clear_count++] = bl[i].tg.arn;
    }
    return 0;
}

void fleet_cursor_plan_free(fleet_cursor_plan *p)
{
    free(p->clear);
    memset(p, 0, sizeof *p);
}

static void logged(logger *log, const fleet_cursor_plan *p, const fleet_scope *s, size_t cleared)
{
    json_t *fields = json_pack("{s:i, s:i, s:s?, s:i}", "shard", (int)s->shard, "shards", (int)s->shards, "holder",
                               p->holder ? p->holder->tg.arn : NULL, "cleared", (int)cleared);
    log_fields(log, LOG_INFO, p->holder ? "sweep cursor moved" : "sweep cursor cleared", fields);
    json_decref(fields);
}

void fleet_cursor_move(elb_client *c, logger *log, const fleet_cursor_plan *p, const fleet_scope *s,
                       int64_t deadline_ms)
{
    const char *key = FLEET_CURSOR_TAG;
    elb_error e;
    size_t cleared = 0;
    if (p->holder && elb_add_tags(c, p->holder->tg.arn, &p->tag, 1, deadline_ms, &e) != 0) {
        log_msg(log, LOG_WARN, "sweep cursor not saved on %s: %s: %s", p->holder->tg.arn, e.code, e.message);
        return;
    }
    for (; cleared < p->clear_count; cleared++) {
        if (elb_remove_tags(c, p->clear[cleared], &key, 1, deadline_ms, &e) != 0) {
            log_msg(log, LOG_WARN, "stale sweep cursor not removed from %s: %s: %s", p->clear[cleared], e.code,
                    e.message);
            break;
        }
    }
    if (p->holder || cleared)
        logged(log, p, s, cleared);
}
