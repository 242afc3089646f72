/* assocjson.c: an association's report entry written as JSON text straight from the engine's state
 * (Analyzer.associations_json), with no Python object per field.
 *
 * Why (issue #12): on a capture of 100,000 associations the engine fed 3.8 million packets in 3.3 s, and then
 * building the report's Python objects (build_assoc in module.c, ~200 objects an association), encoding and
 * freeing them took 9 s and 1.7 GB. Writing the same text from the C structures takes a few microseconds an
 * association and holds one batch at a time.
 *
 * Contract: the text of association A is exactly json_encode(build_assoc(A)) (jsonenc.c: what
 * json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")) writes): the same keys in the
 * same order, the same values. Every function below mirrors its build_* twin in module.c; a change to one is a
 * change to both (tests/unit/test_assoc_json.py compares them on every corpus capture). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "assocjson.h"

static __attribute__((noinline)) int grow_slow(sc_jw *w, size_t more)
{
    size_t cap = w->cap ? w->cap : 1 << 16;
    while (cap < w->n + more)
        cap *= 2;
    char *p = realloc(w->p, cap);
    if (!p) {
        w->failed = 1;
        return -1;
    }
    w->p = p;
    w->cap = cap;
    return 0;
}

static inline __attribute__((always_inline)) int grow(sc_jw *w, size_t more)
{
    return w->n + more <= w->cap ? 0 : grow_slow(w, more);
}

/* n bytes from s to o. A name from a table (chunk, state, vantage point) or an address has a length known only
 * here: memcpy would be a call into libc for a dozen bytes, dozens of times an association (perf: 9 % of the
 * --json writer). Up to 16 bytes: two overlapping fixed-size moves; a constant n folds to the moves it needs. */
