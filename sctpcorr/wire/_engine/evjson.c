/* evjson.c: the engine's events written as `sctpcorr pcap --jsonl` lines straight from the event queue
 * (Analyzer.drain_events_jsonl), and JSON text made compact (json_compact_lines). The --jsonl "association"
 * records were made with it from the --json document's text; assocjson.c now writes them compact itself
 * (associations_json(jsonl=True)), and the compaction remains the check the fuzz harnesses hold every event
 * line to (fuzz/c/engine_common.h: a compact JSON object gives itself back).
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
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "evjson.h"

const char *const sc_ev_json_names[SC_EV_KINDS] = {
    "assoc_new", "state", "rtt", "retransmission", "sack", "window", "heartbeat_unanswered", "duplicate_frame",
    "abort", "spurious",
};

/* The start of each kind's line, up to the ts_ns value, in HEAD_ROOM bytes: copied whole (a fixed-size copy is
 * a few vector moves; a copy of the length alone was a `rep movsq`, a quarter of the time of a line). */
#define HEAD_ROOM 48
#define HEAD(k) "{\"type\":\"" k "\",\"ts_ns\":"
static const struct {
    char s[HEAD_ROOM];
    unsigned char n;
} EV_HEAD[SC_EV_KINDS] = {
#define H(k) {HEAD(k), sizeof(HEAD(k)) - 1}
    H("assoc_new"), H("state"), H("rtt"), H("retransmission"), H("sack"), H("window"), H("heartbeat_unanswered"),
    H("duplicate_frame"), H("abort"), H("spurious"),
#undef H
};

/* The longest line of an event (IPv6 addresses and 20-digit numbers everywhere: about 500 bytes), and what each
 * ABORT cause can add to it (names are written at most NAME_MAX bytes long; the longest has 44). The fuzz
 * harness holds sc_events_jsonl to sc_events_jsonl_bound under ASan. */
#define EV_LINE_MAX 768
#define NAME_MAX_LEN 64
#define CAUSE_MAX (NAME_MAX_LEN + 4)

/* ------------------------------------------------------------------------------------------------ */
/* Values, written at o (room checked by the caller); each returns the new end                        */
/* ------------------------------------------------------------------------------------------------ */

static const char DIGITS2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

/* v < 10^8 in decimal: two digits a step, with 32-bit arithmetic */
static inline char *put_u32small(char *o, uint32_t v)
{
    int n = v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 : v < 10000000 ? 7 : 8;
    char *e = o + n;
    while (v >= 100) {
        unsigned r = v % 100;
        v /= 100;
        e -= 2;
        memcpy(e, DIGITS2 + 2 * r, 2);
    }
    if (v >= 10)
        memcpy(e - 2, DIGITS2 + 2 * v, 2);
    else
        e[-1] = (char)('0' + v);
    return o + n;
}

/* v < 10^8 as 8 digits, zero-padded */
static inline void put8(char *o, uint32_t v)
{
    uint32_t hi = v / 10000, lo = v % 10000;
    memcpy(o, DIGITS2 + 2 * (hi / 100), 2);
    memcpy(o + 2, DIGITS2 + 2 * (hi % 100), 2);
    memcpy(o + 4, DIGITS2 + 2 * (lo / 100), 2);
    memcpy(o + 6, DIGITS2 + 2 * (lo % 100), 2);
}

