/*
 * an_hash.h: the hash function of the analysis files (the duplicate-frame cache in analyze.c, the path index in
 * an_maps.c, heartbeats in an_chunks.c). A header of static functions rather than a function in one file: each
 * file's compiler then specialises it for that file's constant lengths as it did when the engine was one file
 * (the duplicate check's 40-byte seed and 16-byte tail; hash_bytes called out of line for those cost ~70
 * instructions per packet on bench/out/corpus-1m.pcap, callgrind, feed loop).
 */
#ifndef SCTPCORR_AN_HASH_H
#define SCTPCORR_AN_HASH_H

#include "an_internal.h"

/* 64 x 64 -> 128-bit multiply, both halves. */
static inline void mul128(uint64_t *a, uint64_t *b)
{
#ifdef __SIZEOF_INT128__
    __uint128_t r = (__uint128_t)*a * *b;
    *a = (uint64_t)r;
    *b = (uint64_t)(r >> 64);
#else
    uint64_t ha = *a >> 32, la = (uint32_t)*a, hb = *b >> 32, lb = (uint32_t)*b;
    uint64_t rh = ha * hb, rm0 = ha * lb, rm1 = hb * la, rl = la * lb, t = rl + (rm0 << 32), c = t < rl;
    uint64_t lo = t + (rm1 << 32);
    c += lo < t;
    *a = lo;
    *b = rh + (rm0 >> 32) + (rm1 >> 32) + c;
#endif
}

static inline uint64_t mum(uint64_t a, uint64_t b)
{
    mul128(&a, &b);
    return a ^ b;
}

/* A fast non-cryptographic 64-bit hash (the wyhash construction: each 128-bit product folds 16 bytes into the
 * state; three independent lanes over 48-byte blocks). It replaced a four-lane multiply-rotate hash that
 * consumed 8 bytes per multiply: the duplicate-frame check hashes up to 248 bytes of every packet, and this
 * took hash_bytes from ~280 to ~95 instructions per packet on bench/out/corpus-1m.pcap. Every read stays within
 * p[0..n) (short inputs read overlapping words, never past the end). */
static uint64_t hash_bytes(const uint8_t *p, size_t n, uint64_t seed)
{
    const uint64_t S0 = 0xa0761d6478bd642fULL, S1 = 0xe7037ed1a0b428dbULL, S2 = 0x8ebc6af09c88c6e3ULL,
                   S3 = 0x589965cc75374cc3ULL;
    uint64_t len = n, a, b;
    seed ^= mum(seed ^ S0, S1);
    if (n <= 16) {
        if (n >= 4) {
            size_t q = (n >> 3) << 2; /* 0 or 4: the two words overlap for n < 8 */
            a = (ld32(p) << 32) | ld32(p + q);
            b = (ld32(p + n - 4) << 32) | ld32(p + n - 4 - q);
        } else if (n > 0) {
            a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        if (n > 48) {
            uint64_t s1 = seed, s2 = seed;
            do {
                seed = mum(ld64(p) ^ S1, ld64(p + 8) ^ seed);
                s1 = mum(ld64(p + 16) ^ S2, ld64(p + 24) ^ s1);
                s2 = mum(ld64(p + 32) ^ S3, ld64(p + 40) ^ s2);
                p += 48;
                n -= 48;
            } while (n > 48);
            seed ^= s1 ^ s2;
        }
        while (n > 16) {
            seed = mum(ld64(p) ^ S1, ld64(p + 8) ^ seed);
            p += 16;
            n -= 16;
        }
        a = ld64(p + n - 16); /* the last 16 bytes (overlapping what the loop consumed when n < 16 here) */
        b = ld64(p + n - 8);
    }
    a ^= S1;
    b ^= seed;
    mul128(&a, &b);
    return mum(a ^ S0 ^ len, b ^ S1);
}

#endif
