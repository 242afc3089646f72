/*
 * an_internal.h: what the analysis files (analyze.c and an_*.c) share, and nothing outside them includes.
 * analyze.h stays the public data model (module.c, assocjson.c, payload.c read it); this header holds the small
 * helpers every file needs, the per-packet context the chunk handlers take, and the functions one file calls in
 * another.
 *
 * Cost of the split. The engine was one translation unit, so GCC could inline any static function into its
 * callers. What runs per packet or per chunk and crosses files is therefore one of:
 *   - a static inline function here (byte order, serial numbers, address compare and copy, keys, chunk classes),
 *     or the common case of a per-packet call (resolve, path_get: the rest is out of line in an_assoc.c);
 *   - a header of static functions (an_hash.h), for a function each caller specialises;
 *   - a function that was out of line already in the single file (GCC chose not to inline it: the chunk handlers,
 *     apply_ack, rtt_sample, ev_push, the hash-table lookups...), declared here SC_HIDDEN so that the call stays
 *     a direct call: in a shared object a function of default visibility is called through the PLT and cannot be
 *     inlined (the extension is built -fPIC, without -fvisibility=hidden).
 * What a hot function calls in its own concern stays with it (on_data and stream_get, the TSN ring functions; the
 * per-packet loop, the duplicate cache and the chunk loop in analyze.c).
 */
#ifndef SCTPCORR_AN_INTERNAL_H
#define SCTPCORR_AN_INTERNAL_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#define SC_HIDDEN __attribute__((visibility("hidden")))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define NOINLINE
#define SC_HIDDEN
#define ALWAYS_INLINE inline
#endif

/* ------------------------------------------------------------------------------------------------ */
/* Small helpers                                                                                     */
/* ------------------------------------------------------------------------------------------------ */

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* RFC 1982 serial-number comparison for 32-bit TSNs and 16-bit SSNs. */
static inline int ser_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int ser_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t ld32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* Address compare and copy with fixed-size loads and stores: the variable-length memcmp/memcpy they replace
 * were calls into libc, ~110 instructions per packet on bench/out/corpus-1m.pcap (path lookup, addresses). */
static inline int addr_eq(const sc_addr *x, const sc_addr *y)
{
    if (x->family != y->family)
        return 0;
    if (x->family == 4)
        return ld32(x->a) == ld32(y->a);
    return ld64(x->a) == ld64(y->a) && ld64(x->a + 8) == ld64(y->a + 8);
}

static inline void addr_from_pkt(sc_addr *out, uint8_t family, const uint8_t *a)
{
    memset(out, 0, sizeof *out);
    if (family == 6) {
        out->family = 6;
        memcpy(out->a, a, 16);
    } else {
        out->family = 4;
        memcpy(out->a, a, 4);
    }
}

static inline int addr_zero(const sc_addr *x)
{
    for (int i = 0; i < (x->family == 4 ? 4 : 16); i++)
        if (x->a[i])
            return 0;
    return 1;
}

/* Association half key: the keys map's key (sc_u64map, analyze.h). */
static inline uint64_t half_key(uint16_t sport, uint16_t dport, uint32_t vtag)
{
    return ((uint64_t)sport << 48) | ((uint64_t)dport << 32) | vtag;
}

/* The keys map's value: association id << 1 | the sending endpoint, and back. */
static inline uint32_t assoc_val(const sc_assoc *A, unsigned dir) { return (A->id << 1) | (dir & 1); }
static inline sc_assoc *val_assoc(const sc_analyzer *an, uint32_t val) { return an->assocs[(val >> 1) - 1]; }

static inline int state_live(unsigned st) { return st != SC_ST_CLOSED && st != SC_ST_ABORTED; }

/* Bytes of chunk i that may be read: its captured bytes, never past the SCTP bytes present. */
static inline uint32_t chunk_avail(const sc_packet *pkt, const sc_chunk *ch)
{
    if (ch->offset >= pkt->sctp_len)
        return 0;
    uint32_t room = pkt->sctp_len - ch->offset;
    return ch->avail < room ? ch->avail : room;
}

/* One sample of a direction's flight, for its mean (analyze.c: per packet that carries DATA of that direction
 * or a SACK of it). */
static inline void flight_sample(sc_dir *D)
{
    D->flight_sum += (long double)D->flight_bytes;
    D->flight_samples++;
}

