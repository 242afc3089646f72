/*
 * an_assoc.c: associations, their paths and addresses: which association a packet belongs to and which endpoint
 * sent it, creation, orientation, state changes; what an association owns and when that is freed.
 *
 * Theory of operation
 * -------------------
 * Association identity. RFC 9260 §8.5: every packet carries the verification tag its *receiver* chose, so a
 * packet src->dst with tag v says "the endpoint (dst port, ...) expects v". A table of half keys
 * (sport, dport, receiver's vtag) -> (association, sending endpoint) resolves both directions of an
 * association to the same record, independently of addresses (multihoming changes addresses, not tags).
 * Exceptions, all from RFC 9260:
 *   - INIT has tag 0 (§8.5.1 A): it is keyed by its Initiate Tag, which the peer's packets will carry;
 *   - ABORT and SHUTDOWN-COMPLETE with the T bit carry the *sender's* own tag (§8.5.1 B/C): the key is reversed;
 *   - INIT-ACK announces the responder's tag; a stateless responder answers each INIT retransmission with a new
 *     tag, so up to SC_MAX_EXTRA_TAGS of them are registered and the COOKIE-ECHO says which one was used.
 * When the half key is unknown, a second table indexed by the path (ports + address pair, either direction)
 * gives the newest association that used it. It decides between:
 *   - pairing: a mid-capture association seen in one direction only, whose missing tag this packet reveals
 *     (reversed ports, same address pair: "first come first paired");
 *   - INIT collision (§5.2.1): the peer of an association in COOKIE-WAIT sends its own INIT;
 *   - restart (§5.2.2): an INIT with new tags on the path of an ESTABLISHED (or shutting down) association:
 *     a new association, counted in its handshake.restarts;
 *   - otherwise a new association. Endpoint A is the INIT sender when the handshake shows it, otherwise the
 *     endpoint with the lower (port, tag it receives) pair as known when the association is first seen (an
 *     unknown tag compares higher), so the orientation never changes after the first packet.
 *
 * What one association owns (sc_assoc, analyze.h), all of it allocated here or by the chunk handlers, each piece
 * bounded (analyze.h "Memory is bounded by configuration"):
 *   - its paths (paths[], at most SC_MAX_PATHS), each with its RTT histogram (rtt.bins);
 *   - per endpoint: the address set (addrs[e].v, at most SC_MAX_ADDRS) and the parameters of its INIT or
 *     INIT-ACK (init[e], an_chunks.c's parse_init);
 *   - per direction: the streams (dir[d].streams, at most SC_MAX_STREAMS) and the outstanding-TSN ring
 *     (dir[d].q.e), both an_tsn.c's, and the RTT histogram (dir[d].rtt.bins);
 *   - the first ABORT's details (abort, an_chunks.c's on_abort).
 * When the association ends (CLOSED or ABORTED, assoc_set_state) its TSN rings are given back: they are the
 * large part, and only DATA after the end would use them again (a new ring then, freed like the rest).
 * Everything else stays for the report: freed with the analyzer (assoc_free, from analyze.c's sc_an_free), or,
 * when the analyzer folds (fold.c: `sctpcorr pcap`), written to the spill file and freed once the association
 * has lingered after its end (or idled), its hash-table keys removed (sc_an_unlink_assoc). Until then the two
 * hash tables (an_maps.c) keep its keys: a late packet of an ended association still finds it (an INIT with its
 * tag starts a new association instead).
 */
#include "an_internal.h"

/* ------------------------------------------------------------------------------------------------ */
/* Addresses                                                                                         */
/* ------------------------------------------------------------------------------------------------ */

static int addrset_has(const sc_addrset *s, const sc_addr *a)
{
    for (uint16_t i = 0; i < s->n; i++)
        if (addr_eq(&s->v[i], a))
            return 1;
    return 0;
}

