/*
 * an_tsn.c: DATA, SACK / NR-SACK and FORWARD-TSN: the outstanding TSN rings, flight, retransmissions (kind,
 * spurious), Fast Recovery as the wire shows it, receiver windows, the per-stream counters, and the
 * DATA RTT timing (an_rtt.c's header: C4/C5, Karn).
 *
 * TSN tracking, per direction: a ring of the TSNs from the oldest not cumulatively acked ("base") to the
 * highest sent, indexed by TSN (serial-number arithmetic, RFC 1982), at most max_outstanding long.
 * DATA: a new TSN is appended (flight grows); a TSN already in the ring is a retransmission, classified
 * `fast` when the peer's SACKs reported it missing >= 3 times (RFC 9260 §7.2.4: the HTNA rule, and the
 * Fast Recovery rule that a fast retransmission brings into play, see fr_sack), else `timeout`; `unknown`
 * when its first transmission is not in the ring any more. SACK/NR-SACK from the peer: the cum ack
 * releases entries, gap blocks mark them; a TSN acked before its retransmission (or later reported as a
 * duplicate TSN) makes that retransmission spurious.
 *
 * The rings are the largest thing an association owns: they are given back as soon as it closes or aborts
 * (tsnq_release_all, called by an_assoc.c's assoc_set_state); the rest is freed with the analyzer (an_assoc.c).
 */
#include "an_internal.h"

/* ------------------------------------------------------------------------------------------------ */
/* Outstanding TSNs                                                                                  */
/* ------------------------------------------------------------------------------------------------ */

static inline sc_tsn_ent *q_slot(const sc_tsnq *q, uint32_t tsn) { return &q->e[tsn & (q->cap - 1)]; }

static void untime(sc_assoc *A, const sc_tsn_ent *ent, uint32_t tsn)
{
    if (ent->path < A->npaths) {
        sc_path *p = &A->paths[ent->path];
        if (p->timed && p->timed_tsn == tsn)
            p->timed = 0;
    }
}

/* Drop the k oldest ring entries without acknowledging them (eviction, FORWARD-TSN). */
static void q_drop_front(sc_analyzer *an, sc_assoc *A, sc_dir *D, uint32_t k, int evicted)
{
    sc_tsnq *q = &D->q;
    if (k > q->n)
        k = q->n;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t t = q->base + i;
        sc_tsn_ent *ent = q_slot(q, t);
        if ((ent->flags & (SC_TSN_SEEN | SC_TSN_ACKED)) == SC_TSN_SEEN) {
            D->flight_bytes -= ent->bytes;
            D->flight_chunks--;
            if (evicted)
                an->cap.tsns_evicted++;
        }
        untime(A, ent, t);
    }
    q->base += k;
    q->n -= k;
}

void tsnq_release_all(sc_assoc *A, sc_dir *D)
{
    sc_tsnq *q = &D->q;
    for (uint32_t i = 0; i < q->n; i++)
        untime(A, q_slot(q, q->base + i), q->base + i);
    q->base += q->n;
    q->n = 0;
    free(q->e);
    q->e = NULL;
    q->cap = 0;
    D->flight_bytes = 0;
    D->flight_chunks = 0;
}

static int q_reserve(sc_tsnq *q, uint32_t need, uint32_t maxcap)
{
    if (need <= q->cap)
        return 0;
    uint32_t ncap = q->cap ? q->cap : 64;
    while (ncap < need && ncap < maxcap)
        ncap <<= 1;
    if (ncap < need)
        return -1;
    sc_tsn_ent *ne = calloc(ncap, sizeof *ne);
    if (!ne)
        return -1;
    for (uint32_t i = 0; i < q->cap; i++) { /* released entries still readable (below base, within one ring) */
        const sc_tsn_ent *o = &q->e[i];
        if ((o->flags & SC_TSN_SEEN) && (uint32_t)(q->base - o->tsn) - 1u < q->cap)
            ne[o->tsn & (ncap - 1)] = *o;
    }
    for (uint32_t i = 0; i < q->n; i++) {
        uint32_t t = q->base + i;
        ne[t & (ncap - 1)] = q->e[t & (q->cap - 1)];
    }
    free(q->e);
    q->e = ne;
    q->cap = ncap;
    return 0;
}

