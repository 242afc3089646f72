/* Shared by the wire-engine fuzz harnesses: drive an sc_analyzer the way module.c does (look-ahead peek and
 * prefetch, events (also as --jsonl text), records and payloads drained), then walk every association with the
 * report helpers module.c calls, so that state built from hostile bytes is read back too. No Python. */
#ifndef SCTPCORR_FUZZ_ENGINE_COMMON_H
#define SCTPCORR_FUZZ_ENGINE_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "evjson.h"

static volatile uint64_t fz_sink; /* keeps the reads below from being optimised away */

static void fz_touch(const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    fz_sink += s;
}

/* Selector byte -> analyzer options: small limits are where eviction and overflow code runs. */
static sc_analyzer *fz_analyzer(uint8_t sel)
{
    static const uint64_t max_assocs[4] = {1, 3, 64, 1000000};
    static const uint32_t max_out[4] = {16, 64, 1024, 65536};
    static const int64_t dup[2] = {5000000, 0};
    sc_analyzer *an = sc_an_new((1u << SC_EV_KINDS) - 1u, dup[(sel >> 4) & 1], max_assocs[sel & 3],
                                max_out[(sel >> 2) & 3]);
    if (!an)
        return NULL;
    an->records = !(sel & 0x20);
    an->payloads = !(sel & 0x40);
    return an;
}

/* The events as `sctpcorr pcap --jsonl` lines (Analyzer.drain_events_jsonl): within the bound the caller
 * allocates (ASan sees a write past it), one line per event, each an object that the line compaction of the
 * association records (json_compact_lines) gives back unchanged. */
static void fz_events_jsonl(const sc_analyzer *an)
{
    uint32_t n = sc_an_events_pending(an);
    size_t bound = sc_events_jsonl_bound(an);
    char *text = malloc(bound ? bound : 1);
    if (!text)
        return;
    uint64_t counts[SC_EV_KINDS] = {0};
    size_t len = sc_events_jsonl(text, an, 7, counts);
    uint64_t lines = 0, written = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    for (unsigned k = 0; k < SC_EV_KINDS; k++)
        written += counts[k];
    if (len > bound || lines != written || written > n)
        __builtin_trap();
    char *again = malloc(sc_json_lines_compact_bound(text, len, 1));
    if (again) {
        size_t skipped = 0, len2 = sc_json_lines_compact(again, text, len, "{", 1, &skipped);
        if (skipped || len2 != len || memcmp(again, text, len) != 0)
            __builtin_trap();
        free(again);
    }
    free(text);
}

/* What Python would take out between feeds. */
static void fz_drain(sc_analyzer *an)
{
    uint32_t n = sc_an_events_pending(an);
    for (uint32_t i = 0; i < n; i++) {
        const sc_event *e = sc_an_event(an, i);
        fz_sink += (uint64_t)e->v[0] + e->kind + e->ncauses;
    }
    fz_events_jsonl(an);
    sc_an_events_clear(an);
    if (sc_an_records_pending(an))
        fz_touch((const uint8_t *)sc_an_records(an), sc_an_records_pending(an) * sizeof(sc_wrec));
    sc_an_records_clear(an);
    if (an->pay_n) {
        /* walk the payload buffer as sctpcorr.telecom reads it: header, caplen bytes, padded to 8 */
        size_t off = 0;
        while (off + sizeof(sc_payhdr) <= an->pay_n) {
            const sc_payhdr *h = (const sc_payhdr *)(an->pay + off);
            size_t need = sizeof *h + ((h->caplen + 7u) & ~7u);
            if (off + need > an->pay_n)
                __builtin_trap(); /* the engine wrote a header its data does not follow */
            fz_touch(an->pay + off + sizeof *h, h->caplen);
            off += need;
        }
        an->pay_n = 0;
    }
}

/* The report: every association, path, direction and stream, as module.c's build_* functions read them. */
static void fz_report(sc_analyzer *an)
{
    for (uint64_t i = 0; i < an->nassocs; i++) {
        const sc_assoc *A = sc_an_assoc_open(an, i);   /* a folded one is read back from its spill (fold.c) */
        if (!A)
            continue;
        sc_vantage v;
        sc_vantage_assoc(A, &v);
        fz_sink += (uint64_t)v.full_ns + v.point;
        fz_sink += (uintptr_t)sc_state_name(A->state);
        for (unsigned p = 0; p < A->npaths; p++) {
            sc_vantage_path(A, p, &v);
            const sc_path *P = &A->paths[p];
            fz_sink += sc_path_hb_unanswered(P) + (uint64_t)sc_rtt_rto(&P->rtt) + (uint64_t)sc_rtt_mean(&P->rtt) +
                       (uint64_t)sc_rtt_percentile(&P->rtt, 50.0) + (uint64_t)sc_rtt_percentile(&P->rtt, 99.0);
        }
        for (unsigned e = 0; e < 2; e++) {
            const sc_dir *D = &A->dir[e];
            fz_sink += (uint64_t)sc_rtt_percentile(&D->rtt, 0.0) + (uint64_t)sc_rtt_percentile(&D->rtt, 90.0) +
                       (uint64_t)sc_rtt_percentile(&D->rtt, 100.0) + (uint64_t)sc_rtt_rto(&D->rtt) +
                       (uint64_t)sc_rtt_mean(&D->rtt) + (uint64_t)sc_jitter_value(&D->jit);
            for (uint32_t s = 0; s < D->nstreams; s++)
                fz_sink += (uint64_t)sc_jitter_value(&D->streams[s].jit);
        }
        if (A->abort)
            for (unsigned c = 0; c < A->abort->ncauses && c < SC_MAX_CAUSES; c++)
                fz_sink += (uintptr_t)sc_cause_name(A->abort->causes[c]);
        for (unsigned e = 0; e < 2; e++)
            if (A->init[e]) {
                fz_touch((const uint8_t *)A->init[e]->hostname, A->init[e]->hostname_len < SC_MAX_HOSTNAME
                                                                  ? A->init[e]->hostname_len : SC_MAX_HOSTNAME);
                for (unsigned x = 0; x < A->init[e]->nexts && x < SC_MAX_EXTS; x++)
                    fz_sink += (uintptr_t)sc_chunk_name(A->init[e]->exts[x]);
            }
        sc_an_assoc_close(an, i, A);
    }
}

#endif
