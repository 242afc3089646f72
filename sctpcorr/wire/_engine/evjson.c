/* evjson.c: the engine's events written as `sctpcorr pcap --jsonl` lines straight from the event queue
 * (Analyzer.drain_events_jsonl), and JSON text made compact (json_compact_lines: the --jsonl "association"
 * records from the --json document's association text).
 *
 * Why (issue #12): on the 100,000-association scale corpus (3.8 million packets, 5.3 million events) the engine
 * fed the file in ~2.3 s of CPU, and `--jsonl` took ~30 s: every event became a tuple (drain_events), a dict
 * (pipeline.event_to_dict) and a str (the json module), and the 100,000 association records went through
 * Analyzer.report() (all of them as Python objects at once). Here each event is a few hundred bytes of text
 * written into one buffer per drain; no Python object per event.
 *
 * Contract: every line is byte for byte what report/jsonl.py writes for the same event through
 * pipeline.event_to_dict (json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)): the keys of
 * engine.EVENT_FIELDS after "type", "ts_ns", "file", "frame_no", "assoc_id", and the values module.c's
 * build_event gives them (names of states, chunks, causes, methods; null where build_event gives None). A
 * change to build_event is a change here too: tests/unit/test_events_jsonl.py compares both on every corpus
 * capture. Nothing here needs escaping: every string is a name from a static table, a decimal number or an
 * address. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "evjson.h"

const char *const sc_ev_json_names[SC_EV_KINDS] = {
    "assoc_new", "state", "rtt", "retransmission", "sack", "window", "heartbeat_unanswered", "duplicate_frame",
    "abort", "spurious",
};

/* The start of each kind's line, up to the ts_ns value. */
#define HEAD(k) "{\"type\":\"" k "\",\"ts_ns\":"
static const struct {
    const char *s;
    unsigned char n;
} EV_HEAD[SC_EV_KINDS] = {
#define H(k) {HEAD(k), sizeof(HEAD(k)) - 1}
    H("assoc_new"), H("state"), H("rtt"), H("retransmission"), H("sack"), H("window"), H("heartbeat_unanswered"),
    H("duplicate_frame"), H("abort"), H("spurious"),
#undef H
};

/* ------------------------------------------------------------------------------------------------ */
/* The buffer (sc_jw, as assocjson.c fills it: realloc'd, freed by the caller with free())           */
/* ------------------------------------------------------------------------------------------------ */

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

/* Room for one event line without its variable-length names (states, chunk and cause names, IPv6 addresses are
 * bounded below too, but abort causes are written with their own check). */
#define EV_ROOM 1024

/* ------------------------------------------------------------------------------------------------ */
/* Values, written at o (room checked by the caller); each returns the new end                        */
/* ------------------------------------------------------------------------------------------------ */

static const char DIGITS2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

static inline char *put_u64(char *o, uint64_t v)
{
    char t[24];
    int n = 24;
    while (v >= 100) { /* two digits a division: timestamps have 19 */
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t[--n] = DIGITS2[2 * r + 1];
        t[--n] = DIGITS2[2 * r];
    }
    if (v >= 10) {
        t[--n] = DIGITS2[2 * v + 1];
        t[--n] = DIGITS2[2 * v];
    } else {
        t[--n] = (char)('0' + v);
    }
    memcpy(o, t + n, 24 - (size_t)n);
    return o + (24 - n);
}

