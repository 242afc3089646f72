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
 * stops for the rest of the run (memory then grows as without folding, nothing is lost). Each record is written
 * by one pwritev before anything is freed, so the failure is seen in time (a stdio buffer would report it at a
 * later flush, when the association was gone).
 */
#define _DEFAULT_SOURCE   /* pwritev, mkstemp */
#include <errno.h>
#include <sys/types.h>
#include <sys/uio.h>
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

static void fb_put(fbuf *b, const void *src, size_t n)
{
    if (b->failed || !n)
        return;
    if (b->n + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->n + n)
            ncap *= 2;
        uint8_t *np = realloc(b->p, ncap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void fb_varint(fbuf *b, uint64_t v)
{
    uint8_t t[10];
    size_t k = 0;
    do {
        t[k] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[k] |= 0x80;
        k++;
    } while (v);
    fb_put(b, t, k);
}

/* raw (n a multiple of 8) as 64-bit words -> (varint literal words, the words, varint zero words)*: word by word,
 * since byte by byte cost ~10 us an association (most of the fold). */
static void zr_encode(fbuf *out, const uint8_t *raw, size_t n)
{
    size_t nw = n / 8, i = 0;
    while (i < nw) {
        size_t j = i, z;
        uint64_t w;
        for (; j < nw; j++) {
            memcpy(&w, raw + 8 * j, 8);
            if (!w)
                break;
        }
        for (z = j; z < nw; z++) {
            memcpy(&w, raw + 8 * z, 8);
            if (w)
                break;
        }
        fb_varint(out, j - i);
        fb_put(out, raw + 8 * i, 8 * (j - i));
        fb_varint(out, z - j);
        i = z;
    }
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
        uint64_t lit, zeros;
        if (rd_varint(&p, end, &lit) < 0 || lit > (uint64_t)(end - p) / 8 || lit > nw - o)
            return -1;
        memcpy(raw + 8 * o, p, 8 * lit);
        p += 8 * lit;
        o += lit;
        if (rd_varint(&p, end, &zeros) < 0 || zeros > nw - o)
            return -1;
        memset(raw + 8 * o, 0, 8 * zeros);
        o += zeros;
    }
    return o == nw ? 0 : -1;
}

/* ------------------------------------------------------------------------------------------------ */
/* Serialising one association                                                                       */
/* ------------------------------------------------------------------------------------------------ */

/* Layout of the raw bytes: the sc_assoc (pointers meaningless), its paths, each path's RTT bins, per direction
 * its streams and RTT bins, per endpoint its addresses, then the INIT parameters and ABORT info it has. The
 * counts that size each part are in the struct itself. */
static void flatten(fbuf *b, const sc_assoc *A)
{
    sc_assoc h = *A;
    for (int d = 0; d < 2; d++) {
        h.dir[d].q.e = NULL;          /* the TSN ring is not kept: it only serves packets to come */
        h.dir[d].q.cap = 0;
    }
    fb_put(b, &h, sizeof h);
    fb_put(b, A->paths, (size_t)A->npaths * sizeof *A->paths);
    for (uint16_t i = 0; i < A->npaths; i++)
        fb_put(b, A->paths[i].rtt.bins, (size_t)A->paths[i].rtt.nbins * sizeof(sc_hbin));
    for (int d = 0; d < 2; d++) {
        fb_put(b, A->dir[d].streams, (size_t)A->dir[d].nstreams * sizeof(sc_stream));
        fb_put(b, A->dir[d].rtt.bins, (size_t)A->dir[d].rtt.nbins * sizeof(sc_hbin));
    }
    for (int e = 0; e < 2; e++)
        fb_put(b, A->addrs[e].v, (size_t)A->addrs[e].n * sizeof(sc_addr));
    for (int e = 0; e < 2; e++)
        if (A->init[e])
            fb_put(b, A->init[e], sizeof *A->init[e]);
    if (A->abort)
        fb_put(b, A->abort, sizeof *A->abort);
}

static void *take(const uint8_t **p, const uint8_t *end, size_t n, int *bad)
{
    if (*bad || (size_t)(end - *p) < n) {
        *bad = 1;
        return NULL;
    }
    if (!n)
        return NULL;
    void *m = malloc(n);
    if (!m) {
        *bad = 1;
        return NULL;
    }
    memcpy(m, *p, n);
    *p += n;
    return m;
}

/* The inverse of flatten(): a heap association like a live one (sc_an_assoc_free frees it). NULL if the bytes
 * do not make one (never for bytes flatten wrote) or memory runs out. */
static sc_assoc *unflatten(const uint8_t *raw, size_t n)
{
    const uint8_t *p = raw, *end = raw + n;
    int bad = 0;
    sc_assoc *A = take(&p, end, sizeof *A, &bad);
    if (!A)
        return NULL;
    /* every pointer first, so that a failure half way frees only what was made */
    const sc_assoc h = *A;
    A->paths = NULL;
    A->paths_cap = 0;
    for (int d = 0; d < 2; d++) {
        A->dir[d].streams = NULL;
        A->dir[d].streams_cap = 0;
        A->dir[d].rtt.bins = NULL;
        A->dir[d].rtt.cap = 0;
        A->dir[d].q.e = NULL;
    }
    for (int e = 0; e < 2; e++) {
        A->addrs[e].v = NULL;
        A->addrs[e].cap = 0;
        A->init[e] = NULL;
    }
    A->abort = NULL;
    A->npaths = 0;
    A->paths = take(&p, end, (size_t)h.npaths * sizeof *A->paths, &bad);
    if (!bad) {
        A->npaths = h.npaths;
        A->paths_cap = h.npaths;
        for (uint16_t i = 0; i < h.npaths; i++) {
            A->paths[i].rtt.bins = NULL;
            A->paths[i].rtt.cap = 0;
        }
        for (uint16_t i = 0; i < h.npaths && !bad; i++) {
            A->paths[i].rtt.bins = take(&p, end, (size_t)A->paths[i].rtt.nbins * sizeof(sc_hbin), &bad);
            A->paths[i].rtt.cap = A->paths[i].rtt.nbins;
        }
    }
    for (int d = 0; d < 2 && !bad; d++) {
        A->dir[d].streams = take(&p, end, (size_t)h.dir[d].nstreams * sizeof(sc_stream), &bad);
        A->dir[d].streams_cap = h.dir[d].nstreams;
        A->dir[d].rtt.bins = take(&p, end, (size_t)h.dir[d].rtt.nbins * sizeof(sc_hbin), &bad);
        A->dir[d].rtt.cap = h.dir[d].rtt.nbins;
    }
    for (int e = 0; e < 2 && !bad; e++) {
        A->addrs[e].v = take(&p, end, (size_t)h.addrs[e].n * sizeof(sc_addr), &bad);
        A->addrs[e].cap = h.addrs[e].n;
    }
    for (int e = 0; e < 2 && !bad; e++)
        if (h.init[e])
            A->init[e] = take(&p, end, sizeof *A->init[e], &bad);
    if (h.abort && !bad)
        A->abort = take(&p, end, sizeof *A->abort, &bad);
    if (bad || p != end) {
        sc_an_assoc_free(A);
        return NULL;
    }
    return A;
}

/* ------------------------------------------------------------------------------------------------ */
/* The spill file                                                                                    */
/* ------------------------------------------------------------------------------------------------ */

/* One record: u32 raw length, u32 encoded length, the association's summary (sc_asum), the encoded bytes. Written
 * by pwritev(2) before the association is freed (no stdio buffer: a full disk must be seen while the association
 * can still stay in memory). */
static int spill_write(sc_analyzer *an, const fbuf *enc, uint32_t rawn, const sc_asum *sum, uint64_t *off)
{
    if (!an->spill_open) {
        const char *dir = getenv("TMPDIR");
        char path[4096];
        if (snprintf(path, sizeof path, "%s/sctpcorr-fold-XXXXXX", dir && *dir ? dir : "/tmp") >= (int)sizeof path)
            return -1;
        int fd = mkstemp(path);
        if (fd < 0)
            return -1;
        unlink(path);                         /* gone with the process, whatever happens */
        an->spill_fd = fd;
        an->spill_open = 1;
    }
    uint32_t hdr[2] = {rawn, (uint32_t)enc->n};
    struct iovec iov[3] = {{hdr, sizeof hdr}, {(void *)sum, sizeof *sum}, {enc->p, enc->n}};
    size_t want = sizeof hdr + sizeof *sum + enc->n, done = 0;
    while (done < want) {                     /* a short write (a nearly full disk): go on from where it stopped */
        struct iovec v[3];
        int nv = 0;
        size_t skip = done;
        for (int k = 0; k < 3; k++) {
            if (skip >= iov[k].iov_len) {
                skip -= iov[k].iov_len;
                continue;
            }
            v[nv].iov_base = (char *)iov[k].iov_base + skip;
            v[nv].iov_len = iov[k].iov_len - skip;
            skip = 0;
            nv++;
        }
        ssize_t w = pwritev(an->spill_fd, v, nv, (off_t)(an->spill_bytes + done));
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return -1;                        /* ENOSPC, EIO...: the record is not whole; nothing points to it */
        }
        done += (size_t)w;
    }
    *off = an->spill_bytes;
    an->spill_bytes += want;
    return 0;
}

