/*
 * decode.c: one captured frame -> one SCTP packet view (sc_packet).
 *
 * Theory of operation
 * -------------------
 * link layer -> IPv4 / IPv6 (+ extension headers) -> [fragment reassembly] -> SCTP common header -> chunk walk.
 * Every read is checked against the captured length; nothing is copied except IP fragments (into a bounded
 * reassembly table) and nothing is allocated per packet: the chunk array is owned by the decoder and only
 * grows (a 64 KiB packet holds at most 16380 chunks).
 *
 * Lengths. Two lengths matter for SCTP: the length the IP header declares ("wire", what the sender sent) and
 * the bytes actually captured ("avail", <= wire: snaplen may cut the packet). Link-layer padding beyond the IP
 * length (Ethernet minimum frame size) is ignored. The checksum is verified only over a complete packet.
 *
 * Chunk walk (RFC 9260 §3.2: "Chunk Length ... represents the size of the chunk in bytes, including the Chunk
 * Type, Chunk Flags, Chunk Length, and Chunk Value fields ... The total length of a chunk (including Type,
 * Length, and Value fields) MUST be a multiple of 4 bytes. If the length of the chunk is not a multiple of 4
 * bytes, the sender MUST pad the chunk with all zero bytes, and this padding is not included in the Chunk
 * Length field."). The walk follows Wireshark's dissector so that per-type chunk counts are comparable with
 * tshark's sctp.chunk_type:
 *   - a chunk is listed when its 4-byte header lies within the declared length;
 *   - fewer than 4 declared bytes left after the last chunk: malformed, stop;
 *   - Chunk Length 0: malformed, not listed, stop (tshark throws on the empty chunk);
 *   - Chunk Length 1..3: listed, malformed, the walk steps 4 bytes and goes on (as tshark does);
 *   - Chunk Length beyond the declared end: listed, malformed, stop;
 *   - Chunk Length beyond the captured bytes only (snaplen): listed with avail < length, stop (TRUNCATED).
 *
 * Fragments (RFC 791, RFC 8200 §4.5): fragments of protocol 132 are copied into a table of FRAG_SLOTS pending
 * datagrams keyed by (family, source, destination, identification), each at most 64 KiB, expired after
 * FRAG_TIMEOUT_NS of capture time. The fragment that completes a datagram yields the SCTP packet.
 *
 * ICMP (RFC 792) destination-unreachable / source-quench / redirect / time-exceeded / parameter-problem and
 * ICMPv6 (RFC 4443) types 1-4 quote the offending IP header and the start of its payload ("Internet Header +
 * 64 bits of Original Data Datagram"): when that payload is SCTP, the quoted ports and verification tag (and
 * any quoted chunks) are returned as SC_DEC_ICMP_QUOTED.
 */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "engine.h"

#define FRAG_SLOTS 64
#define FRAG_TIMEOUT_NS (30LL * 1000000000LL)
#define FRAG_MAX 65535u                    /* largest reassembled payload */
#define FRAG_MAP_BYTES ((FRAG_MAX + 1) / 64) /* one bit per 8-byte fragment block */
#define MAX_ENCAP 8                         /* VLAN tags / MPLS labels we step over */
#define MAX_V6_EXT 16                       /* IPv6 extension headers we step over */
#define MAX_CHUNKS 65536u /* a 64 KiB IP datagram holds at most 16380; only absurd TSO / pcapng frames get here */

typedef struct {
    int used;
    uint8_t family;
    uint8_t src[16], dst[16];
    uint32_t id;
    int64_t first_ts;
    uint32_t total;       /* payload length, known once the last fragment (MF = 0) is seen */
    uint32_t units_set;   /* 8-byte blocks received */
    int have_last;
    uint8_t *data;        /* FRAG_MAX + 1 payload bytes followed by the FRAG_MAP_BYTES block bitmap */
} frag_slot;

struct sc_decoder {
    sc_decoder_stats st;
    sc_chunk *chunks;
    uint32_t chunks_cap;
    frag_slot frag[FRAG_SLOTS];
    uint8_t *reasm; /* the datagram last handed out (valid until the next sc_decode) */
};

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

sc_decoder *sc_decoder_new(void)
{
    sc_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->chunks_cap = SC_MAX_CHUNKS_INLINE;
    d->chunks = malloc(d->chunks_cap * sizeof *d->chunks);
    if (!d->chunks) {
        free(d);
        return NULL;
    }
    return d;
}

