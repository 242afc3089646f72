/*
 * an_records.c: per-chunk records (analyze.h sc_wrec, engine.md "Records"). Only reached with records on: with
 * them off the handlers test x->wr once (NULL) and nothing else changes. rec_begin opens the chunk's record
 * with what the wire says (analyze.c's on_chunks calls it), the handlers add what the engine decided.
 */
#include "an_internal.h"

/* The next record slot, or the scratch record when SC_RECORDS_MAX records are pending or memory runs out (what
 * is written there is discarded; the caller counts the drop). */
static sc_wrec *rec_slot(sc_analyzer *an)
{
    if (an->rec_n == an->rec_cap) {
        if (an->rec_cap >= SC_RECORDS_MAX)
            return &an->rec_scratch;
        uint32_t ncap = an->rec_cap ? an->rec_cap * 2 : 1024;
        if (ncap > SC_RECORDS_MAX)
            ncap = SC_RECORDS_MAX;
        sc_wrec *nr = realloc(an->rec, (size_t)ncap * sizeof *nr);
        if (!nr)
            return &an->rec_scratch;
        an->rec = nr;
        an->rec_cap = ncap;
    }
    return &an->rec[an->rec_n++];
}

static inline uint32_t sat16(uint32_t v) { return v > 0xffff ? 0xffff : v; }

/* Open chunk i's record (c, len, av as for the handlers) with everything the wire alone says; the handler then
 * adds the engine's decisions. Wire types that collide with SC_WR_GAP / SC_WR_DUP get no record. */
NOINLINE void rec_begin(pctx *x, const sc_chunk *ch, uint32_t i, const uint8_t *c, uint32_t len,
                               uint32_t av)
{
    uint8_t type = ch->type, fl = ch->flags;
    if (type == SC_WR_GAP || type == SC_WR_DUP) {
        x->wr = NULL;
        return;
    }
    sc_analyzer *an = x->an;
    sc_wrec *w = rec_slot(an);
    if (x->A->orient_by_tags && !x->A->rec_first && w != &an->rec_scratch)
        x->A->rec_first = an->rec_drained + an->rec_n; /* 1 + its index */
    x->wr = w;
    x->wr_scratch = w == &an->rec_scratch;
    if (x->wr_scratch)
        an->cap.records_dropped++;
    memset(w, 0, sizeof *w);
    w->ts_ns = x->pkt->ts_ns;
    w->frame_no = x->pkt->frame_no;
    w->assoc_id = x->A->id;
    w->vtag = x->pkt->vtag;
    w->path = x->pidx >= 0 ? (uint16_t)x->pidx : 0xffff;
    w->type = type;
    w->flags = fl;
    w->dir = (uint8_t)x->d;
    w->chunk_index = (uint16_t)i;
    switch (type) {
    case SC_DATA:
        if (len >= 16 && av >= 16) { /* RFC 9260 §3.3.1: TSN, SID, SSN, PPID */
            w->tsn = be32(c + 4);
            w->c = ((uint32_t)be16(c + 8) << 16) | be16(c + 10);
            w->a = be32(c + 12);
            w->b = len - 16;
        }
        if (fl & 0x08)
            w->note |= SC_WN_IBIT;
        break;
    case SC_I_DATA:
        if (len >= 20 && av >= 20) { /* RFC 8260 §2.1: TSN, SID, reserved, MID, PPID (B bit) or FSN */
            w->tsn = be32(c + 4);
            w->c = (uint32_t)be16(c + 8) << 16;
            w->x = be32(c + 12);
            w->a = (fl & 0x02) ? be32(c + 16) : 0;
            w->b = len - 20;
        }
        if (fl & 0x08)
            w->note |= SC_WN_IBIT;
        break;
    case SC_SACK: case SC_NR_SACK: {
        uint32_t fixed = type == SC_NR_SACK ? 20 : 16;
        if (av >= fixed) {
            uint32_t ngap = be16(c + 12), nnr = type == SC_NR_SACK ? be16(c + 14) : 0;
            uint32_t ndup = type == SC_NR_SACK ? be16(c + 16) : be16(c + 14);
            w->tsn = be32(c + 4);
            w->a = be32(c + 8);
            w->b = (sat16(ngap + nnr) << 16) | sat16(ndup);
        }
        break;
    }
    case SC_INIT: case SC_INIT_ACK: /* RFC 9260 §3.3.2: tag, a_rwnd, OS, MIS, initial TSN */
        if (len >= 20 && av >= 20) {
            w->b = be32(c + 4);
            w->a = be32(c + 8);
            w->c = ((uint32_t)be16(c + 12) << 16) | be16(c + 14);
            w->tsn = be32(c + 16);
        }
        break;
    case SC_SHUTDOWN: case SC_FORWARD_TSN: case SC_I_FORWARD_TSN:
        if (av >= 8)
            w->tsn = be32(c + 4);
        break;
    case SC_ABORT: case SC_ERROR: /* the first error cause's code */
        if (len >= 8 && av >= 8 && be16(c + 6) >= 4)
            w->a = be16(c + 4);
        break;
    case SC_HEARTBEAT: case SC_HEARTBEAT_ACK:
        w->a = len - 4; /* x, y and note: the handlers (they hash and parse the info anyway) */
        break;
    default:
        break;
    }
}

/* The handler rejects the chunk (too short for its type, or its fixed part cut by snaplen): no record. Only
 * before the handler added records of its own, so the chunk's record is the last one. */
NOINLINE void rec_cancel(pctx *x)
{
    if (!x->wr)
        return;
    if (x->wr_scratch)
        x->an->cap.records_dropped--;
    else
        x->an->rec_n--;
    x->wr = NULL;
}

/* One more record after the current chunk's (GAP / DUP): a copy of base. A chunk whose own record was dropped
 * gets none (a GAP record must follow its SACK's). */
static sc_wrec *rec_extra(pctx *x, const sc_wrec *base)
{
    sc_analyzer *an = x->an;
    sc_wrec *w = x->wr_scratch ? &an->rec_scratch : rec_slot(an);
    if (w == &an->rec_scratch)
        an->cap.records_dropped++;
    *w = *base;
    return w;
}

/* After a SACK's record: a GAP record per block (nblk blocks at blk, the first ngap of them gap blocks, then NR
 * gap blocks; absolute TSNs) and a DUP record per duplicate TSN (ndup, after the blocks). The records may move:
 * x->wr points at the SACK's again afterwards. */
NOINLINE void rec_sack_lists(pctx *x, uint32_t cum, const uint8_t *blk, uint32_t nblk, uint32_t ngap,
                                    uint32_t ndup)
{
    sc_analyzer *an = x->an;
    uint32_t at = x->wr_scratch ? 0 : (uint32_t)(x->wr - an->rec);
    sc_wrec base = *x->wr;
    base.a = base.b = base.c = 0;
    base.type = SC_WR_GAP;
    for (uint32_t i = 0; i < nblk; i++) {
        sc_wrec *w = rec_extra(x, &base);
        w->tsn = cum + be16(blk + 4 * i);
        w->a = cum + be16(blk + 4 * i + 2);
        w->note = i >= ngap ? SC_WN_NR : 0;
    }
    base.type = SC_WR_DUP;
    for (uint32_t i = 0; i < ndup; i++)
        rec_extra(x, &base)->tsn = be32(blk + 4 * (nblk + i));
    x->wr = x->wr_scratch ? &an->rec_scratch : &an->rec[at];
}
