/*
 * module.c: the CPython binding, sctpcorr.wire._engine.Analyzer (contract: docs/design/engine.md).
 *
 * The object owns one sc_capture (the pcap/pcapng stream parser, reset by each finish_capture()) and one
 * sc_analyzer (decoder + analysis state, which carries on across files). feed_capture() runs the whole
 * capture -> decode -> analyse loop in C with the GIL released; a `busy` flag refuses re-entry from another
 * thread meanwhile. Python objects are only built by report(), drain_events() and drain_records() (one bytes
 * object for all pending records).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "analyze.h"
#include "assocjson.h"
#include "evjson.h"

typedef struct {
    PyObject_HEAD
    sc_analyzer *an;
    sc_capture *cap;
    int busy;
} AnalyzerObject;

/* Blocks at least this large are analysed with the GIL released. */
#define NOGIL_MIN_BYTES 65536

/* ------------------------------------------------------------------------------------------------ */
/* Small builders                                                                                    */
/* ------------------------------------------------------------------------------------------------ */

/* Interned str objects for the constant C strings the report is made of (key names, state and direction
 * names...), found by the string's address: literals and static tables live as long as the module, so each
 * address stands for one string. PyDict_SetItemString creates, interns and frees a str for every insertion,
 * ~850,000 of them per report() on bench/out/corpus-1m.pcap (3,111 associations, ~275 values each). With this
 * cache, and the GC paused (Analyzer_report), report() went from 736 M to 248 M instructions on the 100k corpus
 * (2,548 associations) and from 0.27 s to 0.07 s of CPU on the 1M one. Shared value strings ("ESTABLISHED",
 * "A>B"...) also made the report 1.3 MB smaller. Never use it for a string in a buffer (see put_dyn).
 * Returns a borrowed reference, or NULL (no exception set) when the table is full: the callers then fall back
 * to a fresh str. */
#define STR_CACHE_SLOTS 1024 /* power of two; about 250 distinct strings are used */
static struct {
    const char *p;
    PyObject *o;
} str_cache[STR_CACHE_SLOTS];

static PyObject *static_str(const char *s)
{
    size_t i = (size_t)(((uintptr_t)s * 0x9E3779B97F4A7C15ULL) >> 40) & (STR_CACHE_SLOTS - 1);
    for (unsigned n = 0; n < STR_CACHE_SLOTS; n++, i = (i + 1) & (STR_CACHE_SLOTS - 1)) {
        if (str_cache[i].p == s)
            return str_cache[i].o;
        if (!str_cache[i].p) {
            PyObject *o = PyUnicode_InternFromString(s);
            if (!o) {
                PyErr_Clear();
                return NULL;
            }
            str_cache[i].p = s;
            str_cache[i].o = o; /* kept for the life of the process */
            return o;
        }
    }
    return NULL;
}

/* A new reference to the str of a static C string (see static_str). */
static PyObject *cstr(const char *s)
{
    PyObject *o = static_str(s);
    if (!o)
        return PyUnicode_FromString(s);
    Py_INCREF(o);
    return o;
}

/* Set d[k] = v, stealing v; -1 if v is NULL or the insertion failed. k must be a static string (literal or
 * static table entry): see put_dyn for a key built in a buffer. */
static int put(PyObject *d, const char *k, PyObject *v)
{
    if (!v)
        return -1;
    PyObject *key = static_str(k);
    int r = key ? PyDict_SetItem(d, key, v) : PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return r;
}

/* put() for a key in a (stack) buffer. */
static int put_dyn(PyObject *d, const char *k, PyObject *v)
{
    if (!v)
        return -1;
    int r = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return r;
}
#define PUT(d, k, v)                                                                                         \
    do {                                                                                                     \
        if (put((d), (k), (v)) < 0)                                                                          \
            goto fail;                                                                                       \
    } while (0)

/* Like PUT, for a variable the fail: path releases: the reference moves into d (the variable becomes NULL),
 * so a failed insertion (which already released it) is not released twice. */
#define MOVE(d, k, var)                                                                                      \
    do {                                                                                                     \
        PyObject *moved_ = (var);                                                                            \
        (var) = NULL;                                                                                        \
        if (put((d), (k), moved_) < 0)                                                                       \
            goto fail;                                                                                       \
    } while (0)

/* Decimal digits of v and a NUL into buf (at least 11 bytes). */
static void utoa(char *buf, uint32_t v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *buf++ = tmp[--n];
    *buf = '\0';
}

static PyObject *u64(uint64_t v) { return PyLong_FromUnsignedLongLong(v); }
static PyObject *i64(int64_t v) { return PyLong_FromLongLong(v); }
static PyObject *i64_or_none(int64_t v)
{
    if (v == SC_NOTS)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(v);
}
static PyObject *boolean(int v) { return PyBool_FromLong(v); }

/* Appends v to list l, stealing v. */
static int append(PyObject *l, PyObject *v)
{
    if (!v)
        return -1;
    int r = PyList_Append(l, v);
    Py_DECREF(v);
    return r;
}

static PyObject *addr_str(const sc_addr *a)
{
    char buf[INET6_ADDRSTRLEN];
    if (a->family == 4) { /* dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf */
        char *o = buf;
        for (int i = 0; i < 4; i++) {
            unsigned v = a->a[i];
            if (i)
                *o++ = '.';
            if (v >= 100)
                *o++ = (char)('0' + v / 100);
            if (v >= 10)
                *o++ = (char)('0' + v / 10 % 10);
            *o++ = (char)('0' + v % 10);
        }
        return PyUnicode_FromStringAndSize(buf, o - buf);
    }
    if (a->family != 6 || !inet_ntop(AF_INET6, a->a, buf, sizeof buf))
        Py_RETURN_NONE;
    return PyUnicode_FromString(buf);
}

static PyObject *chunk_name_obj(unsigned type)
{
    const char *n = sc_chunk_name(type);
    if (n)
        return cstr(n);
    return PyUnicode_FromFormat("%u", type);
}

static PyObject *cause_name_obj(unsigned code)
{
    const char *n = sc_cause_name(code);
    if (n)
        return cstr(n);
    return PyUnicode_FromFormat("%u", code);
}

static const char *const DIR_NAMES[2] = {"A>B", "B>A"};

/* {name: count} over chunk slots, non-zero only ("UNKNOWN" for every unnamed type). */
static PyObject *slot_counts(const uint32_t *counts)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    for (unsigned s = 0; s < SC_NSLOTS; s++) {
        if (!counts[s])
            continue;
        const char *name = s == SC_SLOT_UNKNOWN ? "UNKNOWN" : sc_chunk_name(sc_slot_type[s]);
        PUT(d, name, u64(counts[s]));
    }
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static PyObject *addr_list(const sc_addr *v, unsigned n)
{
    PyObject *l = PyList_New(0);
    if (!l)
        return NULL;
    for (unsigned i = 0; i < n; i++)
        if (append(l, addr_str(&v[i])) < 0) {
            Py_DECREF(l);
            return NULL;
        }
    return l;
}

/* ------------------------------------------------------------------------------------------------ */
/* report()                                                                                          */
/* ------------------------------------------------------------------------------------------------ */

static PyObject *build_rtt(const sc_rtt *r)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    int have = r->samples > 0;
    PUT(d, "samples", u64(r->samples));
    PUT(d, "data_samples", u64(r->data_samples));
    PUT(d, "heartbeat_samples", u64(r->heartbeat_samples));
    PUT(d, "handshake_samples", u64(r->handshake_samples));
    PUT(d, "delayed_sack_samples", u64(r->delayed_sack_samples));
    PUT(d, "min_ns", i64_or_none(have ? r->min_ns : SC_NOTS));
    PUT(d, "max_ns", i64_or_none(have ? r->max_ns : SC_NOTS));
    PUT(d, "mean_ns", i64_or_none(sc_rtt_mean(r)));
    PUT(d, "p50_ns", i64_or_none(sc_rtt_percentile(r, 50.0)));
    PUT(d, "p90_ns", i64_or_none(sc_rtt_percentile(r, 90.0)));
    PUT(d, "p99_ns", i64_or_none(sc_rtt_percentile(r, 99.0)));
    PUT(d, "srtt_ns", i64_or_none(have ? r->srtt_ns : SC_NOTS));
    PUT(d, "rttvar_ns", i64_or_none(have ? r->rttvar_ns : SC_NOTS));
    PUT(d, "rto_ns", i64_or_none(sc_rtt_rto(r)));
    return d;
fail:
    Py_DECREF(d);
    return NULL;
}

