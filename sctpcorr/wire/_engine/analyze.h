/*
 * analyze.h: the analysis layer's data model, shared by the files that own and update it (analyze.c and the an_*.c
 * files its header lists; an_internal.h holds what only they share) and module.c (which only reads it to build
 * report() dicts and drain_events() tuples). Nothing here knows about Python.
 *
 * Memory is bounded by configuration, never by the number of packets:
 *   - associations: at most max_assocs (then counted in limits.assocs_dropped);
 *   - per association: at most SC_MAX_PATHS paths, SC_MAX_STREAMS streams per direction, SC_MAX_ADDRS addresses
 *     per endpoint, SC_MAX_PPIDS PPIDs per stream (overflow counted in limits.*_dropped / "other");
 *   - per direction: an outstanding-TSN ring of at most max_outstanding entries (limits.tsns_evicted), freed
 *     when the association closes;
 *   - RTT histograms: sparse, at most SC_RTT_NBINS bins each (a bin is allocated on its first sample);
 *   - duplicate-frame cache and event queue: fixed size.
 */
#ifndef SCTPCORR_ANALYZE_H
#define SCTPCORR_ANALYZE_H

#include <stdint.h>

#include "engine.h"

/* ------------------------------------------------------------------------------------------------ */
/* Limits and constants                                                                              */
/* ------------------------------------------------------------------------------------------------ */

#define SC_MAX_PATHS 32         /* (src addr -> dst addr) paths per association */
#define SC_MAX_ADDRS 16         /* addresses per endpoint */
#define SC_MAX_STREAMS 1024     /* streams per direction */
#define SC_MAX_PPIDS 8          /* distinct PPIDs per stream; more are counted as "other" */
#define SC_MAX_CAUSES 8         /* ABORT error causes kept */
#define SC_MAX_EXTS 16          /* supported-extension chunk types kept per INIT */
#define SC_MAX_HOSTNAME 64      /* host-name parameter bytes kept */
#define SC_MAX_EXTRA_TAGS 4     /* INIT-ACK tags registered per association (stateless servers answer each
                                   INIT retransmission with a new tag) */
#define SC_HB_PENDING 4         /* outstanding HEARTBEATs remembered per path */
#define SC_EVENTS_MAX 65536     /* events held between drains (more are counted in limits.events_dropped) */
#define SC_RECORDS_MAX (1u << 20) /* per-chunk records held between drains, 64 MiB (more are counted in
                                   limits.records_dropped) */
#define SC_DUP_SETS 256         /* duplicate-frame cache: 256 sets x 4 ways of recent packet hashes (32 KiB,
                                   cache-resident; -i any copies arrive microseconds apart) */
#define SC_DUP_WAYS 4

#define SC_NOTS INT64_MIN       /* "no timestamp / unknown" for int64 fields reported as null */
#define SC_DELAYED_SACK_NS 150000000LL /* a SACK for one packet this late is flagged delayed (200 ms timer) */
#define SC_RTO_MIN_NS 1000000000LL     /* RFC 9260 §16 RTO.Min */
#define SC_RTO_MAX_NS 60000000000LL    /* RFC 9260 §16 RTO.Max */
#define SC_TS_LIMIT ((1LL << 62) - 1)    /* |time stamp| analysed, ns: differences never overflow */

/* Chunk "slots": the 24 named chunk types, then one slot for every other type. */
#define SC_NSLOTS 25
#define SC_SLOT_UNKNOWN 24
unsigned sc_slot_of(unsigned type);         /* chunk type -> slot */
extern const uint8_t sc_slot_type[SC_NSLOTS - 1]; /* slot -> chunk type */
const char *sc_chunk_name(unsigned type);  /* "DATA", "INIT-ACK", ...; NULL for unnamed types */
const char *sc_cause_name(unsigned code);  /* ABORT/ERROR cause name (RFC 9260 §3.3.10, 5061, 4895, 6525) */

/* Observer states (RFC 9260 §4 names, as seen from the wire). */
typedef enum {
    SC_ST_NONE = 0,          /* internal: created, no chunk applied yet (never reported) */
    SC_ST_COOKIE_WAIT,
    SC_ST_COOKIE_ECHOED,
    SC_ST_ESTABLISHED,
    SC_ST_SHUTDOWN_PENDING,  /* not observable on the wire; kept for the documented vocabulary */
    SC_ST_SHUTDOWN_SENT,
    SC_ST_SHUTDOWN_ACK_SENT,
    SC_ST_CLOSED,
    SC_ST_ABORTED,
    SC_ST_COUNT
} sc_state;
const char *sc_state_name(unsigned st);

