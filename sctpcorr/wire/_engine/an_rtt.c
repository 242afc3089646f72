/*
 * an_rtt.c: RTT accumulators (counts, minima, mean, sparse log-scale histogram and percentiles, SRTT/RTTVAR and
 * RTO), the samples that feed them, and the inter-arrival jitter of new DATA.
 *
 * RTT (RFC 9260 §6.3.1). DATA: at most one TSN timed per path (C4), chosen among new TSNs appended at the
 * head; its timing is cancelled when it or any lower TSN is retransmitted (C5: "RTT measurements SHOULD only
 * be made using a DATA chunk with TSN r if no DATA chunk with TSN less than or equal to r was retransmitted
 * since the DATA chunk with TSN r was sent first"); the sample is taken when a SACK first covers it (cum ack
 * or gap block) and attributed to the path the DATA used. HEARTBEAT: the HEARTBEAT-ACK echoes the heartbeat
 * information bytes (§8.3), matched by hash against the few HEARTBEATs pending on the path. Handshake:
 * INIT->INIT-ACK, INIT-ACK->COOKIE-ECHO, COOKIE-ECHO->COOKIE-ACK when the first chunk was sent once (Karn).
 * Every sample updates SRTT/RTTVAR (C2/C3, alpha 1/8, beta 1/4) of the path and of the direction.
 *
 * Where the samples come from: DATA timing and acks in an_tsn.c (on_data, ack_entry, apply_ack), HEARTBEAT and
 * handshake in an_chunks.c; each calls rtt_sample below.
 */
#include "an_internal.h"

/* ------------------------------------------------------------------------------------------------ */
/* RTT accumulator and jitter                                                                        */
/* ------------------------------------------------------------------------------------------------ */

/* Bin b >= 1 holds [R^(b-1), R^b) ns, R = 1.0195. Bounds are computed once by repeated multiplication
 * (no libm) and stored rounded up, so that for an integer v, v >= g_bin_lo[b] exactly when v >= R^(b-1)
 * (below ~50 ns several bins share a bound and only the last of them is used). A bin's reported value is its
 * geometric centre R^(b-1/2), within 0.98 % of any value in it (1 % with the rounding to whole ns for values
 * >= 1 us). */
static int64_t g_bin_lo[SC_RTT_NBINS + 1];
static long double g_bin_centre[SC_RTT_NBINS + 1];
static int g_bins_ready;

void bins_init(void)
{
    if (g_bins_ready)
        return;
    long double v = 1.0L;
    g_bin_lo[0] = 0;
    g_bin_centre[0] = 0.0L;
    for (int b = 1; b <= SC_RTT_NBINS; b++) {
        int64_t lo = v >= 9.2e18L ? INT64_MAX : (int64_t)v;
        if ((long double)lo < v && lo < INT64_MAX)
            lo++; /* ceil */
        g_bin_lo[b] = lo;
        g_bin_centre[b] = v * 1.00970292660762360L; /* R^(b-1) * sqrt(R) */
        v *= 1.0195L;
    }
    g_bins_ready = 1;
}

static uint32_t bin_of(int64_t v)
{
    if (v <= 0)
        return 0;
    /* estimate b = 1 + floor(log_R v) from log2 v = e + log2(1 + t), t in [0, 1) (4th-order least-squares fit,
     * error < 2.1e-4, i.e. 0.0074 bin: at most one bin off), then settle it exactly against the integer bounds.
     * (The fit used before was off by ~0.3 in log2, ~10 bins, and the settling loops walked them: ~40
     * instructions per sample on bench/out/corpus-1m.pcap.) */
    int e = 63 - __builtin_clzll((uint64_t)v);
    double t = (double)v / (double)(1ULL << e) - 1.0;
    double l2 = e + 0.00020424611430961144 +
                t * (1.4360972169670392 + t * (-0.6695128004033476 + t * (0.31221188782810666 -
                                                                            t * 0.0791496712584178)));
    double est = 1.0 + l2 * 35.89146733; /* 1 / log2(R) */
    uint32_t b = est < 1.0 ? 1 : est > SC_RTT_NBINS ? SC_RTT_NBINS : (uint32_t)est;
    while (b < SC_RTT_NBINS && g_bin_lo[b + 1] <= v)
        b++;
    while (b > 1 && g_bin_lo[b] > v)
        b--;
    return b;
}