/* ------------------------------------------------------------------------------------------------ */
/* The observer state machine (an_tables.c)                                                          */
/* ------------------------------------------------------------------------------------------------ */

/* Chunk classes for the state machine. */
enum { K_INIT, K_INIT_ACK, K_CECHO, K_CACK, K_DATA, K_SACK, K_HB, K_SD, K_SDA, K_SDC, K_ABORT, K_OTHER, K_COUNT };

static inline unsigned chunk_class(unsigned type)
{
    switch (type) {
    case SC_INIT: return K_INIT;
    case SC_INIT_ACK: return K_INIT_ACK;
    case SC_COOKIE_ECHO: return K_CECHO;
    case SC_COOKIE_ACK: return K_CACK;
    case SC_DATA: case SC_I_DATA: return K_DATA;
    case SC_SACK: case SC_NR_SACK: return K_SACK;
    case SC_HEARTBEAT: case SC_HEARTBEAT_ACK: return K_HB;
    case SC_SHUTDOWN: return K_SD;
    case SC_SHUTDOWN_ACK: return K_SDA;
    case SC_SHUTDOWN_COMPLETE: return K_SDC;
    case SC_ABORT: return K_ABORT;
    default: return K_OTHER;
    }
}

/* SC_FSM[state][chunk class] -> next state. */
extern SC_HIDDEN const uint8_t SC_FSM[SC_ST_COUNT][K_COUNT];

/* ------------------------------------------------------------------------------------------------ */
/* The chunk handlers' context                                                                       */
/* ------------------------------------------------------------------------------------------------ */

/* The handlers' arguments: c = chunk start, len = declared length (>= 4, within the packet), avail = captured
 * bytes. */
typedef struct {
    sc_analyzer *an;
    sc_assoc *A;
    const sc_packet *pkt;
    unsigned d;              /* sending endpoint: 0 = A, 1 = B */
    int pidx;                /* path index or -1 */
    int bad;                 /* a chunk too short for its type */
    int had_data, had_sack;
    int had_abort;           /* one "abort" event per packet, however many ABORT chunks it bundles */
    sc_wrec *wr;             /* the current chunk's record (records on), else NULL; handlers add what the engine
                                decided (retransmission kind, flight...) and cancel it for a chunk they reject */
    int wr_scratch;          /* wr is the scratch record: no room, counted as dropped */
} pctx;

/* ------------------------------------------------------------------------------------------------ */
/* Across files (SC_HIDDEN: direct calls inside the extension)                                       */
/* ------------------------------------------------------------------------------------------------ */

/* analyze.c: the event queue. NULL when the kind is not wanted or the queue is full (counted). */
SC_HIDDEN sc_event *ev_push(sc_analyzer *an, unsigned kind, int64_t ts, uint64_t frame, uint32_t assoc_id);

/* an_maps.c: the two hash tables (the hash function itself: an_hash.h) */
SC_HIDDEN uint32_t u64map_get(const sc_u64map *m, uint64_t key);
SC_HIDDEN void u64map_put(sc_u64map *m, uint64_t key, uint32_t val);
SC_HIDDEN int u64map_init(sc_u64map *m, uint64_t cap);
SC_HIDDEN int u64map_del(sc_u64map *m, uint64_t key, unsigned shift, uint32_t want);
SC_HIDDEN uint64_t path_hash(const sc_addr *a1, uint16_t p1, const sc_addr *a2, uint16_t p2);

/* an_assoc.c: associations, paths, addresses */
SC_HIDDEN sc_assoc *resolve_full(sc_analyzer *an, const sc_packet *pkt, const sc_addr *src, const sc_addr *dst,
                                 unsigned *dir);
SC_HIDDEN int path_get_full(sc_analyzer *an, sc_assoc *A, unsigned dir, const sc_addr *src, const sc_addr *dst);
SC_HIDDEN void assoc_set_tag(sc_analyzer *an, sc_assoc *A, unsigned e, uint32_t tag);
SC_HIDDEN void assoc_set_state(sc_analyzer *an, sc_assoc *A, unsigned ns, unsigned chunk_type,
                               const sc_packet *pkt);
SC_HIDDEN void addrset_add(sc_analyzer *an, sc_addrset *s, const sc_addr *a);
SC_HIDDEN void assoc_free(sc_assoc *A);