static PyObject *build_stream(const sc_stream *s)
{
    PyObject *d = PyDict_New(), *pp = NULL;
    if (!d)
        return NULL;
    PUT(d, "sid", u64(s->sid));
    PUT(d, "chunks", u64(s->chunks));
    PUT(d, "bytes", u64(s->bytes));
    PUT(d, "ordered", u64(s->ordered));
    PUT(d, "unordered", u64(s->unordered));
    if (!(pp = PyDict_New()))
        goto fail;
    for (unsigned i = 0; i < s->nppid; i++) {
        char k[16];
        utoa(k, s->ppid[i]);
        if (put_dyn(pp, k, u64(s->ppid_n[i])) < 0)
            goto fail;
    }
    if (s->ppid_other && put(pp, "other", u64(s->ppid_other)) < 0)
        goto fail;
    MOVE(d, "ppids", pp);
    pp = NULL;
    PUT(d, "ssn_gaps", u64(s->ssn_gaps));
    PUT(d, "first_ssn", s->have_ssn ? u64(s->first_ssn) : (Py_INCREF(Py_None), Py_None));
    PUT(d, "last_ssn", s->have_ssn ? u64(s->last_ssn) : (Py_INCREF(Py_None), Py_None));
    PUT(d, "jitter_ns", i64_or_none(sc_jitter_value(&s->jit)));
    return d;
fail:
    Py_XDECREF(pp);
    Py_DECREF(d);
    return NULL;
}

/* vantage: {"point", "evidence", "a_side_rtt_ns", "b_side_rtt_ns", "full_rtt_ns",
 *           "minima": {"a_side": {"data_ns", "heartbeat_ns", "handshake_ns"}, "b_side": {...}}} */
static PyObject *build_vantage(const sc_vantage *v)
{
    static const char *const EV[4] = {"data", "heartbeat", "handshake", "addresses"};
    static const char *const SIDES[2] = {"a_side", "b_side"};
    static const char *const METHODS[3] = {"data_ns", "heartbeat_ns", "handshake_ns"};
    char ev[64] = "";
    size_t len = 0;
    static const unsigned ORDER[4] = {3, 2, 1, 0}; /* "handshake+heartbeat": strongest evidence first */
    for (unsigned k = 0; k < 4; k++) {
        unsigned i = ORDER[k];
        if (!(v->evidence & (1u << i)))
            continue;
        size_t n = strlen(EV[i]); /* at most 4 names of <= 9 bytes and 3 '+': fits in ev */
        if (len)
            ev[len++] = '+';
        memcpy(ev + len, EV[i], n + 1);
        len += n;
    }
    PyObject *d = PyDict_New(), *mins = NULL, *side = NULL;
    if (!d)
        return NULL;
    PUT(d, "point", cstr(sc_vp_point_name(v->point)));
    PUT(d, "evidence", len ? PyUnicode_FromString(ev) : (Py_INCREF(Py_None), Py_None));
    PUT(d, "a_side_rtt_ns", i64_or_none(v->side_ns[0]));
    PUT(d, "b_side_rtt_ns", i64_or_none(v->side_ns[1]));
    PUT(d, "full_rtt_ns", i64_or_none(v->full_ns));
    if (!(mins = PyDict_New()))
        goto fail;
    for (unsigned s = 0; s < 2; s++) {
        if (!(side = PyDict_New()))
            goto fail;
        for (unsigned m = 0; m < 3; m++)
            if (put(side, METHODS[m], i64_or_none(v->method_ns[s][m])) < 0)
                goto fail;
        if (put(mins, SIDES[s], side) < 0) {
            side = NULL;
            goto fail;
        }
        side = NULL;
    }
    MOVE(d, "minima", mins);
    return d;
fail:
    Py_XDECREF(side);
    Py_XDECREF(mins);
    Py_DECREF(d);
    return NULL;
}

/* What an RTT measured by endpoint `dir` (0: A, 1: B) covers, given the vantage point: "path" (the capture
 * is next to the measurer, or both ends are local: the RTT the sender itself sees), "turnaround" (the capture
 * is next to the peer: mostly the peer's SACK/HEARTBEAT-ACK turnaround), "partial" (the capture is in the
 * middle: the capture -> peer -> capture half), None (unknown). */
static PyObject *rtt_scope_obj(const sc_vantage *v, unsigned dir)
{
    const char *s = NULL;
    switch (v->point) {
    case SC_VP_A:
        s = dir == 0 ? "path" : "turnaround";
        break;
    case SC_VP_B:
        s = dir == 1 ? "path" : "turnaround";
        break;
    case SC_VP_MIDDLE:
        s = "partial";
        break;
    case SC_VP_LOCAL:
        s = "path";
        break;
    default:
        break;
    }
    if (!s)
        Py_RETURN_NONE;
    return cstr(s);
}

static PyObject *build_dir(const sc_assoc *A, unsigned e, const sc_vantage *vp)
{
    const sc_dir *D = &A->dir[e];
    PyObject *d = PyDict_New(), *sub = NULL;
    if (!d)
        return NULL;
    PUT(d, "src_port", u64(A->port[e]));
    PUT(d, "dst_port", u64(A->port[1 - e]));
    PUT(d, "packets", u64(D->packets));
    PUT(d, "data_chunks", u64(D->data_chunks));
    PUT(d, "data_bytes", u64(D->data_bytes));
    PUT(d, "unique_tsns", u64(D->unique_tsns));
    if (!(sub = PyDict_New()))
        goto fail;
    if (put(sub, "total", u64(D->rtx_total)) < 0 || put(sub, "fast", u64(D->rtx_fast)) < 0 ||
        put(sub, "timeout", u64(D->rtx_timeout)) < 0 || put(sub, "unknown", u64(D->rtx_unknown)) < 0 ||
        put(sub, "spurious", u64(D->rtx_spurious)) < 0)
        goto fail;
    MOVE(d, "retransmissions", sub);
    sub = NULL;
    PUT(d, "sacks", u64(D->sacks));
    PUT(d, "nr_sacks", u64(D->nr_sacks));
    PUT(d, "gap_blocks", u64(D->gap_blocks));
    PUT(d, "duplicate_tsns_reported", u64(D->dup_tsns_reported));
    PUT(d, "forward_tsns", u64(D->forward_tsns));
    if (!(sub = PyDict_New()))
        goto fail;
    if (put(sub, "initial", D->have_rwnd_initial ? u64(D->rwnd_initial) : (Py_INCREF(Py_None), Py_None)) < 0 ||
        put(sub, "min", D->have_rwnd ? u64(D->rwnd_min) : (Py_INCREF(Py_None), Py_None)) < 0 ||
        put(sub, "max", D->have_rwnd ? u64(D->rwnd_max) : (Py_INCREF(Py_None), Py_None)) < 0 ||
        put(sub, "last", D->have_rwnd ? u64(D->rwnd_last) : (Py_INCREF(Py_None), Py_None)) < 0 ||
        put(sub, "zero_window_episodes", u64(D->zero_window_episodes)) < 0)
        goto fail;
    MOVE(d, "a_rwnd", sub);
    sub = NULL;
    if (!(sub = PyDict_New()))
        goto fail;
    int64_t mean = D->flight_samples ? (int64_t)(D->flight_sum / (long double)D->flight_samples + 0.5L) : SC_NOTS;
    if (put(sub, "max_bytes", u64(D->flight_max_bytes)) < 0 || put(sub, "max_chunks", u64(D->flight_max_chunks)) < 0 ||
        put(sub, "mean_bytes", i64_or_none(mean)) < 0)
        goto fail;
    MOVE(d, "flight", sub);
    sub = NULL;
    PUT(d, "rtt", build_rtt(&D->rtt));
    PUT(d, "rtt_scope", rtt_scope_obj(vp, e));
    PUT(d, "jitter_ns", i64_or_none(sc_jitter_value(&D->jit)));
    if (!(sub = PyList_New(0)))
        goto fail;
    for (uint32_t i = 0; i < D->nstreams; i++)
        if (append(sub, build_stream(&D->streams[i])) < 0)
            goto fail;
    MOVE(d, "streams", sub);
    sub = NULL;
    PUT(d, "duplicate_chunks", slot_counts(D->dup_chunks));
    return d;
fail:
    Py_XDECREF(sub);
    Py_DECREF(d);
    return NULL;
}