static int64_t bin_centre(uint32_t b)
{
    if (b == 0)
        return 0;
    long double c = g_bin_centre[b];
    return c >= 9.2e18L ? INT64_MAX : (int64_t)(c + 0.5L);
}

/* One sample v (histogram bin b = bin_of(v), computed once by the caller for the two accumulators a sample
 * goes to). */
static void rtt_add(sc_rtt *r, int64_t v, uint32_t b, int method, int delayed)
{
    if (v < 0)
        v = 0;
    r->samples++;
    if (method == 0)
        r->data_samples++;
    else if (method == 1)
        r->heartbeat_samples++;
    else
        r->handshake_samples++;
    if (delayed)
        r->delayed_sack_samples++;
    /* per-method minimum (the vantage-point evidence); a delayed-SACK sample is not a turnaround minimum */
    int m = method == 0 ? 0 : method == 1 ? 1 : 2;
    uint64_t nm = m == 0 ? r->data_samples - r->delayed_sack_samples : m == 1 ? r->heartbeat_samples
                                                                             : r->handshake_samples;
    if (!(m == 0 && delayed) && (nm == 1 || v < r->min_method_ns[m]))
        r->min_method_ns[m] = v;
    if (r->samples == 1 || v < r->min_ns)
        r->min_ns = v;
    if (r->samples == 1 || v > r->max_ns)
        r->max_ns = v;
    r->sum_ns += (long double)v;
    /* RFC 9260 §6.3.1 C2 (first measurement) and C3 (subsequent ones); RTTVAR uses the old SRTT. */
    if (r->samples == 1) {
        r->srtt_ns = v;
        r->rttvar_ns = v / 2;
    } else {
        int64_t diff = r->srtt_ns > v ? r->srtt_ns - v : v - r->srtt_ns;
        r->rttvar_ns = r->rttvar_ns - r->rttvar_ns / 4 + diff / 4;
        r->srtt_ns = r->srtt_ns - r->srtt_ns / 8 + v / 8;
    }
    /* sparse histogram: insert or bump the bin */
    uint32_t lo = 0, hi = r->nbins;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (r->bins[mid].bin < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < r->nbins && r->bins[lo].bin == b) {
        r->bins[lo].count++;
        return;
    }
    if (r->nbins == r->cap) {
        uint32_t ncap = r->cap ? r->cap * 2 : 4;
        sc_hbin *nb = realloc(r->bins, ncap * sizeof *nb);
        if (!nb) /* out of memory: the sample still counts, the percentiles lose it */
            return;
        r->bins = nb;
        r->cap = ncap;
    }
    memmove(&r->bins[lo + 1], &r->bins[lo], (r->nbins - lo) * sizeof *r->bins);
    r->bins[lo].bin = b;
    r->bins[lo].count = 1;
    r->nbins++;
}

int64_t sc_rtt_percentile(const sc_rtt *r, double pct)
{
    if (!r->samples || !r->nbins)
        return SC_NOTS;
    uint64_t total = 0;
    for (uint32_t i = 0; i < r->nbins; i++)
        total += r->bins[i].count;
    double x = pct / 100.0 * (double)total; /* nearest rank: ceil(p * n), at least 1 */
    uint64_t rank = (uint64_t)x;
    if ((double)rank < x)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t cum = 0;
    int64_t v = r->max_ns;
    for (uint32_t i = 0; i < r->nbins; i++) {
        cum += r->bins[i].count;
        if (cum >= rank) {
            v = bin_centre(r->bins[i].bin);
            break;
        }
    }
    if (v < r->min_ns)
        v = r->min_ns;
    if (v > r->max_ns)
        v = r->max_ns;
    return v;
}