static inline char *put_i64(char *o, int64_t v)
{
    if (v < 0) {
        *o++ = '-';
        return put_u64(o, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(o, (uint64_t)v);
}

static inline char *put_lit(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}
#define LIT(o, s) put_lit((o), (s), sizeof(s) - 1)

/* build_event's i64_or_none */
static inline char *put_i64n(char *o, int64_t v)
{
    return v == SC_NOTS ? LIT(o, "null") : put_i64(o, v);
}

static inline char *put_bool(char *o, int v)
{
    return v ? LIT(o, "true") : LIT(o, "false");
}

/* "name" for a static name of at most 64 bytes (states, chunks, methods, kinds, directions) */
static inline char *put_name(char *o, const char *s)
{
    size_t n = strlen(s);
    *o++ = '"';
    memcpy(o, s, n);
    o += n;
    *o++ = '"';
    return o;
}

/* module.c's addr_str: dotted quad by hand, inet_ntop for IPv6, null otherwise (at most 48 bytes) */
static char *put_addr(char *o, const sc_addr *a)
{
    if (a->family == 4) {
        *o++ = '"';
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
        *o++ = '"';
        return o;
    }
    char buf[INET6_ADDRSTRLEN];
    if (a->family != 6 || !inet_ntop(AF_INET6, a->a, buf, sizeof buf))
        return LIT(o, "null");
    return put_name(o, buf);
}

/* build_event's state_obj: the state's name, null when out of range or unnamed */
static char *put_state(char *o, int64_t st)
{
    const char *n = st >= 0 && st < SC_ST_COUNT ? sc_state_name((unsigned)st) : NULL;
    return n ? put_name(o, n) : LIT(o, "null");
}

/* chunk_name_obj / cause_name_obj: the name, or the number as a string */
static char *put_named(char *o, const char *name, unsigned code)
{
    if (name)
        return put_name(o, name);
    *o++ = '"';
    o = put_u64(o, code);
    *o++ = '"';
    return o;
}

static const char *const RTT_METHODS[3] = {"\"data\"", "\"heartbeat\"", "\"handshake\""};
static const char *const RTX_KINDS[3] = {"\"fast\"", "\"timeout\"", "\"unknown\""};

/* ,"direction":"A>B" */
static inline char *put_dir(char *o, unsigned dir)
{
    return (dir & 1) ? LIT(o, ",\"direction\":\"B>A\"") : LIT(o, ",\"direction\":\"A>B\"");
}

/* ,"src":"…","dst":"…" */
static inline char *put_path(char *o, const sc_event *e)
{
    o = LIT(o, ",\"src\":");
    o = put_addr(o, &e->src);
    o = LIT(o, ",\"dst\":");
    return put_addr(o, &e->dst);
}

/* ------------------------------------------------------------------------------------------------ */
/* Events                                                                                            */
/* ------------------------------------------------------------------------------------------------ */

/* The line of one event; -1 on an allocation failure. */
static int event_line(sc_jw *w, const sc_event *e, const char *mid, size_t mid_n)
{
    if (grow(w, EV_ROOM) < 0)
        return -1;
    char *o = w->p + w->n;
    o = put_lit(o, EV_HEAD[e->kind].s, EV_HEAD[e->kind].n);
    o = put_i64(o, e->ts_ns);
    o = put_lit(o, mid, mid_n); /* ,"file":N,"frame_no": */
    o = put_u64(o, e->frame_no);
    o = LIT(o, ",\"assoc_id\":");
    if (e->kind == SC_EV_DUPLICATE && !e->assoc_id)
        o = LIT(o, "null");
    else
        o = put_u64(o, e->assoc_id);
    switch (e->kind) {
    case SC_EV_ASSOC_NEW:
        o = LIT(o, ",\"ports\":[");
        o = put_i64(o, e->v[0]);
        *o++ = ',';
        o = put_i64(o, e->v[1]);
        o = LIT(o, "],\"mid_association\":");
        o = put_bool(o, e->b1);
        break;
    case SC_EV_STATE:
        o = LIT(o, ",\"old\":");
        o = put_state(o, e->v[0]);
        o = LIT(o, ",\"new\":");
        o = put_state(o, e->v[1]);
        o = LIT(o, ",\"chunk\":");
        o = put_named(o, sc_chunk_name((unsigned)e->v[2]), (unsigned)e->v[2]);
        break;
    case SC_EV_RTT:
        o = put_dir(o, e->dir);
        o = put_path(o, e);
        o = LIT(o, ",\"method\":");
        o = put_lit(o, RTT_METHODS[e->b1 % 3], strlen(RTT_METHODS[e->b1 % 3]));
        o = LIT(o, ",\"rtt_ns\":");
        o = put_i64(o, e->v[0]);
        o = LIT(o, ",\"tsn\":");
        o = e->b2 ? put_i64(o, e->v[1]) : LIT(o, "null");
        o = LIT(o, ",\"delayed_sack\":");
        o = put_bool(o, e->b3);
        o = LIT(o, ",\"srtt_ns\":");
        o = put_i64(o, e->v[2]);
        o = LIT(o, ",\"rttvar_ns\":");
        o = put_i64(o, e->v[3]);
        o = LIT(o, ",\"rto_ns\":");
        o = put_i64(o, e->v[4]);
        break;
    case SC_EV_RETRANSMISSION:
        o = put_dir(o, e->dir);
        o = put_path(o, e);
        o = LIT(o, ",\"tsn\":");
        o = put_i64(o, e->v[0]);
        o = LIT(o, ",\"kind\":");
        o = put_lit(o, RTX_KINDS[e->b1 % 3], strlen(RTX_KINDS[e->b1 % 3]));
        o = LIT(o, ",\"spurious\":");
        o = put_bool(o, e->b2);
        o = LIT(o, ",\"since_first_ns\":");
        o = put_i64n(o, e->v[1]);
        o = LIT(o, ",\"first_frame\":");
        o = put_i64n(o, e->v[2]);
        break;
    case SC_EV_SACK:
        o = put_dir(o, e->dir);
        o = LIT(o, ",\"cum_tsn_ack\":");
        o = put_i64(o, e->v[0]);
        o = LIT(o, ",\"a_rwnd\":");
        o = put_i64(o, e->v[1]);
        o = LIT(o, ",\"gap_blocks\":");
        o = put_i64(o, e->v[2]);
        o = LIT(o, ",\"dup_tsns\":");
        o = put_i64(o, e->v[3]);
        o = LIT(o, ",\"flight_bytes\":");
        o = put_i64(o, e->v[4]);
        break;
    case SC_EV_WINDOW:
        o = put_dir(o, e->dir);
        o = LIT(o, ",\"a_rwnd\":");
        o = put_i64(o, e->v[0]);
        o = LIT(o, ",\"zero\":");
        o = put_bool(o, e->b1);
        break;
    case SC_EV_HB_UNANSWERED:
        o = put_dir(o, e->dir);
        o = put_path(o, e);
        o = LIT(o, ",\"sent_ns\":");
        o = put_i64(o, e->v[0]);
        break;
    case SC_EV_DUPLICATE:
        o = LIT(o, ",\"first_frame\":");
        o = put_i64(o, e->v[0]);
        break;
    case SC_EV_ABORT:
        o = put_dir(o, e->dir);
        o = LIT(o, ",\"t_bit\":");
        o = put_bool(o, e->b1);
        o = LIT(o, ",\"causes\":[");
        for (unsigned i = 0; i < e->ncauses; i++) {
            const char *n = sc_cause_name(e->causes[i]);
            w->n = (size_t)(o - w->p);
            if (grow(w, (n ? strlen(n) : 0) + 32) < 0) /* names are not bounded by EV_ROOM */
                return -1;
            o = w->p + w->n;
            if (i)
                *o++ = ',';
            o = put_named(o, n, e->causes[i]);
        }
        w->n = (size_t)(o - w->p);
        if (grow(w, 8) < 0)
            return -1;
        o = w->p + w->n;
        *o++ = ']';
        break;
    case SC_EV_SPURIOUS:
        o = put_dir(o, e->dir);
        o = put_path(o, e);
        o = LIT(o, ",\"tsn\":");
        o = put_i64(o, e->v[0]);
        o = LIT(o, ",\"first_frame\":");
        o = put_i64n(o, e->v[1]);
        o = LIT(o, ",\"reason\":\"dup_tsn\"");
        break;
    default:
        break;
    }
    *o++ = '}';
    *o++ = '\n';
    w->n = (size_t)(o - w->p);
    return 0;
}

void sc_events_jsonl(sc_jw *w, const sc_analyzer *an, unsigned file_index, uint64_t counts[SC_EV_KINDS])
{
    char mid[48];
    char *m = LIT(mid, ",\"file\":");
    m = put_u64(m, file_index);
    m = LIT(m, ",\"frame_no\":");
    size_t mid_n = (size_t)(m - mid);
    uint32_t n = sc_an_events_pending(an);
    for (uint32_t i = 0; i < n; i++) {
        const sc_event *e = sc_an_event(an, i);
        if (e->kind >= SC_EV_KINDS) /* not a kind build_event knows (it raises): nothing is written */
            continue;
        if (event_line(w, e, mid, mid_n) < 0)
            return;
        counts[e->kind]++;
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Compact JSON                                                                                      */
/* ------------------------------------------------------------------------------------------------ */

/* From JSON text written with ", " and ": ": outside strings, a ',' or ':' is a separator and the space after it
 * is dropped; nothing else outside strings can be a space. Inside a string every byte is copied; a backslash
 * copies the byte after it too, so an escaped quote does not end the string. Returns the end of the copy. */
static char *compact(char *o, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* outside a string: copy up to the next quote, dropping the space after each separator */
        while (i < n) {
            char c = s[i++];
            *o++ = c;
            if (c == '"')
                break;
            if ((c == ',' || c == ':') && i < n && s[i] == ' ')
                i++;
        }
        /* inside a string: up to its closing quote */
        while (i < n) {
            const char *q = memchr(s + i, '"', n - i);
            size_t end = q ? (size_t)(q - s) : n;
            const char *bs = memchr(s + i, '\\', end - i);
            if (bs) { /* copy through the escape and look again */
                size_t k = (size_t)(bs - s) + 2 <= n ? (size_t)(bs - s) + 2 : n;
                memcpy(o, s + i, k - i);
                o += k - i;
                i = k;
                continue;
            }
            memcpy(o, s + i, end - i);
            o += end - i;
            i = end;
            if (i < n)
                *o++ = s[i++]; /* the closing quote */
            break;
        }
    }
    return o;
}

void sc_json_compact(sc_jw *w, const char *s, size_t n)
{
    if (grow(w, n) < 0)
        return;
    w->n = (size_t)(compact(w->p + w->n, s, n) - w->p);
}

void sc_json_lines_compact(sc_jw *w, const char *s, size_t n, const char *head, size_t head_n, size_t *skipped)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n, next = nl ? end + 1 : n;
        size_t a = i, b = end;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\r'))
            b--;
        if (b > a && s[b - 1] == ',')
            b--;
        i = next;
        if (b - a < 2 || s[a] != '{' || s[b - 1] != '}') {
            if (b > a)
                (*skipped)++;
            continue;
        }
        if (grow(w, head_n + (b - a) + 2) < 0)
            return;
        char *o = w->p + w->n;
        memcpy(o, head, head_n);
        o += head_n;
        const char *body = s + a + 1; /* after the brace */
        size_t body_n = b - a - 1;
        size_t k = 0;
        while (k < body_n - 1 && body[k] == ' ') /* "{}" or "{ }": no members, no comma after the head */
            k++;
        if (body[k] == '}' && k == body_n - 1) {
            if (head_n && o[-1] == ',')
                o--;
            *o++ = '}';
        } else {
            o = compact(o, body, body_n);
        }
        *o++ = '\n';
        w->n = (size_t)(o - w->p);
    }
}
