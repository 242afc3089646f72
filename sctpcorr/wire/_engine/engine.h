/*
 * sctpcorr wire engine: the internal C contract between its three layers.
 *
 *   capture.c  bytes of a pcap/pcapng stream  -> sc_record   (sans-IO: fed arbitrary-sized blocks)
 *   decode.c   sc_record (link type + frame)  -> sc_packet   (link, VLAN, IPv4/IPv6, frag reassembly, SCTP, CRC32c)
 *   analyze.c  sc_packet                      -> association state, metrics, events
 *              (analyze.c is the per-packet loop; the an_*.c files it calls hold the rest by concern)
 *   module.c   the CPython binding (sctpcorr.wire._engine.Analyzer) that drives the three
 *
 * Nothing here does I/O: Python opens files (and gunzips them) and hands bytes in.
 * Time is int64 nanoseconds since the Unix epoch (capture clock) everywhere.
 * Every pointer into packet bytes is bounds-checked against the captured length; malformed input is counted,
 * never fatal, never read past its end.
 */
#ifndef SCTPCORR_ENGINE_H
#define SCTPCORR_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------------ */
/* capture.c: pcap / pcapng stream parser                                                            */
/* ------------------------------------------------------------------------------------------------ */

typedef enum {
    SC_FMT_UNKNOWN = 0,
    SC_FMT_PCAP = 1,    /* classic pcap, either byte order, usec / nsec / "modified" 0xa1b2cd34 magic */
    SC_FMT_PCAPNG = 2,  /* pcapng, any number of sections (each with its own byte order) and interfaces */
} sc_format;

typedef struct {
    int64_t ts_ns;          /* capture timestamp, ns since epoch (pcapng if_tsresol / if_tsoffset applied) */
    uint64_t frame_no;      /* 1-based, counts every packet record of this stream (same numbering as tshark:
                               pcapng custom / systemd-journal / sysdig blocks take a number, are not delivered) */
    uint32_t linktype;      /* LINKTYPE_* of the record's interface */
    uint32_t interface_id;  /* pcapng interface id (0 for pcap) */
    uint32_t caplen;        /* bytes present in data */
    uint32_t origlen;       /* bytes on the wire (may be < caplen in broken files: then trust caplen) */
    const uint8_t *data;    /* valid until the next sc_capture_feed*(), sc_capture_release() or sc_capture_finish()
                               call (sc_capture_next() moves nothing: module.c analyses records a few steps behind
                               taking them) */
} sc_record;

typedef enum {
    SC_CAP_OK = 0,          /* *out holds a record */
    SC_CAP_NEED_MORE = 1,   /* feed more bytes (or call sc_capture_finish) */
    SC_CAP_ERROR = 2,       /* unrecoverable format error; sc_capture_error() says what (one line) */
} sc_cap_status;

typedef struct sc_capture sc_capture;

sc_capture *sc_capture_new(void);
void sc_capture_free(sc_capture *c);
/* Append bytes to the internal buffer (copies). Returns 0, or -1 on allocation failure. */
int sc_capture_feed(sc_capture *c, const uint8_t *buf, size_t len);
/* The same without copying: records are parsed in place from buf, which must stay valid and unchanged until
 * sc_capture_release() (or the next feed, or sc_capture_finish()); only a record split across blocks and the
 * unparsed tail at release are copied. Returns 0, or -1 on allocation failure. */
int sc_capture_feed_borrowed(sc_capture *c, const uint8_t *buf, size_t len);
/* Done with the block of sc_capture_feed_borrowed(): what is left of it is copied. Call it before buf goes
 * away. Returns 0, or -1 on allocation failure (the stream is then in error: "out of memory"). */
int sc_capture_release(sc_capture *c);
/* Take the next record out of the buffered bytes. Non-packet blocks are consumed silently. */
sc_cap_status sc_capture_next(sc_capture *c, sc_record *out);
/* Signal end of stream. Returns the number of unconsumed bytes (>0 means the file was truncated).
 * Format, counters and link types stay readable; the next sc_capture_feed() or sc_capture_next() starts a new
 * stream (all reset, frame numbers from 1 again). */
size_t sc_capture_finish(sc_capture *c);
/* Frames so far in this stream, numbered like tshark (= frame_no of the last record, plus any trailing
 * pcapng custom / journal / sysdig blocks, which take a frame number but are not delivered). */
uint64_t sc_capture_packets(const sc_capture *c);
sc_format sc_capture_format(const sc_capture *c);
const char *sc_capture_error(const sc_capture *c);
/* Records whose header claimed more bytes than the remaining file (truncated tail), and records whose
 * caplen > origlen (invalid but readable: counted, then analysed with caplen). */
uint64_t sc_capture_caplen_gt_origlen(const sc_capture *c);
/* Link types seen (distinct, in order of first appearance: pcap header / pcapng IDBs), for the report.
 * Copies at most max and returns the number copied. */
size_t sc_capture_linktypes(const sc_capture *c, uint32_t *out, size_t max);

/* ------------------------------------------------------------------------------------------------ */
/* decode.c: one frame -> one SCTP packet view                                                       */
/* ------------------------------------------------------------------------------------------------ */

#define SC_MAX_CHUNKS_INLINE 64

