/*
 * an_maps.c: the analyzer's two hash tables (analyze.h sc_u64map): association half keys -> the
 * association and sending endpoint (an_assoc.c, "Association identity"), and paths (ports + address pair, either
 * direction) -> the newest association that used them. Both only grow: a key is overwritten by a newer
 * association, never removed, and the tables are freed with the analyzer.
 */
#include "an_hash.h"
#include "an_internal.h"

/* ------------------------------------------------------------------------------------------------ */
/* Hash tables                                                                                       */
/* ------------------------------------------------------------------------------------------------ */

uint32_t u64map_get(const sc_u64map *m, uint64_t key)
{
    uint64_t mask = m->cap - 1;
    for (uint64_t i = mix64(key) & mask;; i = (i + 1) & mask) {
        const sc_u64ent *e = &m->slot[i];
        if (!e->val)
            return 0;
        if (e->key == key)
            return e->val;
    }
}

static int u64map_grow(sc_u64map *m)
{
    uint64_t ncap = m->cap * 2, mask = ncap - 1;
    sc_u64ent *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (uint64_t j = 0; j < m->cap; j++) {
        const sc_u64ent *e = &m->slot[j];
        if (!e->val)
            continue;
        uint64_t i = mix64(e->key) & mask;
        while (ns[i].val)
            i = (i + 1) & mask;
        ns[i] = *e;
    }
    free(m->slot);
    m->slot = ns;
    m->cap = ncap;
    return 0;
}

/* Insert or overwrite (the newest association wins a key). When memory runs out the map fills past half
 * (slower probing) and, one slot from full, drops the insert. */
void u64map_put(sc_u64map *m, uint64_t key, uint32_t val)
{
    if ((m->used + 1) * 2 > m->cap && u64map_grow(m) < 0 && m->used + 1 >= m->cap)
        return;
    uint64_t mask = m->cap - 1;
    for (uint64_t i = mix64(key) & mask;; i = (i + 1) & mask) {
        sc_u64ent *e = &m->slot[i];
        if (!e->val) {
            e->key = key;
            e->val = val;
            m->used++;
            return;
        }
        if (e->key == key) {
            e->val = val;
            return;
        }
    }
}

/* Remove key if its value satisfies (val >> shift) == want (fold.c's sc_an_unlink_assoc); backward-shift
 * deletion keeps every probe chain whole (no tombstones). Returns 1 if removed. */
int u64map_del(sc_u64map *m, uint64_t key, unsigned shift, uint32_t want)
{
    uint64_t mask = m->cap - 1, i = mix64(key) & mask;
    for (;; i = (i + 1) & mask) {
        if (!m->slot[i].val)
            return 0;
        if (m->slot[i].key == key)
            break;
    }
    if (m->slot[i].val >> shift != want)
        return 0;
    for (uint64_t j = i;;) {
        j = (j + 1) & mask;
        if (!m->slot[j].val)
            break;
        uint64_t k = mix64(m->slot[j].key) & mask;
        /* the entry at j may move to the hole at i unless its home k lies cyclically in (i, j] */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        m->slot[i] = m->slot[j];
        i = j;
    }
    m->slot[i].val = 0;
    m->slot[i].key = 0;
    m->used--;
    return 1;
}

int u64map_init(sc_u64map *m, uint64_t cap)
{
    m->slot = calloc(cap, sizeof *m->slot);
    m->cap = cap;
    m->used = 0;
    return m->slot ? 0 : -1;
}

/* Direction-agnostic hash of a path (ports + address pair). */
uint64_t path_hash(const sc_addr *a1, uint16_t p1, const sc_addr *a2, uint16_t p2)
{
    int c = memcmp(a1->a, a2->a, 16);
    if (c > 0 || (c == 0 && p1 > p2)) {
        const sc_addr *ta = a1;
        a1 = a2;
        a2 = ta;
        uint16_t tp = p1;
        p1 = p2;
        p2 = tp;
    }
    uint8_t buf[40];
    memcpy(buf, a1->a, 16);
    memcpy(buf + 16, a2->a, 16);
    buf[32] = (uint8_t)(p1 >> 8);
    buf[33] = (uint8_t)p1;
    buf[34] = (uint8_t)(p2 >> 8);
    buf[35] = (uint8_t)p2;
    buf[36] = a1->family;
    buf[37] = buf[38] = buf[39] = 0;
    return hash_bytes(buf, sizeof buf, 0x5041544849445831ULL);
}