void sc_decoder_free(sc_decoder *d)
{
    if (!d)
        return;
    for (int i = 0; i < FRAG_SLOTS; i++)
        free(d->frag[i].data);
    free(d->reasm);
    free(d->chunks);
    free(d);
}

void sc_decoder_get_stats(const sc_decoder *d, sc_decoder_stats *out) { *out = d->st; }

/* ------------------------------------------------------------------------------------------------ */
/* SCTP                                                                                              */
/* ------------------------------------------------------------------------------------------------ */

/* Adler-32 as SCTP used it before RFC 3309 (RFC 2960 Appendix B), checksum field taken as zero.
 * Only computed when CRC32c fails, which is every packet of a checksum-offloaded capture, so it is on the hot
 * path there: the zeroed field is handled outside the byte loop, and the modulo is deferred per zlib's NMAX. */
static uint32_t adler_run(uint32_t *pa, uint32_t *pb, const uint8_t *p, uint32_t n)
{
    uint32_t a = *pa, b = *pb;
    while (n) {
        uint32_t k = n > 5552 ? 5552 : n; /* zlib's NMAX: no overflow before the modulo */
        n -= k;
        for (; k >= 4; k -= 4, p += 4) {
            a += p[0]; b += a;
            a += p[1]; b += a;
            a += p[2]; b += a;
            a += p[3]; b += a;
        }
        for (; k; k--, p++) {
            a += *p;
            b += a;
        }
        a %= 65521u;
        b %= 65521u;
    }
    *pa = a;
    *pb = b;
    return (b << 16) | a;
}

/* Sum of the n bytes at p (64-bit: no overflow for any packet size). SSE2 (baseline on x86-64): PSADBW adds
 * 16 bytes per instruction, and the last partial block is the (overlapping) last 16 bytes with the bytes already
 * counted masked off; elsewhere, or for fewer than 16 bytes, a plain loop. */
static uint64_t byte_sum(const uint8_t *p, uint32_t n)
{
    uint64_t s = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        static const uint8_t tail_mask[32] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                              255, 255, 255, 255, 255, 255, 255, 255,
                                              255, 255, 255, 255, 255, 255, 255, 255};
        const __m128i zero = _mm_setzero_si128();
        const uint8_t *end = p + n;
        __m128i acc = zero;
        for (; n >= 16; n -= 16, p += 16)
            acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(const void *)p), zero));
        if (n) { /* the last n bytes: keep only those lanes of the last 16 */
            __m128i last = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
            __m128i keep = _mm_loadu_si128((const __m128i *)(const void *)(tail_mask + n));
            acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_and_si128(last, keep), zero));
        }
        return (uint64_t)_mm_cvtsi128_si64(acc) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
    }
#endif
    for (; n; n--, p++)
        s += *p;
    return s;
}

/* Could the SCTP packet s (n bytes) carry an Adler-32 checksum `csum`? Adler-32's low half is
 * A = 1 + (sum of the bytes) mod 65521 (checksum field as zero): if it differs from csum's low 16 bits, so does
 * the whole checksum, and the byte-serial B half need not be computed. An exact test (the full Adler-32 still
 * decides when A matches, about 1 packet in 65521 of random ones).
 * Measured on bench/out/corpus-1m.pcap (rewritten packets: CRC32c wrong on 99.8 % of them, so every packet
 * used to pay the full Adler-32): ~600 of ~2,930 instructions per packet before, ~50 now. */
static int adler_low_matches(const uint8_t *s, uint32_t n, uint32_t csum)
{
    uint64_t sum = byte_sum(s, n);
    if (n >= 12) /* the checksum field counts as zeros */
        sum -= (uint64_t)s[8] + s[9] + s[10] + s[11];
    else
        for (uint32_t i = 8; i < n; i++)
            sum -= s[i];
    return (uint32_t)((1 + sum) % 65521u) == (csum & 0xffffu);
}

static uint32_t sctp_adler32(const uint8_t *p, uint32_t n)
{
    uint32_t a = 1, b = 0;
    adler_run(&a, &b, p, n < 8 ? n : 8);
    if (n <= 8)
        return (b << 16) | a;
    uint32_t zeros = n < 12 ? n - 8 : 4; /* the checksum field counts as zero bytes: a unchanged, b += a each */
    b = (b + zeros * a) % 65521u;
    return n <= 12 ? (b << 16) | a : adler_run(&a, &b, p + 12, n - 12);
}