/* Make room for TSN t at or beyond the head (t - base >= n); returns its (cleared) entry or NULL. */
static sc_tsn_ent *q_append(sc_analyzer *an, sc_assoc *A, sc_dir *D, uint32_t t)
{
    sc_tsnq *q = &D->q;
    uint64_t need = (uint64_t)(uint32_t)(t - q->base) + 1;
    if (need > an->max_outstanding) {
        uint64_t drop = need - an->max_outstanding;
        if (drop >= q->n) {
            q_drop_front(an, A, D, q->n, 1);
            q->base = t;
            need = 1;
        } else {
            q_drop_front(an, A, D, (uint32_t)drop, 1);
            need -= drop;
        }
    }
    if (q_reserve(q, (uint32_t)need, an->tsn_ring_max) < 0)
        return NULL;
    for (uint32_t i = q->n; i < need; i++) {
        sc_tsn_ent *ent = q_slot(q, q->base + i);
        memset(ent, 0, sizeof *ent);
        ent->tsn = q->base + i;
        ent->path = 0xffff;
    }
    q->n = (uint32_t)need;
    return q_slot(q, t);
}

/* The entry of TSN t: in the live window, or released but not overwritten yet; NULL if neither. */
static sc_tsn_ent *q_find(const sc_tsnq *q, uint32_t t)
{
    if (!q->cap)
        return NULL;
    sc_tsn_ent *ent = q_slot(q, t);
    return ent->tsn == t && (ent->flags & SC_TSN_SEEN) ? ent : NULL;
}

/* RFC 9260 §6.3.1 C5: a retransmission of TSN t spoils the timing of every TSN r >= t of that direction. */
static void karn_invalidate(sc_assoc *A, unsigned dir, uint32_t t)
{
    for (uint16_t i = 0; i < A->npaths; i++) {
        sc_path *p = &A->paths[i];
        if (p->dir == dir && p->timed && ser_le(t, p->timed_tsn))
            p->timed = 0;
    }
}

typedef struct {
    int npending;
    struct {
        int path;
        int64_t rtt;
        uint32_t tsn;
    } s[SC_MAX_PATHS];
    uint64_t first_frame;
    uint32_t newly;
    uint8_t multi, ibit;
} ack_ctx;

/* Entry t becomes acknowledged (cum ack or gap block) for the first time. */
static void ack_entry(sc_assoc *A, sc_dir *D, sc_tsn_ent *ent, uint32_t t, int64_t now, ack_ctx *cx)
{
    if ((ent->flags & (SC_TSN_SEEN | SC_TSN_ACKED)) != SC_TSN_SEEN)
        return;
    ent->flags |= SC_TSN_ACKED;
    D->flight_bytes -= ent->bytes;
    D->flight_chunks--;
    if (!cx)
        return;
    if (cx->newly == 0)
        cx->first_frame = ent->first_frame;
    else if (ent->first_frame != cx->first_frame)
        cx->multi = 1;
    if (ent->flags & SC_TSN_IBIT)
        cx->ibit = 1;
    cx->newly++;
    if (ent->path < A->npaths) {
        sc_path *p = &A->paths[ent->path];
        if (p->timed && p->timed_tsn == t) {
            p->timed = 0;
            if (!(ent->flags & (SC_TSN_RTX | SC_TSN_KARN)) && cx->npending < SC_MAX_PATHS) {
                cx->s[cx->npending].path = ent->path;
                cx->s[cx->npending].rtt = now - p->timed_sent_ns;
                cx->s[cx->npending].tsn = t;
                cx->npending++;
            }
        }
    }
}