int64_t sc_rtt_mean(const sc_rtt *r)
{
    if (!r->samples)
        return SC_NOTS;
    return (int64_t)(r->sum_ns / (long double)r->samples + 0.5L);
}

int64_t sc_rtt_rto(const sc_rtt *r)
{
    if (!r->samples)
        return SC_NOTS;
    int64_t rto; /* C2/C3; C6 RTO.Min, C7 RTO.Max (samples are >= 0: an overflow is past RTO.Max) */
    if (__builtin_mul_overflow(r->rttvar_ns, 4, &rto) || __builtin_add_overflow(rto, r->srtt_ns, &rto))
        rto = SC_RTO_MAX_NS;
    if (rto < SC_RTO_MIN_NS)
        rto = SC_RTO_MIN_NS;
    if (rto > SC_RTO_MAX_NS)
        rto = SC_RTO_MAX_NS;
    return rto;
}

void rtt_free(sc_rtt *r)
{
    free(r->bins);
    r->bins = NULL;
    r->nbins = r->cap = 0;
}

/* RFC 3550 §6.4.1 J += (|D| - J)/16 in A.8's fixed point (J x 16), with D the change of inter-arrival spacing
 * between consecutive new DATA chunks. */
void jit_add(sc_jitter *j, int64_t ts)
{
    if (j->n == 0) {
        j->last_ts = ts;
        j->n = 1;
        return;
    }
    int64_t sp = ts - j->last_ts;
    j->last_ts = ts;
    if (j->n == 1) {
        j->last_spacing = sp;
        j->n = 2;
        return;
    }
    int64_t dd;
    int wild = __builtin_sub_overflow(sp, j->last_spacing, &dd) || dd == INT64_MIN;
    j->last_spacing = sp;
    if (dd < 0)
        dd = -dd;
    if (wild || dd > 1000000000000000LL) /* keep absurd timestamps from overflowing the accumulator */
        dd = 1000000000000000LL;
    j->j16 += dd - ((j->j16 + 8) >> 4);
    j->n = 3;
}

int64_t sc_jitter_value(const sc_jitter *j) { return j->n >= 3 ? j->j16 >> 4 : SC_NOTS; }

/* ------------------------------------------------------------------------------------------------ */
/* RTT samples                                                                                       */
/* ------------------------------------------------------------------------------------------------ */

/* One Karn-valid sample measured by endpoint `dir` on path pidx (-1: direction only). */
void rtt_sample(sc_analyzer *an, sc_assoc *A, unsigned dir, int pidx, int64_t rtt, int method, int has_tsn,
                       uint32_t tsn, int delayed, const sc_packet *pkt)
{
    uint32_t bin = bin_of(rtt);
    rtt_add(&A->dir[dir].rtt, rtt, bin, method, delayed);
    A->last_rtt_ns = rtt;
    const sc_rtt *est = &A->dir[dir].rtt;
    sc_path *p = NULL;
    if (pidx >= 0 && pidx < A->npaths) {
        p = &A->paths[pidx];
        rtt_add(&p->rtt, rtt, bin, method, delayed);
        est = &p->rtt;
    }
    sc_event *e = ev_push(an, SC_EV_RTT, pkt->ts_ns, pkt->frame_no, A->id);
    if (e) {
        e->dir = (uint8_t)dir;
        if (p) {
            e->src = p->src;
            e->dst = p->dst;
        }
        e->b1 = (uint8_t)method;
        e->b2 = (uint8_t)has_tsn;
        e->b3 = (uint8_t)delayed;
        e->v[0] = rtt;
        e->v[1] = tsn;
        e->v[2] = est->srtt_ns;
        e->v[3] = est->rttvar_ns;
        e->v[4] = sc_rtt_rto(est);
    }
}