/* ------------------------------------------------------------------------------------------------ */
/* Building blocks                                                                                   */
/* ------------------------------------------------------------------------------------------------ */

typedef struct {
    uint8_t family;          /* 4 or 6 */
    uint8_t a[16];           /* IPv4 in the first 4 bytes */
} sc_addr;

/* RTT accumulator: counts, min/max/mean, a sparse log-scale histogram (bin width 1.95 %, so a bin's geometric
 * centre is within 1 % of every value >= 1 us in it) and the RFC 9260 §6.3.1 SRTT/RTTVAR estimator. */
typedef struct {
    uint32_t bin;            /* 0: value 0; b >= 1: [R^(b-1), R^b) ns with R = 1.0195 */
    uint32_t count;
} sc_hbin;
#define SC_RTT_NBINS 2300

typedef struct {
    uint64_t samples;        /* all methods */
    uint64_t data_samples, heartbeat_samples, handshake_samples, delayed_sack_samples;
    int64_t min_ns, max_ns;
    int64_t min_method_ns[3]; /* minimum per method (0 data, 1 heartbeat, 2 handshake); valid when that method
                                 has a sample; the data minimum skips samples flagged delayed_sack (valid when
                                 data_samples > delayed_sack_samples) */
    long double sum_ns;      /* for the mean */
    int64_t srtt_ns, rttvar_ns; /* valid when samples > 0 */
    sc_hbin *bins;           /* sorted by bin, nbins used of cap */
    uint32_t nbins, cap;
} sc_rtt;

/* RFC 3550 §6.4.1 style jitter over inter-arrival spacing (see engine.md "Jitter"). */
typedef struct {
    int64_t last_ts;         /* arrival of the previous new DATA chunk */
    int64_t last_spacing;
    int64_t j16;             /* jitter x 16 (RFC 3550 A.8 fixed point) */
    uint32_t n;              /* chunks seen (capped at 3) */
} sc_jitter;

typedef struct {
    uint16_t sid;
    uint8_t have_ssn;
    uint8_t nppid;
    uint32_t first_ssn, last_ssn;  /* SSN (DATA) or MID (I-DATA) of ordered message starts */
    uint64_t chunks, bytes, ordered, unordered, ssn_gaps;
    uint64_t ppid_other;           /* chunks whose PPID did not fit in ppid[] */
    uint32_t ppid[SC_MAX_PPIDS];
    uint64_t ppid_n[SC_MAX_PPIDS];
    sc_jitter jit;
} sc_stream;

/* One outstanding TSN (DATA sent by this direction, not yet acknowledged on the wire). An entry released by a
 * cumulative ack (or FORWARD-TSN, eviction) stays readable in its slot until TSN + cap reuses it, so a later
 * retransmission of it can still be classified: `tsn` says whose entry a slot holds. */
#define SC_TSN_SEEN   0x01   /* a DATA chunk with this TSN was seen (else a hole in the sequence) */
#define SC_TSN_ACKED  0x02   /* covered by a gap block (cum-acked entries leave the ring) */
#define SC_TSN_RTX    0x04   /* sent more than once */
#define SC_TSN_SPUR   0x08   /* counted as a spurious retransmission */
#define SC_TSN_IBIT   0x10   /* sent with the I (SACK-IMMEDIATELY) bit */
#define SC_TSN_KARN   0x20   /* a retransmission was inferred (hole reported missing): never time it */
typedef struct {
    int64_t sent_ns;         /* first transmission */
    uint64_t first_frame;    /* frame of the first transmission */
    uint32_t tsn;
    uint32_t bytes;          /* user-data bytes */
    uint16_t path;           /* path index of the last transmission (0xffff: none) */
    uint8_t flags;           /* SC_TSN_* */
    uint8_t miss;            /* miss indications (RFC 9260 §7.2.4: HTNA, Fast Recovery) since the last transmission */
} sc_tsn_ent;

typedef struct {
    sc_tsn_ent *e;           /* ring, cap entries (power of two); slot of TSN t is t & (cap - 1) */
    uint32_t cap;
    uint32_t base;           /* oldest TSN in the ring */
    uint32_t n;              /* TSNs base .. base + n - 1 are in the ring */
    uint32_t low;            /* lowest TSN ever seen in this direction */
    uint32_t peer_cum;       /* highest cumulative TSN ack the peer sent (valid if cum_known) */
    uint32_t fr_exit;        /* Fast Recovery exit point (valid if in_fr): the highest TSN sent when it began */
    uint8_t started, cum_known;
    uint8_t in_fr;           /* the sender is in Fast Recovery as the wire shows it (RFC 9260 §7.2.4, an_tsn.c) */
} sc_tsnq;