/* Fast Recovery as the wire shows it, for the miss indications of a SACK from the peer (apply_ack calls this first,
 * only while q is in Fast Recovery: q->peer_cum is still the previous cum ack, nothing is released yet).
 * RFC 9260 §7.2.4: "miss indications are incremented only for missing TSNs prior to the highest TSN newly
 * acknowledged in the SACK" (HTNA), but "If an endpoint is in Fast Recovery and a SACK arrives that advances the
 * Cumulative TSN Ack Point, the miss indications are incremented for all TSNs reported missing in the SACK."
 * As Linux 6.1 does it (sctp_outq_sack): misses only for a SACK that carries gap blocks (one without reports no
 * TSN missing, and HTNA finds none either), and then for every outstanding TSN not gap-acked below the highest TSN
 * the SACK reports (cum + the largest block end), whether any TSN near it is newly acked or not. Fast Recovery
 * ends when the cum ack reaches its exit point (TSN_lte(fast_recovery_exit, sack_ctsn)); Linux checks that
 * before it counts the SACK's misses (sctp_transport_raise_cwnd, from sctp_check_transmitted), so this does too.
 * It begins in on_data, with a retransmission found fast. Returns the TSN below which every TSN not gap-acked
 * gets a miss (capped at the end of the ring: TSNs above the highest sent are nobody's), or -1 for none beyond
 * the HTNA rule's. */
static NOINLINE int64_t fr_sack(sc_tsnq *q, uint32_t cum, const uint8_t *blk, uint32_t nblk, const uint8_t *nrblk,
                                uint32_t nnr)
{
    if (ser_le(q->fr_exit, cum)) {
        q->in_fr = 0;
        return -1;
    }
    if (!q->n || !ser_lt(q->peer_cum, cum))
        return -1; /* nothing outstanding, or the cum ack did not advance */
    int have = 0;
    uint32_t top = 0;
    for (int list = 0; list < 2; list++) {
        const uint8_t *b = list ? nrblk : blk;
        uint32_t nb = list ? nnr : nblk;
        for (uint32_t i = 0; i < nb; i++) {
            uint16_t s = be16(b + 4 * i), e = be16(b + 4 * i + 2);
            if (s == 0 || e < s)
                continue; /* malformed block */
            if (!have || ser_lt(top, cum + e)) {
                top = cum + e;
                have = 1;
            }
        }
    }
    if (!have)
        return -1; /* no gap blocks */
    uint32_t end = q->base + q->n;
    return ser_lt(end, top) ? end : top;
}

/* Apply an acknowledgement from the peer to direction `dd`'s outstanding TSNs: cumulative TSN ack `cum`,
 * gap blocks (pairs of 16-bit offsets from cum, big-endian, at blk[4*i]), NR gap blocks likewise, and dup TSNs.
 * sample: take RTT samples (SACK/NR-SACK; not SHUTDOWN's cum ack). */
