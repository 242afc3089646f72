/* libFuzzer target: a pcap/pcapng byte stream through the whole wire engine, as sctpcorr.wire._engine's
 * Analyzer.feed_capture() drives it (capture.c -> decode.c -> analyze.c, with module.c's look-ahead peek and
 * prefetch), then the report helpers over every association.
 *
 * Input: one selector byte, then the capture bytes.  Selector: bits 0-6 analyzer options (engine_common.h);
 * bit 7 copied feeds (sc_capture_feed) instead of borrowed ones.  An odd last byte turns folding on (fold.c:
 * ended associations folded at the next tick, idle ones after 1 ms), ticked between blocks.  The capture is cut into blocks whose sizes
 * come from the last byte, so records split across feeds are exercised too.  The stream is then finished and a
 * second copy of its first half fed (finish resets the reader: a new stream, the same analyzer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_common.h"

#define LOOKAHEAD 16
#define PREFETCH_AT 8
#define PREFETCH_DEEP_AT 3

/* module.c's drain_capture(), minus the GIL */
static int drain_capture(sc_analyzer *an, sc_capture *cap)
{
    sc_record rec[LOOKAHEAD];
    sc_peek pk[LOOKAHEAD];
    unsigned head = 0, count = 0;
    int more = 1, err = 0;
    for (;;) {
        while (more && count < LOOKAHEAD) {
            unsigned i = (head + count) & (LOOKAHEAD - 1);
            sc_cap_status st = sc_capture_next(cap, &rec[i]);
            if (st != SC_CAP_OK) {
                err = st == SC_CAP_ERROR;
                more = 0;
                break;
            }
            fz_touch(rec[i].data, rec[i].caplen);   /* every captured byte must be readable */
            sc_an_peek(an, &rec[i], &pk[i]);
            count++;
        }
        if (!count)
            return err;
        if (count > PREFETCH_AT)
            sc_an_prefetch(an, &pk[(head + PREFETCH_AT) & (LOOKAHEAD - 1)]);
        if (count > PREFETCH_DEEP_AT)
            sc_an_prefetch_deep(&pk[(head + PREFETCH_DEEP_AT) & (LOOKAHEAD - 1)]);
        sc_an_record(an, &rec[head]);
        head = (head + 1) & (LOOKAHEAD - 1);
        count--;
    }
}

static int feed_stream(sc_analyzer *an, sc_capture *cap, const uint8_t *data, size_t size, size_t block, int copy)
{
    for (size_t off = 0; off < size;) {
        size_t n = size - off < block ? size - off : block;
        /* a private heap copy per block: ASan then sees any read past the block the engine was lent */
        uint8_t *b = malloc(n ? n : 1);
        if (!b)
            return -1;
        memcpy(b, data + off, n);
        int err;
        if (copy) {
            if (sc_capture_feed(cap, b, n) < 0) {
                free(b);
                return -1;
            }
            free(b);
            err = drain_capture(an, cap);
        } else {
            if (sc_capture_feed_borrowed(cap, b, n) < 0) {
                free(b);
                return -1;
            }
            err = drain_capture(an, cap);
            int rel = sc_capture_release(cap);
            free(b);
            if (rel < 0)
                return -1;
        }
        fz_drain(an);
        sc_fold_tick(an, 64);   /* between blocks, as module.c does */
        if (err) {
            fz_sink += (uintptr_t)sc_capture_error(cap);
            return 1;
        }
        off += n;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t sel = data[0];
    size_t block = data[size - 1] < 16 ? size : (size_t)data[size - 1] * 3u;
    data++;
    size--;
    sc_analyzer *an = fz_analyzer(sel & 0x7f);
    if (an && (data[size - 1] & 1))   /* folding (fold.c): every association that ended, and idle after 1 ms */
        sc_fold_config(an, 1, 1000000);
    sc_capture *cap = sc_capture_new();
    if (an && cap) {
        feed_stream(an, cap, data, size, block, sel & 0x80);
        size_t left = sc_capture_finish(cap);
        uint32_t lt[64];
        fz_sink += left + sc_capture_packets(cap) + sc_capture_format(cap) + sc_capture_caplen_gt_origlen(cap) +
                   sc_capture_linktypes(cap, lt, 64);
        feed_stream(an, cap, data, size / 2, block, !(sel & 0x80));
        sc_capture_finish(cap);
        fz_drain(an);
        fz_report(an);
    }
    sc_capture_free(cap);
    sc_an_free(an);
    return 0;
}
