/*
 * analyze.c: SCTP packets -> associations, per-direction and per-path metrics, RTT, events.
 *
 * This file is the analyzer itself: each packet's checks and duplicate test, the chunk loop that hands each
 * chunk to its handler and applies the observer state machine, the event queue, the look-ahead prefetch, and
 * the analyzer's life cycle. The rest is split by concern, each file opening with its part of the theory of
 * operation:
 *   an_internal.h  what these files share: small helpers (byte order, serial numbers, addresses, keys), the
 *                  chunk handlers' context, the functions one file calls in another;
 *   an_assoc.c     association identity, paths, addresses; creation, orientation, state changes; what an
 *                  association owns and when it is freed;
 *   an_tsn.c       DATA, SACK, FORWARD-TSN: outstanding TSN rings, flight, retransmissions, Fast Recovery,
 *                  streams;
 *   an_rtt.c       RTT accumulators, samples, percentiles, RTO; jitter;
 *   an_chunks.c    the other chunk handlers: handshake and INIT parameters, heartbeats, ABORT, ASCONF;
 *   an_records.c   per-chunk records;
 *   an_maps.c      the hash tables (association keys, paths);
 *   an_hash.h      the hash function;
 *   an_tables.c    names, chunk slots, the observer state machine's table;
 *   an_vantage.c   the capture vantage point (report time);
 *   payload.c      user-message payloads;
 *   fold.c         associations that ended or idled, folded out of memory into a spill file and read back.
 * analyze.h is the data model they all update and module.c reads.
 *
 * Theory of operation (this file's part)
 * --------------------------------------
 * Duplicate frames (tcpdump -i any): a 64-bit hash of (addresses, IP id, SCTP length, the first 192 and the
 * last 16 SCTP bytes) is kept in a small set-associative cache with its timestamp; a repeat within
 * dup_window_ns is counted and excluded from every association metric.
 */
#include "an_hash.h"
#include "an_internal.h"

/* ------------------------------------------------------------------------------------------------ */
/* Events                                                                                            */
/* ------------------------------------------------------------------------------------------------ */

sc_event *ev_push(sc_analyzer *an, unsigned kind, int64_t ts, uint64_t frame, uint32_t assoc_id)
{
    if (!(an->events & (1u << kind)))
        return NULL;
    if (an->ev_n == an->ev_cap) {
        if (an->ev_cap >= SC_EVENTS_MAX) {
            an->cap.events_dropped++;
            return NULL;
        }
        uint32_t ncap = an->ev_cap ? an->ev_cap * 2 : 256;
        sc_event *ne = malloc((size_t)ncap * sizeof *ne);
        if (!ne) {
            an->cap.events_dropped++;
            return NULL;
        }
        for (uint32_t i = 0; i < an->ev_n; i++)
            ne[i] = an->ev[(an->ev_head + i) & (an->ev_cap - 1)];
        free(an->ev);
        an->ev = ne;
        an->ev_cap = ncap;
        an->ev_head = 0;
    }
    sc_event *e = &an->ev[(an->ev_head + an->ev_n) & (an->ev_cap - 1)];
    an->ev_n++;
    memset(e, 0, sizeof *e);
    e->kind = (uint8_t)kind;
    e->ts_ns = ts;
    e->frame_no = frame;
    e->assoc_id = assoc_id;
    return e;
}