static PyObject *build_path(const sc_assoc *A, unsigned pidx)
{
    const sc_path *p = &A->paths[pidx];
    sc_vantage vp;
    sc_vantage_path(A, pidx, &vp);

    PyObject *d = PyDict_New(), *hb = NULL;
    if (!d)
        return NULL;
    PUT(d, "src", addr_str(&p->src));
    PUT(d, "dst", addr_str(&p->dst));
    PUT(d, "direction", cstr(DIR_NAMES[p->dir & 1]));
    PUT(d, "packets", u64(p->packets));
    PUT(d, "data_chunks", u64(p->data_chunks));
    PUT(d, "data_bytes", u64(p->data_bytes));
    PUT(d, "retransmissions", u64(p->retransmissions));
    if (!(hb = PyDict_New()))
        goto fail;
    if (put(hb, "sent", u64(p->hb_sent)) < 0 || put(hb, "acked", u64(p->hb_acked)) < 0 ||
        put(hb, "unanswered", u64(sc_path_hb_unanswered(p))) < 0 || put(hb, "rtt_samples", u64(p->hb_rtt_samples)) < 0 ||
        put(hb, "linux_nonce", p->have_linux_hb ? u64(p->linux_hb_nonce) : (Py_INCREF(Py_None), Py_None)) < 0 ||
        put(hb, "linux_sent_at_jiffies", p->have_linux_hb ? u64(p->linux_hb_sent_at) : (Py_INCREF(Py_None), Py_None)) < 0)
        goto fail;
    MOVE(d, "heartbeats", hb);
    hb = NULL;
    PUT(d, "rtt", build_rtt(&p->rtt));
    PUT(d, "rtt_scope", rtt_scope_obj(&vp, p->dir & 1));
    PUT(d, "vantage", build_vantage(&vp));
    return d;
fail:
    Py_XDECREF(hb);
    Py_DECREF(d);
    return NULL;
}

static PyObject *build_initinfo(const sc_initinfo *ii)
{
    if (!ii)
        Py_RETURN_NONE;
    PyObject *d = PyDict_New(), *l = NULL;
    if (!d)
        return NULL;
    PUT(d, "initiate_tag", u64(ii->initiate_tag));
    PUT(d, "a_rwnd", u64(ii->a_rwnd));
    PUT(d, "outbound_streams", u64(ii->outbound_streams));
    PUT(d, "inbound_streams", u64(ii->inbound_streams));
    PUT(d, "initial_tsn", u64(ii->initial_tsn));
    PUT(d, "addresses", addr_list(ii->addrs, ii->naddrs));
    if (!(l = PyList_New(0)))
        goto fail;
    for (unsigned i = 0; i < ii->nexts; i++)
        if (append(l, chunk_name_obj(ii->exts[i])) < 0)
            goto fail;
    MOVE(d, "supported_extensions", l);
    l = NULL;
    PUT(d, "forward_tsn", boolean(ii->forward_tsn));
    PUT(d, "ecn", boolean(ii->ecn));
    if (ii->have_hostname)
        PUT(d, "host_name", PyUnicode_DecodeLatin1(ii->hostname, ii->hostname_len, NULL));
    else
        PUT(d, "host_name", (Py_INCREF(Py_None), Py_None));
    PUT(d, "cookie_preservative_ns", i64_or_none(ii->have_cookie_preservative ? ii->cookie_preservative_ns : SC_NOTS));
    return d;
fail:
    Py_XDECREF(l);
    Py_DECREF(d);
    return NULL;
}

static int64_t diff_or_nots(int64_t a, int64_t b) { return a == SC_NOTS || b == SC_NOTS ? SC_NOTS : a - b; }

static PyObject *build_assoc(const sc_assoc *A)
{
    PyObject *d = PyDict_New(), *t = NULL, *sub = NULL;
    if (!d)
        return NULL;
    PUT(d, "id", u64(A->id));
    PUT(d, "ports", Py_BuildValue("[II]", (unsigned)A->port[0], (unsigned)A->port[1]));
    if (!(t = PyList_New(2)))
        goto fail;
    for (int e = 0; e < 2; e++) {
        PyObject *v = A->vtag_known[e] ? u64(A->vtag[e]) : (Py_INCREF(Py_None), Py_None);
        if (!v)
            goto fail;
        PyList_SET_ITEM(t, e, v);
    }
    MOVE(d, "vtags", t);
    t = NULL;
    if (!(t = PyList_New(2)))
        goto fail;
    for (int e = 0; e < 2; e++) {
        PyObject *v = addr_list(A->addrs[e].v, A->addrs[e].n);
        if (!v)
            goto fail;
        PyList_SET_ITEM(t, e, v);
    }
    MOVE(d, "addresses", t);
    t = NULL;
    const char *st = sc_state_name(A->state); /* never NONE: the first chunk of a new association is well-formed */
    PUT(d, "state", st ? cstr(st) : (Py_INCREF(Py_None), Py_None));
    PUT(d, "mid_association", boolean(A->mid_association));
    PUT(d, "first_ts_ns", i64(A->first_ts_ns));
    PUT(d, "last_ts_ns", i64(A->last_ts_ns));
    PUT(d, "packets", u64(A->packets));
    PUT(d, "duplicate_packets", u64(A->duplicate_packets));
    PUT(d, "chunks", slot_counts(A->chunks));
    if (!(t = PyList_New(2)))
        goto fail;
    for (int e = 0; e < 2; e++) {
        PyObject *v = build_initinfo(A->init[e]);
        if (!v)
            goto fail;
        PyList_SET_ITEM(t, e, v);
    }
    MOVE(d, "init", t);
    t = NULL;

    if (!(sub = PyDict_New()))
        goto fail;
    uint32_t init_retries = (A->n_init[0] > 1 ? A->n_init[0] - 1 : 0) + (A->n_init[1] > 1 ? A->n_init[1] - 1 : 0);
    if (put(sub, "init_ns", i64_or_none(A->init_ns)) < 0 || put(sub, "init_ack_ns", i64_or_none(A->init_ack_ns)) < 0 ||
        put(sub, "cookie_echo_ns", i64_or_none(A->cookie_echo_ns)) < 0 ||
        put(sub, "cookie_ack_ns", i64_or_none(A->cookie_ack_ns)) < 0 ||
        put(sub, "init_to_init_ack_ns", i64_or_none(diff_or_nots(A->init_ack_ns, A->init_ns))) < 0 ||
        put(sub, "cookie_echo_to_cookie_ack_ns", i64_or_none(diff_or_nots(A->cookie_ack_ns, A->cookie_echo_ns))) < 0 ||
        put(sub, "setup_ns", i64_or_none(diff_or_nots(A->cookie_ack_ns, A->init_ns))) < 0 ||
        put(sub, "init_retries", u64(init_retries)) < 0 ||
        put(sub, "cookie_echo_retries", u64(A->n_cookie_echo > 1 ? A->n_cookie_echo - 1 : 0)) < 0 ||
        put(sub, "collision", boolean(A->collision)) < 0 || put(sub, "restarts", u64(A->restarts)) < 0)
        goto fail;
    MOVE(d, "handshake", sub);
    sub = NULL;

    if (!(sub = PyDict_New()))
        goto fail;
    if (put(sub, "shutdown_ns", i64_or_none(A->shutdown_ns)) < 0 ||
        put(sub, "shutdown_ack_ns", i64_or_none(A->shutdown_ack_ns)) < 0 ||
        put(sub, "shutdown_complete_ns", i64_or_none(A->shutdown_complete_ns)) < 0 ||
        put(sub, "duration_ns", i64_or_none(diff_or_nots(A->shutdown_complete_ns, A->shutdown_ns))) < 0)
        goto fail;
    if (A->abort) {
        const sc_abortinfo *ab = A->abort;
        PyObject *ad = PyDict_New(), *cl = NULL;
        if (!ad)
            goto fail;
        if (put(ad, "ts_ns", i64(ab->ts_ns)) < 0 || put(ad, "by", cstr(ab->by ? "B" : "A")) < 0 ||
            put(ad, "t_bit", boolean(ab->t_bit)) < 0 || !(cl = PyList_New(0))) {
            Py_DECREF(ad);
            goto fail;
        }
        for (unsigned i = 0; i < ab->ncauses; i++) {
            const char *cn = sc_cause_name(ab->causes[i]);
            PyObject *cd = Py_BuildValue("{s:I,s:s}", "code", (unsigned)ab->causes[i], "name", cn);
            if (append(cl, cd) < 0) {
                Py_DECREF(cl);
                Py_DECREF(ad);
                goto fail;
            }
        }
        if (put(ad, "causes", cl) < 0) {
            Py_DECREF(ad);
            goto fail;
        }
        if (put(sub, "abort", ad) < 0)
            goto fail;
    } else if (put(sub, "abort", (Py_INCREF(Py_None), Py_None)) < 0) {
        goto fail;
    }
    MOVE(d, "shutdown", sub);
    sub = NULL;

    if (!(t = PyList_New(0)))
        goto fail;
    for (uint16_t i = 0; i < A->npaths; i++)
        if (append(t, build_path(A, i)) < 0)
            goto fail;
    MOVE(d, "paths", t);
    t = NULL;
    if (!(sub = PyDict_New()))
        goto fail;
    sc_vantage vp;
    sc_vantage_assoc(A, &vp);
    for (unsigned e = 0; e < 2; e++)
        if (put(sub, DIR_NAMES[e], build_dir(A, e, &vp)) < 0)
            goto fail;
    MOVE(d, "directions", sub);
    sub = NULL;
    PUT(d, "vantage", build_vantage(&vp));
    return d;
fail:
    Py_XDECREF(t);
    Py_XDECREF(sub);
    Py_DECREF(d);
    return NULL;
}

