/*
 * fold.c: associations that ended leave memory (issue #12: "bounded memory under churn").
 *
 * Theory of operation
 * -------------------
 * What one association owns (analyze.h): its sc_assoc (~1.5 KB), a path array (~400 B a path), per direction a
 * stream table (~190 B a stream) and an outstanding-TSN ring, the sparse RTT histograms of each path and
 * direction, its address sets, the INIT / INIT-ACK parameters and the ABORT's causes; and, in the analyzer, its
 * entries in the two hash tables (half keys, path index). The TSN rings are given back as soon as the
 * association is over (analyze.c assoc_set_state). Everything else stays until the report, because the report
 * shows it: without folding, memory grows by ~6 KB with every association that ever ended.
 *
 * Folding (off unless the Analyzer is built with linger / idle_timeout; `sctpcorr pcap` turns it on):
 *   - an association that ended (SHUTDOWN-COMPLETE: CLOSED, or ABORTED) joins a FIFO with the time of its last
 *     packet; once the capture's clock is `linger_ns` past that time and no packet came meanwhile, it is folded;
 *   - an association of any state whose last packet is `idle_ns` older than the capture's clock is folded too,
 *     found by a clock hand that looks at a few id slots per tick.
 * Folding serialises the whole association (the struct and every array it points to, the TSN ring excepted)
 * into an unlinked temporary file (the "spill", $TMPDIR), runs of zero words squeezed out (the structs are
 * mostly zeros), removes its hash-table entries (a path-index entry goes back to the
 * association it hid), frees it, and leaves in its id slot the spill offset, tagged in the pointer's low bit.
 * The report reads a folded association back from the spill one at a time (sc_an_assoc_open/close), so every
 * output is written from the same state as without folding.
 *
 * What folding changes, and why that is acceptable: a packet of a folded association (a stray retransmission
 * more than linger after the end, or traffic after an idle gap longer than idle_ns) finds no key any more and
 * starts a new association, as a new capture starting at that packet would; an INIT on the path of a folded
 * association does not see it (no restart or collision with it). Both are counted nowhere special: they look
 * like what they are on the wire. What stays per association ever seen: its 8-byte id slot.
 *
 * Ticks (sc_fold_tick) run between blocks of records (module.c), never inside the look-ahead loop, whose
 * prefetch hints hold association pointers for a few records.
 *
 * A spill write that fails (disk full) leaves the association in memory, counted in limits.fold_failed; folding
 * stops for the rest of the run (memory then grows as without folding, nothing is lost). Records gather in a
 * 128 KiB buffer before they are written; an association is freed only once its record is in that buffer, and
 * the buffer stays in memory until it is on disk, so a write that fails loses nothing either (the records it
 * holds are read from it).
 *
 * Reading back allocates nothing: a record is decoded into one buffer the analyzer owns and the association's
 * pointers are set into it (attach()), so one folded association is open at a time (sc_an_assoc_open/close).
 */
#define _DEFAULT_SOURCE   /* pwrite, mkstemp */
#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"

static inline int folded(const sc_assoc *p) { return ((uintptr_t)p & 1u) != 0; }
static inline uint64_t folded_off(const sc_assoc *p) { return (uint64_t)((uintptr_t)p >> 1); }
static inline int live_state(unsigned st) { return st != SC_ST_CLOSED && st != SC_ST_ABORTED; }

int sc_an_is_folded(const sc_analyzer *an, uint64_t idx) { return folded(an->assocs[idx]); }

/* ------------------------------------------------------------------------------------------------ */
/* Buffer and the zero-run codec                                                                     */
/* ------------------------------------------------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int failed;
} fbuf;

/* room for n more bytes at b->p + b->n (0: no memory, b->failed set) */
static int fb_reserve(fbuf *b, size_t n)
{
    if (b->failed)
        return 0;
    if (b->n + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->n + n)
            ncap *= 2;
        uint8_t *np = realloc(b->p, ncap);
        if (!np) {
            b->failed = 1;
            return 0;
        }
        b->p = np;
        b->cap = ncap;
    }
    return 1;
}