static int spill_ready(const sc_analyzer *an) { return an->spill_open ? an->spill_fd : -1; }

static sc_assoc *spill_read(sc_analyzer *an, uint64_t off)
{
    int fd = spill_ready(an);
    if (fd < 0)
        return NULL;
    uint32_t hdr[2];
    if (pread(fd, hdr, sizeof hdr, (off_t)off) != (ssize_t)sizeof hdr)
        return NULL;
    size_t padded = ((size_t)hdr[0] + 7) & ~(size_t)7;
    uint8_t *enc = malloc(hdr[1] ? hdr[1] : 1), *raw = malloc(padded ? padded : 1);
    sc_assoc *A = NULL;
    if (enc && raw && pread(fd, enc, hdr[1], (off_t)(off + sizeof hdr + sizeof(sc_asum))) == (ssize_t)hdr[1] &&
        zr_decode(enc, hdr[1], raw, padded) == 0)
        A = unflatten(raw, hdr[0]);
    free(enc);
    free(raw);
    return A;
}

/* ------------------------------------------------------------------------------------------------ */
/* Folding                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

static void fold_one(sc_analyzer *an, sc_assoc *A, int idle)
{
    fbuf raw = {an->fold_buf[0], 0, an->fold_cap[0], 0}, enc = {an->fold_buf[1], 0, an->fold_cap[1], 0};
    flatten(&raw, A);
    static const uint8_t pad[8];
    size_t rawn = raw.n;
    fb_put(&raw, pad, (8 - raw.n % 8) % 8);
    if (!raw.failed)
        zr_encode(&enc, raw.p, raw.n);
    uint64_t off = 0;
    sc_asum sum;
    sc_assoc_summary(A, &sum);
    int ok = !raw.failed && !enc.failed && raw.n <= UINT32_MAX &&
             spill_write(an, &enc, (uint32_t)rawn, &sum, &off) == 0;
    an->fold_buf[0] = raw.p;
    an->fold_cap[0] = raw.cap;
    an->fold_buf[1] = enc.p;
    an->fold_cap[1] = enc.cap;
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

int sc_an_summary(sc_analyzer *an, uint64_t idx, sc_asum *s)
{
    sc_assoc *A = an->assocs[idx];
    if (!folded(A)) {
        sc_assoc_summary(A, s);
        return 0;
    }
    int fd = spill_ready(an);
    return fd >= 0 && pread(fd, s, sizeof *s, (off_t)(folded_off(A) + 2 * sizeof(uint32_t))) == (ssize_t)sizeof *s
               ? 0 : -1;
}

const sc_assoc *sc_an_assoc_open(sc_analyzer *an, uint64_t idx)
{
    sc_assoc *A = an->assocs[idx];
    return folded(A) ? spill_read(an, folded_off(A)) : A;
}

void sc_an_assoc_close(sc_analyzer *an, uint64_t idx, const sc_assoc *A)
{
    if (A && A != an->assocs[idx])
        sc_an_assoc_free((sc_assoc *)A);
}

void sc_fold_free(sc_analyzer *an)
{
    if (an->spill_open)
        close(an->spill_fd);
    an->spill_open = 0;
    free(an->ended);
    an->ended = NULL;
    for (int i = 0; i < 2; i++) {
        free(an->fold_buf[i]);
        an->fold_buf[i] = NULL;
    }
}