static PyObject *build_capture(const sc_analyzer *an)
{
    const sc_capstats *cs = &an->cap;
    sc_decoder_stats ds;
    sc_decoder_get_stats(an->dec, &ds);
    PyObject *d = PyDict_New(), *sub = NULL;
    if (!d)
        return NULL;
    PUT(d, "packets", u64(cs->packets));
    PUT(d, "sctp_packets", u64(cs->sctp_packets));
    PUT(d, "malformed", u64(cs->malformed));
    PUT(d, "bad_checksum", u64(cs->bad_checksum));
    PUT(d, "unchecked_checksum", u64(cs->unchecked_checksum));
    PUT(d, "duplicates", u64(cs->duplicates));
    PUT(d, "icmp_quoted_sctp", u64(cs->icmp_quoted_sctp));
    PUT(d, "ip_fragments", u64(ds.ip_fragments));
    PUT(d, "reassembled", u64(ds.reassembled));
    PUT(d, "reassembly_dropped", u64(ds.reassembly_dropped));
    PUT(d, "truncated_packets", u64(cs->truncated_packets));
    PUT(d, "first_ts_ns", cs->have_ts ? i64(cs->first_ts_ns) : (Py_INCREF(Py_None), Py_None));
    PUT(d, "last_ts_ns", cs->have_ts ? i64(cs->last_ts_ns) : (Py_INCREF(Py_None), Py_None));
    if (!(sub = PyDict_New()))
        goto fail;
    PyObject *unk = PyDict_New();
    if (!unk)
        goto fail;
    for (unsigned t = 0; t < 256; t++) {
        if (!cs->chunks[t])
            continue;
        const char *n = sc_chunk_name(t);
        char k[8];
        if (!n)
            snprintf(k, sizeof k, "%u", t);
        if ((n ? put(sub, n, u64(cs->chunks[t])) : put_dyn(unk, k, u64(cs->chunks[t]))) < 0) {
            Py_DECREF(unk);
            goto fail;
        }
    }
    if (put(d, "chunks", sub) < 0) {
        sub = NULL;
        Py_DECREF(unk);
        goto fail;
    }
    sub = NULL;
    MOVE(d, "unknown_chunk_types", unk);
    if (!(sub = PyDict_New()))
        goto fail;
    if (put(sub, "assocs_dropped", u64(cs->assocs_dropped)) < 0 || put(sub, "tsns_evicted", u64(cs->tsns_evicted)) < 0 ||
        put(sub, "events_dropped", u64(cs->events_dropped)) < 0 || put(sub, "paths_dropped", u64(cs->paths_dropped)) < 0 ||
        put(sub, "streams_dropped", u64(cs->streams_dropped)) < 0 ||
        put(sub, "addresses_dropped", u64(cs->addresses_dropped)) < 0 ||
        put(sub, "records_dropped", u64(cs->records_dropped)) < 0 ||
        put(sub, "payloads_dropped", u64(cs->payloads_dropped)) < 0 ||
        put(sub, "assocs_folded", u64(cs->assocs_folded)) < 0 ||
        put(sub, "assocs_folded_idle", u64(cs->assocs_folded_idle)) < 0 ||
        put(sub, "fold_failed", u64(cs->fold_failed)) < 0)
        goto fail;
    MOVE(d, "limits", sub);
    return d;
fail:
    Py_XDECREF(sub);
    Py_DECREF(d);
    return NULL;
}

/* ------------------------------------------------------------------------------------------------ */
/* drain_events()                                                                                    */
/* ------------------------------------------------------------------------------------------------ */

static const char *const EV_NAMES[SC_EV_KINDS] = {
    "assoc_new", "state", "rtt", "retransmission", "sack", "window", "heartbeat_unanswered", "duplicate_frame",
    "abort", "spurious",
};
static const char *const SPURIOUS_REASONS[1] = {"dup_tsn"};
static const char *const RTT_METHODS[3] = {"data", "heartbeat", "handshake"};
static const char *const RTX_KINDS[3] = {"fast", "timeout", "unknown"};

static PyObject *state_obj(int64_t st)
{
    const char *n = st >= 0 && st < SC_ST_COUNT ? sc_state_name((unsigned)st) : NULL;
    if (!n)
        Py_RETURN_NONE;
    return cstr(n);
}

static PyObject *build_event(const sc_event *e)
{
    const char *kind = EV_NAMES[e->kind];
    const char *dir = DIR_NAMES[e->dir & 1];
    long long ts = e->ts_ns;
    unsigned long long fr = e->frame_no;
    unsigned id = e->assoc_id;
    PyObject *a = NULL, *b = NULL, *c = NULL, *r = NULL;
    switch (e->kind) {
    case SC_EV_ASSOC_NEW:
        return Py_BuildValue("(sLKI(LL)N)", kind, ts, fr, id, (long long)e->v[0], (long long)e->v[1],
                             PyBool_FromLong(e->b1));
    case SC_EV_STATE:
        if (!(a = state_obj(e->v[0])) || !(b = state_obj(e->v[1])) || !(c = chunk_name_obj((unsigned)e->v[2])))
            break;
        r = Py_BuildValue("(sLKIOOO)", kind, ts, fr, id, a, b, c);
        break;
    case SC_EV_RTT:
        if (!(a = addr_str(&e->src)) || !(b = addr_str(&e->dst)))
            break;
        r = Py_BuildValue("(sLKIsOOsLNNLLL)", kind, ts, fr, id, dir, a, b, RTT_METHODS[e->b1 % 3], (long long)e->v[0],
                          e->b2 ? PyLong_FromLongLong(e->v[1]) : (Py_INCREF(Py_None), Py_None),
                          PyBool_FromLong(e->b3), (long long)e->v[2], (long long)e->v[3], (long long)e->v[4]);
        break;
    case SC_EV_RETRANSMISSION:
        if (!(a = addr_str(&e->src)) || !(b = addr_str(&e->dst)))
            break;
        r = Py_BuildValue("(sLKIsOOLsNNN)", kind, ts, fr, id, dir, a, b, (long long)e->v[0], RTX_KINDS[e->b1 % 3],
                          PyBool_FromLong(e->b2), i64_or_none(e->v[1]), i64_or_none(e->v[2]));
        break;
    case SC_EV_SACK:
        return Py_BuildValue("(sLKIsLLLLL)", kind, ts, fr, id, dir, (long long)e->v[0], (long long)e->v[1],
                             (long long)e->v[2], (long long)e->v[3], (long long)e->v[4]);
    case SC_EV_WINDOW:
        return Py_BuildValue("(sLKIsLN)", kind, ts, fr, id, dir, (long long)e->v[0], PyBool_FromLong(e->b1));
    case SC_EV_HB_UNANSWERED:
        if (!(a = addr_str(&e->src)) || !(b = addr_str(&e->dst)))
            break;
        r = Py_BuildValue("(sLKIsOOL)", kind, ts, fr, id, dir, a, b, (long long)e->v[0]);
        break;
    case SC_EV_DUPLICATE:
        return Py_BuildValue("(sLKNL)", kind, ts, fr, id ? PyLong_FromUnsignedLong(id) : (Py_INCREF(Py_None), Py_None),
                             (long long)e->v[0]);
    case SC_EV_ABORT:
        if (!(a = PyList_New(0)))
            break;
        for (unsigned i = 0; i < e->ncauses; i++)
            if (append(a, cause_name_obj(e->causes[i])) < 0)
                goto out;
        r = Py_BuildValue("(sLKIsNO)", kind, ts, fr, id, dir, PyBool_FromLong(e->b1), a);
        break;
    case SC_EV_SPURIOUS:
        if (!(a = addr_str(&e->src)) || !(b = addr_str(&e->dst)))
            break;
        r = Py_BuildValue("(sLKIsOOLNs)", kind, ts, fr, id, dir, a, b, (long long)e->v[0], i64_or_none(e->v[1]),
                          SPURIOUS_REASONS[0]);
        break;
    default:
        PyErr_SetString(PyExc_RuntimeError, "unknown event kind");
        return NULL;
    }
out:
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(c);
    return r;
}

/* ------------------------------------------------------------------------------------------------ */
/* The Analyzer type                                                                                 */
/* ------------------------------------------------------------------------------------------------ */

static int check_ready(AnalyzerObject *self)
{
    if (!self->an || !self->cap) {
        PyErr_SetString(PyExc_RuntimeError, "Analyzer is not initialised");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Analyzer is in use by another thread");
        return -1;
    }
    return 0;
}

static PyObject *Analyzer_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    AnalyzerObject *self = (AnalyzerObject *)type->tp_alloc(type, 0);
    return (PyObject *)self;
}