static void fb_varint(fbuf *b, uint64_t v)
{
    if (!fb_reserve(b, 10))
        return;
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        b->p[b->n++] = v ? (uint8_t)(c | 0x80) : c;
    } while (v);
}

/* The zero-word codec (the structs are mostly zeros): raw (n a multiple of 8) as 64-bit words -> varint word
 * count W, a bitmap of W bits (set: the word is not zero), the non-zero words. One pass without a branch per
 * word; the encodings of consecutive pieces concatenate to the encoding of the whole. (A run-length form, a
 * varint pair per run, cost ~1.7 us an association, as much as the rest of folding.) */
static void zr_encode(fbuf *out, const uint8_t *raw, size_t n)
{
    size_t nw = n / 8, nb = (nw + 7) / 8;
    fb_varint(out, nw);
    if (!fb_reserve(out, nb + 8 * nw))
        return;
    uint8_t *bm = out->p + out->n, *w = bm + nb;
    size_t k = 0;
    for (size_t i = 0; i < nw; i += 8) {     /* a bitmap byte built in a register: |= into memory word by word */
        unsigned m = 0, cnt = nw - i < 8 ? (unsigned)(nw - i) : 8;   /* chained each word on the last store */
        for (unsigned j = 0; j < cnt; j++) {
            uint64_t x;
            memcpy(&x, raw + 8 * (i + j), 8);
            memcpy(w + 8 * k, &x, 8);
            unsigned nz = x != 0;
            m |= nz << j;
            k += nz;
        }
        bm[i >> 3] = (uint8_t)m;
    }
    out->n += nb + 8 * k;
}