void apply_ack(sc_analyzer *an, sc_assoc *A, unsigned dd, uint32_t cum, const uint8_t *blk, uint32_t nblk,
                      const uint8_t *nrblk, uint32_t nnr, const uint8_t *dups, uint32_t ndup, int sample,
                      const sc_packet *pkt)
{
    sc_dir *D = &A->dir[dd];
    sc_tsnq *q = &D->q;
    /* RFC 9260 §7.2.4: this SACK's miss indications go to the TSNs still missing below htna, the highest TSN it
     * newly acks (found with the gap blocks below) or, in Fast Recovery, the highest TSN it reports (fr_sack).
     * Fast Recovery implies cum_known (it follows misses, which follow a SACK), so in_fr is tested inside that
     * branch, where GCC still has the direction's address: 2 instructions per SACK there, 7 just before the
     * misses are counted (the address recomputed). Bench corpus, callgrind, feed loop: 2,086.8 -> 2,091.2
     * instructions per packet (the rest is register allocation), against 2,093.9 inline and 2,092.1 out of line
     * at the miss count. */
    int have_htna = 0;
    uint32_t htna = 0;
    if (q->cum_known) {
        if (ser_lt(cum, q->peer_cum))
            return; /* an older SACK overtaken on the wire: nothing new (RFC 9260 §6.2.1 D) */
        if (__builtin_expect(q->in_fr, 0)) {
            int64_t top = fr_sack(q, cum, blk, nblk, nrblk, nnr);
            if (top >= 0) {
                htna = (uint32_t)top;
                have_htna = 1;
            }
        }
    }
    ack_ctx cxs;
    ack_ctx *cx = sample ? &cxs : NULL;
    /* only the header: s[] (768 bytes) is written before it is read; clearing it all cost ~100 instructions
     * per SACK */
    cxs.npending = 0;
    cxs.first_frame = 0;
    cxs.newly = 0;
    cxs.multi = cxs.ibit = 0;
    int64_t now = pkt->ts_ns;

    /* Duplicate TSNs: a retransmitted TSN that the peer got twice was retransmitted spuriously. Its
     * "retransmission" event said spurious: false (the wire had not shown it acked when it was resent), so the
     * news gets an event of its own. */
    for (uint32_t i = 0; i < ndup; i++) {
        uint32_t t = be32(dups + 4 * i);
        sc_tsn_ent *ent = q_find(q, t);
        if (ent && (ent->flags & (SC_TSN_RTX | SC_TSN_SPUR)) == SC_TSN_RTX) {
            ent->flags |= SC_TSN_SPUR;
            D->rtx_spurious++;
            sc_event *e = ev_push(an, SC_EV_SPURIOUS, pkt->ts_ns, pkt->frame_no, A->id);
            if (e) {
                e->dir = (uint8_t)dd;
                if (ent->path < A->npaths) {
                    e->src = A->paths[ent->path].src;
                    e->dst = A->paths[ent->path].dst;
                }
                e->v[0] = t;
                e->v[1] = (int64_t)ent->first_frame;
                e->b1 = 0; /* reason: dup_tsn */
            }
        }
    }

    /* Cumulative ack: release base .. cum. */
    if (q->n && ser_le(q->base, cum)) {
        uint64_t k = (uint64_t)(uint32_t)(cum - q->base) + 1;
        if (k > q->n)
            k = q->n;
        for (uint32_t i = 0; i < k; i++) {
            uint32_t t = q->base + i;
            sc_tsn_ent *ent = q_slot(q, t);
            ack_entry(A, D, ent, t, now, cx);
            untime(A, ent, t);
        }
        q->base += (uint32_t)k;
        q->n -= (uint32_t)k;
    }
    if (q->n == 0 && q->started && ser_lt(q->base, cum + 1))
        q->base = cum + 1;

    /* Gap blocks (then NR gap blocks): mark, remembering the highest TSN newly acked (HTNA). In Fast Recovery
     * htna may already hold the highest TSN the SACK reports, set above: no TSN the blocks newly ack is above it. */
    for (int list = 0; list < 2; list++) {
        const uint8_t *b = list ? nrblk : blk;
        uint32_t nb = list ? nnr : nblk;
        uint32_t cursor = cum + 1;
        for (uint32_t i = 0; i < nb && q->n; i++) {
            uint16_t s = be16(b + 4 * i), e = be16(b + 4 * i + 2);
            if (s == 0 || e < s)
                continue; /* malformed block */
            uint32_t lo = cum + s, hi = cum + e;
            if (ser_lt(lo, cursor))
                lo = cursor;
            if (ser_lt(lo, q->base))
                lo = q->base;
            uint32_t last = q->base + q->n - 1;
            if (ser_lt(last, hi))
                hi = last;
            for (uint32_t t = lo; ser_le(t, hi); t++) {
                sc_tsn_ent *ent = q_slot(q, t);
                if ((ent->flags & (SC_TSN_SEEN | SC_TSN_ACKED)) == SC_TSN_SEEN) {
                    ack_entry(A, D, ent, t, now, cx);
                    if (!have_htna || ser_lt(htna, t)) {
                        htna = t;
                        have_htna = 1;
                    }
                }
                if (t == hi)
                    break;
            }
            if (ser_lt(cursor, hi + 1))
                cursor = hi + 1;
        }
    }

    /* RFC 9260 §7.2.4: miss indications for the TSNs still missing below htna (see above). */
    if (have_htna) {
        for (uint32_t t = q->base; ser_lt(t, htna); t++) {
            sc_tsn_ent *ent = q_slot(q, t);
            if (!(ent->flags & SC_TSN_ACKED) && ent->miss < 255)
                ent->miss++;
        }
    }
    q->peer_cum = cum;
    q->cum_known = 1;

    if (cx) {
        /* A SACK that acknowledges exactly one packet, >= 150 ms after it was sent, was probably held by the
         * peer's delayed-ack timer (RFC 9260 §6.2: within 200 ms); unless that DATA asked for an immediate SACK. */
        int one_packet = cx->newly > 0 && !cx->multi && !cx->ibit;
        for (int i = 0; i < cx->npending; i++) {
            int delayed = one_packet && cx->s[i].rtt >= SC_DELAYED_SACK_NS;
            rtt_sample(an, A, dd, cx->s[i].path, cx->s[i].rtt, 0, 1, cx->s[i].tsn, delayed, pkt);
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* DATA / I-DATA, SACK / NR-SACK, FORWARD-TSN / I-FORWARD-TSN                                        */
/* ------------------------------------------------------------------------------------------------ */

static sc_stream *stream_get(sc_analyzer *an, sc_dir *D, uint16_t sid)
{
    uint32_t lo = 0, hi = D->nstreams;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (D->streams[mid].sid < sid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < D->nstreams && D->streams[lo].sid == sid)
        return &D->streams[lo];
    if (D->nstreams >= SC_MAX_STREAMS) {
        an->cap.streams_dropped++;
        return NULL;
    }
    if (D->nstreams == D->streams_cap) {
        uint32_t ncap = D->streams_cap ? D->streams_cap * 2 : 4;
        sc_stream *ns = realloc(D->streams, ncap * sizeof *ns);
        if (!ns)
            return NULL;
        D->streams = ns;
        D->streams_cap = ncap;
    }
    memmove(&D->streams[lo + 1], &D->streams[lo], (D->nstreams - lo) * sizeof *D->streams);
    D->nstreams++;
    sc_stream *s = &D->streams[lo];
    memset(s, 0, sizeof *s);
    s->sid = sid;
    return s;
}

void on_data(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail, uint8_t flags, int idata)
{
    uint32_t hdr = idata ? 20 : 16;
    if (len < hdr) {
        x->bad = 1;
        rec_cancel(x);
        return;
    }
    if (avail < hdr) { /* header cut by snaplen */
        rec_cancel(x);
        return;
    }
    sc_analyzer *an = x->an;
    sc_assoc *A = x->A;
    const sc_packet *pkt = x->pkt;
    sc_dir *D = &A->dir[x->d];
    sc_tsnq *q = &D->q;
    uint32_t tsn = be32(c + 4);
    uint16_t sid = be16(c + 8);
    uint32_t ssn, ppid;
    int ppid_ok = 1;
    if (idata) { /* RFC 8260 §2.1: TSN, SID, reserved, MID, PPID (B bit set) or FSN */
        ssn = be32(c + 12);
        ppid = be32(c + 16);
        ppid_ok = (flags & 0x02) != 0;
    } else {
        ssn = be16(c + 10);
        ppid = be32(c + 12);
    }
    int ubit = (flags & 0x04) != 0, bbit = (flags & 0x02) != 0, ibit = (flags & 0x08) != 0;
    uint32_t bytes = len - hdr;
    sc_path *p = x->pidx >= 0 ? &A->paths[x->pidx] : NULL;

    D->data_chunks++;
    D->data_bytes += bytes;
    if (p) {
        p->data_chunks++;
        p->data_bytes += bytes;
    }
    x->had_data = 1;

    /* Classify: new TSN, or retransmission (with or without its first transmission in the ring). */
    sc_tsn_ent *ent = NULL;
    int is_new = 0, appended = 0, karn = 0, rtx_known = 0, spurious = 0;
    if (!q->started) {
        q->started = 1;
        q->base = tsn;
        q->n = 0;
        q->low = tsn;
    }
    uint32_t off = tsn - q->base;
    if ((int32_t)off >= 0 && off < q->n) {
        ent = q_slot(q, tsn);
        if (ent->flags & SC_TSN_SEEN) {
            rtx_known = 1;
        } else { /* a hole in the sequence: first time seen here; if the peer reported it missing it is in fact
                    a retransmission whose original the capture did not see: never time across it (C5) */
            is_new = 1;
            karn = ent->miss > 0;
        }
    } else if ((int32_t)off >= 0) {
        ent = q_append(an, A, D, tsn);
        is_new = appended = 1;
    } else if ((ent = q_find(q, tsn)) != NULL) {
        rtx_known = 1; /* released (cum-acked, abandoned or evicted) but its entry is still readable */
        if (q->cum_known && ser_le(tsn, q->peer_cum))
            spurious = 1;
    } else if (q->cum_known && ser_le(tsn, q->peer_cum)) {
        spurious = 1; /* already cumulatively acked, entry gone: retransmission of unknown kind */
    } else if (ser_le(q->low, tsn)) {
        /* released earlier (FORWARD-TSN, eviction), entry gone: retransmission of unknown kind */
    } else {
        is_new = 1; /* below everything seen and not acked: first sent before the capture started */
        q->low = tsn;
    }
    if (ser_lt(tsn, q->low))
        q->low = tsn;

    if (is_new) {
        D->unique_tsns++;
        if (an->payloads)
            sc_pay_add(an, pkt, A, x->d, tsn, sid, ssn, ppid, c + hdr, bytes, (avail < len ? avail : len) - hdr,
                       flags, idata);
        if (x->wr)
            x->wr->note |= SC_WN_FIRST;
        if (ent) {
            uint8_t miss = ent->miss;
            memset(ent, 0, sizeof *ent);
            ent->tsn = tsn;
            ent->flags = (uint8_t)(SC_TSN_SEEN | (ibit ? SC_TSN_IBIT : 0) | (karn ? SC_TSN_KARN : 0));
            ent->miss = karn ? 0 : miss;
            ent->sent_ns = pkt->ts_ns;
            ent->first_frame = pkt->frame_no;
            ent->bytes = bytes;
            ent->path = x->pidx >= 0 ? (uint16_t)x->pidx : 0xffff;
            D->flight_bytes += bytes;
            D->flight_chunks++;
            if (D->flight_bytes > D->flight_max_bytes)
                D->flight_max_bytes = D->flight_bytes;
            if (D->flight_chunks > D->flight_max_chunks)
                D->flight_max_chunks = D->flight_chunks;
            if (karn)
                karn_invalidate(A, x->d, tsn);
            else if (appended && p && !p->timed) { /* C4: one timed TSN per path */
                p->timed = 1;
                p->timed_tsn = tsn;
                p->timed_sent_ns = pkt->ts_ns;
            }
        }
        /* per stream (each TSN once) and jitter */
        sc_stream *st = stream_get(an, D, sid);
        if (st) {
            st->chunks++;
            st->bytes += bytes;
            if (ubit)
                st->unordered++;
            else
                st->ordered++;
            if (ppid_ok) {
                int k;
                for (k = 0; k < st->nppid && st->ppid[k] != ppid; k++)
                    ;
                if (k < st->nppid)
                    st->ppid_n[k]++;
                else if (st->nppid < SC_MAX_PPIDS) {
                    st->ppid[st->nppid] = ppid;
                    st->ppid_n[st->nppid++] = 1;
                } else
                    st->ppid_other++;
            }
            /* SSN (MID for I-DATA) continuity over ordered message starts (B bit): middle/last fragments
             * repeat their message's SSN. A forward jump is one gap; an older SSN (reordering) is ignored. */
            if (!ubit && bbit) {
                if (!st->have_ssn) {
                    st->first_ssn = st->last_ssn = ssn;
                    st->have_ssn = 1;
                } else {
                    int fwd = idata ? (int32_t)(ssn - st->last_ssn) > 0 : (int16_t)(uint16_t)(ssn - st->last_ssn) > 0;
                    uint32_t next = idata ? st->last_ssn + 1 : (uint16_t)(st->last_ssn + 1);
                    if (fwd) {
                        if (ssn != next)
                            st->ssn_gaps++;
                        st->last_ssn = ssn;
                    }
                }
            }
            jit_add(&st->jit, pkt->ts_ns);
        }
        jit_add(&D->jit, pkt->ts_ns);
        return;
    }

    /* Retransmission. */
    unsigned kind = 2; /* unknown */
    int64_t since = SC_NOTS;
    int64_t first_frame = SC_NOTS;
    if (rtx_known) {
        kind = ent->miss >= 3 ? 0 : 1; /* fast (RFC 9260 §7.2.4: three miss indications) or timeout */
        /* RFC 9260 §7.2.4 step 4: a fast retransmission puts a sender not in Fast Recovery into it, with the
         * highest outstanding TSN as its exit point (Linux: fast_recovery_exit = next_tsn - 1, the highest TSN it
         * has sent: new DATA bundled after this chunk comes later). A T3-rtx expiry ends it (Linux
         * sctp_transport_lower_cwnd: "T3-rtx also clears fast recovery"). Once per retransmission, not per DATA. */
        if (kind == 0) {
            if (!q->in_fr) {
                q->in_fr = 1;
                q->fr_exit = q->base + q->n - 1;
            }
        } else {
            q->in_fr = 0;
        }
        if (ent->flags & SC_TSN_ACKED)
            spurious = 1;
        if (spurious)
            ent->flags |= SC_TSN_SPUR;
        ent->flags |= SC_TSN_RTX;
        ent->miss = 0;
        ent->path = x->pidx >= 0 ? (uint16_t)x->pidx : 0xffff;
        since = pkt->ts_ns - ent->sent_ns;
        first_frame = (int64_t)ent->first_frame;
    }
    D->rtx_total++;
    if (kind == 0)
        D->rtx_fast++;
    else if (kind == 1)
        D->rtx_timeout++;
    else
        D->rtx_unknown++;
    if (spurious)
        D->rtx_spurious++;
    if (p)
        p->retransmissions++;
    if (x->wr)
        x->wr->note |= (uint8_t)(SC_WN_RTX | kind << 1 | (spurious ? SC_WN_SPURIOUS : 0));
    karn_invalidate(A, x->d, tsn);
    sc_event *e = ev_push(an, SC_EV_RETRANSMISSION, pkt->ts_ns, pkt->frame_no, A->id);
    if (e) {
        e->dir = (uint8_t)x->d;
        addr_from_pkt(&e->src, pkt->family, pkt->src);
        addr_from_pkt(&e->dst, pkt->family, pkt->dst);
        e->v[0] = tsn;
        e->b1 = (uint8_t)kind;
        e->b2 = (uint8_t)spurious;
        e->v[1] = since;
        e->v[2] = first_frame;
    }
}

static void rwnd_update(pctx *x, sc_dir *S, uint32_t arwnd)
{
    if (!S->have_rwnd) {
        S->rwnd_min = S->rwnd_max = arwnd;
        S->have_rwnd = 1;
    }
    if (arwnd < S->rwnd_min)
        S->rwnd_min = arwnd;
    if (arwnd > S->rwnd_max)
        S->rwnd_max = arwnd;
    S->rwnd_last = arwnd;
    int zero = arwnd == 0;
    if (zero != S->in_zero_window) {
        if (zero)
            S->zero_window_episodes++;
        S->in_zero_window = (uint8_t)zero;
        sc_event *e = ev_push(x->an, SC_EV_WINDOW, x->pkt->ts_ns, x->pkt->frame_no, x->A->id);
        if (e) {
            e->dir = (uint8_t)x->d;
            e->v[0] = arwnd;
            e->b1 = (uint8_t)zero;
        }
    }
}

void on_sack(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail, int nr)
{
    /* RFC 9260 §3.3.4 SACK: cum TSN ack, a_rwnd, #gap blocks, #dup TSNs, blocks, dups.
     * NR-SACK (draft-tuexen-tsvwg-sctp-multipath): ... #gap, #nr-gap, #dup, reserved, gaps, nr-gaps, dups. */
    uint32_t fixed = nr ? 20 : 16;
    if (len < fixed) {
        x->bad = 1;
        rec_cancel(x);
        return;
    }
    if (avail < fixed) {
        rec_cancel(x);
        return;
    }
    sc_assoc *A = x->A;
    sc_dir *S = &A->dir[x->d];
    uint32_t cum = be32(c + 4), arwnd = be32(c + 8);
    uint32_t ngap = be16(c + 12), nnr = nr ? be16(c + 14) : 0, ndup = nr ? be16(c + 16) : be16(c + 14);
    if (nr)
        S->nr_sacks++;
    else
        S->sacks++;
    S->gap_blocks += ngap + nnr;
    S->dup_tsns_reported += ndup;
    rwnd_update(x, S, arwnd);
    x->had_sack = 1;

    /* the lists as far as declared and captured */
    uint64_t want = (uint64_t)fixed + 4ull * (ngap + nnr) + 4ull * ndup;
    if (want > len)
        x->bad = 1;
    uint32_t room = (avail < len ? avail : len) - fixed;
    uint32_t g = ngap, r = nnr, u = ndup;
    if (4ull * g > room)
        g = room / 4;
    room -= 4 * g;
    if (4ull * r > room)
        r = room / 4;
    room -= 4 * r;
    if (4ull * u > room)
        u = room / 4;
    const uint8_t *blk = c + fixed;
    if (x->wr)
        rec_sack_lists(x, cum, blk, g + r, g, u);
    apply_ack(x->an, A, 1 - x->d, cum, blk, g, blk + 4 * g, r, blk + 4 * (g + r), u, 1, x->pkt);
    if (x->wr) { /* the SACK's record: the flight it leaves */
        uint64_t fl = A->dir[1 - x->d].flight_bytes;
        x->wr->c = fl > 0xffffffffu ? 0xffffffffu : (uint32_t)fl;
    }

    sc_event *e = ev_push(x->an, SC_EV_SACK, x->pkt->ts_ns, x->pkt->frame_no, A->id);
    if (e) {
        e->dir = (uint8_t)x->d;
        e->v[0] = cum;
        e->v[1] = arwnd;
        e->v[2] = ngap + nnr;
        e->v[3] = ndup;
        e->v[4] = (int64_t)A->dir[1 - x->d].flight_bytes;
    }
}

void on_forward_tsn(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail)
{
    /* RFC 3758 §3.2 / RFC 8260 §2.3: the sender abandons every TSN <= New Cumulative TSN */
    if (len < 8) {
        x->bad = 1;
        rec_cancel(x);
        return;
    }
    sc_dir *D = &x->A->dir[x->d];
    D->forward_tsns++;
    if (avail < 8)
        return;
    uint32_t fwd = be32(c + 4);
    sc_tsnq *q = &D->q;
    if (q->n && ser_le(q->base, fwd)) {
        uint64_t k = (uint64_t)(uint32_t)(fwd - q->base) + 1;
        q_drop_front(x->an, x->A, D, k > q->n ? q->n : (uint32_t)k, 0);
    }
}