static int grow_chunks(sc_decoder *d)
{
    uint32_t ncap = d->chunks_cap * 2;
    sc_chunk *n = realloc(d->chunks, ncap * sizeof *n);
    if (!n)
        return -1;
    d->chunks = n;
    d->chunks_cap = ncap;
    return 0;
}

/* s: SCTP common header; avail: captured bytes (<= wire); wire: length the IP header declares. */
static sc_dec_status decode_sctp(sc_decoder *d, const uint8_t *s, uint32_t avail, uint32_t wire, sc_packet *out,
                                 int quoted)
{
    out->sctp = s;
    out->sctp_len = avail;
    out->sctp_wire_len = wire;
    if (avail < wire)
        out->flags |= SC_PKT_TRUNCATED;
    if (quoted) {
        if (avail < 8) /* ICMP guarantees 8 quoted bytes: ports and verification tag */
            return SC_DEC_NOT_SCTP;
    } else if (avail < 12 || wire < 12) {
        /* RFC 9260 §3.1: the common header is 12 bytes. */
        return SC_DEC_MALFORMED;
    }
    out->sport = be16(s);
    out->dport = be16(s + 2);
    out->vtag = be32(s + 4);
    if (avail < 12) {
        out->checksum = 0;
        out->flags |= SC_PKT_CSUM_UNCHECKED;
        return SC_DEC_ICMP_QUOTED;
    }
    out->checksum = be32(s + 8);
    if (avail == wire) {
        if (sc_crc32c_sctp(s, wire) != out->checksum) {
            if (adler_low_matches(s, wire, out->checksum) && sctp_adler32(s, wire) == out->checksum)
                out->flags |= SC_PKT_CSUM_ADLER;
            else
                out->flags |= SC_PKT_CSUM_BAD;
        }
    } else {
        out->flags |= SC_PKT_CSUM_UNCHECKED;
    }

    uint32_t off = 12, n = 0;
    while (off < wire) {
        uint32_t rem = wire - off;
        if (rem < 4) { /* trailing bytes that cannot hold a chunk header */
            out->flags |= SC_PKT_CHUNK_MALFORMED;
            break;
        }
        if (off + 4 > avail) /* header not captured (snaplen); TRUNCATED is already set */
            break;
        uint16_t len = be16(s + off + 2);
        if (len == 0) {
            out->flags |= SC_PKT_CHUNK_MALFORMED;
            break;
        }
        if (n == MAX_CHUNKS) {
            out->flags |= SC_PKT_CHUNK_MALFORMED;
            break;
        }
        if (n == d->chunks_cap && grow_chunks(d) < 0)
            break;
        sc_chunk *c = &d->chunks[n++];
        c->type = s[off];
        c->flags = s[off + 1];
        c->length = len;
        c->offset = off;
        c->avail = min32(len, avail - off);
        if (len < 4) { /* "bogus chunk length": tshark lists it and steps over a 4-byte unit */
            out->flags |= SC_PKT_CHUNK_MALFORMED;
            off += 4;
            continue;
        }
        if (len > rem) {
            out->flags |= SC_PKT_CHUNK_MALFORMED;
            break;
        }
        if (c->avail < len)
            break;
        off += ((uint32_t)len + 3u) & ~3u; /* padding to 4 bytes; may end past `wire` if the last pad is missing */
    }
    out->chunks = d->chunks;
    out->nchunks = n;
    return quoted ? SC_DEC_ICMP_QUOTED : SC_DEC_SCTP;
}

/* ------------------------------------------------------------------------------------------------ */
/* IP fragment reassembly                                                                            */
/* ------------------------------------------------------------------------------------------------ */

static void frag_drop(sc_decoder *d, frag_slot *f)
{
    f->used = 0;
    d->st.reassembly_dropped++;
}

