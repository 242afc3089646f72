/*
 * decode_dump: a test driver for the capture and decode layers of the wire engine.
 *
 * Reads FILE (several files: one after another through the same sc_capture and decoder, as rotated capture
 * files are analysed), feeds it to sc_capture in blocks of random size (1..8192 bytes, or -b N), decodes every record
 * and prints one tab-separated line per record:
 *     frame_no  status  ts_ns  src  dst  sport  dport  vtag  flags  chunk_types(,-separated)
 * then summary lines starting with '#'. Meant to be diffed against
 *     tshark -o sctp.checksum:CRC-32C -r FILE -T fields -e frame.number -e sctp.srcport -e sctp.dstport \
 *            -e sctp.verification_tag -e sctp.chunk_type -e sctp.checksum.status
 * With -B N it instead times N passes of capture parsing and decoding over the file held in memory;
 * -t runs a CRC32c known-answer self-test.
 *
 * Build (from the repository root):
 *     cc -O2 -std=c11 -Isctpcorr/wire/_engine tools/decode_dump.c sctpcorr/wire/_engine/capture.c \
 *        sctpcorr/wire/_engine/decode.c sctpcorr/wire/_engine/crc32c.c -o decode_dump
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

static const char *status_name(sc_dec_status s)
{
    switch (s) {
    case SC_DEC_NOT_SCTP: return "-";
    case SC_DEC_SCTP: return "SCTP";
    case SC_DEC_FRAGMENT: return "FRAG";
    case SC_DEC_ICMP_QUOTED: return "ICMP";
    case SC_DEC_MALFORMED: return "MALF";
    }
    return "?";
}

static void print_flags(uint32_t f)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        {SC_PKT_CSUM_BAD, "bad"},        {SC_PKT_CSUM_UNCHECKED, "unchecked"}, {SC_PKT_TRUNCATED, "trunc"},
        {SC_PKT_CHUNK_MALFORMED, "chunkmalf"}, {SC_PKT_REASSEMBLED, "reasm"}, {SC_PKT_IPV6, "v6"},
        {SC_PKT_CSUM_ADLER, "adler"},
    };
    int any = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (f & names[i].bit) {
            printf("%s%s", any ? "|" : "", names[i].name);
            any = 1;
        }
    if (!any)
        printf("ok");
}

static void print_packet(const sc_record *r, sc_dec_status st, const sc_packet *p)
{
    printf("%llu\t%s", (unsigned long long)r->frame_no, status_name(st));
    if (st == SC_DEC_SCTP || st == SC_DEC_ICMP_QUOTED || st == SC_DEC_MALFORMED) {
        char s[INET6_ADDRSTRLEN] = "", d[INET6_ADDRSTRLEN] = "";
        if (p->family) {
            inet_ntop(p->family == 6 ? AF_INET6 : AF_INET, p->src, s, sizeof s);
            inet_ntop(p->family == 6 ? AF_INET6 : AF_INET, p->dst, d, sizeof d);
        }
        printf("\t%lld\t%s\t%s", (long long)p->ts_ns, s, d);
        if (st != SC_DEC_MALFORMED) {
            printf("\t%u\t%u\t0x%08x\t", p->sport, p->dport, p->vtag);
            print_flags(p->flags);
            printf("\t");
            for (uint32_t i = 0; i < p->nchunks; i++)
                printf(i ? ",%u" : "%u", p->chunks[i].type);
        }
    }
    printf("\n");
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap);
        }
        size_t got = fread(b + n, 1, cap - n, f);
        if (!got)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return b;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench(const uint8_t *buf, size_t len, int passes)
{
    uint64_t recs = 0, sctp = 0;
    double t0 = now_s();
    for (int i = 0; i < passes; i++) {
        sc_capture *c = sc_capture_new();
        sc_decoder *d = sc_decoder_new();
        sc_record r;
        sc_packet p;
        for (size_t pos = 0; pos < len; pos += 1 << 18) { /* 256 KiB blocks, like the Python reader */
            sc_capture_feed(c, buf + pos, len - pos < (1 << 18) ? len - pos : (1 << 18));
            while (sc_capture_next(c, &r) == SC_CAP_OK) {
                recs++;
                sctp += sc_decode(d, &r, &p) == SC_DEC_SCTP;
            }
        }
        sc_capture_free(c);
        sc_decoder_free(d);
    }
    double dt = now_s() - t0;
    printf("# bench: %llu records (%llu SCTP) in %.3f s: %.2f M records/s, %.1f MB/s\n", (unsigned long long)recs,
           (unsigned long long)sctp, dt, recs / dt / 1e6, (double)len * passes / dt / 1e6);
    return 0;
}