/* Per direction ("A>B" = what A sent). Fields used by every DATA/SACK come first (fewer cache lines). */
typedef struct {
    uint64_t packets;
    uint64_t data_chunks, data_bytes, unique_tsns;
    /* flight: this direction's DATA not yet acked on the wire */
    uint64_t flight_bytes, flight_chunks, flight_max_bytes, flight_max_chunks;
    sc_tsnq q;
    sc_stream *streams;      /* sorted by sid */
    uint32_t nstreams, streams_cap;
    uint16_t last_path;      /* cache for path lookup */
    uint8_t have_rwnd_initial, have_rwnd, in_zero_window;
    /* a_rwnd advertised by this direction's sender */
    uint32_t rwnd_initial, rwnd_min, rwnd_max, rwnd_last;
    uint64_t flight_samples;
    long double flight_sum;
    sc_jitter jit;
    uint64_t sacks, nr_sacks, gap_blocks, dup_tsns_reported, forward_tsns, zero_window_episodes;
    uint64_t rtx_total, rtx_fast, rtx_timeout, rtx_unknown, rtx_spurious;
    sc_rtt rtt;              /* measured by this direction's sender */
    uint32_t dup_chunks[SC_NSLOTS];
} sc_dir;

typedef struct {
    int64_t sent_ns;
    uint64_t hash;
    uint64_t frame;
    uint32_t sends;          /* identical HEARTBEATs sent (>1: ambiguous, no RTT sample) */
    uint8_t settled;         /* already counted unanswered (a later one was acked); a late ACK still matches */
} sc_hb_pending;

typedef struct {
    sc_addr src, dst;
    uint8_t dir;             /* 0: A>B, 1: B>A */
    uint8_t timed;           /* a TSN is being timed on this path (RFC 9260 §6.3.1 C4) */
    uint8_t hb_n;            /* pending HEARTBEATs */
    uint8_t have_linux_hb;
    uint8_t path_key_owner;  /* this path registered the association in the path index (see prev_on_path) */
    uint32_t prev_on_path;   /* id of the association that used the same ports + addresses before (0: none) */
    uint32_t timed_tsn;
    int64_t timed_sent_ns;
    uint64_t packets, data_chunks, data_bytes, retransmissions;
    uint64_t hb_sent, hb_acked, hb_unanswered, hb_rtt_samples;
    uint64_t linux_hb_nonce, linux_hb_sent_at; /* last Linux-layout HB info seen (sent_at in jiffies) */
    sc_hb_pending hb[SC_HB_PENDING];
    sc_rtt rtt;
} sc_path;

typedef struct {
    uint32_t initiate_tag, a_rwnd, initial_tsn;
    uint16_t outbound_streams, inbound_streams;
    uint8_t forward_tsn, ecn, naddrs, nexts;
    uint8_t have_cookie_preservative, hostname_len, have_hostname;
    int64_t cookie_preservative_ns;
    sc_addr addrs[SC_MAX_ADDRS];
    uint8_t exts[SC_MAX_EXTS];
    char hostname[SC_MAX_HOSTNAME];
} sc_initinfo;

typedef struct {
    int64_t ts_ns;
    uint8_t by;              /* 0: A, 1: B */
    uint8_t t_bit;
    uint8_t ncauses;
    uint16_t causes[SC_MAX_CAUSES];
} sc_abortinfo;

typedef struct {
    sc_addr *v;
    uint16_t n, cap;
} sc_addrset;

