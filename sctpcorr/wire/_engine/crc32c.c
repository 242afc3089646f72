/*
 * CRC32c (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78) for the SCTP checksum.
 *
 * RFC 9260 §6.8 / Appendix A: the checksum is the CRC32c of the whole SCTP packet with the checksum field
 * set to zero; the 32-bit result is placed in the packet so that its least significant byte comes first
 * (it is "reflected": Linux stores cpu_to_le32(~crc)).
 *
 * Two implementations, chosen once at run time:
 *   - x86-64 with SSE4.2: the CRC32 instruction (8 bytes per instruction), compiled through a function
 *     target attribute so the rest of the extension keeps the baseline ISA;
 *   - anywhere else (or built with -DSC_CRC32C_PORTABLE): slicing-by-8 tables (about 1.2 cycles per byte).
 */
#include <string.h>

#include "engine.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SC_CRC32C_PORTABLE)
#define SC_HAVE_SSE42_PATH 1
#include <nmmintrin.h>
#endif

/* Slicing-by-8 tables, built on first use. table[0] is the classic byte-at-a-time table. */
static uint32_t crc_table[8][256];
static int crc_impl; /* 0 = not chosen yet, 1 = tables, 2 = SSE4.2 */

static void crc_build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xffu] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Update the raw CRC register c (no pre/post inversion). */
static uint32_t crc_update_sw(uint32_t c, const uint8_t *p, size_t n)
{
    while (n && ((uintptr_t)p & 7u)) {
        c = crc_table[0][(c ^ *p++) & 0xffu] ^ (c >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo = load_le32(p) ^ c;
        uint32_t hi = load_le32(p + 4);
        c = crc_table[7][lo & 0xffu] ^ crc_table[6][(lo >> 8) & 0xffu] ^ crc_table[5][(lo >> 16) & 0xffu] ^
            crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xffu] ^ crc_table[2][(hi >> 8) & 0xffu] ^
            crc_table[1][(hi >> 16) & 0xffu] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = crc_table[0][(c ^ *p++) & 0xffu] ^ (c >> 8);
    return c;
}

#ifdef SC_HAVE_SSE42_PATH
/* Unaligned 8-byte loads are cheap on x86-64: no alignment prologue. The CRC32 instruction has a latency of
 * 3 cycles, so a ~100-byte SCTP packet costs some 40 cycles. */
__attribute__((target("sse4.2"))) static uint32_t crc_update_hw(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8); /* little-endian host: the instruction consumes bytes in memory order */
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    if (n >= 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        c = _mm_crc32_u32(c, v);
        p += 4;
        n -= 4;
    }
    while (n--)
        c = _mm_crc32_u8(c, *p++);
    return c;
}

/* The SCTP packet in one pass: bytes 0..7, four zero bytes in place of the checksum, then the rest. */
__attribute__((target("sse4.2"))) static uint32_t crc_sctp_hw(const uint8_t *p, size_t n)
{
    uint64_t head;
    memcpy(&head, p, 8);
    uint32_t c = (uint32_t)_mm_crc32_u64(0xFFFFFFFFu, head);
    c = _mm_crc32_u32(c, 0);
    return crc_update_hw(c, p + 12, n - 12);
}
#endif

static void crc_choose(void)
{
    int impl = 1;
#ifdef SC_HAVE_SSE42_PATH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        impl = 2;
#endif
    if (impl == 1)
        crc_build_tables();
    __atomic_store_n(&crc_impl, impl, __ATOMIC_RELEASE);
}

static inline int crc_get_impl(void)
{
    int impl = __atomic_load_n(&crc_impl, __ATOMIC_ACQUIRE);
    if (impl == 0) {
        crc_choose(); /* idempotent: a concurrent first call builds identical tables */
        impl = __atomic_load_n(&crc_impl, __ATOMIC_ACQUIRE);
    }
    return impl;
}

static inline uint32_t crc_update(uint32_t c, const uint8_t *p, size_t n)
{
    int impl = crc_get_impl(); /* also builds the tables on first use */
#ifdef SC_HAVE_SSE42_PATH
    if (impl == 2)
        return crc_update_hw(c, p, n);
#else
    (void)impl;
#endif
    return crc_update_sw(c, p, n);
}

/* zlib-style: sc_crc32c(0, buf, len) is the standard CRC-32C ("123456789" -> 0xE3069283); calls chain. */
uint32_t sc_crc32c(uint32_t crc, const uint8_t *buf, size_t len)
{
    return ~crc_update(~crc, buf, len);
}

/* The SCTP checksum of a complete packet, returned in the same representation as the big-endian read of the
 * checksum field (bytes 8..11), so a packet is valid iff sc_crc32c_sctp(p, n) == rd32be(p + 8).
 * The checksum field itself counts as zero (RFC 9260 §6.8). */
uint32_t sc_crc32c_sctp(const uint8_t *buf, size_t len)
{
    static const uint8_t zero4[4] = {0, 0, 0, 0};
    uint32_t c = 0xFFFFFFFFu;
#ifdef SC_HAVE_SSE42_PATH
    if (len >= 12 && crc_get_impl() == 2) {
        c = ~crc_sctp_hw(buf, len);
        return (c >> 24) | ((c >> 8) & 0xff00u) | ((c << 8) & 0xff0000u) | (c << 24);
    }
#endif
    if (len <= 8) {
        c = crc_update(c, buf, len);
    } else {
        c = crc_update(c, buf, 8);
        size_t z = len - 8 < 4 ? len - 8 : 4;
        c = crc_update(c, zero4, z);
        if (len > 12)
            c = crc_update(c, buf + 12, len - 12);
    }
    c = ~c;
    /* The reflected CRC goes on the wire least significant byte first: swap for a big-endian comparison. */
    return (c >> 24) | ((c >> 8) & 0xff00u) | ((c << 8) & 0xff0000u) | (c << 24);
}