static int dump_file(sc_capture *c, sc_decoder *d, const char *path, long block, int quiet)
{
    size_t len;
    uint8_t *buf = read_file(path, &len);
    if (!buf) {
        perror(path);
        return 1;
    }
    sc_record r;
    sc_packet p;
    size_t pos = 0;
    int rc = 0;
    uint64_t counts[5] = {0}, chunk_types[256] = {0};
    for (;;) {
        sc_cap_status st;
        while ((st = sc_capture_next(c, &r)) == SC_CAP_OK) {
            sc_dec_status ds = sc_decode(d, &r, &p);
            counts[ds]++;
            if (ds == SC_DEC_SCTP || ds == SC_DEC_ICMP_QUOTED)
                for (uint32_t i = 0; i < p.nchunks; i++)
                    chunk_types[p.chunks[i].type]++;
            if (!quiet)
                print_packet(&r, ds, &p);
        }
        if (st == SC_CAP_ERROR) {
            printf("# error: %s\n", sc_capture_error(c));
            rc = 2;
            break;
        }
        if (pos == len)
            break;
        size_t n = block > 0 ? (size_t)block : 1 + (size_t)(rand() % 8192);
        if (n > len - pos)
            n = len - pos;
        if (sc_capture_feed(c, buf + pos, n) < 0) {
            printf("# error: out of memory\n");
            free(buf);
            return 3;
        }
        pos += n;
    }
    size_t left = sc_capture_finish(c);
    uint32_t lts[32];
    size_t nlt = sc_capture_linktypes(c, lts, 32);
    sc_decoder_stats ds;
    sc_decoder_get_stats(d, &ds);
    static const char *fmts[] = {"unknown", "pcap", "pcapng"};
    printf("# format %s packets %llu truncated_bytes %zu caplen_gt_origlen %llu linktypes", fmts[sc_capture_format(c)],
           (unsigned long long)sc_capture_packets(c), left, (unsigned long long)sc_capture_caplen_gt_origlen(c));
    for (size_t i = 0; i < nlt; i++)
        printf(i ? ",%u" : " %u", lts[i]);
    printf("\n# sctp %llu icmp_quoted %llu malformed %llu fragments_held %llu not_sctp %llu\n",
           (unsigned long long)counts[SC_DEC_SCTP], (unsigned long long)counts[SC_DEC_ICMP_QUOTED],
           (unsigned long long)counts[SC_DEC_MALFORMED], (unsigned long long)counts[SC_DEC_FRAGMENT],
           (unsigned long long)counts[SC_DEC_NOT_SCTP]);
    /* decoder counters are cumulative over the files of one run */
    printf("# ip_fragments %llu reassembled %llu reassembly_dropped %llu unknown_linktype %llu non_ip %llu\n",
           (unsigned long long)ds.ip_fragments, (unsigned long long)ds.reassembled,
           (unsigned long long)ds.reassembly_dropped, (unsigned long long)ds.unknown_linktype,
           (unsigned long long)ds.non_ip);
    printf("# chunks");
    for (int t = 0; t < 256; t++)
        if (chunk_types[t])
            printf(" %d:%llu", t, (unsigned long long)chunk_types[t]);
    printf("\n");
    free(buf);
    return rc;
}

/* Known answers: CRC-32C("123456789") = 0xE3069283 (RFC 3720 B.4 check value); chaining; every length and
 * alignment of the SCTP helper against the generic function. */
static int self_test(void)
{
    const uint8_t *s = (const uint8_t *)"123456789";
    int bad = sc_crc32c(0, s, 9) != 0xE3069283u;
    bad |= sc_crc32c(sc_crc32c(0, s, 4), s + 4, 5) != 0xE3069283u;
    uint8_t buf[300], z[300];
    for (int i = 0; i < 300; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 12; n + off < 300; n++) {
            memcpy(z, buf + off, n);
            memset(z + 8, 0, 4);
            uint32_t c = sc_crc32c(0, z, n);
            uint32_t sw = (c >> 24) | ((c >> 8) & 0xff00u) | ((c << 8) & 0xff0000u) | (c << 24);
            bad |= sc_crc32c_sctp(buf + off, n) != sw;
        }
    printf("self-test %s\n", bad ? "FAILED" : "ok");
    return bad;
}

int main(int argc, char **argv)
{
    long block = 0, passes = 0;
    unsigned seed = 1;
    int quiet = 0, opt_i = 1;
    for (; opt_i < argc && argv[opt_i][0] == '-'; opt_i++) {
        if (!strcmp(argv[opt_i], "-b") && opt_i + 1 < argc)
            block = atol(argv[++opt_i]);
        else if (!strcmp(argv[opt_i], "-s") && opt_i + 1 < argc)
            seed = (unsigned)atol(argv[++opt_i]);
        else if (!strcmp(argv[opt_i], "-B") && opt_i + 1 < argc)
            passes = atol(argv[++opt_i]);
        else if (!strcmp(argv[opt_i], "-q"))
            quiet = 1;
        else if (!strcmp(argv[opt_i], "-t"))
            return self_test();
        else
            break;
    }
    if (opt_i >= argc) {
        fprintf(stderr, "usage: %s [-b BLOCK] [-s SEED] [-q] [-B PASSES] FILE... | -t\n", argv[0]);
        return 1;
    }
    if (passes > 0) {
        size_t len;
        uint8_t *buf = read_file(argv[opt_i], &len);
        if (!buf) {
            perror(argv[opt_i]);
            return 1;
        }
        return bench(buf, len, (int)passes);
    }
    /* Several files go through the same sc_capture (each finish starts a new stream) and the same decoder. */
    srand(seed);
    sc_capture *c = sc_capture_new();
    sc_decoder *d = sc_decoder_new();
    int rc = 0;
    for (int i = opt_i; i < argc; i++) {
        if (argc - opt_i > 1)
            printf("# file %s\n", argv[i]);
        int r = dump_file(c, d, argv[i], block, quiet);
        if (r > rc)
            rc = r;
    }
    sc_capture_free(c);
    sc_decoder_free(d);
    return rc;
}