typedef struct sc_assoc {
    /* hot: touched by every packet */
    uint32_t id;             /* 1-based */
    uint16_t port[2];        /* [A, B] */
    uint32_t vtag[2];        /* tag each endpoint expects to receive */
    uint8_t vtag_known[2];
    uint8_t state;           /* sc_state */
    uint8_t mid_association;
    uint8_t collision;
    uint8_t extra_tags;      /* INIT-ACK tags registered beyond the first (their keys: xtag) */
    uint8_t orient_by_tags;  /* equal ports, no handshake seen: A is the endpoint receiving the lower tag */
    uint16_t npaths, paths_cap;
    sc_path *paths;
    uint32_t xtag[SC_MAX_EXTRA_TAGS]; /* earlier INIT-ACK tags, still keys (fold.c removes them) */
    int64_t first_ts_ns, last_ts_ns;
    uint64_t packets, duplicate_packets;
    uint32_t chunks[SC_NSLOTS];
    sc_dir dir[2];
    /* cold */
    sc_addrset addrs[2];
    sc_initinfo *init[2];    /* parameters of the INIT / INIT-ACK each endpoint sent (NULL: not seen) */
    /* handshake */
    int64_t init_ns, init_ack_ns, cookie_echo_ns, cookie_ack_ns;
    int64_t last_init_ns, last_init_ack_ns, last_cookie_echo_ns;
    uint32_t n_init[2], n_init_ack, n_cookie_echo, n_cookie_ack, restarts;
    uint16_t init_path, init_ack_path, cookie_echo_path;
    /* shutdown */
    int64_t shutdown_ns, shutdown_ack_ns, shutdown_complete_ns;
    sc_abortinfo *abort;
    int64_t last_rtt_ns;     /* the last RTT sample, either direction (-1: none yet): payload headers carry it */
    uint64_t rec_first;      /* records on, orientation still provisional (orient_by_tags): 1 + the sequence number
                                of its first record (0: none yet), so a swap fixes its pending records only */
} sc_assoc;

/* ------------------------------------------------------------------------------------------------ */
/* Events                                                                                            */
/* ------------------------------------------------------------------------------------------------ */

typedef enum {
    SC_EV_ASSOC_NEW = 0,     /* v0 port A, v1 port B, b1 mid_association */
    SC_EV_STATE,             /* v0 old, v1 new, v2 chunk type */
    SC_EV_RTT,               /* dir, src, dst, b1 method (0 data, 1 heartbeat, 2 handshake), v0 rtt, v1 tsn
                                (b2: has tsn), b3 delayed_sack, v2 srtt, v3 rttvar, v4 rto (path estimator) */
    SC_EV_RETRANSMISSION,    /* dir, src, dst, v0 tsn, b1 kind (0 fast, 1 timeout, 2 unknown), b2 spurious,
                                v1 since_first_ns, v2 first_frame (SC_NOTS: unknown) */
    SC_EV_SACK,              /* dir (SACK sender), v0 cum_tsn_ack, v1 a_rwnd, v2 gap blocks, v3 dup tsns,
                                v4 peer flight bytes */
    SC_EV_WINDOW,            /* dir, v0 a_rwnd, b1 zero */
    SC_EV_HB_UNANSWERED,     /* dir, src, dst, v0 sent_ns */
    SC_EV_DUPLICATE,         /* v0 first_frame; assoc_id 0 when no association is known */
    SC_EV_ABORT,             /* dir, b1 t_bit, ncauses/causes */
    SC_EV_SPURIOUS,          /* a retransmission proven spurious after it was sent: dir (DATA sender), src, dst
                                (path of the TSN's last transmission; family 0 when unknown), v0 tsn, v1 first_frame
                                (SC_NOTS: unknown), b1 reason (0: the peer reported the TSN as a duplicate) */
    SC_EV_KINDS
} sc_event_kind;

typedef struct {
    uint8_t kind, dir, b1, b2, b3, ncauses;
    uint16_t causes[SC_MAX_CAUSES];
    uint32_t assoc_id;
    int64_t ts_ns;
    uint64_t frame_no;
    int64_t v[5];
    sc_addr src, dst;
} sc_event;

/* ------------------------------------------------------------------------------------------------ */
/* Per-chunk records (Analyzer(records=True), drain_records(); engine.md "Records")                  */
/* ------------------------------------------------------------------------------------------------ */

/* One fixed-size record per chunk the engine analysed in an SCTP packet of an association (duplicate frames,
 * packets without an association and chunks too short for their type get none), in capture order, plus after a
 * SACK / NR-SACK one GAP record per gap ack block (then NR gap block) and one DUP record per duplicate TSN, as
 * captured. Native byte order, no pointers: Python hands the bytes to numpy.frombuffer (sctpcorr/wire/records.py
 * holds the matching dtype, checked against RECORD_FIELDS, which module.c builds from offsetof/sizeof). */