void sc_an_events_clear(sc_analyzer *an)
{
    an->ev_head = 0;
    an->ev_n = 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* Per packet                                                                                        */
/* ------------------------------------------------------------------------------------------------ */

/* Duplicate-frame cache: returns the entry of an earlier copy within the window, or NULL after inserting
 * this packet (then *slot is its entry, to be completed with the association). */
static sc_dupent *dup_check(sc_analyzer *an, const sc_packet *pkt, sc_dupent **slot)
{
    *slot = NULL;
    if (an->dup_window_ns <= 0)
        return NULL;
    uint8_t seed[40];
    memset(seed, 0, sizeof seed);
    memcpy(seed, pkt->src, 16);
    memcpy(seed + 16, pkt->dst, 16);
    seed[32] = pkt->family;
    seed[33] = (uint8_t)(pkt->ip_id >> 8);
    seed[34] = (uint8_t)pkt->ip_id;
    uint64_t h = hash_bytes(seed, sizeof seed, pkt->sctp_wire_len);
    uint32_t n = pkt->sctp_len;
    h = hash_bytes(pkt->sctp, n < 192 ? n : 192, h);
    if (n > 208)
        h = hash_bytes(pkt->sctp + n - 16, 16, h);
    sc_dupent *set = &an->dup[(h & (SC_DUP_SETS - 1)) * SC_DUP_WAYS];
    sc_dupent *victim = &set[0];
    for (int w = 0; w < SC_DUP_WAYS; w++) {
        sc_dupent *e = &set[w];
        if (e->ts_ns != SC_NOTS && e->hash == h) {
            int64_t dt = pkt->ts_ns - e->ts_ns;
            if (dt < 0)
                dt = -dt;
            if (dt <= an->dup_window_ns)
                return e;
        }
        if (e->ts_ns == SC_NOTS || (victim->ts_ns != SC_NOTS && e->ts_ns < victim->ts_ns))
            victim = e;
    }
    victim->hash = h;
    victim->ts_ns = pkt->ts_ns;
    victim->frame_no = pkt->frame_no;
    victim->assoc_val = 0;
    *slot = victim;
    return NULL;
}

/* The chunks of a packet, in order. Compiled twice, records a constant: the loop with records off is the one it
 * was before records existed, and the flag is tested once per packet. (A test per chunk in a single loop, with
 * the record code inlined into it, cost 17.6 instructions per packet with records off, +0.8 %, on
 * bench/out/corpus-100k.pcap (callgrind, feed loop): register allocation the whole loop paid for. This way:
 * +0.4 there, -1.7 on corpus-1m, i.e. code layout noise.) */
static ALWAYS_INLINE void on_chunks(pctx *x, const int records)
{
    sc_analyzer *an = x->an;
    sc_assoc *A = x->A;
    const sc_packet *pkt = x->pkt;
    unsigned d = x->d;
    for (uint32_t i = 0; i < pkt->nchunks; i++) {
        const sc_chunk *ch = &pkt->chunks[i];
        A->chunks[sc_slot_of(ch->type)]++;
        uint32_t len = ch->length;
        if (len < 4 || (uint64_t)ch->offset + len > pkt->sctp_wire_len)
            continue; /* listed by the decoder but structurally broken: counted only (flagged malformed) */
        const uint8_t *c = pkt->sctp + ch->offset;
        uint32_t av = chunk_avail(pkt, ch);
        if (av < 4)
            continue;
        if (records)
            rec_begin(x, ch, i, c, len, av);
        switch (ch->type) {
        case SC_DATA: on_data(x, c, len, av, ch->flags, 0); break;
        case SC_I_DATA: on_data(x, c, len, av, ch->flags, 1); break;
        case SC_SACK: on_sack(x, c, len, av, 0); break;
        case SC_NR_SACK: on_sack(x, c, len, av, 1); break;
        case SC_INIT: on_init(x, c, len, av); break;
        case SC_INIT_ACK: on_init_ack(x, c, len, av); break;
        case SC_COOKIE_ECHO: on_cookie_echo(x); break;
        case SC_COOKIE_ACK: on_cookie_ack(x); break;
        case SC_HEARTBEAT: on_heartbeat(x, c, len, av); break;
        case SC_HEARTBEAT_ACK: on_heartbeat_ack(x, c, len, av); break;
        case SC_ABORT: on_abort(x, c, len, av, ch->flags); break;
        case SC_SHUTDOWN:
            if (A->shutdown_ns == SC_NOTS)
                A->shutdown_ns = pkt->ts_ns;
            if (len < 8) {
                x->bad = 1;
                rec_cancel(x);
            } else if (av >= 8) /* RFC 9260 §3.3.8: Cumulative TSN Ack */
                apply_ack(an, A, 1 - d, be32(c + 4), NULL, 0, NULL, 0, NULL, 0, 0, pkt);
            break;
        case SC_SHUTDOWN_ACK:
            if (A->shutdown_ack_ns == SC_NOTS)
                A->shutdown_ack_ns = pkt->ts_ns;
            break;
        case SC_SHUTDOWN_COMPLETE:
            if (A->shutdown_complete_ns == SC_NOTS)
                A->shutdown_complete_ns = pkt->ts_ns;
            break;
        case SC_ASCONF: on_asconf(x, c, len, av); break;
        case SC_FORWARD_TSN: case SC_I_FORWARD_TSN: on_forward_tsn(x, c, len, av); break;
        default: break;
        }
        unsigned ns = SC_FSM[A->state][chunk_class(ch->type)];
        if (ns != A->state)
            assoc_set_state(an, A, ns, ch->type, pkt);
    }
}

static void on_sctp(sc_analyzer *an, const sc_packet *pkt)
{
    sc_capstats *cs = &an->cap;
    cs->sctp_packets++;
    if (pkt->flags & SC_PKT_CSUM_BAD)
        cs->bad_checksum++;
    if (pkt->flags & SC_PKT_CSUM_UNCHECKED)
        cs->unchecked_checksum++;
    if (pkt->flags & SC_PKT_TRUNCATED)
        cs->truncated_packets++;
    for (uint32_t i = 0; i < pkt->nchunks; i++)
        cs->chunks[pkt->chunks[i].type]++;
    int malformed = (pkt->flags & SC_PKT_CHUNK_MALFORMED) != 0;
    /* No chunk, or a first chunk whose length is impossible: junk, counted but never an association. */
    if (pkt->nchunks == 0 || pkt->chunks[0].length < 4 ||
        (uint64_t)pkt->chunks[0].offset + pkt->chunks[0].length > pkt->sctp_wire_len) {
        cs->malformed += (uint64_t)(malformed || pkt->nchunks);
        return;
    }

    sc_dupent *slot;
    sc_dupent *orig = dup_check(an, pkt, &slot);
    if (orig) {
        cs->duplicates++;
        cs->malformed += (uint64_t)malformed;
        uint32_t id = 0;
        if (orig->assoc_val && ((uintptr_t)val_assoc(an, orig->assoc_val) & 1u)) {
            id = orig->assoc_val >> 1; /* its association was folded (fold.c): the event only */
        } else if (orig->assoc_val) {
            sc_assoc *A = val_assoc(an, orig->assoc_val);
            unsigned d = orig->assoc_val & 1;
            id = A->id;
            A->duplicate_packets++;
            for (uint32_t i = 0; i < pkt->nchunks; i++)
                A->dir[d].dup_chunks[sc_slot_of(pkt->chunks[i].type)]++;
        }
        sc_event *e = ev_push(an, SC_EV_DUPLICATE, pkt->ts_ns, pkt->frame_no, id);
        if (e)
            e->v[0] = (int64_t)orig->frame_no;
        return;
    }

    sc_addr src, dst;
    addr_from_pkt(&src, pkt->family, pkt->src);
    addr_from_pkt(&dst, pkt->family, pkt->dst);
    unsigned d = 0;
    sc_assoc *A = resolve(an, pkt, &src, &dst, &d);
    if (!A) {
        cs->malformed += (uint64_t)malformed;
        return;
    }
    if (slot)
        slot->assoc_val = assoc_val(A, d);

    pctx x = {an, A, pkt, d, -1, 0, 0, 0, 0, NULL, 0};
    x.pidx = path_get(an, A, d, &src, &dst);
    A->packets++;
    if (pkt->ts_ns < A->first_ts_ns)
        A->first_ts_ns = pkt->ts_ns;
    if (pkt->ts_ns > A->last_ts_ns)
        A->last_ts_ns = pkt->ts_ns;
    A->dir[d].packets++;
    if (x.pidx >= 0)
        A->paths[x.pidx].packets++;

    if (an->records)
        on_chunks(&x, 1);
    else
        on_chunks(&x, 0);
    if (x.had_data)
        flight_sample(&A->dir[d]);
    if (x.had_sack)
        flight_sample(&A->dir[1 - d]);
    if (malformed || x.bad)
        cs->malformed++;
}

int sc_an_record(sc_analyzer *an, const sc_record *in)
{
    /* A capture's time stamp is whatever int64 it says (pcapng: 64-bit units, a signed if_tsoffset): held within
     * +-(2^62 - 1) ns (+-146 years around 1970) so that the difference of any two fits in an int64 (found by
     * fuzz/c/fuzz_pcap.c: an RTT of 1.8e18 - -7.4e18 ns overflowed). */
    sc_record clamped = *in;
    const sc_record *rec = &clamped;
    if (clamped.ts_ns > SC_TS_LIMIT)
        clamped.ts_ns = SC_TS_LIMIT;
    else if (clamped.ts_ns < -SC_TS_LIMIT)
        clamped.ts_ns = -SC_TS_LIMIT;
    sc_capstats *cs = &an->cap;
    cs->packets++;
    if (!cs->have_ts || rec->ts_ns < cs->first_ts_ns)
        cs->first_ts_ns = rec->ts_ns;
    if (!cs->have_ts || rec->ts_ns > cs->last_ts_ns)
        cs->last_ts_ns = rec->ts_ns;
    cs->have_ts = 1;
    sc_packet pkt; /* sc_decode sets every field */
    switch (sc_decode(an->dec, rec, &pkt)) {
    case SC_DEC_SCTP:
        on_sctp(an, &pkt);
        break;
    case SC_DEC_ICMP_QUOTED:
        cs->icmp_quoted_sctp++;
        break;
    case SC_DEC_MALFORMED:
        cs->malformed++;
        if (pkt.flags & SC_PKT_TRUNCATED)
            cs->truncated_packets++;
        break;
    default:
        break;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* Look-ahead prefetch (analyze.h)                                                                   */
/* ------------------------------------------------------------------------------------------------ */

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((const void *)(p), 1, 3)
#else
#define PREFETCH(p) ((void)(p))
#endif

void sc_an_peek(const sc_analyzer *an, const sc_record *rec, sc_peek *pk)
{
    pk->ok = 0;
    pk->A = NULL;
    const uint8_t *p = rec->data;
    uint32_t n = rec->caplen, off;
    uint16_t et;
    switch (rec->linktype) { /* the common link types only; anything else is just not prefetched */
    case 1: /* Ethernet, with at most one VLAN tag */
        if (n < 14)
            return;
        et = be16(p + 12);
        off = 14;
        if (et == 0x8100 && n >= 18) {
            et = be16(p + 16);
            off = 18;
        }
        break;
    case 113: /* Linux cooked */
        if (n < 16)
            return;
        et = be16(p + 14);
        off = 16;
        break;
    case 276: /* Linux cooked v2 */
        if (n < 20)
            return;
        et = be16(p);
        off = 20;
        break;
    case 12: case 14: case 101: case 228: case 229: /* raw IP */
        if (n < 1)
            return;
        et = (p[0] >> 4) == 6 ? 0x86DD : 0x0800;
        off = 0;
        break;
    default:
        return;
    }
    if (et == 0x0800) {
        if (n < off + 20 || (p[off] >> 4) != 4 || p[off + 9] != 132 || (be16(p + off + 6) & 0x3fff))
            return; /* not SCTP, or a fragment */
        off += (p[off] & 15u) * 4u;
    } else if (et == 0x86DD) {
        if (n < off + 40 || p[off + 6] != 132)
            return;
        off += 40;
    } else {
        return;
    }
    if (n < off + 16) /* common header and the first chunk's header */
        return;
    const uint8_t *sh = p + off;
    uint8_t t0 = sh[12];
    if (t0 == SC_INIT)
        return; /* keyed by its Initiate Tag, usually new */
    uint16_t sp = be16(sh), dp = be16(sh + 2);
    uint32_t vtag = be32(sh + 4);
    int tbit = (t0 == SC_ABORT || t0 == SC_SHUTDOWN_COMPLETE) && (sh[13] & 1);
    pk->key = tbit ? half_key(dp, sp, vtag) : half_key(sp, dp, vtag);
    pk->sack = t0 == SC_SACK || t0 == SC_NR_SACK;
    pk->ok = 1;
    PREFETCH(&an->keys.slot[mix64(pk->key) & (an->keys.cap - 1)]);
}

void sc_an_prefetch(const sc_analyzer *an, sc_peek *pk)
{
    pk->A = NULL;
    if (!pk->ok)
        return;
    uint32_t val = u64map_get(&an->keys, pk->key);
    if (!val)
        return;
    const sc_assoc *A = val_assoc(an, val);
    unsigned d = val & 1;
    pk->A = A;
    pk->dir = (uint8_t)d;
    const char *a = (const char *)A;
    PREFETCH(a);                        /* id, ports, tags, state, paths, times, packets */
    PREFETCH(a + 64);                   /* chunk counters */
    PREFETCH(a + 128);
    const char *D = (const char *)&A->dir[pk->sack ? 1 - d : d];
    for (unsigned i = 0; i < 256; i += 64) /* the direction's counters, TSN queue, streams, flight, jitter */
        PREFETCH(D + i);
    if (pk->sack) {
        const char *S = (const char *)&A->dir[d];
        PREFETCH(S);
        PREFETCH(S + offsetof(sc_dir, sacks));
        PREFETCH(S + offsetof(sc_dir, rwnd_initial));
    }
}

/* The first probe of rtt_add's binary search over the sorted bins (the others depend on it). */
static inline void rtt_prefetch(const sc_rtt *r)
{
    if (r->nbins)
        PREFETCH(&r->bins[r->nbins / 2]);
}

void sc_an_prefetch_deep(const sc_peek *pk)
{
    const sc_assoc *A = pk->A;
    if (!A)
        return;
    unsigned d = pk->dir;
    const sc_dir *D = &A->dir[d];
    if (D->last_path < A->npaths) { /* the path this packet most likely takes */
        const char *p = (const char *)&A->paths[D->last_path];
        PREFETCH(p);
        PREFETCH(p + 64);
    }
    if (pk->sack) { /* acks the peer's DATA: its ring head, its path and their RTT accumulators */
        const sc_dir *P = &A->dir[1 - d];
        const sc_tsnq *q = &P->q;
        if (q->cap)
            PREFETCH(&q->e[q->base & (q->cap - 1)]);
        PREFETCH(&P->rtt);
        PREFETCH((const char *)&P->rtt + 64);
        rtt_prefetch(&P->rtt);
        if (P->last_path < A->npaths) {
            const sc_path *pp = &A->paths[P->last_path];
            PREFETCH(pp);
            PREFETCH(&pp->rtt);
            PREFETCH((const char *)&pp->rtt + 64);
            rtt_prefetch(&pp->rtt);
        }
    } else { /* DATA most likely: the next ring slot and the first stream */
        const sc_tsnq *q = &D->q;
        if (q->cap)
            PREFETCH(&q->e[(q->base + q->n) & (q->cap - 1)]);
        if (D->nstreams)
            PREFETCH(D->streams);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Life cycle                                                                                        */
/* ------------------------------------------------------------------------------------------------ */

sc_analyzer *sc_an_new(unsigned events, int64_t dup_window_ns, uint64_t max_assocs, uint32_t max_outstanding)
{
    bins_init();
    sc_analyzer *an = calloc(1, sizeof *an);
    if (!an)
        return NULL;
    an->events = events;
    an->dup_window_ns = dup_window_ns;
    an->max_assocs = max_assocs;
    an->max_outstanding = max_outstanding < 16 ? 16 : max_outstanding;
    if (an->max_outstanding > (1u << 30))
        an->max_outstanding = 1u << 30;
    an->tsn_ring_max = 64;
    while (an->tsn_ring_max < an->max_outstanding)
        an->tsn_ring_max <<= 1;
    an->dec = sc_decoder_new();
    int maps_ok = u64map_init(&an->keys, 1024) == 0 && u64map_init(&an->pathidx, 1024) == 0;
    an->dup = malloc((size_t)SC_DUP_SETS * SC_DUP_WAYS * sizeof *an->dup);
    if (!an->dec || !maps_ok || !an->dup) {
        sc_an_free(an);
        return NULL;
    }
    for (size_t i = 0; i < (size_t)SC_DUP_SETS * SC_DUP_WAYS; i++) {
        an->dup[i].ts_ns = SC_NOTS;
        an->dup[i].hash = 0;
        an->dup[i].assoc_val = 0;
        an->dup[i].frame_no = 0;
    }
    return an;
}

void sc_an_free(sc_analyzer *an)
{
    if (!an)
        return;
    for (uint64_t i = 0; i < an->nassocs; i++)
        if (!((uintptr_t)an->assocs[i] & 1u))   /* else a spill offset (fold.c) */
            assoc_free(an->assocs[i]);
    free(an->assocs);
    sc_fold_free(an);
    free(an->keys.slot);
    free(an->pathidx.slot);
    free(an->dup);
    free(an->ev);
    free(an->rec);
    free(an->pay);
    if (an->dec)
        sc_decoder_free(an->dec);
    free(an);
}