/* Decimal, in groups of 8 digits: a timestamp (19 digits) takes two 64-bit divisions instead of nine */
static inline char *put_u64(char *o, uint64_t v)
{
    if (v < 100000000u)
        return put_u32small(o, (uint32_t)v);
    if (v < 10000000000000000u) {
        o = put_u32small(o, (uint32_t)(v / 100000000u));
        put8(o, (uint32_t)(v % 100000000u));
        return o + 8;
    }
    uint64_t low = v % 10000000000000000u;
    o = put_u32small(o, (uint32_t)(v / 10000000000000000u));
    put8(o, (uint32_t)(low / 100000000u));
    put8(o + 8, (uint32_t)(low % 100000000u));
    return o + 16;
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

/* "name" for a static name (states, chunks, causes; an IPv6 address), cut at NAME_MAX_LEN bytes (none is as
 * long) so that a line stays within its bound */
static inline char *put_name(char *o, const char *s)
{
    size_t n = strnlen(s, NAME_MAX_LEN);
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

/* quoted, padded to 16 bytes (copied whole, as EV_HEAD) */
static const struct {
    char s[16];
    unsigned char n;
} RTT_METHODS[3] = {{"\"data\"", 6}, {"\"heartbeat\"", 11}, {"\"handshake\"", 11}},
  RTX_KINDS[3] = {{"\"fast\"", 6}, {"\"timeout\"", 9}, {"\"unknown\"", 9}};

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

/* ,"file":N,"frame_no": fits in (and is copied as) MID_ROOM bytes */
#define MID_ROOM 32

/* The line of one event at o; returns its end. */
static char *event_line(char *o, const sc_event *e, const char *mid, size_t mid_n)
{
    memcpy(o, EV_HEAD[e->kind].s, HEAD_ROOM);
    o += EV_HEAD[e->kind].n;
    o = put_i64(o, e->ts_ns);
    memcpy(o, mid, MID_ROOM); /* ,"file":N,"frame_no": */
    o += mid_n;
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
        memcpy(o, RTT_METHODS[e->b1 % 3].s, 16);
        o += RTT_METHODS[e->b1 % 3].n;
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
        memcpy(o, RTX_KINDS[e->b1 % 3].s, 16);
        o += RTX_KINDS[e->b1 % 3].n;
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
        for (unsigned i = 0; i < e->ncauses && i < SC_MAX_CAUSES; i++) {
            if (i)
                *o++ = ',';
            o = put_named(o, sc_cause_name(e->causes[i]), e->causes[i]);
        }
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
    return o;
}

size_t sc_events_jsonl_bound(const sc_analyzer *an)
{
    return (size_t)sc_an_events_pending(an) * (EV_LINE_MAX + SC_MAX_CAUSES * CAUSE_MAX);
}

size_t sc_events_jsonl(char *out, const sc_analyzer *an, unsigned file_index, uint64_t counts[SC_EV_KINDS])
{
    char mid[MID_ROOM + 16] = {0};
    char *m = LIT(mid, ",\"file\":");
    m = put_u64(m, file_index);
    m = LIT(m, ",\"frame_no\":");
    size_t mid_n = (size_t)(m - mid);
    char *o = out;
    uint32_t n = sc_an_events_pending(an);
    for (uint32_t i = 0; i < n; i++) {
        const sc_event *e = sc_an_event(an, i);
        if (e->kind >= SC_EV_KINDS) /* not a kind build_event knows (it raises): nothing is written */
            continue;
        o = event_line(o, e, mid, mid_n);
        counts[e->kind]++;
    }
    return (size_t)(o - out);
}

/* ------------------------------------------------------------------------------------------------ */
/* Compact JSON                                                                                      */
/* ------------------------------------------------------------------------------------------------ */

/* Text written with ", " and ": " (and no indent) has no whitespace outside strings but the space after each
 * separator: outside strings every space is dropped. Inside a string every byte is copied; a backslash copies
 * the byte after it too, so an escaped quote does not end the string.
 *
 * Speed: association text has a quote or a space every 4 bytes, so a byte loop that branches on them
 * mispredicts all the time (3 cycles a byte, 0.5 s for the 100,000 associations of the scale corpus). With SSE2,
 * 64 bytes at a time: bit masks of their quotes, backslashes and spaces; which bytes are inside a string is the
 * prefix XOR of the quote mask (no backslash in the block: a block with one goes through the byte loop); the
 * spaces outside strings are cut out between 16-byte copies. Writes at most n + COMPACT_SLACK bytes at o;
 * returns the end of the copy. */
#define COMPACT_SLACK 16

typedef struct {
    int in_str;  /* inside a string */
    int escaped; /* inside a string, after a backslash */
} compact_state;

static inline char *compact_bytes(char *o, const unsigned char *p, size_t n, compact_state *st)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (!st->in_str) {
            if (c == ' ')
                continue;
            *o++ = (char)c;
            st->in_str = c == '"';
        } else {
            *o++ = (char)c;
            if (st->escaped)
                st->escaped = 0;
            else if (c == '\\')
                st->escaped = 1;
            else if (c == '"')
                st->in_str = 0;
        }
    }
    return o;
}

#if defined(__SSE2__)
#include <emmintrin.h>

static inline uint64_t mask64(const unsigned char *p, __m128i c)
{
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        m |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, c)) << (16 * k);
    }
    return m;
}

static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* n bytes from p to o, 16 at a time (p + n rounded up to 16 must be readable, o likewise writable) */
static inline char *copy16s(char *o, const unsigned char *p, size_t n)
{
    for (size_t k = 0; k < n; k += 16)
        _mm_storeu_si128((__m128i *)(void *)(o + k), _mm_loadu_si128((const __m128i *)(const void *)(p + k)));
    return o + n;
}
#endif

static char *compact(char *o, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    compact_state st = {0, 0};
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), space = _mm_set1_epi8(' '), bslash = _mm_set1_epi8('\\');
    while (end - p >= 64 + 16) { /* the 16-byte copies read up to 16 bytes past the block */
        if (st.escaped || mask64(p, bslash)) {
            o = compact_bytes(o, p, 64, &st);
            p += 64;
            continue;
        }
        uint64_t in = prefix_xor(mask64(p, quote)) ^ (st.in_str ? ~(uint64_t)0 : 0);
        st.in_str = (int)(in >> 63);
        uint64_t drop = mask64(p, space) & ~in;
        size_t from = 0;
        while (drop) {
            size_t d = (size_t)__builtin_ctzll(drop);
            drop &= drop - 1;
            o = copy16s(o, p + from, d - from);
            from = d + 1;
        }
        o = copy16s(o, p + from, 64 - from);
        p += 64;
    }
#endif
    return compact_bytes(o, p, (size_t)(end - p), &st);
}

size_t sc_json_compact(char *out, const char *s, size_t n)
{
    return (size_t)(compact(out, s, n) - out);
}

size_t sc_json_lines_compact_bound(const char *s, size_t n, size_t head_n)
{
    size_t lines = 1;
    for (const char *p = s, *end = s + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        lines++;
    return n + lines * (head_n + 1) + COMPACT_SLACK;
}

size_t sc_json_lines_compact(char *out, const char *s, size_t n, const char *head, size_t head_n, size_t *skipped)
{
    char *o = out;
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
        memcpy(o, head, head_n);
        o += head_n;
        const char *body = s + a + 1; /* after the brace */
        size_t body_n = b - a - 1, k = 0;
        while (k < body_n - 1 && body[k] == ' ')
            k++;
        if (k == body_n - 1) { /* "{}": no members, so no comma after the head */
            if (head_n && o[-1] == ',')
                o--;
            *o++ = '}';
        } else {
            o = compact(o, body, body_n);
        }
        *o++ = '\n';
    }
    return (size_t)(o - out);
}