typedef struct {
    int64_t ts_ns;        /* capture timestamp of the packet (ns since epoch) */
    uint64_t frame_no;    /* frame of the packet (same numbering as events) */
    uint32_t assoc_id;    /* association id (report()["associations"][i]["id"]) */
    uint32_t vtag;        /* the packet's verification tag */
    uint16_t path;        /* index of the packet's src->dst path in the association's "paths" list; 0xffff when
                             the path table was full */
    uint8_t type;         /* chunk type (0 DATA, 3 SACK, ...), or SC_WR_GAP / SC_WR_DUP after a SACK */
    uint8_t flags;        /* chunk flags as on the wire (GAP/DUP: those of their SACK) */
    uint8_t dir;          /* 0: sent by endpoint A, 1: by B */
    uint8_t note;         /* SC_WN_* bits, per type */
    uint16_t chunk_index; /* 0-based position of the chunk in its packet (GAP/DUP: their SACK's) */
    uint32_t tsn;         /* DATA/I-DATA: TSN. SACK/NR-SACK/SHUTDOWN: cumulative TSN ack. FORWARD-TSN /
                             I-FORWARD-TSN: new cumulative TSN. INIT/INIT-ACK: initial TSN. GAP: first TSN of the
                             block (cum + start). DUP: the duplicate TSN. Else 0. */
    uint32_t a;           /* DATA: PPID (I-DATA: PPID of a first fragment, else 0). SACK/NR-SACK, INIT, INIT-ACK:
                             a_rwnd. GAP: last TSN of the block (cum + end). ABORT/ERROR: first cause code (0 if
                             none). HEARTBEAT/HEARTBEAT-ACK: HB info length (chunk length - 4). Else 0. */
    uint32_t b;           /* DATA/I-DATA: user-data bytes. SACK/NR-SACK: gap blocks (NR ones included) << 16 | dup
                             TSNs, as declared, each saturated at 0xffff. INIT/INIT-ACK: initiate tag. Else 0. */
    uint32_t c;           /* DATA: SID << 16 | SSN. I-DATA: SID << 16. SACK/NR-SACK: the engine's flight bytes of
                             the acked direction after this SACK (the "sack" event's flight_bytes, saturated at
                             2^32 - 1). INIT/INIT-ACK: outbound streams << 16 | inbound streams. Else 0. */
    uint64_t x;           /* HEARTBEAT/HEARTBEAT-ACK: Linux HB info nonce with SC_WN_HB_LINUX, else the engine's
                             64-bit hash of the info bytes (what it matches HB to HB-ACK with). I-DATA: MID. */
    uint64_t y;           /* HEARTBEAT/HEARTBEAT-ACK with SC_WN_HB_LINUX: sent_at (sender's jiffies). Else 0. */
} sc_wrec;
_Static_assert(sizeof(sc_wrec) == 64, "sc_wrec is 64 bytes (records.py RECORD_DTYPE)");

#define SC_WR_GAP 0xF0          /* record types beyond the wire's: a gap ack block, a duplicate TSN (chunks of
                                   the unassigned wire types 0xF0 / 0xF1 therefore get no record) */
#define SC_WR_DUP 0xF1
/* note bits. DATA / I-DATA: */
#define SC_WN_RTX      0x01     /* counted as a retransmission */
#define SC_WN_KIND     0x06     /* retransmission kind << 1: 0 fast, 1 timeout, 2 unknown (with SC_WN_RTX) */
#define SC_WN_SPURIOUS 0x08     /* spurious as known when sent (the retransmission event's flag) */
#define SC_WN_IBIT     0x10     /* I (SACK-IMMEDIATELY) flag */
#define SC_WN_FIRST    0x20     /* first time this TSN is seen in this direction (a new TSN) */
/* HEARTBEAT / HEARTBEAT-ACK: */
#define SC_WN_HB_LINUX 0x01     /* Linux 56-byte HB info recognised: x = nonce, y = sent_at */
/* GAP: */
#define SC_WN_NR       0x01     /* an NR gap block */

/* ------------------------------------------------------------------------------------------------ */
/* The analyzer                                                                                      */
/* ------------------------------------------------------------------------------------------------ */

typedef struct {
    uint64_t packets, sctp_packets, malformed, bad_checksum, unchecked_checksum, duplicates;
    uint64_t icmp_quoted_sctp, truncated_packets;
    int64_t first_ts_ns, last_ts_ns;
    uint8_t have_ts;
    uint64_t chunks[256];    /* every chunk of every SCTP frame (duplicates included), by type */
    uint64_t assocs_dropped, tsns_evicted, events_dropped, records_dropped;
    uint64_t paths_dropped, streams_dropped, addresses_dropped;
    uint64_t payloads_dropped;
    uint64_t assocs_folded, assocs_folded_idle, fold_failed;   /* fold.c */
} sc_capstats;

/* One open-addressing (linear probing) map from a 64-bit key to a non-zero 32-bit value, used twice:
 * association half keys (sport << 48 | dport << 32 | vtag of the receiver -> (assoc index + 1) << 1 | direction)
 * and paths (direction-agnostic hash of ports + addresses -> assoc index + 1 of the newest user). */