static int Analyzer_init(AnalyzerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"events", "dup_window_ns", "max_assocs", "max_outstanding", "records", "payloads",
                             "event_kinds", "fold_linger_ns", "fold_idle_ns", NULL};
    int events = 0, records = 0, payloads = 0;
    PyObject *kinds = NULL;
    long long dup_window_ns = 5000000;
    long long max_assocs = 1000000, max_outstanding = 65536, linger_ns = 0, idle_ns = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|pLLL$ppOLL:Analyzer", kwlist, &events, &dup_window_ns, &max_assocs,
                                     &max_outstanding, &records, &payloads, &kinds, &linger_ns, &idle_ns))
        return -1;
    if (linger_ns < 0 || idle_ns < 0) {
        PyErr_SetString(PyExc_ValueError, "fold_linger_ns and fold_idle_ns must be >= 0 (0: never fold)");
        return -1;
    }
    unsigned mask = events ? (1u << SC_EV_KINDS) - 1u : 0u;   /* events=True: every kind, unless event_kinds says */
    if (events && kinds && kinds != Py_None) {
        PyObject *it = PyObject_GetIter(kinds), *k;
        if (!it)
            return -1;
        mask = 0;
        while ((k = PyIter_Next(it)) != NULL) {
            const char *s = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
            int found = -1;
            for (int i = 0; s && i < SC_EV_KINDS; i++)
                if (strcmp(s, EV_NAMES[i]) == 0)
                    found = i;
            Py_DECREF(k);
            if (found < 0) {
                Py_DECREF(it);
                PyErr_SetString(PyExc_ValueError, "event_kinds: names of drain_events() kinds");
                return -1;
            }
            mask |= 1u << found;
        }
        Py_DECREF(it);
        if (PyErr_Occurred())
            return -1;
    }
    if (dup_window_ns < 0) {
        PyErr_SetString(PyExc_ValueError, "dup_window_ns must be >= 0 (0 disables duplicate detection)");
        return -1;
    }
    if (max_assocs < 1) {
        PyErr_SetString(PyExc_ValueError, "max_assocs must be >= 1");
        return -1;
    }
    if (max_outstanding < 16 || max_outstanding > (1LL << 30)) {
        PyErr_SetString(PyExc_ValueError, "max_outstanding must be between 16 and 2**30");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Analyzer is in use by another thread");
        return -1;
    }
    sc_analyzer *an = sc_an_new(mask, dup_window_ns, (uint64_t)max_assocs, (uint32_t)max_outstanding);
    sc_capture *cap = sc_capture_new();
    if (!an || !cap) {
        sc_an_free(an);
        sc_capture_free(cap);
        PyErr_NoMemory();
        return -1;
    }
    an->records = records;
    an->payloads = payloads;
    sc_fold_config(an, linger_ns, idle_ns);
    sc_an_free(self->an);
    sc_capture_free(self->cap);
    self->an = an;
    self->cap = cap;
    return 0;
}

static void Analyzer_dealloc(AnalyzerObject *self)
{
    sc_an_free(self->an);
    sc_capture_free(self->cap);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Pull every available record through decode + analysis. Returns records processed; *err is set on a format
 * error (after the records before it were analysed). No Python call: may run without the GIL.
 *
 * Records are taken up to LOOKAHEAD ahead of the one analysed (they stay valid until the next feed or release,
 * see engine.h), in steps: when a record is taken, sc_an_peek() reads its association key and prefetches the
 * hash-table slot; PREFETCH_AT records before its turn, sc_an_prefetch() looks the key up and prefetches the
 * association's hot lines; PREFETCH_DEEP_AT records before, sc_an_prefetch_deep() follows the pointers found
 * there (path, stream, TSN ring, RTT bins); then sc_an_record() analyses it, that state (mostly) in the cache.
 * Why: with 3,111 interleaved associations (bench/out/corpus-1m.pcap) a packet's state (~10 cache lines in
 * several allocations) is almost never in L1/L2, and the loads that find it depend on each other. Measured on
 * the 1M corpus (feed CPU time, best of 10 interleaved runs on the 2-core VM): 0.615 s without the prefetches
 * (the peek still done), 0.547 s with sc_an_prefetch, 0.492 s with both; for ~250 more instructions per packet.
 * The distances were tried at 8/4/1, 16/6/2, 16/8/3 and 32/12/4: 16/8/3 was best, within noise of 32/12/4. */
#ifndef LOOKAHEAD
#define LOOKAHEAD 16 /* power of two, > PREFETCH_AT > PREFETCH_DEEP_AT */
#define PREFETCH_AT 8
#define PREFETCH_DEEP_AT 3
#endif
static long long drain_capture(AnalyzerObject *self, int *err)
{
    sc_record rec[LOOKAHEAD];
    sc_peek pk[LOOKAHEAD];
    unsigned head = 0, count = 0;
    long long n = 0;
    int more = 1;
    *err = 0;
    for (;;) {
        while (more && count < LOOKAHEAD) {
            unsigned i = (head + count) & (LOOKAHEAD - 1);
            sc_cap_status st = sc_capture_next(self->cap, &rec[i]);
            if (st != SC_CAP_OK) {
                *err = st == SC_CAP_ERROR;
                more = 0;
                break;
            }
            sc_an_peek(self->an, &rec[i], &pk[i]);
            count++;
        }
        if (!count)
            return n;
        if (count > PREFETCH_AT)
            sc_an_prefetch(self->an, &pk[(head + PREFETCH_AT) & (LOOKAHEAD - 1)]);
        if (count > PREFETCH_DEEP_AT)
            sc_an_prefetch_deep(&pk[(head + PREFETCH_DEEP_AT) & (LOOKAHEAD - 1)]);
        sc_an_record(self->an, &rec[head]);
        head = (head + 1) & (LOOKAHEAD - 1);
        count--;
        n++;
    }
}

/* Folding (fold.c) looks at one id slot per 8 packets analysed for idle associations (each look is a cache
 * miss): ticks come between blocks, where no look-ahead pointer is held. */
static uint32_t fold_steps(long long n) { return (uint32_t)((n >> 3) + 1 > 0xffffffffLL ? 0xffffffffu : (n >> 3) + 1); }

static PyObject *Analyzer_feed_capture(AnalyzerObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "feed_capture() takes exactly one argument (%zd given)", nargs);
        return NULL;
    }
    if (check_ready(self) < 0)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int err = 0, oom = 0;
    long long n;
    self->busy = 1;
    /* the block is parsed in place (no copy) and released, its unparsed tail kept, before the view goes */
    if (view.len >= NOGIL_MIN_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        oom = sc_capture_feed_borrowed(self->cap, view.buf, (size_t)view.len) < 0;
        n = oom ? 0 : drain_capture(self, &err);
        oom |= sc_capture_release(self->cap) < 0;
        sc_fold_tick(self->an, fold_steps(n));
        Py_END_ALLOW_THREADS
    } else {
        oom = sc_capture_feed_borrowed(self->cap, view.buf, (size_t)view.len) < 0;
        n = oom ? 0 : drain_capture(self, &err);
        oom |= sc_capture_release(self->cap) < 0;
        sc_fold_tick(self->an, fold_steps(n));
    }
    self->busy = 0;
    PyBuffer_Release(&view);
    if (oom)
        return PyErr_NoMemory();
    if (err) {
        const char *msg = sc_capture_error(self->cap);
        PyErr_SetString(PyExc_ValueError, msg && *msg ? msg : "capture format error");
        return NULL;
    }
    return PyLong_FromLongLong(n);
}

static PyObject *Analyzer_finish_capture(AnalyzerObject *self, PyObject *unused)
{
    if (check_ready(self) < 0)
        return NULL;
    size_t left = sc_capture_finish(self->cap);
    sc_format fmt = sc_capture_format(self->cap);
    uint32_t lt[64];
    size_t nlt = sc_capture_linktypes(self->cap, lt, 64);
    PyObject *d = PyDict_New(), *l = NULL;
    if (!d)
        return NULL;
    PUT(d, "format", fmt == SC_FMT_PCAP     ? cstr("pcap")
                     : fmt == SC_FMT_PCAPNG ? cstr("pcapng")
                                            : (Py_INCREF(Py_None), Py_None));
    PUT(d, "packets", u64(sc_capture_packets(self->cap)));
    PUT(d, "truncated_bytes", u64(left));
    PUT(d, "caplen_gt_origlen", u64(sc_capture_caplen_gt_origlen(self->cap)));
    if (!(l = PyList_New(0)))
        goto fail;
    for (size_t i = 0; i < nlt; i++)
        if (append(l, u64(lt[i])) < 0)
            goto fail;
    MOVE(d, "link_types", l);
    return d;
fail:
    Py_XDECREF(l);
    Py_DECREF(d);
    return NULL;
}