static sc_dec_status frag_add(sc_decoder *d, uint32_t id, uint32_t foff, int more, const uint8_t *payload,
                              uint32_t cap_len, uint32_t decl_len, sc_packet *out)
{
    int64_t now = out->ts_ns;
    frag_slot *f = NULL, *free_slot = NULL, *oldest = NULL;
    size_t alen = out->family == 4 ? 4 : 16;

    d->st.ip_fragments++;
    for (int i = 0; i < FRAG_SLOTS; i++) {
        frag_slot *s = &d->frag[i];
        if (s->used) {
            /* |now - first_ts| without signed overflow (timestamps of broken files can be anything) */
            uint64_t age = now >= s->first_ts ? (uint64_t)now - (uint64_t)s->first_ts
                                              : (uint64_t)s->first_ts - (uint64_t)now;
            if (age > (uint64_t)FRAG_TIMEOUT_NS) { /* expired (or the clock jumped back) */
                frag_drop(d, s);
            } else if (!f && s->id == id && s->family == out->family && !memcmp(s->src, out->src, alen) &&
                       !memcmp(s->dst, out->dst, alen)) {
                f = s;
                continue;
            }
        }
        if (!s->used) {
            if (!free_slot)
                free_slot = s;
        } else if (!oldest || s->first_ts < oldest->first_ts) {
            oldest = s;
        }
    }
    if (!f) {
        if (!free_slot) { /* table full: evict the oldest pending datagram */
            frag_drop(d, oldest);
            free_slot = oldest;
        }
        f = free_slot;
        if (!f->data && !(f->data = malloc(FRAG_MAX + 1 + FRAG_MAP_BYTES)))
            return SC_DEC_FRAGMENT; /* out of memory: the fragment is lost */
        f->used = 1;
        f->family = out->family;
        memcpy(f->src, out->src, 16);
        memcpy(f->dst, out->dst, 16);
        f->id = id;
        f->first_ts = now;
        f->total = 0;
        f->units_set = 0;
        f->have_last = 0;
        memset(f->data + FRAG_MAX + 1, 0, FRAG_MAP_BYTES);
    }

    uint32_t end = foff + decl_len;
    /* A fragment cut by snaplen cannot be reassembled; a non-final fragment must be a multiple of 8 bytes
     * (RFC 791 "the fragment ... must be a multiple of 8 octets"); nothing may reach past 64 KiB. */
    if (cap_len < decl_len || end > FRAG_MAX || (more && (decl_len & 7u)) ||
        (!more && f->have_last && f->total != end) || (f->have_last && end > f->total)) {
        frag_drop(d, f);
        return SC_DEC_FRAGMENT;
    }
    if (!more) {
        f->have_last = 1;
        f->total = end;
    }
    memcpy(f->data + foff, payload, decl_len);
    uint8_t *map = f->data + FRAG_MAX + 1;
    for (uint32_t u = foff / 8; u < (end + 7) / 8; u++) {
        uint8_t bit = (uint8_t)(1u << (u & 7));
        if (!(map[u >> 3] & bit)) {
            map[u >> 3] |= bit;
            f->units_set++;
        }
    }
    if (!f->have_last || f->units_set < (f->total + 7) / 8)
        return SC_DEC_FRAGMENT;
    /* Blocks past the end (sent before the last fragment told the size) would have been dropped above only if
     * they came after it; recount within the datagram to be sure it is complete. */
    uint32_t units = 0;
    for (uint32_t u = 0; u < (f->total + 7) / 8; u++)
        units += (map[u >> 3] >> (u & 7)) & 1u;
    if (units < (f->total + 7) / 8)
        return SC_DEC_FRAGMENT;

    uint8_t *buf = f->data;
    f->data = d->reasm; /* swap: the completed datagram stays valid until the next call */
    d->reasm = buf;
    f->used = 0;
    d->st.reassembled++;
    out->flags |= SC_PKT_REASSEMBLED;
    return decode_sctp(d, buf, f->total, f->total, out, 0);
}

/* ------------------------------------------------------------------------------------------------ */
/* IPv4 / IPv6 / ICMP                                                                                */
/* ------------------------------------------------------------------------------------------------ */

static sc_dec_status decode_ipv6(sc_decoder *d, const uint8_t *p, uint32_t n, uint32_t decl, sc_packet *out,
                                 int quoted);