typedef struct {
    uint64_t key;
    uint32_t val;            /* 0 = empty slot */
} sc_u64ent;

typedef struct {
    sc_u64ent *slot;
    uint64_t cap, used;      /* cap is a power of two; kept at most half full */
} sc_u64map;

typedef struct {
    uint64_t hash;
    int64_t ts_ns;
    uint64_t frame_no;
    uint32_t assoc_val;      /* keys value of the first copy (0: none) */
} sc_dupent;

typedef struct sc_analyzer {
    /* configuration */
    unsigned events;         /* bit per sc_event kind queued for drain_events() (0: none) */
    int64_t dup_window_ns;
    uint64_t max_assocs;
    uint32_t max_outstanding;
    uint32_t tsn_ring_max;   /* power of two >= max_outstanding */

    sc_decoder *dec;
    sc_capstats cap;

    sc_assoc **assocs;       /* index = id - 1 */
    uint64_t nassocs, assocs_cap;

    sc_u64map keys;          /* association half keys */
    sc_u64map pathidx;       /* paths */

    sc_dupent *dup;          /* SC_DUP_SETS * SC_DUP_WAYS */

    sc_event *ev;            /* ring */
    uint32_t ev_cap, ev_head, ev_n;

    int records;             /* per-chunk records wanted (set once, before the first packet) */
    sc_wrec *rec;            /* pending records, rec_n of rec_cap (grows by doubling up to SC_RECORDS_MAX) */
    uint32_t rec_n, rec_cap;
    uint64_t rec_drained;    /* records drained so far: rec[i] has sequence number rec_drained + i */
    sc_wrec rec_scratch;     /* where a record goes when there is no room: written, then discarded (counted) */

    int payloads;            /* user-message payloads wanted (payload.c; set once, before the first packet) */
    uint8_t *pay;            /* pending payloads: pay_n bytes of pay_cap */
    size_t pay_n, pay_cap;

    uint64_t auto_frame;     /* frame numbers for feed_packet(frame_no=0) */

    /* Folding (fold.c): associations that ended, or idled, leave memory for a spill file. 0: off. */
    int64_t linger_ns, idle_ns;
    int spill_fd;            /* an unlinked temporary file in $TMPDIR (valid when spill_open) */
    uint8_t spill_open;
    uint64_t spill_bytes;    /* records so far: on disk below spill_disk, the rest in the write buffer */
    uint64_t spill_disk;
    uint8_t *spill_w;        /* the write buffer (SPILL_WBUF): spill_bytes - spill_disk bytes */
    uint8_t *spill_r;        /* the read window: spill_rn bytes from spill_roff, of spill_rcap */
    size_t spill_rn, spill_rcap, spill_rwin;   /* spill_rwin: how much a miss reads (grows with hits) */
    uint64_t spill_roff, spill_rhits;
    uint32_t *ended;         /* FIFO of the ids of associations that ended, ended_n from ended_head */
    uint32_t ended_head, ended_n, ended_cap;
    uint64_t hand;           /* the idle sweep's next id slot */
    uint64_t nfolded;        /* id slots that hold a spill offset */
    uint8_t *fold_enc;       /* the encoded bytes of the association being folded, kept between folds */
    size_t fold_enc_cap;
    uint8_t *open_raw;       /* the folded association read back by sc_an_assoc_open (one at a time) */
    size_t open_cap;
} sc_analyzer;

/* Folding (fold.c). An id slot of a folded association holds its spill offset, tagged in bit 0: read
 * associations through sc_an_assoc_open (NULL: the spill could not be read) and give them back with
 * sc_an_assoc_close before the next open (a folded one is read back into one buffer the analyzer owns). */
int sc_fold_config(sc_analyzer *an, int64_t linger_ns, int64_t idle_ns);
void sc_fold_tick(sc_analyzer *an, uint32_t hand_steps);   /* between blocks of records, never inside one */
void sc_fold_ended(sc_analyzer *an, const struct sc_assoc *A);
void sc_fold_free(sc_analyzer *an);
int sc_an_is_folded(const sc_analyzer *an, uint64_t idx);
const struct sc_assoc *sc_an_assoc_open(sc_analyzer *an, uint64_t idx);
void sc_an_assoc_close(sc_analyzer *an, uint64_t idx, const struct sc_assoc *A);
/* What Analyzer.summary() says of one association: computed from it in memory, or read from the head of its
 * spill record when it was folded (no read-back of the whole association: the text report's overview reads every
 * summary twice). */
