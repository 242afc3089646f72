/*
 * an_vantage.c: the capture vantage point (analyze.h, engine.md "Capture vantage point"), computed at report time
 * from the RTT accumulators' per-method minima; nothing per packet beyond rtt_add's minima.
 */
#include "an_internal.h"

static const char *const VP_NAMES[SC_VP_COUNT] = {"unknown", "A", "B", "middle", "local"};
const char *sc_vp_point_name(unsigned point) { return point < SC_VP_COUNT ? VP_NAMES[point] : "unknown"; }

static int addr_loopback(const sc_addr *x)
{
    static const uint8_t v6_loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (x->family == 4)
        return x->a[0] == 127;
    if (x->family == 6)
        return !memcmp(x->a, v6_loop, 16) || (!memcmp(x->a, v4mapped, 12) && x->a[12] == 127);
    return 0;
}

/* Traffic src -> dst that cannot have left the host: both ends on it. */
static int path_is_local(const sc_path *p)
{
    return addr_eq(&p->src, &p->dst) || (addr_loopback(&p->src) && addr_loopback(&p->dst));
}

/* Side s (0: A side, measured by B; 1: B side, measured by A) from the measurer's accumulator r (NULL: none). */
static void vp_side(sc_vantage *v, unsigned s, const sc_rtt *r)
{
    uint64_t n[3] = {0, 0, 0};
    if (r) {
        n[0] = r->data_samples - r->delayed_sack_samples;
        n[1] = r->heartbeat_samples;
        n[2] = r->handshake_samples;
    }
    int64_t best = SC_NOTS;
    for (unsigned m = 0; m < 3; m++) {
        v->method_ns[s][m] = n[m] ? r->min_method_ns[m] : SC_NOTS;
        if (n[m] && (best == SC_NOTS || r->min_method_ns[m] < best))
            best = r->min_method_ns[m];
    }
    v->side_ns[s] = best;
    v->tight[s] = n[1] || n[2] || n[0] >= SC_VP_DATA_TIGHT;
    if (best != SC_NOTS)
        for (unsigned m = 0; m < 3; m++)
            if (n[m] && r->min_method_ns[m] == best)
                v->evidence |= (uint8_t)(1u << m); /* bit 0 data, 1 heartbeat, 2 handshake */
}

/* rA: A's samples (B side), rB: B's samples (A side). */
static void vp_decide(sc_vantage *v, const sc_rtt *rA, const sc_rtt *rB, int local)
{
    memset(v, 0, sizeof *v);
    vp_side(v, 0, rB);
    vp_side(v, 1, rA);
    int64_t a = v->side_ns[0], b = v->side_ns[1];
    v->full_ns = SC_NOTS;
    if (local) {
        v->point = SC_VP_LOCAL;
        v->evidence = SC_VP_EV_ADDRESSES;
        return;
    }
    if (a == SC_NOTS || b == SC_NOTS) {
        v->point = SC_VP_UNKNOWN;
        return;
    }
    v->full_ns = a > INT64_MAX - b ? INT64_MAX : a + b; /* both >= 0 */
    /* Each side value is an upper bound of that side (tight when measured by HEARTBEAT/handshake or by many
     * DATA samples). "Next to A" needs A's side small against a B side that is really that large. */
    if (v->tight[1] && b > 0 && b / SC_VP_RATIO >= a)
        v->point = SC_VP_A;
    else if (v->tight[0] && a > 0 && a / SC_VP_RATIO >= b)
        v->point = SC_VP_B;
    else if (v->tight[0] && v->tight[1])
        v->point = SC_VP_MIDDLE;
    else
        v->point = SC_VP_UNKNOWN;
}

void sc_vantage_assoc(const sc_assoc *A, sc_vantage *out)
{
    int local = 0;
    for (uint16_t i = 0; i < A->npaths && !local; i++)
        local = path_is_local(&A->paths[i]);
    vp_decide(out, &A->dir[0].rtt, &A->dir[1].rtt, local);
}

void sc_vantage_path(const sc_assoc *A, unsigned pidx, sc_vantage *out)
{
    if (pidx >= A->npaths) {
        vp_decide(out, NULL, NULL, 0);
        return;
    }
    const sc_path *p = &A->paths[pidx], *q = NULL;
    for (uint16_t i = 0; i < A->npaths && !q; i++) {
        const sc_path *c = &A->paths[i];
        if (c->dir != p->dir && addr_eq(&c->src, &p->dst) && addr_eq(&c->dst, &p->src))
            q = c;
    }
    const sc_path *pa = p->dir == 0 ? p : q, *pb = p->dir == 0 ? q : p;
    vp_decide(out, pa ? &pa->rtt : NULL, pb ? &pb->rtt : NULL, path_is_local(p));
}