/* ICMP payload (starting at the quoted IP header): q has qcap captured and qdecl declared bytes. */
static sc_dec_status decode_quoted_ipv4(sc_decoder *d, const uint8_t *q, uint32_t qcap, uint32_t qdecl,
                                        sc_packet *out)
{
    if (qcap < 20 || (q[0] >> 4) != 4 || q[9] != 132)
        return SC_DEC_NOT_SCTP;
    uint32_t hl = (q[0] & 15u) * 4u, tot = be16(q + 2);
    if (hl < 20 || hl > qcap || tot < hl || (be16(q + 6) & 0x1fffu))
        return SC_DEC_NOT_SCTP; /* broken quote, or a non-first fragment: no SCTP header in it */
    out->family = 4;
    out->flags &= ~SC_PKT_IPV6;
    memset(out->src, 0, sizeof out->src);
    memset(out->dst, 0, sizeof out->dst);
    memcpy(out->src, q + 12, 4);
    memcpy(out->dst, q + 16, 4);
    out->ip_id = be16(q + 4);
    /* Wireshark bounds the quoted datagram by its total length and by what the ICMP message holds. */
    uint32_t wire = min32(tot, qdecl) - hl;
    uint32_t avail = min32(wire, qcap - hl);
    return decode_sctp(d, q + hl, avail, wire, out, 1);
}

static sc_dec_status decode_icmp4(sc_decoder *d, const uint8_t *p, uint32_t cap, uint32_t decl, sc_packet *out)
{
    if (cap < 8)
        return SC_DEC_NOT_SCTP;
    switch (p[0]) {
    case 3:  /* destination unreachable */
    case 4:  /* source quench */
    case 5:  /* redirect */
    case 11: /* time exceeded */
    case 12: /* parameter problem */
        return decode_quoted_ipv4(d, p + 8, cap - 8, decl - 8, out);
    default:
        return SC_DEC_NOT_SCTP;
    }
}

static sc_dec_status decode_icmp6(sc_decoder *d, const uint8_t *p, uint32_t cap, uint32_t decl, sc_packet *out)
{
    /* RFC 4443: 1 destination unreachable, 2 packet too big, 3 time exceeded, 4 parameter problem */
    if (cap < 8 || p[0] < 1 || p[0] > 4)
        return SC_DEC_NOT_SCTP;
    return decode_ipv6(d, p + 8, cap - 8, decl - 8, out, 1);
}

/* p: IPv4 header with n captured bytes; decl: bytes the frame had on the wire from here on. */
static sc_dec_status decode_ipv4(sc_decoder *d, const uint8_t *p, uint32_t n, uint32_t decl, sc_packet *out)
{
    if (n < 20) {
        if (n >= 10 && p[9] == 132) {
            out->family = 4;
            return SC_DEC_MALFORMED;
        }
        return SC_DEC_NOT_SCTP;
    }
    uint8_t proto = p[9];
    if (proto != 132 && proto != 1)
        return SC_DEC_NOT_SCTP;
    out->family = 4;
    memcpy(out->src, p + 12, 4);
    memcpy(out->dst, p + 16, 4);
    out->ip_id = be16(p + 4);
    uint32_t hl = (p[0] & 15u) * 4u, tot = be16(p + 2);
    if (tot == 0) /* TCP segmentation offload captures leave the total length 0: use what was captured */
        tot = n;
    /* A total length beyond the frame's original length is bogus, not snaplen truncation: like Wireshark,
     * bound the datagram by the frame (the chunk walk then reports what no longer fits). */
    tot = min32(tot, decl);
    if (hl < 20 || hl > n || tot < hl)
        return proto == 132 ? SC_DEC_MALFORMED : SC_DEC_NOT_SCTP;
    uint32_t cap = min32(n, tot); /* bytes beyond the total length are link-layer padding */
    uint16_t fo = be16(p + 6);
    uint32_t foff = (uint32_t)(fo & 0x1fffu) * 8u;
    int more = (fo & 0x2000u) != 0;
    if (more || foff) {
        if (proto != 132)
            return SC_DEC_NOT_SCTP;
        return frag_add(d, out->ip_id, foff, more, p + hl, cap - hl, tot - hl, out);
    }
    if (n < tot)
        out->flags |= SC_PKT_TRUNCATED;
    if (proto == 1)
        return decode_icmp4(d, p + hl, cap - hl, tot - hl, out);
    return decode_sctp(d, p + hl, cap - hl, tot - hl, out, 0);
}

/* p: IPv6 header with n captured bytes. decl: bytes the frame or the enclosing ICMP message had on the wire.
 * quoted: inside an ICMPv6 error (no fragments, no nested ICMP). */