void addrset_add(sc_analyzer *an, sc_addrset *s, const sc_addr *a)
{
    if (addr_zero(a) || addrset_has(s, a))
        return;
    if (s->n >= SC_MAX_ADDRS) {
        an->cap.addresses_dropped++;
        return;
    }
    if (s->n == s->cap) {
        uint16_t ncap = s->cap ? (uint16_t)(s->cap * 2) : 2;
        sc_addr *nv = realloc(s->v, ncap * sizeof *nv);
        if (!nv)
            return;
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = *a;
}

/* ------------------------------------------------------------------------------------------------ */
/* Associations                                                                                      */
/* ------------------------------------------------------------------------------------------------ */

static void init_rtt(sc_rtt *r) { memset(r, 0, sizeof *r); }

static sc_assoc *assoc_new(sc_analyzer *an, const sc_packet *pkt, uint16_t portA, uint16_t portB, int mid)
{
    if (an->nassocs - an->nfolded >= an->max_assocs || an->nassocs >= 0x7ffffffeULL) {
        an->cap.assocs_dropped++;
        return NULL;
    }
    if (an->nassocs == an->assocs_cap) {
        uint64_t ncap = an->assocs_cap ? an->assocs_cap * 2 : 64;
        sc_assoc **na = realloc(an->assocs, ncap * sizeof *na);
        if (!na) {
            an->cap.assocs_dropped++;
            return NULL;
        }
        an->assocs = na;
        an->assocs_cap = ncap;
    }
    sc_assoc *A = calloc(1, sizeof *A);
    if (!A) {
        an->cap.assocs_dropped++;
        return NULL;
    }
    an->assocs[an->nassocs++] = A;
    A->id = (uint32_t)an->nassocs;
    A->last_rtt_ns = -1;
    A->port[0] = portA;
    A->port[1] = portB;
    A->state = SC_ST_NONE;
    A->mid_association = (uint8_t)mid;
    A->first_ts_ns = A->last_ts_ns = pkt->ts_ns;
    A->init_ns = A->init_ack_ns = A->cookie_echo_ns = A->cookie_ack_ns = SC_NOTS;
    A->last_init_ns = A->last_init_ack_ns = A->last_cookie_echo_ns = SC_NOTS;
    A->shutdown_ns = A->shutdown_ack_ns = A->shutdown_complete_ns = SC_NOTS;
    A->init_path = A->init_ack_path = A->cookie_echo_path = 0xffff;
    for (int d = 0; d < 2; d++)
        A->dir[d].last_path = 0xffff;
    sc_event *e = ev_push(an, SC_EV_ASSOC_NEW, pkt->ts_ns, pkt->frame_no, A->id);
    if (e) {
        e->v[0] = portA;
        e->v[1] = portB;
        e->b1 = (uint8_t)mid;
    }
    return A;
}

/* Endpoint e's tag becomes known: packets from the other endpoint to e will carry it. */
void assoc_set_tag(sc_analyzer *an, sc_assoc *A, unsigned e, uint32_t tag)
{
    A->vtag[e] = tag;
    A->vtag_known[e] = 1;
    u64map_put(&an->keys, half_key(A->port[1 - e], A->port[e], tag), assoc_val(A, 1 - e));
}

void assoc_set_state(sc_analyzer *an, sc_assoc *A, unsigned ns, unsigned chunk_type, const sc_packet *pkt)
{
    unsigned old = A->state;
    if (ns == old)
        return;
    A->state = (uint8_t)ns;
    sc_event *e = ev_push(an, SC_EV_STATE, pkt->ts_ns, pkt->frame_no, A->id);
    if (e) {
        e->v[0] = old;
        e->v[1] = ns;
        e->v[2] = chunk_type;
    }
    if (!state_live(ns)) { /* the association is over: give its TSN rings back */
        tsnq_release_all(A, &A->dir[0]);
        tsnq_release_all(A, &A->dir[1]);
        if (state_live(old))
            sc_fold_ended(an, A);   /* and the rest once it has lingered (fold.c) */
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Paths                                                                                             */
/* ------------------------------------------------------------------------------------------------ */

/* The path (src -> dst) of a packet sent by endpoint `dir`; created on first use. -1 when the per-association
 * path limit is reached. (an_internal.h's path_get tries the direction's last path inline first.) */
int path_get_full(sc_analyzer *an, sc_assoc *A, unsigned dir, const sc_addr *src, const sc_addr *dst)
{
    sc_dir *D = &A->dir[dir];
    if (D->last_path < A->npaths) {
        const sc_path *p = &A->paths[D->last_path];
        if (p->dir == dir && addr_eq(&p->src, src) && addr_eq(&p->dst, dst))
            return D->last_path;
    }
    for (uint16_t i = 0; i < A->npaths; i++) {
        const sc_path *p = &A->paths[i];
        if (p->dir == dir && addr_eq(&p->src, src) && addr_eq(&p->dst, dst)) {
            D->last_path = i;
            return i;
        }
    }
    if (A->npaths >= SC_MAX_PATHS) {
        an->cap.paths_dropped++;
        return -1;
    }
    if (A->npaths == A->paths_cap) {
        uint16_t ncap = A->paths_cap ? (uint16_t)(A->paths_cap * 2) : 2;
        sc_path *np = realloc(A->paths, ncap * sizeof *np);
        if (!np)
            return -1;
        A->paths = np;
        A->paths_cap = ncap;
    }
    /* the reverse path of an existing one has the same (direction-agnostic) key: registered already */
    int registered = 0;
    for (uint16_t i = 0; i < A->npaths; i++)
        if (addr_eq(&A->paths[i].src, dst) && addr_eq(&A->paths[i].dst, src))
            registered = 1;
    sc_path *p = &A->paths[A->npaths];
    memset(p, 0, sizeof *p);
    p->src = *src;
    p->dst = *dst;
    p->dir = (uint8_t)dir;
    init_rtt(&p->rtt);
    addrset_add(an, &A->addrs[dir], src);
    addrset_add(an, &A->addrs[1 - dir], dst);
    if (!registered) { /* newest association on this key; remember the one it hides */
        uint64_t h = path_hash(src, A->port[dir], dst, A->port[1 - dir]);
        uint32_t prev = u64map_get(&an->pathidx, h);
        p->prev_on_path = prev != A->id && prev <= an->nassocs ? prev : 0;
        p->path_key_owner = 1;
        u64map_put(&an->pathidx, h, A->id);
    }
    D->last_path = A->npaths;
    return A->npaths++;
}

/* The associations that used this packet's address pair and ports (either direction), newest first, at most
 * max of them (a bounded walk of the chain the path index heads). */
#define SC_MAX_CANDIDATES 16
static int path_candidates(const sc_analyzer *an, const sc_addr *src, uint16_t sport, const sc_addr *dst,
                           uint16_t dport, sc_assoc **out)
{
    uint32_t id = u64map_get(&an->pathidx, path_hash(src, sport, dst, dport));
    int n = 0;
    while (id && id <= an->nassocs && n < SC_MAX_CANDIDATES) {
        sc_assoc *A = an->assocs[id - 1];
        if ((uintptr_t)A & 1u)
            break; /* folded (fold.c): over, and what it hid is reached no more */
        if (!((A->port[0] == sport && A->port[1] == dport) || (A->port[0] == dport && A->port[1] == sport)))
            break;
        const sc_path *owner = NULL;
        for (uint16_t i = 0; i < A->npaths && !owner; i++) {
            const sc_path *p = &A->paths[i];
            if (p->path_key_owner && ((addr_eq(&p->src, src) && addr_eq(&p->dst, dst)) ||
                                      (addr_eq(&p->src, dst) && addr_eq(&p->dst, src))))
                owner = p;
        }
        if (!owner)
            break; /* a hash collision with another path */
        out[n++] = A;
        id = owner->prev_on_path;
    }
    return n;
}

/* ------------------------------------------------------------------------------------------------ */
/* Identity: the association of a packet                                                             */
/* ------------------------------------------------------------------------------------------------ */

/* Equal ports and no handshake: A is the endpoint that receives the lower tag (engine.md "Directions"). Until
 * both tags are known A is the endpoint whose tag is; when the second one arrives the endpoints may have to
 * swap. Everything indexed by endpoint or direction is swapped, including the keys, the duplicate cache and
 * the events not drained yet. Returns 1 if it swapped. */
static int maybe_reorient(sc_analyzer *an, sc_assoc *A)
{
    if (!A->orient_by_tags || !A->vtag_known[0] || !A->vtag_known[1])
        return 0;
    A->orient_by_tags = 0; /* decided for good */
    if (A->vtag[0] <= A->vtag[1])
        return 0;
#define SWAP(T, x, y) do { T tmp_ = (x); (x) = (y); (y) = tmp_; } while (0)
    SWAP(uint16_t, A->port[0], A->port[1]);
    SWAP(uint32_t, A->vtag[0], A->vtag[1]);
    SWAP(sc_addrset, A->addrs[0], A->addrs[1]);
    SWAP(sc_initinfo *, A->init[0], A->init[1]);
    SWAP(uint32_t, A->n_init[0], A->n_init[1]);
    SWAP(sc_dir, A->dir[0], A->dir[1]);
#undef SWAP
    for (uint16_t i = 0; i < A->npaths; i++)
        A->paths[i].dir ^= 1;
    if (A->abort)
        A->abort->by ^= 1;
    for (unsigned e = 0; e < 2; e++)
        u64map_put(&an->keys, half_key(A->port[1 - e], A->port[e], A->vtag[e]), assoc_val(A, 1 - e));
    for (size_t i = 0; i < (size_t)SC_DUP_SETS * SC_DUP_WAYS; i++)
        if (an->dup[i].assoc_val >> 1 == A->id)
            an->dup[i].assoc_val ^= 1;
    for (uint32_t i = 0; i < an->ev_n; i++) {
        sc_event *e = &an->ev[(an->ev_head + i) & (an->ev_cap - 1)];
        if (e->assoc_id == A->id)
            e->dir ^= 1;
    }
    if (A->rec_first) { /* its pending records: from its first one on (a full scan cost ~90 instructions per
                           packet on bench/out/corpus-100k.pcap, where many equal-port associations swap) */
        uint64_t from = A->rec_first - 1;
        for (uint64_t i = from > an->rec_drained ? from - an->rec_drained : 0; i < an->rec_n; i++)
            if (an->rec[i].assoc_id == A->id)
                an->rec[i].dir ^= 1;
    }
    return 1;
}

/* Find (or create) the association of a packet; sets *dir to the sending endpoint. (an_internal.h's
 * resolve tries the common case inline first: a known half key.) */
sc_assoc *resolve_full(sc_analyzer *an, const sc_packet *pkt, const sc_addr *src, const sc_addr *dst,
                           unsigned *dir)
{
    const sc_chunk *ch0 = &pkt->chunks[0];
    const uint8_t *c0 = pkt->sctp + ch0->offset;
    uint32_t av0 = chunk_avail(pkt, ch0);
    uint8_t t0 = ch0->type;
    uint16_t sp = pkt->sport, dp = pkt->dport;
    uint32_t val;
    sc_assoc *A, *C, *cands[SC_MAX_CANDIDATES];

    if (t0 == SC_INIT && ch0->length >= 20 && av0 >= 20) {
        uint32_t itag = be32(c0 + 4);
        /* the peer's packets will carry itag: a known key means an INIT retransmission */
        val = u64map_get(&an->keys, half_key(dp, sp, itag));
        if (val) {
            A = val_assoc(an, val);
            if (state_live(A->state)) {
                *dir = 1 - (val & 1);
                return A;
            }
        }
        int nc = path_candidates(an, src, sp, dst, dp, cands), restart = 0;
        for (int i = 0; i < nc; i++) {
            C = cands[i];
            if (C->state == SC_ST_COOKIE_WAIT && !C->vtag_known[1] && C->port[0] == dp && C->port[1] == sp &&
                addrset_has(&C->addrs[0], dst)) {
                /* RFC 9260 §5.2.1: both ends sent an INIT: one association, the second INIT gives B's tag */
                C->collision = 1;
                assoc_set_tag(an, C, 1, itag);
                *dir = 1;
                return C;
            }
            if (C->state == SC_ST_ESTABLISHED || C->state == SC_ST_SHUTDOWN_PENDING ||
                C->state == SC_ST_SHUTDOWN_SENT || C->state == SC_ST_SHUTDOWN_ACK_SENT)
                restart = 1; /* RFC 9260 §5.2.2: new tags on the path of a live association */
        }
        A = assoc_new(an, pkt, sp, dp, 0);
        if (!A)
            return NULL;
        A->restarts = (uint32_t)restart;
        assoc_set_tag(an, A, 0, itag);
        *dir = 0;
        return A;
    }

    /* RFC 9260 §8.5.1 B/C: ABORT / SHUTDOWN-COMPLETE with the T bit carry the sender's own tag */
    int tbit = (t0 == SC_ABORT || t0 == SC_SHUTDOWN_COMPLETE) && (ch0->flags & 1);
    if (tbit) {
        val = u64map_get(&an->keys, half_key(dp, sp, pkt->vtag));
        if (val) {
            *dir = 1 - (val & 1);
            return val_assoc(an, val);
        }
    } else {
        val = u64map_get(&an->keys, half_key(sp, dp, pkt->vtag));
        if (val) {
            *dir = val & 1;
            return val_assoc(an, val);
        }
    }

    if (t0 == SC_INIT_ACK && ch0->length >= 20 && av0 >= 20) {
        /* INIT not captured: the receiver of the INIT-ACK is A */
        A = assoc_new(an, pkt, dp, sp, 0);
        if (!A)
            return NULL;
        assoc_set_tag(an, A, 0, pkt->vtag);
        assoc_set_tag(an, A, 1, be32(c0 + 4));
        *dir = 1;
        return A;
    }

    /* The packet reveals one tag: the receiver's, or with the T bit the sender's. Pair it with the half-known
     * association on the same path whose other endpoint's tag is known. */
    uint16_t rport = tbit ? sp : dp, oport = tbit ? dp : sp;
    const sc_addr *raddr = tbit ? src : dst, *oaddr = tbit ? dst : src;
    int nc = path_candidates(an, src, sp, dst, dp, cands);
    for (int i = nc - 1; i >= 0; i--) { /* oldest first: "first come first paired" */
        C = cands[i];
        if (!state_live(C->state))
            continue;
        for (unsigned er = 0; er < 2; er++) {
            if (C->port[er] == rport && !C->vtag_known[er] && C->port[1 - er] == oport && C->vtag_known[1 - er] &&
                (addrset_has(&C->addrs[er], raddr) || addrset_has(&C->addrs[1 - er], oaddr))) {
                assoc_set_tag(an, C, er, pkt->vtag);
                unsigned sender = tbit ? er : 1 - er;
                if (maybe_reorient(an, C))
                    sender ^= 1;
                *dir = sender;
                return C;
            }
        }
    }

    /* A new association seen from the middle (or from its COOKIE-ECHO / COOKIE-ACK). */
    unsigned sender_is_a;
    int mid = 1;
    if (t0 == SC_COOKIE_ECHO) {
        sender_is_a = 1;
        mid = 0;
    } else if (t0 == SC_COOKIE_ACK) {
        sender_is_a = 0;
        mid = 0;
    } else {
        /* lower (port, tag it receives) is A; the unknown tag compares higher */
        uint64_t ks = ((uint64_t)sp << 33) | (tbit ? pkt->vtag : 0x100000000ULL);
        uint64_t kr = ((uint64_t)dp << 33) | (tbit ? 0x100000000ULL : pkt->vtag);
        sender_is_a = ks < kr;
    }
    A = sender_is_a ? assoc_new(an, pkt, sp, dp, mid) : assoc_new(an, pkt, dp, sp, mid);
    if (!A)
        return NULL;
    unsigned sender = sender_is_a ? 0 : 1;
    A->orient_by_tags = (uint8_t)(mid && sp == dp);
    assoc_set_tag(an, A, tbit ? sender : 1 - sender, pkt->vtag);
    *dir = sender;
    return A;
}

/* ------------------------------------------------------------------------------------------------ */
/* Freeing                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

/* Everything the association owns (see above), when the analyzer is freed. */
void sc_an_assoc_free(sc_assoc *A) { assoc_free(A); }

/* fold.c: A leaves the hash tables. Its half keys (every tag it registered, either port order: orientation
 * swaps do not matter) go where they are still A's; a path-index entry that A owns goes back to the
 * association A hid on that path, unless that one was folded too. */
void sc_an_unlink_assoc(sc_analyzer *an, const sc_assoc *A)
{
    uint32_t tags[2 + SC_MAX_EXTRA_TAGS];
    unsigned nt = 0;
    for (unsigned e = 0; e < 2; e++)
        if (A->vtag_known[e])
            tags[nt++] = A->vtag[e];
    for (unsigned i = 0; i < A->extra_tags; i++)
        tags[nt++] = A->xtag[i];
    for (unsigned i = 0; i < nt; i++) {
        u64map_del(&an->keys, half_key(A->port[0], A->port[1], tags[i]), 1, A->id);
        u64map_del(&an->keys, half_key(A->port[1], A->port[0], tags[i]), 1, A->id);
    }
    for (uint16_t i = 0; i < A->npaths; i++) {
        const sc_path *p = &A->paths[i];
        if (!p->path_key_owner)
            continue;
        uint64_t h = path_hash(&p->src, A->port[p->dir], &p->dst, A->port[1 - p->dir]);
        if (u64map_get(&an->pathidx, h) != A->id)
            continue;
        uint32_t prev = p->prev_on_path;
        if (prev && prev <= an->nassocs && !((uintptr_t)an->assocs[prev - 1] & 1u))
            u64map_put(&an->pathidx, h, prev);
        else
            u64map_del(&an->pathidx, h, 0, A->id);
    }
}

void assoc_free(sc_assoc *A)
{
    for (int e = 0; e < 2; e++) {
        free(A->addrs[e].v);
        free(A->init[e]);
        sc_dir *D = &A->dir[e];
        rtt_free(&D->rtt);
        free(D->streams);
        free(D->q.e);
    }
    for (uint16_t i = 0; i < A->npaths; i++)
        rtt_free(&A->paths[i].rtt);
    free(A->paths);
    free(A->abort);
    free(A);
}