static PyObject *Analyzer_feed_packet(AnalyzerObject *self, PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames)
{
    PyObject *a_ts = NULL, *a_lt = NULL, *a_frame = NULL, *a_no = NULL;
    static const char *const names[4] = {"ts_ns", "linktype", "frame", "frame_no"};
    PyObject **slots[4] = {&a_ts, &a_lt, &a_frame, &a_no};
    if (nargs > 4) {
        PyErr_Format(PyExc_TypeError, "feed_packet() takes at most 4 arguments (%zd given)", nargs);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        *slots[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        int j;
        for (j = 0; j < 4; j++)
            if (PyUnicode_CompareWithASCIIString(k, names[j]) == 0)
                break;
        if (j == 4) {
            PyErr_Format(PyExc_TypeError, "feed_packet() got an unexpected keyword argument '%U'", k);
            return NULL;
        }
        if (*slots[j]) {
            PyErr_Format(PyExc_TypeError, "feed_packet() got multiple values for argument '%s'", names[j]);
            return NULL;
        }
        *slots[j] = args[nargs + i];
    }
    for (int j = 0; j < 3; j++)
        if (!*slots[j]) {
            PyErr_Format(PyExc_TypeError, "feed_packet() missing required argument '%s'", names[j]);
            return NULL;
        }
    if (check_ready(self) < 0)
        return NULL;
    long long ts = PyLong_AsLongLong(a_ts);
    if (ts == -1 && PyErr_Occurred())
        return NULL;
    unsigned long lt = PyLong_AsUnsignedLong(a_lt);
    if (lt == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    unsigned long long fno = 0;
    if (a_no && a_no != Py_None) {
        fno = PyLong_AsUnsignedLongLong(a_no);
        if (fno == (unsigned long long)-1 && PyErr_Occurred())
            return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(a_frame, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if ((unsigned long long)view.len > 0xffffffffULL) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "frame larger than 4 GiB");
        return NULL;
    }
    sc_analyzer *an = self->an;
    if (fno == 0)
        fno = ++an->auto_frame;
    else
        an->auto_frame = fno;
    sc_record rec;
    memset(&rec, 0, sizeof rec);
    rec.ts_ns = ts;
    rec.frame_no = fno;
    rec.linktype = (uint32_t)lt;
    rec.caplen = rec.origlen = (uint32_t)view.len;
    rec.data = view.buf;
    sc_an_record(an, &rec);
    if ((fno & 7) == 0)
        sc_fold_tick(an, 1);
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyObject *Analyzer_drain_events(AnalyzerObject *self, PyObject *unused)
{
    if (check_ready(self) < 0)
        return NULL;
    sc_analyzer *an = self->an;
    uint32_t n = sc_an_events_pending(an);
    PyObject *l = PyList_New(n);
    if (!l)
        return NULL;
    for (uint32_t i = 0; i < n; i++) {
        PyObject *t = build_event(sc_an_event(an, i));
        if (!t) {
            Py_DECREF(l);
            return NULL; /* events stay queued */
        }
        PyList_SET_ITEM(l, i, t);
    }
    sc_an_events_clear(an);
    return l;
}

/* All pending records as one bytes object (native byte order, RECORD_SIZE bytes each), then none pending. */
static PyObject *Analyzer_drain_records(AnalyzerObject *self, PyObject *unused)
{
    if (check_ready(self) < 0)
        return NULL;
    sc_analyzer *an = self->an;
    uint32_t n = sc_an_records_pending(an);
    PyObject *b = PyBytes_FromStringAndSize(n ? (const char *)sc_an_records(an) : NULL,
                                            (Py_ssize_t)n * (Py_ssize_t)sizeof(sc_wrec));
    if (!b)
        return NULL; /* records stay pending */
    sc_an_records_clear(an);
    return b;
}

/* All pending payloads as one bytes object (sc_payhdr + user data, padded to 8, each), then none pending. */
static PyObject *Analyzer_drain_payloads(AnalyzerObject *self, PyObject *unused)
{
    if (check_ready(self) < 0)
        return NULL;
    sc_analyzer *an = self->an;
    PyObject *b = PyBytes_FromStringAndSize(an->pay_n ? (const char *)an->pay : NULL, (Py_ssize_t)an->pay_n);
    if (!b)
        return NULL;
    an->pay_n = 0;
    if (an->pay_cap > ((size_t)16 << 20)) {     /* a burst grew it: give the memory back */
        free(an->pay);
        an->pay = NULL;
        an->pay_cap = 0;
    }
    return b;
}

static PyObject *build_report(sc_analyzer *an);

static PyObject *Analyzer_report(AnalyzerObject *self, PyObject *unused)
{
    if (check_ready(self) < 0)
        return NULL;
    /* The report is ~40 dicts and lists per association, and nothing in it can form a reference cycle. With
     * the cyclic GC on, every 700 container allocations start a collection, which also walks the growing
     * report: 22 % of report()'s instructions on the 100k corpus (66 M of 306 M). Paused while building. */
    int gc_was_on = PyGC_Disable();
    PyObject *r = build_report(self->an);
    if (gc_was_on)
        PyGC_Enable();
    return r;
}

/* start..stop (a Python slice of associations, ids start+1..stop) held within 0..n, stop >= start. */
static void clamp_slice(Py_ssize_t *start, Py_ssize_t *stop, uint64_t n)
{
    if (*start < 0)
        *start = 0;
    if (*stop > (Py_ssize_t)n)
        *stop = (Py_ssize_t)n;
    if (*stop < *start)
        *stop = *start;
}

/* A folded association (fold.c) that cannot be read back from its spill file. */
static PyObject *spill_error(void)
{
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_OSError, "cannot read back a folded association from the spill file");
    return NULL;
}

static PyObject *build_report(sc_analyzer *an)
{
    PyObject *d = PyDict_New(), *l = NULL;
    if (!d)
        return NULL;
    PUT(d, "capture", build_capture(an));
    if (!(l = PyList_New((Py_ssize_t)an->nassocs)))
        goto fail;
    for (uint64_t i = 0; i < an->nassocs; i++) {
        const sc_assoc *A = sc_an_assoc_open(an, i);
        PyObject *a = A ? build_assoc(A) : spill_error();
        sc_an_assoc_close(an, i, A);
        if (!a)
            goto fail;
        PyList_SET_ITEM(l, (Py_ssize_t)i, a);
    }
    MOVE(d, "associations", l);
    return d;
fail:
    Py_XDECREF(l);
    Py_DECREF(d);
    return NULL;
}

static PyObject *Analyzer_capture_summary(AnalyzerObject *self, PyObject *unused)
{
    if (check_ready(self) < 0)
        return NULL;
    return build_capture(self->an);
}

static PyObject *Analyzer_association(AnalyzerObject *self, PyObject *arg)
{
    if (check_ready(self) < 0)
        return NULL;
    int overflow = 0;
    long long id = PyLong_AsLongLongAndOverflow(arg, &overflow);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    sc_analyzer *an = self->an;
    if (overflow || id < 1 || (unsigned long long)id > an->nassocs) {
        PyErr_SetObject(PyExc_KeyError, arg);
        return NULL;
    }
    const sc_assoc *A = sc_an_assoc_open(an, (uint64_t)id - 1);
    PyObject *r = A ? build_assoc(A) : spill_error();
    sc_an_assoc_close(an, (uint64_t)id - 1, A);
    return r;
}

/* associations_json(start=0, stop=None): the JSON text of associations start..stop-1 (0-based, in report order),
 * one str each, exactly json_encode(association(id)) (assocjson.c): the --json report of a capture with many
 * associations written without a Python object per field. */
static PyObject *Analyzer_associations_json(AnalyzerObject *self, PyObject *args, PyObject *kw)
{
    if (check_ready(self) < 0)
        return NULL;
    sc_analyzer *an = self->an;
    Py_ssize_t start = 0, stop = (Py_ssize_t)an->nassocs;
    PyObject *stop_o = Py_None;
    int lines = 0, csv = 0, jsonl = 0;
    static char *kwlist[] = {"start", "stop", "lines", "csv", "jsonl", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|nO$ppp:associations_json", kwlist, &start, &stop_o, &lines, &csv,
                                     &jsonl))
        return NULL;
    if (stop_o != Py_None) {
        stop = PyLong_AsSsize_t(stop_o);
        if (stop == -1 && PyErr_Occurred())
            return NULL;
    }
    clamp_slice(&start, &stop, an->nassocs);
    sc_jw w = {0};
    int unread = 0;
    if (csv) {               /* one bytes object: the CSV rows of these associations (report/csv.py) */
        Py_BEGIN_ALLOW_THREADS
        unread = sc_assocs_csv(&w, an, (size_t)start, (size_t)stop) < 0;
        Py_END_ALLOW_THREADS
        PyObject *b = unread ? spill_error() : w.failed ? PyErr_NoMemory() : PyBytes_FromStringAndSize(w.p ? w.p : "", (Py_ssize_t)w.n);
        free(w.p);
        return b;
    }
    if (lines || jsonl) {    /* one bytes object: "  {...},\n" per association, no comma after the last one; or
                              * the --jsonl records '{"type":"association",...}\n' */
        Py_BEGIN_ALLOW_THREADS
        unread = (jsonl ? sc_assocs_jsonl(&w, an, (size_t)start, (size_t)stop)
                        : sc_assocs_json_lines(&w, an, (size_t)start, (size_t)stop)) < 0;
        Py_END_ALLOW_THREADS
        PyObject *b = unread ? spill_error() : w.failed ? PyErr_NoMemory() : PyBytes_FromStringAndSize(w.p ? w.p : "", (Py_ssize_t)w.n);
        free(w.p);
        return b;
    }
    PyObject *out = PyList_New(stop - start);
    if (!out)
        return NULL;
    size_t *ends = malloc(sizeof(size_t) * (size_t)(stop - start + 1));
    if (!ends) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    unread = sc_assocs_json(&w, an, (size_t)start, (size_t)stop, ends) < 0;
    Py_END_ALLOW_THREADS
    if (w.failed || unread) {
        free(ends);
        free(w.p);
        Py_DECREF(out);
        return unread ? spill_error() : PyErr_NoMemory();
    }
    size_t from = 0;
    for (Py_ssize_t i = 0; i < stop - start; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(w.p + from, (Py_ssize_t)(ends[i] - from), NULL);
        if (!s) {
            free(ends);
            free(w.p);
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, s);
        from = ends[i];
    }
    free(ends);
    free(w.p);
    return out;
}

/* summary(): one small tuple per association, for a live view that redraws every second: building the full
 * report of thousands of associations each second (~0.1 ms each) took the time the capture needed.  The full
 * entry of the few shown is then association(id). */
static PyObject *Analyzer_summary(AnalyzerObject *self, PyObject *args)
{
    if (check_ready(self) < 0)
        return NULL;
    sc_analyzer *an = self->an;
    Py_ssize_t start = 0, stop = (Py_ssize_t)an->nassocs;   /* summary(start, stop): a slice, in id order */
    if (!PyArg_ParseTuple(args, "|nn:summary", &start, &stop))
        return NULL;
    clamp_slice(&start, &stop, an->nassocs);
    PyObject *l = PyList_New(stop - start);
    if (!l)
        return NULL;
    enum { CHUNK = 4096 };                  /* read CHUNK at a time: folded ones in file order (fold.c) */
    sc_asum *sums = malloc(CHUNK * sizeof *sums);
    if (!sums) {
        Py_DECREF(l);
        return PyErr_NoMemory();
    }
    for (uint64_t i = (uint64_t)start; i < (uint64_t)stop; i++) {
        if ((i - (uint64_t)start) % CHUNK == 0) {
            size_t k = (uint64_t)stop - i < CHUNK ? (size_t)((uint64_t)stop - i) : CHUNK;
            if (sc_an_summaries(an, i, k, sums) < 0) {
                free(sums);
                Py_DECREF(l);
                return spill_error();
            }
        }
        const sc_asum S = sums[(i - (uint64_t)start) % CHUNK];
        const char *st = sc_state_name(S.state);
        PyObject *t = Py_BuildValue("(KsKKKKKKKNNNIINNLLN)", (unsigned long long)S.id, st ? st : "",
                                    (unsigned long long)S.packets, (unsigned long long)S.fast,
                                    (unsigned long long)S.timeout, (unsigned long long)S.unknown,
                                    (unsigned long long)S.spurious, (unsigned long long)S.zero_windows,
                                    (unsigned long long)S.hb_unanswered,
                                    i64_or_none(S.srtt_ns),
                                    S.vtag_known[0] ? u64(S.vtag[0]) : (Py_INCREF(Py_None), Py_None),
                                    S.vtag_known[1] ? u64(S.vtag[1]) : (Py_INCREF(Py_None), Py_None),
                                    (unsigned)S.port[0], (unsigned)S.port[1],
                                    S.have_addr[0] ? addr_str(&S.addr[0]) : (Py_INCREF(Py_None), Py_None),
                                    S.have_addr[1] ? addr_str(&S.addr[1]) : (Py_INCREF(Py_None), Py_None),
                                    (long long)S.first_ts_ns, (long long)S.last_ts_ns, i64_or_none(S.p50_ns));
        if (!t) {
            free(sums);
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, (Py_ssize_t)i - start, t);
    }
    free(sums);
    return l;
}

static PyObject *Analyzer_get_nassocs(AnalyzerObject *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->an ? (unsigned long long)self->an->nassocs : 0ull);
}