typedef struct {
    uint64_t packets, fast, timeout, unknown, spurious, zero_windows, hb_unanswered;
    int64_t srtt_ns, first_ts_ns, last_ts_ns, p50_ns;   /* SC_NOTS: none */
    uint32_t id, vtag[2];
    uint16_t port[2];
    uint8_t state, vtag_known[2], have_addr[2];
    sc_addr addr[2];         /* each endpoint's first address */
} sc_asum;
void sc_assoc_summary(const struct sc_assoc *A, sc_asum *s);
/* The summaries of ids start..start+n-1 into out[0..n): folded ones read in file order. 0, or -1 (unreadable). */
int sc_an_summaries(sc_analyzer *an, uint64_t start, size_t n, sc_asum *out);   /* -1: a folded one that cannot be read */
/* analyze.c, for fold.c: drop A's hash-table entries; free A and everything it owns */
void sc_an_unlink_assoc(sc_analyzer *an, const struct sc_assoc *A);
void sc_an_assoc_free(struct sc_assoc *A);

/* ------------------------------------------------------------------------------------------------ */
/* User-message payloads (payload.c): a header per new DATA/I-DATA chunk, then its captured user data   */
/* ------------------------------------------------------------------------------------------------ */
#define SC_PAYLOADS_MAX ((size_t)256 << 20)   /* pending payload bytes between drains (beyond: counted drops) */
typedef struct {
    int64_t ts_ns;        /* capture timestamp of the packet */
    uint64_t frame_no;
    uint32_t assoc_id;
    uint32_t tsn;
    uint32_t ppid;        /* DATA: PPID. I-DATA: PPID on a first fragment (B bit), else FSN */
    uint32_t len;         /* user-data bytes on the wire */
    uint32_t caplen;      /* user-data bytes that follow (fewer when the snaplen cut the chunk) */
    uint32_t ssn;         /* DATA: SSN. I-DATA: MID */
    uint32_t vtag;        /* the packet's verification tag (names the receiving endpoint) */
    uint16_t sid, sport, dport;
    uint8_t dir;          /* the engine's direction when the chunk was analysed (0: A sent; may be provisional) */
    uint8_t flags;        /* chunk flags: E 0x01, B 0x02, U 0x04, I 0x08 */
    uint8_t idata;
    uint8_t pad[3];
    int64_t rtt_ns;       /* the association's last RTT sample before this chunk (any direction, method), -1: none */
    int64_t a_rwnd;       /* the last a_rwnd its receiver advertised in a SACK before this chunk, -1: none */
} sc_payhdr;
_Static_assert(sizeof(sc_payhdr) == 72, "sc_payhdr is 72 bytes (sctpcorr/telecom/payloads.py)");
/* the chunk's fields as on_data parsed them; data: its user data, bytes on the wire, cap of them captured */
void sc_pay_add(sc_analyzer *an, const sc_packet *pkt, const struct sc_assoc *A, unsigned dir, uint32_t tsn, uint16_t sid,
                uint32_t ssn, uint32_t ppid, const uint8_t *data, uint32_t bytes, uint32_t cap, uint8_t flags,
                int idata);

sc_analyzer *sc_an_new(unsigned events, int64_t dup_window_ns, uint64_t max_assocs, uint32_t max_outstanding);
void sc_an_free(sc_analyzer *an);
/* Decode and analyse one record. Returns 0, or -1 on allocation failure (state stays consistent). */
int sc_an_record(sc_analyzer *an, const sc_record *rec);

/* Look-ahead for a stream of records (module.c's feed loop). With thousands of interleaved associations, the
 * state a packet touches is rarely in the CPU caches; the loop therefore peeks at the records it will analyse
 * a few steps later and prefetches that state meanwhile. sc_an_peek() finds the association key of a plain
 * SCTP-over-IP frame (no decode, no checksum) and prefetches its hash-table slot; sc_an_prefetch(), a few
 * records later, looks the key up and prefetches the association's hot lines; sc_an_prefetch_deep(), closer
 * still, follows the pointers in those lines (path, stream, TSN ring, RTT histogram). Hints only: they read
 * the analyzer and the frame (bounds-checked) and never change any state or result. */