static sc_dec_status decode_ipv6(sc_decoder *d, const uint8_t *p, uint32_t n, uint32_t decl, sc_packet *out,
                                 int quoted)
{
    if (n < 40 || (p[0] >> 4) != 6)
        return SC_DEC_NOT_SCTP;
    uint32_t plen = be16(p + 4);
    uint8_t nh = p[6];
    uint32_t tot = plen ? 40 + plen : n; /* 0: jumbogram (RFC 2675) or offload: use what was captured */
    tot = min32(tot, decl);
    if (tot < 40)
        return SC_DEC_NOT_SCTP;
    uint32_t cap = min32(n, tot);
    uint32_t off = 40;
    int frag = 0, more = 0;
    uint32_t foff = 0, fid = 0;

    for (int i = 0; i < MAX_V6_EXT; i++) {
        uint32_t hlen;
        switch (nh) {
        case 0:   /* hop-by-hop options */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */
            /* RFC 8200 §4.3: "Hdr Ext Len: length of the header in 8-octet units, not including the first 8" */
            if (off + 2 > cap)
                return SC_DEC_NOT_SCTP;
            hlen = ((uint32_t)p[off + 1] + 1u) * 8u;
            break;
        case 51: /* AH, RFC 4302 §2.2: "Payload Len ... in 32-bit words, minus 2" */
            if (off + 2 > cap)
                return SC_DEC_NOT_SCTP;
            hlen = ((uint32_t)p[off + 1] + 2u) * 4u;
            break;
        case 44: { /* fragment: Next Header (1) Reserved (1) Fragment Offset (13 bits) Res (2) M (1) Id (4) */
            if (off + 8 > cap)
                return SC_DEC_NOT_SCTP;
            uint16_t fo = be16(p + off + 2);
            foff = fo & 0xfff8u;
            more = fo & 1u;
            fid = be32(p + off + 4);
            frag = more || foff; /* an "atomic fragment" (offset 0, M 0) is a whole packet */
            nh = p[off];
            off += 8;
            if (frag)
                goto upper;
            continue;
        }
        default:
            goto upper;
        }
        nh = p[off];
        off += hlen;
        if (off > cap)
            return SC_DEC_NOT_SCTP;
    }
    return SC_DEC_NOT_SCTP; /* too many extension headers */

upper:
    if (nh != 132 && nh != 58)
        return SC_DEC_NOT_SCTP; /* includes ESP (50) and No Next Header (59) */
    if (quoted && nh != 132)
        return SC_DEC_NOT_SCTP;
    if (frag && quoted) {
        if (foff != 0)
            return SC_DEC_NOT_SCTP; /* only a first fragment quotes the SCTP header */
        frag = 0;
    }
    if (frag && nh != 132)
        return SC_DEC_NOT_SCTP;
    out->family = 6;
    out->flags |= SC_PKT_IPV6;
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    out->ip_id = 0;
    /* here off <= cap <= tot: the walk above never steps past the captured bytes */
    if (frag)
        return frag_add(d, fid, foff, more, p + off, cap - off, tot - off, out);
    if (n < tot && !quoted)
        out->flags |= SC_PKT_TRUNCATED;
    if (nh == 58)
        return decode_icmp6(d, p + off, cap - off, tot - off, out);
    return decode_sctp(d, p + off, cap - off, tot - off, out, quoted);
}

/* ------------------------------------------------------------------------------------------------ */
/* Link layers                                                                                       */
/* ------------------------------------------------------------------------------------------------ */

enum { L_IP = 1, L_NOT_IP = 0, L_UNKNOWN = -1 };

/* Follow an EtherType (and any VLAN / QinQ / MPLS / PPPoE encapsulation) to an IP header. */
static int ethertype_to_ip(const uint8_t *p, uint32_t n, uint32_t off, uint16_t et, uint32_t *ipoff)
{
    for (int depth = 0; depth < MAX_ENCAP; depth++) {
        switch (et) {
        case 0x0800: /* IPv4 */
        case 0x86DD: /* IPv6 */
            *ipoff = off;
            return L_IP;
        case 0x8100: /* 802.1Q */
        case 0x88A8: /* 802.1ad S-tag */
        case 0x9100: /* pre-standard QinQ */
        case 0x9200:
        case 0x9300:
            /* TCI (2) then the encapsulated EtherType (2) */
            if (off + 4 > n)
                return L_NOT_IP;
            et = be16(p + off + 2);
            off += 4;
            break;
        case 0x8847: /* MPLS unicast / multicast: labels until bottom-of-stack, then guess by IP version */
        case 0x8848:
            for (int i = 0; i < MAX_ENCAP; i++) {
                if (off + 4 > n)
                    return L_NOT_IP;
                uint32_t label = be32(p + off);
                off += 4;
                if (label & 0x100u) {
                    if (off < n && ((p[off] >> 4) == 4 || (p[off] >> 4) == 6)) {
                        *ipoff = off;
                        return L_IP;
                    }
                    return L_NOT_IP;
                }
            }
            return L_NOT_IP;
        case 0x8864: /* PPPoE session: ver/type (1) code (1) session (2) length (2), then the PPP protocol (2) */
            if (off + 8 > n)
                return L_NOT_IP;
            et = be16(p + off + 6);
            off += 8;
            if (et == 0x0021 || et == 0x0057) {
                *ipoff = off;
                return L_IP;
            }
            return L_NOT_IP;
        default:
            return L_NOT_IP;
        }
    }
    return L_NOT_IP;
}