static PyGetSetDef Analyzer_getset[] = {
    {"associations_count", (getter)Analyzer_get_nassocs, NULL, "associations in the report so far", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ------------------------------------------------------------------------------------------------ */
/* --jsonl written by the engine (evjson.c): drain_events_jsonl(), json_compact_lines()              */
/* ------------------------------------------------------------------------------------------------ */

/* drain_events_jsonl(file_index=0) -> (bytes, {kind: count}): the pending events as the --jsonl lines
 * report/jsonl.py writes for them (pipeline.event_to_dict(e, file_index)), then none pending; the count of
 * each kind written (kinds with none left out). Nothing is drained when the text cannot be made. */
static PyObject *Analyzer_drain_events_jsonl(AnalyzerObject *self, PyObject *args, PyObject *kw)
{
    /* The text is written into this buffer, kept from one call to the next, then copied into a bytes object of
     * its size. Writing straight into a bytes object of the bound's size (then cut) asked malloc for ~8 MB
     * every drain: above its mmap threshold, so fresh pages each time (280,000 page faults, ~0.7 s on the scale
     * corpus). The GIL is held meanwhile: one caller at a time uses the buffer. */
    static char *buf;
    static size_t cap;
    unsigned int file_index = 0;
    static char *kwlist[] = {"file_index", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|I:drain_events_jsonl", kwlist, &file_index))
        return NULL;
    if (check_ready(self) < 0)
        return NULL;
    sc_analyzer *an = self->an;
    size_t need = sc_events_jsonl_bound(an);
    if (need > cap) {
        size_t c = cap ? cap : (size_t)1 << 20;
        while (c < need)
            c *= 2;
        char *p = malloc(c);
        if (!p)
            return PyErr_NoMemory();
        free(buf);
        buf = p;
        cap = c;
    }
    uint64_t counts[SC_EV_KINDS] = {0};
    size_t n = sc_events_jsonl(buf, an, file_index, counts);
    PyObject *data = PyBytes_FromStringAndSize(buf, (Py_ssize_t)n), *d = NULL, *r = NULL;
    if (!data || !(d = PyDict_New()))
        goto done;
    for (unsigned k = 0; k < SC_EV_KINDS; k++)
        if (counts[k] && put(d, sc_ev_json_names[k], PyLong_FromUnsignedLongLong(counts[k])) < 0)
            goto done;
    if ((r = PyTuple_Pack(2, data, d)))
        sc_an_events_clear(an);
done:
    Py_XDECREF(data);
    Py_XDECREF(d);
    return r;
}

/* json_compact_lines(data, head) -> bytes (module function): see sc_json_lines_compact. */
static PyObject *engine_json_compact_lines(PyObject *module, PyObject *args)
{
    Py_buffer data, head;
    if (!PyArg_ParseTuple(args, "y*y*:json_compact_lines", &data, &head))
        return NULL;
    size_t skipped = 0, n = 0;
    PyObject *r = PyBytes_FromStringAndSize(
        NULL, (Py_ssize_t)sc_json_lines_compact_bound(data.buf, (size_t)data.len, (size_t)head.len));
    if (r) {
        Py_BEGIN_ALLOW_THREADS
        n = sc_json_lines_compact(PyBytes_AS_STRING(r), data.buf, (size_t)data.len, head.buf, (size_t)head.len,
                                  &skipped);
        Py_END_ALLOW_THREADS
        if (skipped) {
            PyErr_Format(PyExc_ValueError, "json_compact_lines: %zu lines are not a JSON object", skipped);
            Py_CLEAR(r);
        } else {
            _PyBytes_Resize(&r, (Py_ssize_t)n); /* NULL and an exception on failure */
        }
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&head);
    return r;
}

static PyMethodDef Analyzer_methods[] = {
    {"summary", (PyCFunction)Analyzer_summary, METH_VARARGS,
     "summary(start=0, stop=None) -> list[tuple]\n--\n\nPer association (associations start..stop-1, 0-based, in id order) (id, state, packets, retransmissions fast, timeout, unknown, "
     "spurious, zero-window episodes, HEARTBEATs unanswered, smallest path SRTT ns or None, vtag A, vtag B, port A, "
     "port B), both directions summed: cheap, for live views (engine.SUMMARY_FIELDS)."},
    {"capture_summary", (PyCFunction)Analyzer_capture_summary, METH_NOARGS,
     "capture_summary() -> dict\n--\n\nThe report's 'capture' section alone."},
    {"feed_capture", (PyCFunction)(void (*)(void))Analyzer_feed_capture, METH_FASTCALL,
     "feed_capture(block: bytes) -> int\n--\n\nAnalyse the next bytes of a pcap/pcapng stream (any block size); "
     "returns the packet records processed. Raises ValueError on a non-capture or a format error."},
    {"finish_capture", (PyCFunction)Analyzer_finish_capture, METH_NOARGS,
     "finish_capture() -> dict\n--\n\nEnd of the current file: {format, packets, truncated_bytes, "
     "caplen_gt_origlen, link_types}. The next feed_capture() starts a new file; analysis state carries on."},
    {"feed_packet", (PyCFunction)(void (*)(void))Analyzer_feed_packet, METH_FASTCALL | METH_KEYWORDS,
     "feed_packet(ts_ns, linktype, frame, frame_no=0) -> None\n--\n\nAnalyse one frame (frame_no 0: numbered "
     "automatically)."},
    {"associations_json", (PyCFunction)(void (*)(void))Analyzer_associations_json, METH_VARARGS | METH_KEYWORDS,
     "associations_json(start=0, stop=None, *, lines=False, csv=False, jsonl=False) -> list[str] | bytes\n--\n\nThe JSON "
     "text of the report entries of associations start..stop-1 (0-based), each exactly "
     "json_encode(association(id)); with lines, one UTF-8 bytes object of '  TEXT,\\n' lines (no comma after the "
     "last association): the --json document's; with csv, their rows of report/csv.py instead; with jsonl, the "
     "--jsonl records '{\"type\":\"association\",...}\\n' (compact)."},
    {"drain_events", (PyCFunction)Analyzer_drain_events, METH_NOARGS,
     "drain_events() -> list[tuple]\n--\n\nEvents since the last drain (only with events=True)."},
    {"drain_payloads", (PyCFunction)Analyzer_drain_payloads, METH_NOARGS,
     "drain_payloads() -> bytes\n--\n\nThe user data of every DATA/I-DATA chunk seen for the first time since "
     "the last drain (only with payloads=True): a 56-byte header then the data, padded to 8 (sctpcorr.telecom."
     "payloads reads them)."},
    {"drain_records", (PyCFunction)Analyzer_drain_records, METH_NOARGS,
     "drain_records() -> bytes\n--\n\nThe per-chunk records since the last drain (only with records=True), "
     "RECORD_SIZE bytes each in native byte order (sctpcorr.wire.records.as_array reads them)."},
    {"association", (PyCFunction)Analyzer_association, METH_O,
     "association(id: int) -> dict\n--\n\nOne association's report() entry, built alone (cost independent of the "
     "number of associations). Raises KeyError for an id that is not an association."},
    {"report", (PyCFunction)Analyzer_report, METH_NOARGS,
     "report() -> dict\n--\n\nA snapshot of everything analysed so far (see docs/design/engine.md)."},
    {"drain_events_jsonl", (PyCFunction)(void (*)(void))Analyzer_drain_events_jsonl, METH_VARARGS | METH_KEYWORDS,
     "drain_events_jsonl(file_index=0) -> tuple[bytes, dict[str, int]]\n--\n\nLike drain_events(), the events "
     "written as the --jsonl lines of report/jsonl.py (pipeline.event_to_dict(event, file_index)), UTF-8, and the "
     "number of events of each kind written."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AnalyzerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sctpcorr.wire._engine.Analyzer",
    .tp_basicsize = sizeof(AnalyzerObject),
    .tp_dealloc = (destructor)Analyzer_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Analyzer(events=False, dup_window_ns=5_000_000, max_assocs=1_000_000, max_outstanding=65536, *, "
              "records=False, payloads=False, event_kinds=None)\n\n"
              "The SCTP wire analyser: feed pcap/pcapng bytes or single frames, read report(), drain_events() "
              "(event_kinds: only these kinds), drain_records() and drain_payloads().",
    .tp_methods = Analyzer_methods,
    .tp_getset = Analyzer_getset,
    .tp_init = (initproc)Analyzer_init,
    .tp_new = Analyzer_new,
};

PyObject *sc_json_encode(PyObject *module, PyObject *obj); /* jsonenc.c */

static PyMethodDef engine_functions[] = {
    {"json_encode", (PyCFunction)sc_json_encode, METH_O,
     "json_encode(obj) -> str\n--\n\nThe JSON text of a report value, exactly as json.JSONEncoder(ensure_ascii=False, "
     "allow_nan=False, separators=(', ', ': ')).encode(obj) would write it, several times faster. Raises TypeError "
     "for what it does not encode (then use the json module): see jsonenc.c."},
    {"json_compact_lines", (PyCFunction)engine_json_compact_lines, METH_VARARGS,
     "json_compact_lines(data: bytes, head: bytes) -> bytes\n--\n\nEach line of data, a JSON object written "
     "with the separators ', ' and ': ' (indented, maybe followed by a comma: associations_json(lines=True)), as "
     "one line with ',' and ':' and head in place of its opening brace. ValueError for a line that is not an "
     "object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef engine_module = {
    PyModuleDef_HEAD_INIT, "sctpcorr.wire._engine", "The C wire engine of sctpcorr (see docs/design/engine.md).",
    -1, engine_functions, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__engine(void)
{
    PyObject *m = PyModule_Create(&engine_module), *names = NULL, *causes = NULL;
    if (!m)
        return NULL;
    if (PyType_Ready(&AnalyzerType) < 0)
        goto fail;
    Py_INCREF(&AnalyzerType);
    if (PyModule_AddObject(m, "Analyzer", (PyObject *)&AnalyzerType) < 0) {
        Py_DECREF(&AnalyzerType);
        goto fail;
    }
    if (!(names = PyDict_New()))
        goto fail;
    for (unsigned t = 0; t < 256; t++) {
        const char *n = sc_chunk_name(t);
        if (!n)
            continue;
        PyObject *k = PyLong_FromUnsignedLong(t), *v = PyUnicode_FromString(n);
        int r = k && v ? PyDict_SetItem(names, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (r < 0)
            goto fail;
    }
    if (PyModule_AddObject(m, "CHUNK_NAMES", names) < 0)
        goto fail;
    names = NULL;
    if (!(causes = PyDict_New()))
        goto fail;
    for (unsigned c = 0; c < 1024; c++) {
        const char *n = sc_cause_name(c);
        if (!n)
            continue;
        PyObject *k = PyLong_FromUnsignedLong(c), *v = PyUnicode_FromString(n);
        int r = k && v ? PyDict_SetItem(causes, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (r < 0)
            goto fail;
    }
    if (PyModule_AddObject(m, "CAUSE_NAMES", causes) < 0)
        goto fail;
    causes = NULL;
    if (PyModule_AddIntConstant(m, "MAX_PATHS", SC_MAX_PATHS) < 0 ||
        PyModule_AddIntConstant(m, "MAX_STREAMS", SC_MAX_STREAMS) < 0 ||
        PyModule_AddIntConstant(m, "MAX_ADDRESSES", SC_MAX_ADDRS) < 0 ||
        PyModule_AddIntConstant(m, "MAX_PPIDS", SC_MAX_PPIDS) < 0 ||
        PyModule_AddIntConstant(m, "EVENTS_MAX", SC_EVENTS_MAX) < 0 ||
        PyModule_AddIntConstant(m, "RECORDS_MAX", SC_RECORDS_MAX) < 0 ||
        PyModule_AddIntConstant(m, "RECORD_SIZE", (long)sizeof(sc_wrec)) < 0)
        goto fail;
    {
        /* (name, offset, size) of every sc_wrec field, from the compiler: records.py checks its dtype on it */
#define F(f) {#f, offsetof(sc_wrec, f), sizeof(((sc_wrec *)0)->f)}
        static const struct {
            const char *name;
            size_t off, size;
        } fields[] = {F(ts_ns), F(frame_no), F(assoc_id), F(vtag), F(path), F(type), F(flags), F(dir), F(note),
                      F(chunk_index), F(tsn), F(a), F(b), F(c), F(x), F(y)};
#undef F
        size_t nf = sizeof fields / sizeof fields[0];
        PyObject *t = PyTuple_New((Py_ssize_t)nf);
        if (!t)
            goto fail;
        for (size_t i = 0; i < nf; i++) {
            PyObject *f = Py_BuildValue("(snn)", fields[i].name, (Py_ssize_t)fields[i].off, (Py_ssize_t)fields[i].size);
            if (!f) {
                Py_DECREF(t);
                goto fail;
            }
            PyTuple_SET_ITEM(t, (Py_ssize_t)i, f);
        }
        if (PyModule_AddObject(m, "RECORD_FIELDS", t) < 0) {
            Py_DECREF(t);
            goto fail;
        }
    }
    return m;
fail:
    Py_XDECREF(names);
    Py_XDECREF(causes);
    Py_DECREF(m);
    return NULL;
}