static inline __attribute__((always_inline)) void put(char *o, const char *s, size_t n)
{
    if (__builtin_constant_p(n) || n > 16) {
        memcpy(o, s, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(o, &a, 8);
        memcpy(o + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(o, &a, 4);
        memcpy(o + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            o[i] = s[i];
    }
}

static inline __attribute__((always_inline)) void raw(sc_jw *w, const char *s, size_t n)
{
    if (grow(w, n) < 0)
        return;
    put(w->p + w->n, s, n);
    w->n += n;
}
#define LIT(w, s) raw((w), (s), sizeof(s) - 1)
#define SEP(w) raw((w), ", ", (w)->compact ? 1 : 2)   /* between members and items */

static const char DIGITS2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

void sc_jw_raw(sc_jw *w, const char *s, size_t n) { raw(w, s, n); }

/* decimal digits of v (1..20) */
static inline __attribute__((always_inline)) unsigned ndigits(uint64_t v)
{
    static const uint64_t POW10[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
                                       10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
                                       100000000000ull, 1000000000000ull, 10000000000000ull,
                                       100000000000000ull, 1000000000000000ull, 10000000000000000ull,
                                       100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull};
    unsigned d = (unsigned)((64 - __builtin_clzll(v | 1)) * 1233) >> 12; /* floor(log10(2^bits)) */
    return d + (v >= POW10[d]);
}

/* The digits of v < 10^8 ending at t, right to left, two a step, in 32-bit arithmetic; exactly 8 of them
 * (leading zeros) when `full`. Returns where they start. */
static inline __attribute__((always_inline)) char *digits32(char *t, uint32_t v, int full)
{
    char *end8 = t - 8;
    while (v >= 100) {
        uint32_t r = v % 100;
        v /= 100;
        t -= 2;
        memcpy(t, DIGITS2 + 2 * r, 2);
    }
    if (v >= 10 || (full && t - end8 >= 2)) {
        t -= 2;
        memcpy(t, DIGITS2 + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    while (full && t > end8)
        *--t = '0';
    return t;
}

/* Written in place, right to left: the long ones (timestamps have 19 digits, RTTs in ns 6 to 9) eight digits at
 * a time in 32-bit arithmetic. */
static __attribute__((noinline)) void u64v_long(sc_jw *w, uint64_t v)
{
    if (grow(w, 20) < 0)
        return;
    char *o = w->p + w->n;
    if (v < 10) {
        *o = (char)('0' + v);
        w->n += 1;
        return;
    }
    unsigned n = ndigits(v);
    char *t = o + n;
    while (v >= 100000000u) {
        uint64_t q = v / 100000000u;
        t = digits32(t, (uint32_t)(v - q * 100000000u), 1);
        v = q;
    }
    digits32(t, (uint32_t)v, 0);
    w->n += n;
}

/* Most values are counts of one or two digits (114 of the 194 numbers of a typical association): those are
 * written inline, without the call (its prologue and epilogue were a fifth of the function's samples). */
static inline __attribute__((always_inline)) void u64v(sc_jw *w, uint64_t v)
{
    if (v < 100 && w->n + 2 <= w->cap) {
        char *o = w->p + w->n;
        if (v < 10) {
            *o = (char)('0' + v);
            w->n += 1;
        } else {
            memcpy(o, DIGITS2 + 2 * v, 2);
            w->n += 2;
        }
        return;
    }
    u64v_long(w, v);
}

static void i64v(sc_jw *w, int64_t v)
{
    if (v < 0) {
        LIT(w, "-");
        u64v(w, (uint64_t)0 - (uint64_t)v);
    } else {
        u64v(w, (uint64_t)v);
    }
}

static void i64n(sc_jw *w, int64_t v)
{
    if (v == SC_NOTS)
        LIT(w, "null");
    else
        i64v(w, v);
}

static void boolv(sc_jw *w, int v)
{
    if (v)
        LIT(w, "true");
    else
        LIT(w, "false");
}

/* a JSON string of bytes that are Latin-1 characters (ensure_ascii=False: non-ASCII as UTF-8, control
 * characters and the two specials escaped as Python's json does) */
static void strv(sc_jw *w, const char *s, size_t n)
{
    LIT(w, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char b[8];
        switch (c) {
        case '"': LIT(w, "\\\""); break;
        case '\\': LIT(w, "\\\\"); break;
        case '\n': LIT(w, "\\n"); break;
        case '\r': LIT(w, "\\r"); break;
        case '\t': LIT(w, "\\t"); break;
        case '\b': LIT(w, "\\b"); break;
        case '\f': LIT(w, "\\f"); break;
        default:
            if (c < 0x20) {
                snprintf(b, sizeof b, "\\u%04x", c);
                raw(w, b, 6);
            } else if (c < 0x80) {
                raw(w, (const char *)&c, 1);
            } else {
                b[0] = (char)(0xC0 | (c >> 6));
                b[1] = (char)(0x80 | (c & 0x3F));
                raw(w, b, 2);
            }
        }
    }
    LIT(w, "\"");
}

/* a name from a static table (state, chunk, point...): plain ASCII, nothing to escape */
static void cstrv(sc_jw *w, const char *s)
{
    size_t n = strlen(s);
    if (grow(w, n + 2) < 0)
        return;
    char *o = w->p + w->n;
    *o++ = '"';
    put(o, s, n);
    o[n] = '"';
    w->n += n + 2;
}

/* dotted quad by hand (module.c's addr_str does the same): snprintf cost a third of an association's text */
static size_t ipv4(char *buf, const uint8_t *a)
{
    char *o = buf;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (i)
            *o++ = '.';
        if (v >= 100)
            *o++ = (char)('0' + v / 100);
        if (v >= 10)
            *o++ = (char)('0' + v / 10 % 10);
        *o++ = (char)('0' + v % 10);
    }
    return (size_t)(o - buf);
}

/* "key": (every key is a literal of plain ASCII, or a name from a static table) */
static inline __attribute__((always_inline)) void key(sc_jw *w, int *first, const char *k)
{
    size_t n = strlen(k);
    if (grow(w, n + 6) < 0)
        return;
    char *o = w->p + w->n;
    if (!*first) {
        *o++ = ',';
        if (!w->compact)
            *o++ = ' ';
    }
    *first = 0;
    *o++ = '"';
    put(o, k, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
    if (!w->compact)
        *o++ = ' ';
    w->n = (size_t)(o - w->p);
}

static void addrv(sc_jw *w, const sc_addr *a)
{
    char buf[INET6_ADDRSTRLEN];
    if (a->family == 4) {
        size_t n = ipv4(buf + 1, a->a);
        buf[0] = '"';
        buf[n + 1] = '"';
        raw(w, buf, n + 2);
        return;
    }
    if (a->family != 6 || !inet_ntop(AF_INET6, a->a, buf, sizeof buf)) {
        LIT(w, "null");
        return;
    }
    cstrv(w, buf);
}

static void addr_list(sc_jw *w, const sc_addr *v, unsigned n)
{
    LIT(w, "[");
    for (unsigned i = 0; i < n; i++) {
        if (i)
            SEP(w);
        addrv(w, &v[i]);
    }
    LIT(w, "]");
}

static void chunk_name(sc_jw *w, unsigned type)
{
    const char *n = sc_chunk_name(type);
    if (n) {
        cstrv(w, n);
    } else {
        char b[16];
        int k = snprintf(b, sizeof b, "\"%u\"", type);
        raw(w, b, (size_t)k);
    }
}

static void slot_counts(sc_jw *w, const uint32_t *counts)
{
    int first = 1;
    LIT(w, "{");
    for (unsigned s = 0; s < SC_NSLOTS; s++) {
        if (!counts[s])
            continue;
        key(w, &first, s == SC_SLOT_UNKNOWN ? "UNKNOWN" : sc_chunk_name(sc_slot_type[s]));
        u64v(w, counts[s]);
    }
    LIT(w, "}");
}

static void rtt(sc_jw *w, const sc_rtt *r)
{
    int f = 1, have = r->samples > 0;
    LIT(w, "{");
    key(w, &f, "samples"), u64v(w, r->samples);
    key(w, &f, "data_samples"), u64v(w, r->data_samples);
    key(w, &f, "heartbeat_samples"), u64v(w, r->heartbeat_samples);
    key(w, &f, "handshake_samples"), u64v(w, r->handshake_samples);
    key(w, &f, "delayed_sack_samples"), u64v(w, r->delayed_sack_samples);
    key(w, &f, "min_ns"), i64n(w, have ? r->min_ns : SC_NOTS);
    key(w, &f, "max_ns"), i64n(w, have ? r->max_ns : SC_NOTS);
    key(w, &f, "mean_ns"), i64n(w, sc_rtt_mean(r));
    key(w, &f, "p50_ns"), i64n(w, sc_rtt_percentile(r, 50.0));
    key(w, &f, "p90_ns"), i64n(w, sc_rtt_percentile(r, 90.0));
    key(w, &f, "p99_ns"), i64n(w, sc_rtt_percentile(r, 99.0));
    key(w, &f, "srtt_ns"), i64n(w, have ? r->srtt_ns : SC_NOTS);
    key(w, &f, "rttvar_ns"), i64n(w, have ? r->rttvar_ns : SC_NOTS);
    key(w, &f, "rto_ns"), i64n(w, sc_rtt_rto(r));
    LIT(w, "}");
}

static void stream(sc_jw *w, const sc_stream *s)
{
    int f = 1, g = 1;
    LIT(w, "{");
    key(w, &f, "sid"), u64v(w, s->sid);
    key(w, &f, "chunks"), u64v(w, s->chunks);
    key(w, &f, "bytes"), u64v(w, s->bytes);
    key(w, &f, "ordered"), u64v(w, s->ordered);
    key(w, &f, "unordered"), u64v(w, s->unordered);
    key(w, &f, "ppids");
    LIT(w, "{");
    for (unsigned i = 0; i < s->nppid; i++) {
        if (!g)
            SEP(w);
        g = 0;
        LIT(w, "\"");
        u64v(w, s->ppid[i]);
        raw(w, "\": ", w->compact ? 2 : 3);
        u64v(w, s->ppid_n[i]);
    }
    if (s->ppid_other) {
        key(w, &g, "other");
        u64v(w, s->ppid_other);
    }
    LIT(w, "}");
    key(w, &f, "ssn_gaps"), u64v(w, s->ssn_gaps);
    key(w, &f, "first_ssn");
    if (s->have_ssn)
        u64v(w, s->first_ssn);
    else
        LIT(w, "null");
    key(w, &f, "last_ssn");
    if (s->have_ssn)
        u64v(w, s->last_ssn);
    else
        LIT(w, "null");
    key(w, &f, "jitter_ns"), i64n(w, sc_jitter_value(&s->jit));
    LIT(w, "}");
}

static void vantage(sc_jw *w, const sc_vantage *v)
{
    static const char *const EV[4] = {"data", "heartbeat", "handshake", "addresses"};
    static const char *const SIDES[2] = {"a_side", "b_side"};
    static const char *const METHODS[3] = {"data_ns", "heartbeat_ns", "handshake_ns"};
    static const unsigned ORDER[4] = {3, 2, 1, 0};
    char ev[64] = "";
    size_t len = 0;
    for (unsigned k = 0; k < 4; k++) {
        unsigned i = ORDER[k];
        if (!(v->evidence & (1u << i)))
            continue;
        size_t n = strlen(EV[i]);
        if (len)
            ev[len++] = '+';
        memcpy(ev + len, EV[i], n + 1);
        len += n;
    }
    int f = 1;
    LIT(w, "{");
    key(w, &f, "point"), cstrv(w, sc_vp_point_name(v->point));
    key(w, &f, "evidence");
    if (len)
        strv(w, ev, len);
    else
        LIT(w, "null");
    key(w, &f, "a_side_rtt_ns"), i64n(w, v->side_ns[0]);
    key(w, &f, "b_side_rtt_ns"), i64n(w, v->side_ns[1]);
    key(w, &f, "full_rtt_ns"), i64n(w, v->full_ns);
    key(w, &f, "minima");
    LIT(w, "{");
    int g = 1;
    for (unsigned s = 0; s < 2; s++) {
        key(w, &g, SIDES[s]);
        LIT(w, "{");
        int h = 1;
        for (unsigned m = 0; m < 3; m++)
            key(w, &h, METHODS[m]), i64n(w, v->method_ns[s][m]);
        LIT(w, "}");
    }
    LIT(w, "}}");
}

static void rtt_scope(sc_jw *w, const sc_vantage *v, unsigned dir)
{
    const char *s = NULL;
    switch (v->point) {
    case SC_VP_A: s = dir == 0 ? "path" : "turnaround"; break;
    case SC_VP_B: s = dir == 1 ? "path" : "turnaround"; break;
    case SC_VP_MIDDLE: s = "partial"; break;
    case SC_VP_LOCAL: s = "path"; break;
    default: break;
    }
    if (s)
        cstrv(w, s);
    else
        LIT(w, "null");
}

static void u64_or_null(sc_jw *w, int have, uint64_t v)
{
    if (have)
        u64v(w, v);
    else
        LIT(w, "null");
}

static void direction(sc_jw *w, const sc_assoc *A, unsigned e, const sc_vantage *vp)
{
    const sc_dir *D = &A->dir[e];
    int f = 1, g = 1;
    LIT(w, "{");
    key(w, &f, "src_port"), u64v(w, A->port[e]);
    key(w, &f, "dst_port"), u64v(w, A->port[1 - e]);
    key(w, &f, "packets"), u64v(w, D->packets);
    key(w, &f, "data_chunks"), u64v(w, D->data_chunks);
    key(w, &f, "data_bytes"), u64v(w, D->data_bytes);
    key(w, &f, "unique_tsns"), u64v(w, D->unique_tsns);
    key(w, &f, "retransmissions");
    LIT(w, "{");
    key(w, &g, "total"), u64v(w, D->rtx_total);
    key(w, &g, "fast"), u64v(w, D->rtx_fast);
    key(w, &g, "timeout"), u64v(w, D->rtx_timeout);
    key(w, &g, "unknown"), u64v(w, D->rtx_unknown);
    key(w, &g, "spurious"), u64v(w, D->rtx_spurious);
    LIT(w, "}");
    key(w, &f, "sacks"), u64v(w, D->sacks);
    key(w, &f, "nr_sacks"), u64v(w, D->nr_sacks);
    key(w, &f, "gap_blocks"), u64v(w, D->gap_blocks);
    key(w, &f, "duplicate_tsns_reported"), u64v(w, D->dup_tsns_reported);
    key(w, &f, "forward_tsns"), u64v(w, D->forward_tsns);
    key(w, &f, "a_rwnd");
    LIT(w, "{");
    g = 1;
    key(w, &g, "initial"), u64_or_null(w, D->have_rwnd_initial, D->rwnd_initial);
    key(w, &g, "min"), u64_or_null(w, D->have_rwnd, D->rwnd_min);
    key(w, &g, "max"), u64_or_null(w, D->have_rwnd, D->rwnd_max);
    key(w, &g, "last"), u64_or_null(w, D->have_rwnd, D->rwnd_last);
    key(w, &g, "zero_window_episodes"), u64v(w, D->zero_window_episodes);
    LIT(w, "}");
    key(w, &f, "flight");
    LIT(w, "{");
    g = 1;
    int64_t mean = D->flight_samples ? (int64_t)(D->flight_sum / (long double)D->flight_samples + 0.5L) : SC_NOTS;
    key(w, &g, "max_bytes"), u64v(w, D->flight_max_bytes);
    key(w, &g, "max_chunks"), u64v(w, D->flight_max_chunks);
    key(w, &g, "mean_bytes"), i64n(w, mean);
    LIT(w, "}");
    key(w, &f, "rtt"), rtt(w, &D->rtt);
    key(w, &f, "rtt_scope"), rtt_scope(w, vp, e);
    key(w, &f, "jitter_ns"), i64n(w, sc_jitter_value(&D->jit));
    key(w, &f, "streams");
    LIT(w, "[");
    for (uint32_t i = 0; i < D->nstreams; i++) {
        if (i)
            SEP(w);
        stream(w, &D->streams[i]);
    }
    LIT(w, "]");
    key(w, &f, "duplicate_chunks"), slot_counts(w, D->dup_chunks);
    LIT(w, "}");
}

static void path(sc_jw *w, const sc_assoc *A, unsigned pidx)
{
    static const char *const DIRS[2] = {"A>B", "B>A"};
    const sc_path *p = &A->paths[pidx];
    sc_vantage vp;
    sc_vantage_path(A, pidx, &vp);
    int f = 1, g = 1;
    LIT(w, "{");
    key(w, &f, "src"), addrv(w, &p->src);
    key(w, &f, "dst"), addrv(w, &p->dst);
    key(w, &f, "direction"), cstrv(w, DIRS[p->dir & 1]);
    key(w, &f, "packets"), u64v(w, p->packets);
    key(w, &f, "data_chunks"), u64v(w, p->data_chunks);
    key(w, &f, "data_bytes"), u64v(w, p->data_bytes);
    key(w, &f, "retransmissions"), u64v(w, p->retransmissions);
    key(w, &f, "heartbeats");
    LIT(w, "{");
    key(w, &g, "sent"), u64v(w, p->hb_sent);
    key(w, &g, "acked"), u64v(w, p->hb_acked);
    key(w, &g, "unanswered"), u64v(w, sc_path_hb_unanswered(p));
    key(w, &g, "rtt_samples"), u64v(w, p->hb_rtt_samples);
    key(w, &g, "linux_nonce"), u64_or_null(w, p->have_linux_hb, p->linux_hb_nonce);
    key(w, &g, "linux_sent_at_jiffies"), u64_or_null(w, p->have_linux_hb, p->linux_hb_sent_at);
    LIT(w, "}");
    key(w, &f, "rtt"), rtt(w, &p->rtt);
    key(w, &f, "rtt_scope"), rtt_scope(w, &vp, p->dir & 1);
    key(w, &f, "vantage"), vantage(w, &vp);
    LIT(w, "}");
}

static void initinfo(sc_jw *w, const sc_initinfo *ii)
{
    if (!ii) {
        LIT(w, "null");
        return;
    }
    int f = 1;
    LIT(w, "{");
    key(w, &f, "initiate_tag"), u64v(w, ii->initiate_tag);
    key(w, &f, "a_rwnd"), u64v(w, ii->a_rwnd);
    key(w, &f, "outbound_streams"), u64v(w, ii->outbound_streams);
    key(w, &f, "inbound_streams"), u64v(w, ii->inbound_streams);
    key(w, &f, "initial_tsn"), u64v(w, ii->initial_tsn);
    key(w, &f, "addresses"), addr_list(w, ii->addrs, ii->naddrs);
    key(w, &f, "supported_extensions");
    LIT(w, "[");
    for (unsigned i = 0; i < ii->nexts; i++) {
        if (i)
            SEP(w);
        chunk_name(w, ii->exts[i]);
    }
    LIT(w, "]");
    key(w, &f, "forward_tsn"), boolv(w, ii->forward_tsn);
    key(w, &f, "ecn"), boolv(w, ii->ecn);
    key(w, &f, "host_name");
    if (ii->have_hostname)
        strv(w, ii->hostname, ii->hostname_len);
    else
        LIT(w, "null");
    key(w, &f, "cookie_preservative_ns"),
        i64n(w, ii->have_cookie_preservative ? ii->cookie_preservative_ns : SC_NOTS);
    LIT(w, "}");
}

static int64_t diff_or_nots(int64_t a, int64_t b) { return a == SC_NOTS || b == SC_NOTS ? SC_NOTS : a - b; }

void sc_assoc_json(sc_jw *w, const sc_assoc *A)
{
    static const char *const DIRS[2] = {"A>B", "B>A"};
    int f = 1, g;
    LIT(w, "{");
    key(w, &f, "id"), u64v(w, A->id);
    key(w, &f, "ports");
    LIT(w, "[");
    u64v(w, A->port[0]);
    SEP(w);
    u64v(w, A->port[1]);
    LIT(w, "]");
    key(w, &f, "vtags");
    LIT(w, "[");
    u64_or_null(w, A->vtag_known[0], A->vtag[0]);
    SEP(w);
    u64_or_null(w, A->vtag_known[1], A->vtag[1]);
    LIT(w, "]");
    key(w, &f, "addresses");
    LIT(w, "[");
    addr_list(w, A->addrs[0].v, A->addrs[0].n);
    SEP(w);
    addr_list(w, A->addrs[1].v, A->addrs[1].n);
    LIT(w, "]");
    const char *st = sc_state_name(A->state);
    key(w, &f, "state");
    if (st)
        cstrv(w, st);
    else
        LIT(w, "null");
    key(w, &f, "mid_association"), boolv(w, A->mid_association);
    key(w, &f, "first_ts_ns"), i64v(w, A->first_ts_ns);
    key(w, &f, "last_ts_ns"), i64v(w, A->last_ts_ns);
    key(w, &f, "packets"), u64v(w, A->packets);
    key(w, &f, "duplicate_packets"), u64v(w, A->duplicate_packets);
    key(w, &f, "chunks"), slot_counts(w, A->chunks);
    key(w, &f, "init");
    LIT(w, "[");
    initinfo(w, A->init[0]);
    SEP(w);
    initinfo(w, A->init[1]);
    LIT(w, "]");

    uint32_t init_retries = (A->n_init[0] > 1 ? A->n_init[0] - 1 : 0) + (A->n_init[1] > 1 ? A->n_init[1] - 1 : 0);
    key(w, &f, "handshake");
    LIT(w, "{");
    g = 1;
    key(w, &g, "init_ns"), i64n(w, A->init_ns);
    key(w, &g, "init_ack_ns"), i64n(w, A->init_ack_ns);
    key(w, &g, "cookie_echo_ns"), i64n(w, A->cookie_echo_ns);
    key(w, &g, "cookie_ack_ns"), i64n(w, A->cookie_ack_ns);
    key(w, &g, "init_to_init_ack_ns"), i64n(w, diff_or_nots(A->init_ack_ns, A->init_ns));
    key(w, &g, "cookie_echo_to_cookie_ack_ns"), i64n(w, diff_or_nots(A->cookie_ack_ns, A->cookie_echo_ns));
    key(w, &g, "setup_ns"), i64n(w, diff_or_nots(A->cookie_ack_ns, A->init_ns));
    key(w, &g, "init_retries"), u64v(w, init_retries);
    key(w, &g, "cookie_echo_retries"), u64v(w, A->n_cookie_echo > 1 ? A->n_cookie_echo - 1 : 0);
    key(w, &g, "collision"), boolv(w, A->collision);
    key(w, &g, "restarts"), u64v(w, A->restarts);
    LIT(w, "}");

    key(w, &f, "shutdown");
    LIT(w, "{");
    g = 1;
    key(w, &g, "shutdown_ns"), i64n(w, A->shutdown_ns);
    key(w, &g, "shutdown_ack_ns"), i64n(w, A->shutdown_ack_ns);
    key(w, &g, "shutdown_complete_ns"), i64n(w, A->shutdown_complete_ns);
    key(w, &g, "duration_ns"), i64n(w, diff_or_nots(A->shutdown_complete_ns, A->shutdown_ns));
    key(w, &g, "abort");
    if (A->abort) {
        const sc_abortinfo *ab = A->abort;
        int h = 1;
        LIT(w, "{");
        key(w, &h, "ts_ns"), i64v(w, ab->ts_ns);
        key(w, &h, "by"), cstrv(w, ab->by ? "B" : "A");
        key(w, &h, "t_bit"), boolv(w, ab->t_bit);
        key(w, &h, "causes");
        LIT(w, "[");
        for (unsigned i = 0; i < ab->ncauses; i++) {
            const char *cn = sc_cause_name(ab->causes[i]);
            if (i)
                SEP(w);
            raw(w, "{\"code\": ", w->compact ? 8 : 9);
            u64v(w, ab->causes[i]);
            SEP(w);
            raw(w, "\"name\": ", w->compact ? 7 : 8);
            if (cn)
                cstrv(w, cn);
            else
                LIT(w, "null");
            LIT(w, "}");
        }
        LIT(w, "]}");
    } else {
        LIT(w, "null");
    }
    LIT(w, "}");

    key(w, &f, "paths");
    LIT(w, "[");
    for (uint16_t i = 0; i < A->npaths; i++) {
        if (i)
            SEP(w);
        path(w, A, i);
    }
    LIT(w, "]");
    sc_vantage vp;
    sc_vantage_assoc(A, &vp);
    key(w, &f, "directions");
    LIT(w, "{");
    g = 1;
    for (unsigned e = 0; e < 2; e++)
        key(w, &g, DIRS[e]), direction(w, A, e, &vp);
    LIT(w, "}");
    key(w, &f, "vantage"), vantage(w, &vp);
    LIT(w, "}");
}

/* ---- Many associations: their state read ahead -------------------------------------------------------
 * Writing an association reads about 60 cache lines spread over the heap (the struct, its paths, streams, RTT
 * histograms, INIT parameters, address lists: each allocated when the packets asked for it, among those of
 * thousands of other associations). Read as the text needs them they are cache misses one after the other:
 * on the 25,000-association scale corpus 7.3 us an association, 4.5 us when the same ones are written again
 * from the cache (issue #12). So the loops below read them ahead, one byte a cache line, in a loop whose loads
 * do not depend on each other: the CPU has them all in flight at once. The struct three associations ahead,
 * what its pointers reach two ahead (the struct is in the cache by then), the paths' histograms one ahead:
 * 5.3 us. (__builtin_prefetch did nothing measurable here, under KVM on AMD EPYC: plain loads it is.) Only
 * memory that the writer reads anyway is read, and nothing is written. */
#define TOUCH_MAX 4096              /* bytes of one array read ahead: the start of a very large one is enough */

static void touch_bytes(const void *p, size_t n)
{
    const unsigned char *c = p;
    if (!c)
        return;
    if (n > TOUCH_MAX)
        n = TOUCH_MAX;
    unsigned acc = 0;
    for (size_t off = 0; off < n; off += 64)
        acc += *(const volatile unsigned char *)(c + off);
    __asm__ volatile("" : : "r"(acc));  /* the loads are the point: keep them */
}

static void touch_struct(const sc_assoc *A) { touch_bytes(A, sizeof *A); }

static void touch_reached(const sc_assoc *A)
{
    for (unsigned e = 0; e < 2; e++) {
        const sc_dir *D = &A->dir[e];
        touch_bytes(D->streams, (size_t)D->nstreams * sizeof *D->streams);
        touch_bytes(D->rtt.bins, (size_t)D->rtt.nbins * sizeof *D->rtt.bins);
        touch_bytes(A->addrs[e].v, (size_t)A->addrs[e].n * sizeof *A->addrs[e].v);
        if (A->init[e])
            touch_bytes(A->init[e], sizeof *A->init[e]);
    }
    touch_bytes(A->paths, (size_t)A->npaths * sizeof *A->paths);
    if (A->abort)
        touch_bytes(A->abort, sizeof *A->abort);
}

static void touch_path_bins(const sc_assoc *A)
{
    for (uint16_t i = 0; i < A->npaths && i < 8; i++)
        touch_bytes(A->paths[i].rtt.bins, (size_t)A->paths[i].rtt.nbins * sizeof *A->paths[i].rtt.bins);
}

/* v[i] when it is an association in memory, NULL when folded (its slot holds a spill offset, fold.c) */
static const sc_assoc *in_memory(sc_assoc *const *v, size_t i) { return ((uintptr_t)v[i] & 1u) ? NULL : v[i]; }

static void touch_ahead(sc_assoc *const *v, size_t i, size_t stop)
{
    const sc_assoc *A;
    if (i + 3 < stop && (A = in_memory(v, i + 3)))
        touch_struct(A);
    if (i + 2 < stop && (A = in_memory(v, i + 2)))
        touch_reached(A);
    if (i + 1 < stop && (A = in_memory(v, i + 1)))
        touch_path_bins(A);
}

/* The loop the three below share: each association of start..stop-1 written as `how` says (json, json line,
 * csv), the next ones' state touched ahead, a folded one read back. */
enum { EACH_JSON, EACH_LINES, EACH_CSV, EACH_JSONL };
static int each_assoc(sc_jw *w, sc_analyzer *an, size_t start, size_t stop, int how, size_t *ends)
{
    for (size_t i = start; i < stop && !w->failed; i++) {
        touch_ahead(an->assocs, i, stop);
        const sc_assoc *A = sc_an_assoc_open(an, i);
        if (!A)
            return -1;
        if (how == EACH_CSV) {
            sc_assoc_csv(w, A);
        } else if (how == EACH_JSONL) {
            /* the entry's text with its "{" replaced by the record's head */
            static const char HEAD[] = "{\"type\":\"association\",";
            size_t at = w->n;
            sc_assoc_json(w, A);
            if (!w->failed && w->n > at + 1 && grow(w, sizeof HEAD - 2) == 0) {
                memmove(w->p + at + sizeof HEAD - 1, w->p + at + 1, w->n - at - 1);
                memcpy(w->p + at, HEAD, sizeof HEAD - 1);
                w->n += sizeof HEAD - 2;
            }
            LIT(w, "\n");
        } else if (how == EACH_JSON) {
            sc_assoc_json(w, A);
            ends[i - start] = w->n;
        } else {
            LIT(w, "  ");
            sc_assoc_json(w, A);
            if (i + 1 < an->nassocs)
                LIT(w, ",\n");
            else
                LIT(w, "\n");
        }
        sc_an_assoc_close(an, i, A);
    }
    return 0;
}

int sc_assocs_json(sc_jw *w, sc_analyzer *an, size_t start, size_t stop, size_t *ends)
{
    return each_assoc(w, an, start, stop, EACH_JSON, ends);
}

int sc_assocs_json_lines(sc_jw *w, sc_analyzer *an, size_t start, size_t stop)
{
    return each_assoc(w, an, start, stop, EACH_LINES, NULL);
}

int sc_assocs_jsonl(sc_jw *w, sc_analyzer *an, size_t start, size_t stop)
{
    int was = w->compact, rc;
    w->compact = 1;
    rc = each_assoc(w, an, start, stop, EACH_JSONL, NULL);
    w->compact = was;
    return rc;
}

int sc_assocs_csv(sc_jw *w, sc_analyzer *an, size_t start, size_t stop)
{
    return each_assoc(w, an, start, stop, EACH_CSV, NULL);
}

/* ---- CSV: the two rows of an association (report/csv.py's COLUMNS, in order) -------------------------- */

static void csv_cell_str(sc_jw *w, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            quote = 1;
    if (!quote) {
        raw(w, s, n);
        return;
    }
    LIT(w, "\"");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            LIT(w, "\"");
        raw(w, s + i, 1);
    }
    LIT(w, "\"");
}

static void csv_addrs(sc_jw *w, const sc_addrset *set)
{
    char buf[INET6_ADDRSTRLEN];
    for (unsigned i = 0; i < set->n; i++) {
        const sc_addr *a = &set->v[i];
        if (i)
            LIT(w, " ");
        if (a->family == 4) {
            raw(w, buf, ipv4(buf, a->a));
        } else if (a->family == 6 && inet_ntop(AF_INET6, a->a, buf, sizeof buf)) {
            raw(w, buf, strlen(buf));
        }                                   /* None joins as an empty name */
    }
}

#define C_ ,LIT(w, ",")
static void csv_i64n(sc_jw *w, int64_t v)
{
    if (v != SC_NOTS)
        i64v(w, v);
}

static void csv_u64_or_empty(sc_jw *w, int have, uint64_t v)
{
    if (have)
        u64v(w, v);
}

void sc_assoc_csv(sc_jw *w, const sc_assoc *A)
{
    static const char *const DIRS[2] = {"A>B", "B>A"};
    sc_vantage vp;
    sc_vantage_assoc(A, &vp);
    const char *st = sc_state_name(A->state);
    for (unsigned e = 0; e < 2; e++) {
        const sc_dir *D = &A->dir[e];
        const sc_rtt *r = &D->rtt;
        int have = r->samples > 0;
        u64v(w, A->id) C_;
        raw(w, DIRS[e], 3) C_;
        if (st)
            csv_cell_str(w, st, strlen(st));
        LIT(w, ",");
        boolv(w, A->mid_association) C_;
        u64v(w, A->port[e]) C_;
        u64v(w, A->port[1 - e]) C_;
        csv_addrs(w, &A->addrs[e]) C_;
        csv_addrs(w, &A->addrs[1 - e]) C_;
        csv_u64_or_empty(w, A->vtag_known[1 - e], A->vtag[1 - e]) C_;
        i64v(w, A->first_ts_ns) C_;
        i64v(w, A->last_ts_ns) C_;
        u64v(w, D->packets) C_;
        u64v(w, D->data_chunks) C_;
        u64v(w, D->data_bytes) C_;
        u64v(w, D->unique_tsns) C_;
        u64v(w, D->rtx_total) C_;
        u64v(w, D->rtx_fast) C_;
        u64v(w, D->rtx_timeout) C_;
        u64v(w, D->rtx_unknown) C_;
        u64v(w, D->rtx_spurious) C_;
        u64v(w, D->sacks) C_;
        u64v(w, D->nr_sacks) C_;
        u64v(w, D->gap_blocks) C_;
        u64v(w, D->dup_tsns_reported) C_;
        u64v(w, D->forward_tsns) C_;
        csv_u64_or_empty(w, D->have_rwnd_initial, D->rwnd_initial) C_;
        csv_u64_or_empty(w, D->have_rwnd, D->rwnd_min) C_;
        csv_u64_or_empty(w, D->have_rwnd, D->rwnd_max) C_;
        csv_u64_or_empty(w, D->have_rwnd, D->rwnd_last) C_;
        u64v(w, D->zero_window_episodes) C_;
        u64v(w, D->flight_max_bytes) C_;
        u64v(w, D->flight_max_chunks) C_;
        csv_i64n(w, D->flight_samples ? (int64_t)(D->flight_sum / (long double)D->flight_samples + 0.5L) : SC_NOTS) C_;
        u64v(w, r->samples) C_;
        u64v(w, r->data_samples) C_;
        u64v(w, r->heartbeat_samples) C_;
        u64v(w, r->handshake_samples) C_;
        u64v(w, r->delayed_sack_samples) C_;
        csv_i64n(w, have ? r->min_ns : SC_NOTS) C_;
        csv_i64n(w, sc_rtt_mean(r)) C_;
        csv_i64n(w, sc_rtt_percentile(r, 50.0)) C_;
        csv_i64n(w, sc_rtt_percentile(r, 90.0)) C_;
        csv_i64n(w, sc_rtt_percentile(r, 99.0)) C_;
        csv_i64n(w, have ? r->max_ns : SC_NOTS) C_;
        csv_i64n(w, have ? r->srtt_ns : SC_NOTS) C_;
        csv_i64n(w, have ? r->rttvar_ns : SC_NOTS) C_;
        csv_i64n(w, sc_rtt_rto(r)) C_;
        csv_i64n(w, sc_jitter_value(&D->jit)) C_;
        u64v(w, D->nstreams) C_;
        {
            const char *sc = NULL;
            switch (vp.point) {
            case SC_VP_A: sc = e == 0 ? "path" : "turnaround"; break;
            case SC_VP_B: sc = e == 1 ? "path" : "turnaround"; break;
            case SC_VP_MIDDLE: sc = "partial"; break;
            case SC_VP_LOCAL: sc = "path"; break;
            default: break;
            }
            if (sc)
                raw(w, sc, strlen(sc));
        }
        LIT(w, ",");
        {
            const char *pn = sc_vp_point_name(vp.point);
            csv_cell_str(w, pn, strlen(pn));
        }
        LIT(w, ",");
        csv_i64n(w, vp.full_ns);
        LIT(w, "\n");
    }
}
#undef C_
