/* libFuzzer target: link-layer frames straight into the decoder and analyzer (decode.c: Ethernet/VLAN/QinQ,
 * SLL/SLL2, raw IP, BSD loopback, IPv4/IPv6, fragment reassembly, ICMP-quoted SCTP, CRC32c; analyze.c and its
 * an_*.c files: every chunk and parameter), skipping the capture-file layer so that mutations land in the packets.
 *
 * Input: one selector byte (analyzer options, engine_common.h), then frames, each
 *     u8 link type index | u8 time step | u16 length (big endian) | length bytes
 * The link type index picks from the types decode.c knows (plus one it does not); the time step advances the
 * capture clock (0 repeats the time stamp: duplicate-frame detection).  A short tail is one last frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_common.h"

static const uint32_t LINKTYPES[] = {
    1,   /* EN10MB */
    113, /* LINUX_SLL */
    276, /* LINUX_SLL2 */
    101, /* RAW */
    228, /* IPV4 */
    229, /* IPV6 */
    0,   /* NULL (BSD loopback) */
    108, /* LOOP */
    12,  /* RAW (OpenBSD value) */
    14,  /* RAW (alias) */
    147, /* USER0: unknown */
};
#define NLT (sizeof LINKTYPES / sizeof LINKTYPES[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    sc_analyzer *an = fz_analyzer(data[0]);
    if (!an)
        return 0;
    size_t off = 1;
    int64_t ts = 1700000000000000000LL;
    uint64_t frame = 0;
    while (off + 4 <= size) {
        uint32_t lt = LINKTYPES[data[off] % NLT];
        uint8_t step = data[off + 1];
        size_t len = (size_t)data[off + 2] << 8 | data[off + 3];
        off += 4;
        if (len > size - off)
            len = size - off;
        /* a heap copy of exactly the frame: any read past caplen is an ASan report */
        uint8_t *f = malloc(len ? len : 1);
        if (!f)
            break;
        memcpy(f, data + off, len);
        off += len;
        /* steps: 0 same time, small: microseconds, 0xf0..0xfd: seconds (timeouts, idle), 0xfe: far away,
         * 0xff: the clock steps back */
        uint64_t u = (uint64_t)ts;   /* unsigned: the harness's own clock wraps, never UB */
        if (step == 0xff)
            u -= 1000000000u;
        else if (step == 0xfe)   /* a time stamp from far away (pcapng allows any 64-bit value) */
            u = ts > 0 ? (uint64_t)INT64_MIN + (u & 0xffff) : (uint64_t)INT64_MAX - (u & 0xffff);
        else if (step >= 0xf0)
            u += (uint64_t)(step - 0xef) * 7000000000u;
        else
            u += (uint64_t)step * 1000u;
        ts = (int64_t)u;
        sc_record rec = {
            .ts_ns = ts, .frame_no = ++frame, .linktype = lt, .interface_id = 0,
            .caplen = (uint32_t)len, .origlen = (uint32_t)len + (step & 1 ? 0 : 4), .data = f,
        };
        sc_peek pk;
        sc_an_peek(an, &rec, &pk);
        sc_an_prefetch(an, &pk);
        sc_an_prefetch_deep(&pk);
        sc_an_record(an, &rec);
        free(f);
        if ((frame & 7) == 0)
            fz_drain(an);
    }
    fz_drain(an);
    fz_report(an);
    sc_an_free(an);
    return 0;
}