typedef struct {
    uint8_t type;       /* chunk type */
    uint8_t flags;      /* chunk flags */
    uint16_t length;    /* declared chunk length (header included, padding excluded) */
    uint32_t offset;    /* offset of the chunk header from the start of the SCTP common header */
    uint32_t avail;     /* bytes of the chunk actually captured (< length when truncated by snaplen) */
} sc_chunk;

typedef enum {
    SC_DEC_NOT_SCTP = 0,    /* not IP, not SCTP, or an unknown link type */
    SC_DEC_SCTP = 1,        /* *out is a valid SCTP packet (possibly with malformed chunks, see flags) */
    SC_DEC_FRAGMENT = 2,    /* an IPv4/IPv6 fragment of an SCTP datagram, held for reassembly */
    SC_DEC_ICMP_QUOTED = 3, /* SCTP header quoted inside an ICMP/ICMPv6 error: counted, not traffic;
                               out->sport/dport/vtag/src/dst describe the quoted packet */
    SC_DEC_MALFORMED = 4,   /* IP protocol 132 but the SCTP common header (12 bytes) is not all there,
                               or the IP header itself is broken */
} sc_dec_status;

/* sc_packet.flags */
#define SC_PKT_CSUM_BAD        0x0001u /* CRC32c verified and wrong (offload is common: analyse anyway) */
#define SC_PKT_CSUM_UNCHECKED  0x0002u /* not verifiable: packet truncated by snaplen */
#define SC_PKT_TRUNCATED       0x0004u /* captured bytes < IP-declared length */
#define SC_PKT_CHUNK_MALFORMED 0x0008u /* a chunk length < 4 or running past the IP-declared end: walk stopped
                                          (like tshark, a length of 1..3 is listed and the walk steps 4 bytes) */
#define SC_PKT_REASSEMBLED     0x0010u /* built from IP fragments */
#define SC_PKT_IPV6            0x0020u
#define SC_PKT_CSUM_ADLER      0x0040u /* checksum matched Adler-32 (RFC 2960 era) instead of CRC32c */

typedef struct {
    int64_t ts_ns;
    uint64_t frame_no;
    uint32_t flags;         /* SC_PKT_* */
    uint8_t family;         /* 4 or 6 */
    uint8_t src[16];        /* IPv4 uses the first 4 bytes */
    uint8_t dst[16];
    uint16_t ip_id;         /* IPv4 identification (0 for IPv6): used for duplicate-frame detection */
    uint16_t sport, dport;
    uint32_t vtag;
    uint32_t checksum;      /* as on the wire */
    const uint8_t *sctp;    /* SCTP common header; valid until the next sc_decode call */
    uint32_t sctp_len;      /* bytes of SCTP present (captured, clipped to the IP-declared length) */
    uint32_t sctp_wire_len; /* SCTP length the IP header declares */
    uint32_t nchunks;
    sc_chunk *chunks;       /* nchunks entries, owned by the decoder */
} sc_packet;

typedef struct sc_decoder sc_decoder;

sc_decoder *sc_decoder_new(void);
void sc_decoder_free(sc_decoder *d);
/* Decode one record. For SC_DEC_SCTP and SC_DEC_ICMP_QUOTED fills *out. A fragment that completes a datagram
 * returns SC_DEC_SCTP with SC_PKT_REASSEMBLED and the frame_no/ts of the completing fragment. */
sc_dec_status sc_decode(sc_decoder *d, const sc_record *rec, sc_packet *out);

/* Decoder counters (monotonic since sc_decoder_new). */
typedef struct {
    uint64_t ip_fragments;          /* IP fragments of SCTP seen */
    uint64_t reassembled;           /* datagrams completed from fragments */
    uint64_t reassembly_dropped;    /* incomplete datagrams evicted (timeout / table full / overlap) */
    uint64_t unknown_linktype;      /* records of link types we do not decode */
    uint64_t non_ip;                /* frames that are not IPv4/IPv6 */
} sc_decoder_stats;
void sc_decoder_get_stats(const sc_decoder *d, sc_decoder_stats *out);

/* CRC32c (Castagnoli) of buf, with the 4 checksum bytes at offset 8 treated as zero. */
uint32_t sc_crc32c_sctp(const uint8_t *buf, size_t len);
uint32_t sc_crc32c(uint32_t crc, const uint8_t *buf, size_t len);

/* ------------------------------------------------------------------------------------------------ */
/* Chunk types (RFC 9260, 3758, 4895, 5061, 6525, 8260, NR-SACK draft, 4820 PAD)                     */
/* ------------------------------------------------------------------------------------------------ */
enum {
    SC_DATA = 0, SC_INIT = 1, SC_INIT_ACK = 2, SC_SACK = 3, SC_HEARTBEAT = 4, SC_HEARTBEAT_ACK = 5,
    SC_ABORT = 6, SC_SHUTDOWN = 7, SC_SHUTDOWN_ACK = 8, SC_ERROR = 9, SC_COOKIE_ECHO = 10,
    SC_COOKIE_ACK = 11, SC_ECNE = 12, SC_CWR = 13, SC_SHUTDOWN_COMPLETE = 14, SC_AUTH = 15,
    SC_NR_SACK = 16, SC_I_DATA = 64, SC_ASCONF_ACK = 128, SC_RE_CONFIG = 130, SC_PAD = 132,
    SC_FORWARD_TSN = 192, SC_ASCONF = 193, SC_I_FORWARD_TSN = 194,
};

#endif