typedef struct {
    uint64_t key;            /* association half key (see sc_u64map) */
    const struct sc_assoc *A; /* set by sc_an_prefetch when the key is known */
    uint8_t ok;              /* key found in the frame */
    uint8_t sack;            /* first chunk is a SACK / NR-SACK: the peer direction's TSN state is touched */
    uint8_t dir;             /* sending endpoint as the key says (a hint: the T bit is not looked at) */
} sc_peek;
void sc_an_peek(const sc_analyzer *an, const sc_record *rec, sc_peek *pk);
void sc_an_prefetch(const sc_analyzer *an, sc_peek *pk);
void sc_an_prefetch_deep(const sc_peek *pk);

/* Events: n pending, the i-th oldest, and drop them all. */
static inline uint32_t sc_an_events_pending(const sc_analyzer *an) { return an->ev_n; }
static inline const sc_event *sc_an_event(const sc_analyzer *an, uint32_t i)
{
    return &an->ev[(an->ev_head + i) & (an->ev_cap - 1)];
}
void sc_an_events_clear(sc_analyzer *an);

/* Records: n pending (contiguous, oldest first), and drop them all. */
static inline uint32_t sc_an_records_pending(const sc_analyzer *an) { return an->rec_n; }
static inline const sc_wrec *sc_an_records(const sc_analyzer *an) { return an->rec; }
static inline void sc_an_records_clear(sc_analyzer *an)
{
    an->rec_drained += an->rec_n;
    an->rec_n = 0;
}

/* Report helpers. */
int64_t sc_rtt_percentile(const sc_rtt *r, double pct);   /* SC_NOTS when no sample */
int64_t sc_rtt_mean(const sc_rtt *r);
int64_t sc_rtt_rto(const sc_rtt *r);                      /* clamped to [RTO.Min, RTO.Max] */
int64_t sc_jitter_value(const sc_jitter *j);              /* SC_NOTS until two spacings were seen */
uint64_t sc_path_hb_unanswered(const sc_path *p);          /* settled + still pending */

/* ------------------------------------------------------------------------------------------------ */
/* Capture vantage point (engine.md "Capture vantage point")                                         */
/* ------------------------------------------------------------------------------------------------ */

/* An RTT the capture shows is timed between two packets passing the capture point, so A's samples (A's DATA
 * -> B's SACK, INIT -> INIT-ACK, A's HEARTBEAT -> HEARTBEAT-ACK) cover only capture -> B -> capture (the "B
 * side") and B's samples the "A side". The side that is close to the capture point is little more than that
 * endpoint's turnaround time. Each side is estimated by the minimum of its samples (every sample is an upper
 * bound of the side's wire round trip plus the peer's quickest turnaround). */
#define SC_VP_RATIO 3            /* a side at most 1/3 of the other puts the capture next to that endpoint */
#define SC_VP_DATA_TIGHT 8       /* DATA-only minima count as a measurement (not an upper bound) from this many
                                    non-delayed samples on; HEARTBEAT and handshake minima always do */

typedef enum {
    SC_VP_UNKNOWN = 0,
    SC_VP_A,                     /* next to A: B>A RTTs are A's turnaround, A>B RTTs are the full path RTT */
    SC_VP_B,
    SC_VP_MIDDLE,                /* between them: each direction sees only its half; full RTT ~ sum of sides */
    SC_VP_LOCAL,                 /* both endpoints on the capturing host (loopback or one shared address) */
    SC_VP_COUNT
} sc_vp_point;

#define SC_VP_EV_DATA      0x01  /* evidence bits: the methods whose minima decided the sides */
#define SC_VP_EV_HEARTBEAT 0x02
#define SC_VP_EV_HANDSHAKE 0x04
#define SC_VP_EV_ADDRESSES 0x08  /* local: the path's addresses */

typedef struct {
    uint8_t point;               /* sc_vp_point */
    uint8_t evidence;            /* SC_VP_EV_* */
    uint8_t tight[2];            /* side [0] A, [1] B: a measurement, not only an upper bound */
    int64_t side_ns[2];          /* [0] A side (B's samples), [1] B side (A's samples); SC_NOTS: no sample */
    int64_t method_ns[2][3];     /* per side, minimum per method (0 data, 1 heartbeat, 2 handshake) or SC_NOTS */
    int64_t full_ns;             /* A side + B side (both known, not local), else SC_NOTS */
} sc_vantage;

const char *sc_vp_point_name(unsigned point);
/* The association's vantage point, from its per-direction RTT accumulators (all paths). */
void sc_vantage_assoc(const sc_assoc *A, sc_vantage *out);
/* The vantage point of path pidx's address pair: the path and its reverse (same two addresses, other
 * direction). */
void sc_vantage_path(const sc_assoc *A, unsigned pidx, sc_vantage *out);

#endif