/* The two an_assoc.c calls of every packet (analyze.c's on_sctp), their common case here so that the packet loop
 * inlines it, as it did when everything was one file (as two calls they cost ~40 instructions per packet more on
 * bench/out/corpus-1m.pcap: callgrind, feed loop).
 * resolve: the association of a packet and its sending endpoint (*dir), created when new. The common case is a
 * packet other than an INIT whose half key is known; resolve_full looks the key up first too, then does the rest
 * (an_assoc.c, "Association identity"). */
static inline sc_assoc *resolve(sc_analyzer *an, const sc_packet *pkt, const sc_addr *src, const sc_addr *dst,
                                unsigned *dir)
{
    const sc_chunk *ch0 = &pkt->chunks[0];
    uint8_t t0 = ch0->type;
    if (t0 != SC_INIT) {
        /* RFC 9260 §8.5.1 B/C: ABORT / SHUTDOWN-COMPLETE with the T bit carry the sender's own tag */
        int tbit = (t0 == SC_ABORT || t0 == SC_SHUTDOWN_COMPLETE) && (ch0->flags & 1);
        uint16_t sp = pkt->sport, dp = pkt->dport;
        uint32_t val = u64map_get(&an->keys, tbit ? half_key(dp, sp, pkt->vtag) : half_key(sp, dp, pkt->vtag));
        if (val) {
            *dir = tbit ? 1 - (val & 1) : val & 1;
            return val_assoc(an, val);
        }
    }
    return resolve_full(an, pkt, src, dst, dir);
}

/* path_get: the index of the path (src -> dst) of a packet sent by endpoint `dir`, created on first use; -1 when
 * the association's path table is full. The common case is the path the direction used last; path_get_full
 * checks that too, then searches and creates. */
static inline int path_get(sc_analyzer *an, sc_assoc *A, unsigned dir, const sc_addr *src, const sc_addr *dst)
{
    const sc_dir *D = &A->dir[dir];
    if (D->last_path < A->npaths) {
        const sc_path *p = &A->paths[D->last_path];
        if (p->dir == dir && addr_eq(&p->src, src) && addr_eq(&p->dst, dst))
            return D->last_path;
    }
    return path_get_full(an, A, dir, src, dst);
}

/* an_tsn.c: DATA, SACK, FORWARD-TSN; the outstanding TSN rings */
SC_HIDDEN void on_data(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail, uint8_t flags, int idata);
SC_HIDDEN void on_sack(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail, int nr);
SC_HIDDEN void on_forward_tsn(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail);
SC_HIDDEN void apply_ack(sc_analyzer *an, sc_assoc *A, unsigned dd, uint32_t cum, const uint8_t *blk,
                         uint32_t nblk, const uint8_t *nrblk, uint32_t nnr, const uint8_t *dups, uint32_t ndup,
                         int sample, const sc_packet *pkt);
SC_HIDDEN void tsnq_release_all(sc_assoc *A, sc_dir *D);

/* an_rtt.c: RTT accumulators and samples, jitter */
SC_HIDDEN void bins_init(void);
SC_HIDDEN void rtt_sample(sc_analyzer *an, sc_assoc *A, unsigned dir, int pidx, int64_t rtt, int method,
                          int has_tsn, uint32_t tsn, int delayed, const sc_packet *pkt);
SC_HIDDEN void rtt_free(sc_rtt *r);
SC_HIDDEN void jit_add(sc_jitter *j, int64_t ts);

/* an_chunks.c: handshake, HEARTBEAT, ABORT, ASCONF */
SC_HIDDEN void on_init(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail);
SC_HIDDEN void on_init_ack(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail);
SC_HIDDEN void on_cookie_echo(pctx *x);
SC_HIDDEN void on_cookie_ack(pctx *x);
SC_HIDDEN void on_heartbeat(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail);
SC_HIDDEN void on_heartbeat_ack(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail);
SC_HIDDEN void on_abort(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail, uint8_t flags);
SC_HIDDEN void on_asconf(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail);

/* an_records.c: per-chunk records (only with records on) */
SC_HIDDEN NOINLINE void rec_begin(pctx *x, const sc_chunk *ch, uint32_t i, const uint8_t *c, uint32_t len,
                                  uint32_t av);
SC_HIDDEN NOINLINE void rec_cancel(pctx *x);
SC_HIDDEN NOINLINE void rec_sack_lists(pctx *x, uint32_t cum, const uint8_t *blk, uint32_t nblk, uint32_t ngap,
                                       uint32_t ndup);

#endif