static int rd_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned s = 0; s < 64; s += 7) {
        if (*p >= end)
            return -1;
        uint8_t c = *(*p)++;
        x |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int zr_decode(const uint8_t *enc, size_t n, uint8_t *raw, size_t rawn)
{
    const uint8_t *p = enc, *end = enc + n;
    size_t o = 0, nw = rawn / 8;
    while (p < end) {
        uint64_t words;
        if (rd_varint(&p, end, &words) < 0 || words > nw - o || (words + 7) / 8 > (uint64_t)(end - p))
            return -1;
        const uint8_t *bm = p;
        p += (words + 7) / 8;
        for (size_t i = 0; i < words; i += 8) {
            unsigned m = bm[i >> 3], cnt = words - i < 8 ? (unsigned)(words - i) : 8;
            uint8_t *dst = raw + 8 * (o + i);
            if (m == 0) {
                memset(dst, 0, 8 * (size_t)cnt);
                continue;
            }
            for (unsigned j = 0; j < cnt; j++, dst += 8) {
                if (m >> j & 1) {
                    if (end - p < 8)
                        return -1;
                    memcpy(dst, p, 8);
                    p += 8;
                } else {
                    memset(dst, 0, 8);
                }
            }
        }
        o += words;
    }
    return o == nw ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------------ */
/* Serialising one association                                                                       */
/* ------------------------------------------------------------------------------------------------ */

/* Layout of the raw bytes, each part padded to 8 bytes: the sc_assoc (pointers meaningless, but a non-NULL init
 * or abort pointer says the part is there), its paths, each path's RTT bins, per direction its streams and RTT
 * bins, per endpoint its addresses, then the INIT parameters and ABORT info it has. The counts that size each
 * part are in the struct itself. Each part goes straight through the zero-run encoder (the encodings of parts
 * concatenate to the encoding of the whole), so nothing is copied twice. Returns the raw length. */
static size_t put_part(fbuf *enc, const void *src, size_t n)
{
    size_t whole = n & ~(size_t)7;
    if (whole)
        zr_encode(enc, src, whole);
    if (n > whole) {
        uint8_t tail[8] = {0};
        memcpy(tail, (const uint8_t *)src + whole, n - whole);
        zr_encode(enc, tail, 8);
    }
    return (n + 7) & ~(size_t)7;
}

/* The struct itself, read in place (no copy of its 1.5 KB), with each direction's TSN ring left out (e = NULL,
 * cap = 0: it only serves packets to come). */
_Static_assert(offsetof(sc_tsnq, e) == 0 && offsetof(sc_tsnq, cap) == 8 && offsetof(sc_tsnq, base) == 12,
               "sc_tsnq: e, then cap and base in one word");
_Static_assert(offsetof(sc_assoc, dir[0].q) % 8 == 0 && offsetof(sc_assoc, dir[1].q) % 8 == 0 &&
               sizeof(sc_assoc) % 8 == 0, "the TSN rings on 8-byte boundaries");
static size_t put_head(fbuf *enc, const sc_assoc *A)
{
    const uint8_t *p = (const uint8_t *)A;
    size_t at = 0;
    for (int d = 0; d < 2; d++) {
        size_t q = (size_t)((const uint8_t *)&A->dir[d].q - p);
        if (q > at)
            zr_encode(enc, p + at, q - at);
        uint64_t w[2] = {0, (uint64_t)A->dir[d].q.base << 32};    /* e = NULL; cap = 0, base kept */
        zr_encode(enc, (const uint8_t *)w, sizeof w);
        at = q + sizeof w;
    }
    zr_encode(enc, p + at, sizeof *A - at);
    return sizeof *A;
}

static size_t flatten(fbuf *enc, const sc_assoc *A)
{
    size_t n = put_head(enc, A);
    n += put_part(enc, A->paths, (size_t)A->npaths * sizeof *A->paths);
    for (uint16_t i = 0; i < A->npaths; i++)
        n += put_part(enc, A->paths[i].rtt.bins, (size_t)A->paths[i].rtt.nbins * sizeof(sc_hbin));
    for (int d = 0; d < 2; d++) {
        n += put_part(enc, A->dir[d].streams, (size_t)A->dir[d].nstreams * sizeof(sc_stream));
        n += put_part(enc, A->dir[d].rtt.bins, (size_t)A->dir[d].rtt.nbins * sizeof(sc_hbin));
    }
    for (int e = 0; e < 2; e++)
        n += put_part(enc, A->addrs[e].v, (size_t)A->addrs[e].n * sizeof(sc_addr));
    for (int e = 0; e < 2; e++)
        if (A->init[e])
            n += put_part(enc, A->init[e], sizeof *A->init[e]);
    if (A->abort)
        n += put_part(enc, A->abort, sizeof *A->abort);
    return n;
}

/* The next part of `bytes` bytes in raw[*o..n), or NULL when it is empty; *bad when it does not fit. */
static void *part(uint8_t *raw, size_t n, size_t *o, size_t bytes, int *bad)
{
    size_t padded = (bytes + 7) & ~(size_t)7;
    if (*bad || padded < bytes || padded > n - *o) {
        *bad = 1;
        return NULL;
    }
    void *p = bytes ? raw + *o : NULL;
    *o += padded;
    return p;
}

/* The inverse of flatten(), in place: the association's pointers set into raw (8-byte aligned, n bytes, decoded
 * from a record), so that reading one back allocates nothing. NULL if the bytes do not make one (never for bytes
 * flatten wrote). Read-only for its reader, and never freed: raw is the analyzer's. */
static const sc_assoc *attach(uint8_t *raw, size_t n)
{
    if (n < sizeof(sc_assoc))
        return NULL;
    sc_assoc *A = (sc_assoc *)raw;
    size_t o = (sizeof *A + 7) & ~(size_t)7;
    int bad = 0;
    A->paths = part(raw, n, &o, (size_t)A->npaths * sizeof *A->paths, &bad);
    A->paths_cap = A->npaths;
    for (uint16_t i = 0; i < A->npaths && !bad; i++) {
        A->paths[i].rtt.bins = part(raw, n, &o, (size_t)A->paths[i].rtt.nbins * sizeof(sc_hbin), &bad);
        A->paths[i].rtt.cap = A->paths[i].rtt.nbins;
    }
    for (int d = 0; d < 2 && !bad; d++) {
        A->dir[d].streams = part(raw, n, &o, (size_t)A->dir[d].nstreams * sizeof(sc_stream), &bad);
        A->dir[d].streams_cap = A->dir[d].nstreams;
        A->dir[d].rtt.bins = part(raw, n, &o, (size_t)A->dir[d].rtt.nbins * sizeof(sc_hbin), &bad);
        A->dir[d].rtt.cap = A->dir[d].rtt.nbins;
        A->dir[d].q.e = NULL;
        A->dir[d].q.cap = 0;
    }
    for (int e = 0; e < 2 && !bad; e++) {
        A->addrs[e].v = part(raw, n, &o, (size_t)A->addrs[e].n * sizeof(sc_addr), &bad);
        A->addrs[e].cap = A->addrs[e].n;
    }
    for (int e = 0; e < 2 && !bad; e++)
        if (A->init[e])
            A->init[e] = part(raw, n, &o, sizeof *A->init[e], &bad);
    if (A->abort && !bad)
        A->abort = part(raw, n, &o, sizeof *A->abort, &bad);
    return bad || o != n ? NULL : A;
}

/* ------------------------------------------------------------------------------------------------ */
/* The spill file                                                                                    */
/* ------------------------------------------------------------------------------------------------ */

/* One record: u32 raw length, u32 encoded length, the association's summary (sc_asum), the encoded bytes.
 * Records gather in a write buffer of SPILL_WBUF bytes, written by pwrite(2) when the next one would not fit:
 * one system call per ~60 associations rather than one each (a tenth of the CLI's time at 100,000). A record is
 * in the buffer before its association is freed, and the buffer stays in memory until it is on disk: a write
 * that fails (disk full) leaves it there, readable (reads of offsets past spill_disk come from it), and stops
 * folding. The read window serves the report's reads, which come in id order, close to the order of folding. */
#define SPILL_WBUF ((size_t)128 << 10)
#define SPILL_RWIN ((size_t)128 << 10)
#define SPILL_RWIN_MIN ((size_t)4 << 10)
#define REC_HEAD (2 * sizeof(uint32_t) + sizeof(sc_asum))

static int spill_create(sc_analyzer *an)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    if (snprintf(path, sizeof path, "%s/sctpcorr-fold-XXXXXX", dir && *dir ? dir : "/tmp") >= (int)sizeof path)
        return -1;
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);                             /* gone with the process, whatever happens */
    an->spill_fd = fd;
    an->spill_open = 1;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {                               /* a short write (a nearly full disk): go on from where it stopped */
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return -1;                        /* ENOSPC, EIO...: what is not on disk is still in memory */
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* The write buffer to disk. On failure nothing moves: its records stay in it. */
static int spill_flush(sc_analyzer *an)
{
    size_t n = (size_t)(an->spill_bytes - an->spill_disk);
    if (!n)
        return 0;
    if (write_all(an->spill_fd, an->spill_w, n, an->spill_disk) < 0)
        return -1;
    an->spill_disk = an->spill_bytes;
    return 0;
}

static int spill_write(sc_analyzer *an, const fbuf *enc, uint32_t rawn, const sc_asum *sum, uint64_t *off)
{
    if (!an->spill_open && spill_create(an) < 0)
        return -1;
    if (!an->spill_w && !(an->spill_w = malloc(SPILL_WBUF)))
        return -1;
    uint32_t hdr[2] = {rawn, (uint32_t)enc->n};
    size_t want = REC_HEAD + enc->n;
    if (an->spill_bytes - an->spill_disk + want > SPILL_WBUF && spill_flush(an) < 0)
        return -1;
    if (want > SPILL_WBUF) {                  /* bigger than the buffer (thousands of streams): straight to disk */
        uint8_t head[REC_HEAD];
        memcpy(head, hdr, sizeof hdr);
        memcpy(head + sizeof hdr, sum, sizeof *sum);
        if (write_all(an->spill_fd, head, sizeof head, an->spill_disk) < 0 ||
            write_all(an->spill_fd, enc->p, enc->n, an->spill_disk + sizeof head) < 0)
            return -1;
        *off = an->spill_bytes;
        an->spill_bytes = an->spill_disk = an->spill_bytes + want;
        return 0;
    }
    uint8_t *w = an->spill_w + (an->spill_bytes - an->spill_disk);
    memcpy(w, hdr, sizeof hdr);
    memcpy(w + sizeof hdr, sum, sizeof *sum);
    memcpy(w + REC_HEAD, enc->p, enc->n);
    *off = an->spill_bytes;
    an->spill_bytes += want;
    return 0;
}

/* n bytes of the spill at off: from the write buffer, or the read window (moved to off when they are not in it).
 * NULL when they cannot be read. Valid until the next call. */
static const uint8_t *spill_at(sc_analyzer *an, uint64_t off, size_t n)
{
    if (!an->spill_open || off > an->spill_bytes || n > an->spill_bytes - off)
        return NULL;
    if (off >= an->spill_disk)
        return an->spill_w + (off - an->spill_disk);
    if (off + n > an->spill_disk)
        return NULL;                          /* records never straddle disk and buffer */
    if (off >= an->spill_roff && off + n <= an->spill_roff + an->spill_rn) {
        an->spill_rhits++;
        return an->spill_r + (off - an->spill_roff);
    }
    /* a miss: the window follows the reads. Read in id order, records are rarely neighbours (they were written
     * in the order associations ended), so a window serves only the record it was read for and stays small (one
     * page: about the cost of reading the record alone); when reads run along the file it doubles. */
    if (an->spill_rhits >= 8)
        an->spill_rwin = an->spill_rwin * 2 > SPILL_RWIN ? SPILL_RWIN : an->spill_rwin * 2;
    else if (an->spill_rwin / 2 >= SPILL_RWIN_MIN)
        an->spill_rwin /= 2;
    if (an->spill_rwin < SPILL_RWIN_MIN)
        an->spill_rwin = SPILL_RWIN_MIN;
    an->spill_rhits = 0;
    size_t want = n > an->spill_rwin ? n : an->spill_rwin;
    if (want > an->spill_disk - off)
        want = (size_t)(an->spill_disk - off);
    if (want > an->spill_rcap) {
        uint8_t *r = realloc(an->spill_r, want);
        if (!r)
            return NULL;
        an->spill_r = r;
        an->spill_rcap = want;
    }
    an->spill_rn = 0;
    size_t got = 0;
    while (got < want) {
        ssize_t k = pread(an->spill_fd, an->spill_r + got, want - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return NULL;
        got += (size_t)k;
    }
    an->spill_roff = off;
    an->spill_rn = got;
    return an->spill_r;
}

static const sc_assoc *spill_read(sc_analyzer *an, uint64_t off)
{
    const uint8_t *h = spill_at(an, off, 2 * sizeof(uint32_t));
    if (!h)
        return NULL;
    uint32_t hdr[2];
    memcpy(hdr, h, sizeof hdr);
    const uint8_t *enc = spill_at(an, off, REC_HEAD + hdr[1]);
    if (!enc || hdr[0] % 8)
        return NULL;
    if (hdr[0] > an->open_cap) {
        free(an->open_raw);                   /* 8-byte aligned, as malloc gives */
        an->open_cap = 0;
        if (!(an->open_raw = malloc(hdr[0])))
            return NULL;
        an->open_cap = hdr[0];
    }
    if (zr_decode(enc + REC_HEAD, hdr[1], an->open_raw, hdr[0]) < 0)
        return NULL;
    return attach(an->open_raw, hdr[0]);
}

/* ------------------------------------------------------------------------------------------------ */
/* Folding                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

static inline void prefetch_lines(const void *p, size_t n)
{
    for (size_t o = 0; p && o < n; o += 64)
        __builtin_prefetch((const char *)p + o);
}

/* An association is folded seconds of capture time after its end, long out of the caches: the encoder waited on
 * each cold line in turn (perf: 73 % of zr_encode's samples on the instruction after its load). Every line of
 * the struct, its paths, streams and RTT bins is asked for first, so that the misses overlap (folding's share of
 * an engine+fold run on the scale corpus: 8.5-9.6 % -> 6.1-6.2 %). */
static void fold_one(sc_analyzer *an, sc_assoc *A, int idle)
{
    prefetch_lines(A, sizeof *A);
    prefetch_lines(A->paths, (size_t)A->npaths * sizeof *A->paths);
    for (int d = 0; d < 2; d++) {
        prefetch_lines(A->dir[d].streams, (size_t)A->dir[d].nstreams * sizeof(sc_stream));
        prefetch_lines(A->dir[d].rtt.bins, (size_t)A->dir[d].rtt.nbins * sizeof(sc_hbin));
    }
    fbuf enc = {an->fold_enc, 0, an->fold_enc_cap, 0};
    size_t rawn = flatten(&enc, A);
    an->fold_enc = enc.p;
    an->fold_enc_cap = enc.cap;
    uint64_t off = 0;
    sc_asum sum;
    sc_assoc_summary(A, &sum);
    int ok = !enc.failed && rawn <= UINT32_MAX && enc.n <= UINT32_MAX &&
             spill_write(an, &enc, (uint32_t)rawn, &sum, &off) == 0;
    if (!ok) {
        an->cap.fold_failed++;
        an->linger_ns = an->idle_ns = 0;      /* stop folding: memory grows as without it, nothing is lost */
        return;
    }
    uint32_t id = A->id;
    sc_an_unlink_assoc(an, A);
    sc_an_assoc_free(A);
    an->assocs[id - 1] = (sc_assoc *)(uintptr_t)((off << 1) | 1u);
    an->nfolded++;
    if (idle)
        an->cap.assocs_folded_idle++;
    else
        an->cap.assocs_folded++;
}

int sc_fold_config(sc_analyzer *an, int64_t linger_ns, int64_t idle_ns)
{
    an->linger_ns = linger_ns > 0 ? linger_ns : 0;
    an->idle_ns = idle_ns > 0 ? idle_ns : 0;
    return 0;
}

/* analyze.c: association A is over (CLOSED or ABORTED). */
void sc_fold_ended(sc_analyzer *an, const sc_assoc *A)
{
    if (!an->linger_ns)
        return;
    if (an->ended_n == an->ended_cap) {
        uint32_t ncap = an->ended_cap ? an->ended_cap * 2 : 1024;
        uint32_t *nv = malloc((size_t)ncap * sizeof *nv);
        if (!nv)
            return;                           /* not folded: stays in memory */
        for (uint32_t i = 0; i < an->ended_n; i++)
            nv[i] = an->ended[(an->ended_head + i) & (an->ended_cap - 1)];
        free(an->ended);
        an->ended = nv;
        an->ended_cap = ncap;
        an->ended_head = 0;
    }
    an->ended[(an->ended_head + an->ended_n) & (an->ended_cap - 1)] = A->id;
    an->ended_n++;
}

void sc_fold_tick(sc_analyzer *an, uint32_t hand_steps)
{
    if (!an->cap.have_ts)
        return;
    int64_t now = an->cap.last_ts_ns;
    while (an->linger_ns && an->ended_n) {
        uint32_t id = an->ended[an->ended_head];
        sc_assoc *A = an->assocs[id - 1];
        if (!folded(A) && !live_state(A->state)) {
            if (now - A->last_ts_ns < an->linger_ns)
                break;                        /* the oldest end not old enough: neither are the others */
            fold_one(an, A, 0);
        }
        an->ended_head = (an->ended_head + 1) & (an->ended_cap - 1);
        an->ended_n--;
    }
    if (!an->idle_ns || !an->nassocs)
        return;
    for (uint32_t k = 0; k < hand_steps; k++) {
        if (an->hand >= an->nassocs)
            an->hand = 0;
        sc_assoc *A = an->assocs[an->hand++];
        if (!folded(A) && now - A->last_ts_ns >= an->idle_ns)
            fold_one(an, A, 1);
    }
}

void sc_assoc_summary(const sc_assoc *A, sc_asum *s)
{
    memset(s, 0, sizeof *s);
    s->id = A->id;
    s->state = A->state;
    s->packets = A->packets;
    s->fast = A->dir[0].rtx_fast + A->dir[1].rtx_fast;
    s->timeout = A->dir[0].rtx_timeout + A->dir[1].rtx_timeout;
    s->unknown = A->dir[0].rtx_unknown + A->dir[1].rtx_unknown;
    s->spurious = A->dir[0].rtx_spurious + A->dir[1].rtx_spurious;
    s->zero_windows = A->dir[0].zero_window_episodes + A->dir[1].zero_window_episodes;
    s->srtt_ns = SC_NOTS;                     /* the smallest path SRTT */
    for (unsigned p = 0; p < A->npaths; p++) {
        s->hb_unanswered += sc_path_hb_unanswered(&A->paths[p]);
        if (A->paths[p].rtt.samples > 0 && (s->srtt_ns == SC_NOTS || A->paths[p].rtt.srtt_ns < s->srtt_ns))
            s->srtt_ns = A->paths[p].rtt.srtt_ns;
    }
    s->p50_ns = SC_NOTS;                      /* the larger of the two directions' median RTT sample */
    for (unsigned e = 0; e < 2; e++) {
        int64_t v = sc_rtt_percentile(&A->dir[e].rtt, 50.0);
        if (v != SC_NOTS && (s->p50_ns == SC_NOTS || v > s->p50_ns))
            s->p50_ns = v;
        s->vtag_known[e] = A->vtag_known[e];
        s->vtag[e] = A->vtag[e];
        s->port[e] = A->port[e];
        s->have_addr[e] = A->addrs[e].n > 0;
        if (A->addrs[e].n)
            s->addr[e] = A->addrs[e].v[0];
    }
    s->first_ts_ns = A->first_ts_ns;
    s->last_ts_ns = A->last_ts_ns;
}

typedef struct {
    uint64_t off;
    size_t at;
} sum_ref;

static int by_off(const void *a, const void *b)
{
    uint64_t x = ((const sum_ref *)a)->off, y = ((const sum_ref *)b)->off;
    return x < y ? -1 : x > y;
}

int sc_an_summaries(sc_analyzer *an, uint64_t start, size_t n, sc_asum *out)
{
    /* folded ones read in the order of the file, not of ids (neighbours by id were folded far apart, in the order
     * associations ended): the read window then serves many from one read */
    sum_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    if (!refs)
        return -1;
    size_t nf = 0;
    for (size_t k = 0; k < n; k++) {
        const sc_assoc *A = an->assocs[start + k];
        if (folded(A))
            refs[nf++] = (sum_ref){folded_off(A), k};
        else
            sc_assoc_summary(A, &out[k]);
    }
    qsort(refs, nf, sizeof *refs, by_off);
    int rc = 0;
    for (size_t j = 0; j < nf && rc == 0; j++) {
        const uint8_t *p = spill_at(an, refs[j].off + 2 * sizeof(uint32_t), sizeof *out);
        if (p)
            memcpy(&out[refs[j].at], p, sizeof *out);
        else
            rc = -1;
    }
    free(refs);
    return rc;
}

const sc_assoc *sc_an_assoc_open(sc_analyzer *an, uint64_t idx)
{
    sc_assoc *A = an->assocs[idx];
    return folded(A) ? spill_read(an, folded_off(A)) : A;
}

void sc_an_assoc_close(sc_analyzer *an, uint64_t idx, const sc_assoc *A)
{
    (void)an;                                 /* a folded one lives in an->open_raw until the next open */
    (void)idx;
    (void)A;
}

void sc_fold_free(sc_analyzer *an)
{
    if (an->spill_open)
        close(an->spill_fd);
    an->spill_open = 0;
    free(an->ended);
    an->ended = NULL;
    free(an->spill_w);
    free(an->spill_r);
    free(an->fold_enc);
    free(an->open_raw);
    an->spill_w = an->spill_r = an->fold_enc = an->open_raw = NULL;
}