static int link_to_ip(uint32_t linktype, const uint8_t *p, uint32_t n, uint32_t *ipoff)
{
    switch (linktype) {
    case 1: /* LINKTYPE_ETHERNET: dst (6) src (6) EtherType (2) */
        if (n < 14)
            return L_NOT_IP;
        return ethertype_to_ip(p, n, 14, be16(p + 12), ipoff);
    case 113: /* LINKTYPE_LINUX_SLL: pkttype (2) hatype (2) halen (2) addr (8) protocol (2) */
        if (n < 16)
            return L_NOT_IP;
        return ethertype_to_ip(p, n, 16, be16(p + 14), ipoff);
    case 276: /* LINKTYPE_LINUX_SLL2: protocol (2) reserved (2) ifindex (4) hatype (2) pkttype (1) halen (1) addr (8) */
        if (n < 20)
            return L_NOT_IP;
        return ethertype_to_ip(p, n, 20, be16(p), ipoff);
    case 12:  /* DLT_RAW on most systems */
    case 14:  /* DLT_RAW on OpenBSD */
    case 101: /* LINKTYPE_RAW */
    case 228: /* LINKTYPE_IPV4 */
    case 229: /* LINKTYPE_IPV6 */
        *ipoff = 0;
        return L_IP;
    case 0:   /* LINKTYPE_NULL: 4-byte address family in the capturing host's byte order */
    case 108: { /* LINKTYPE_LOOP: the same in network byte order (either accepted for both) */
        if (n < 4)
            return L_NOT_IP;
        uint32_t af_be = be32(p), af_le = le32(p);
        /* AF_INET 2; AF_INET6 24 (NetBSD, OpenBSD), 28 (FreeBSD, DragonFly), 30 (macOS) */
        if (af_be == 2 || af_le == 2 || af_be == 24 || af_le == 24 || af_be == 28 || af_le == 28 ||
            af_be == 30 || af_le == 30) {
            *ipoff = 4;
            return L_IP;
        }
        return L_NOT_IP;
    }
    default:
        return L_UNKNOWN;
    }
}

sc_dec_status sc_decode(sc_decoder *d, const sc_record *rec, sc_packet *out)
{
    out->ts_ns = rec->ts_ns;
    out->frame_no = rec->frame_no;
    out->flags = 0;
    out->family = 0;
    out->ip_id = 0;
    out->sport = out->dport = 0;
    out->vtag = 0;
    out->checksum = 0;
    out->sctp = NULL;
    out->sctp_len = out->sctp_wire_len = 0;
    out->nchunks = 0;
    out->chunks = d->chunks;
    memset(out->src, 0, sizeof out->src);
    memset(out->dst, 0, sizeof out->dst);

    const uint8_t *p = rec->data;
    uint32_t n = rec->caplen, off = 0;
    int r = link_to_ip(rec->linktype, p, n, &off);
    if (r == L_UNKNOWN) {
        d->st.unknown_linktype++;
        return SC_DEC_NOT_SCTP;
    }
    if (r == L_NOT_IP || off >= n) {
        d->st.non_ip++;
        return SC_DEC_NOT_SCTP;
    }
    p += off;
    n -= off;
    /* Bytes the frame had on the wire past the link header. origlen < caplen is invalid: trust caplen. */
    uint32_t decl = (rec->origlen > rec->caplen ? rec->origlen : rec->caplen) - off;
    switch (p[0] >> 4) {
    case 4:
        return decode_ipv4(d, p, n, decl, out);
    case 6:
        return decode_ipv6(d, p, n, decl, out, 0);
    default:
        d->st.non_ip++;
        return SC_DEC_NOT_SCTP;
    }
}
