/*
 * an_chunks.c: the chunk handlers other than DATA, SACK and FORWARD-TSN (an_tsn.c): the handshake (INIT and
 * INIT-ACK with their parameters, COOKIE-ECHO, COOKIE-ACK: tags, handshake times and RTT samples), HEARTBEAT /
 * HEARTBEAT-ACK (RTT samples, unanswered heartbeats), ABORT, ASCONF (addresses). SHUTDOWN, SHUTDOWN-ACK and
 * SHUTDOWN-COMPLETE need only a line each, in analyze.c's on_chunks. The RTT rules: an_rtt.c's header.
 */
#include "an_hash.h"
#include "an_internal.h"

/* ------------------------------------------------------------------------------------------------ */
/* Handshake: INIT, INIT-ACK (parameters), COOKIE-ECHO, COOKIE-ACK                                   */
/* ------------------------------------------------------------------------------------------------ */

/* An IPv4 (type 5) or IPv6 (type 6) address parameter at p with `room` readable bytes -> out; 1 if valid. */
static int addr_param(const uint8_t *p, uint32_t room, sc_addr *out)
{
    if (room < 8)
        return 0;
    uint16_t t = be16(p), l = be16(p + 2);
    memset(out, 0, sizeof *out);
    if (t == 5 && l == 8) {
        out->family = 4;
        memcpy(out->a, p + 4, 4);
        return 1;
    }
    if (t == 6 && l == 20 && room >= 20) {
        out->family = 6;
        memcpy(out->a, p + 4, 16);
        return 1;
    }
    return 0;
}

/* Parameters of an INIT or INIT-ACK sent by endpoint e (RFC 9260 §3.3.2/3.3.3, 3758, 5061, 4895). */
static void parse_init(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail)
{
    sc_assoc *A = x->A;
    unsigned e = x->d;
    sc_initinfo *ii = A->init[e];
    if (!ii && !(ii = A->init[e] = malloc(sizeof *ii)))
        return;
    memset(ii, 0, sizeof *ii);
    ii->initiate_tag = be32(c + 4);
    ii->a_rwnd = be32(c + 8);
    ii->outbound_streams = be16(c + 12);
    ii->inbound_streams = be16(c + 14);
    ii->initial_tsn = be32(c + 16);
    uint32_t end = avail < len ? avail : len;
    uint32_t off = 20;
    int guard = 0;
    while (off + 4 <= end && guard++ < 4096) {
        const uint8_t *p = c + off;
        uint16_t t = be16(p), l = be16(p + 2);
        if (l < 4)
            break;
        uint32_t room = end - off;
        uint32_t vl = (l < room ? l : room) - 4; /* value bytes captured */
        sc_addr a;
        switch (t) {
        case 5: case 6:
            if (addr_param(p, room, &a) && !addr_zero(&a)) {
                if (ii->naddrs < SC_MAX_ADDRS)
                    ii->addrs[ii->naddrs++] = a;
                addrset_add(x->an, &A->addrs[e], &a);
            }
            break;
        case 9: /* Cookie Preservative: suggested cookie life-span increment, ms */
            if (vl >= 4) {
                ii->have_cookie_preservative = 1;
                ii->cookie_preservative_ns = (int64_t)be32(p + 4) * 1000000LL;
            }
            break;
        case 11: { /* Host Name Address (deprecated by RFC 9260, still seen) */
            uint32_t n = vl < SC_MAX_HOSTNAME - 1 ? vl : SC_MAX_HOSTNAME - 1;
            memcpy(ii->hostname, p + 4, n);
            ii->hostname[n] = 0;
            ii->hostname_len = (uint8_t)strlen(ii->hostname);
            ii->have_hostname = 1;
            break;
        }
        case 0x8000: ii->ecn = 1; break;          /* ECN Capable (RFC 9260 appendix A) */
        case 0xC000: ii->forward_tsn = 1; break;  /* Forward-TSN-Supported (RFC 3758) */
        case 0x8008:                              /* Supported Extensions (RFC 5061 §4.2.7) */
            for (uint32_t i = 0; i < vl && ii->nexts < SC_MAX_EXTS; i++)
                ii->exts[ii->nexts++] = p[4 + i];
            break;
        default: break;
        }
        off += ((uint32_t)l + 3u) & ~3u;
    }
    A->dir[e].rwnd_initial = ii->a_rwnd;
    A->dir[e].have_rwnd_initial = 1;
}

void on_init(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail)
{
    if (len < 20) {
        x->bad = 1;
        rec_cancel(x);
        return;
    }
    sc_assoc *A = x->A;
    int64_t ts = x->pkt->ts_ns;
    A->n_init[x->d]++;
    if (A->init_ns == SC_NOTS)
        A->init_ns = ts;
    A->last_init_ns = ts;
    A->init_path = x->pidx >= 0 ? (uint16_t)x->pidx : 0xffff;
    if (avail >= 20)
        parse_init(x, c, len, avail);
}

void on_init_ack(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail)
{
    if (len < 20) {
        x->bad = 1;
        rec_cancel(x);
        return;
    }
    sc_assoc *A = x->A;
    unsigned d = x->d;
    int64_t ts = x->pkt->ts_ns;
    A->n_init_ack++;
    if (A->init_ack_ns == SC_NOTS)
        A->init_ack_ns = ts;
    A->last_init_ack_ns = ts;
    A->init_ack_path = x->pidx >= 0 ? (uint16_t)x->pidx : 0xffff;
    if (avail < 20)
        return;
    uint32_t itag = be32(c + 4);
    if (!A->vtag_known[d]) {
        assoc_set_tag(x->an, A, d, itag);
    } else if (A->vtag[d] != itag && A->extra_tags < SC_MAX_EXTRA_TAGS) {
        A->xtag[A->extra_tags] = A->vtag[d];
        A->extra_tags++;
        assoc_set_tag(x->an, A, d, itag);
    }
    parse_init(x, c, len, avail);
    /* handshake RTT measured by the INIT sender: INIT -> first INIT-ACK, INIT sent once */
    if (A->n_init_ack == 1 && A->n_init[1 - d] == 1 && A->last_init_ns != SC_NOTS)
        rtt_sample(x->an, A, 1 - d, A->init_path, ts - A->last_init_ns, 2, 0, 0, 0, x->pkt);
}

void on_cookie_echo(pctx *x)
{
    sc_assoc *A = x->A;
    int64_t ts = x->pkt->ts_ns;
    A->n_cookie_echo++;
    if (A->cookie_echo_ns == SC_NOTS)
        A->cookie_echo_ns = ts;
    A->last_cookie_echo_ns = ts;
    A->cookie_echo_path = x->pidx >= 0 ? (uint16_t)x->pidx : 0xffff;
    /* the tag the COOKIE-ECHO carries is the responder's tag actually in use */
    A->vtag[1 - x->d] = x->pkt->vtag;
    A->vtag_known[1 - x->d] = 1;
    /* handshake RTT measured by the INIT-ACK sender: INIT-ACK -> first COOKIE-ECHO, INIT-ACK sent once */
    if (A->n_cookie_echo == 1 && A->n_init_ack == 1 && A->last_init_ack_ns != SC_NOTS)
        rtt_sample(x->an, A, 1 - x->d, A->init_ack_path, ts - A->last_init_ack_ns, 2, 0, 0, 0, x->pkt);
}

void on_cookie_ack(pctx *x)
{
    sc_assoc *A = x->A;
    int64_t ts = x->pkt->ts_ns;
    A->n_cookie_ack++;
    if (A->cookie_ack_ns == SC_NOTS)
        A->cookie_ack_ns = ts;
    /* handshake RTT measured by the COOKIE-ECHO sender, COOKIE-ECHO sent once */
    if (A->n_cookie_ack == 1 && A->n_cookie_echo == 1 && A->last_cookie_echo_ns != SC_NOTS)
        rtt_sample(x->an, A, 1 - x->d, A->cookie_echo_path, ts - A->last_cookie_echo_ns, 2, 0, 0, 0, x->pkt);
}

/* ------------------------------------------------------------------------------------------------ */
/* Heartbeats                                                                                        */
/* ------------------------------------------------------------------------------------------------ */

/* Linux's sctp_sender_hb_info (56 bytes): param header, union sctp_addr (family host-endian), sent_at jiffies
 * at byte 32, hb_nonce at 40, probe_size at 48. info: the HEARTBEAT(-ACK) chunk's value, n bytes captured.
 * Returns 1 and the two values when info has that layout. */
static inline int linux_hb_info(const uint8_t *info, uint32_t n, uint64_t *sent_at, uint64_t *nonce)
{
    if (n >= 56 && be16(info) == 1 && be16(info + 2) == 56) {
        uint16_t fam = le16(info + 4);
        if (fam == 2 || fam == 10) {
            *sent_at = le64(info + 32);
            *nonce = le64(info + 40);
            return 1;
        }
    }
    return 0;
}

/* Count HEARTBEAT i of path p as unanswered (once), with its event. */
static void hb_settle(pctx *x, sc_path *p, unsigned i)
{
    if (p->hb[i].settled)
        return;
    p->hb[i].settled = 1;
    p->hb_unanswered++;
    sc_event *e = ev_push(x->an, SC_EV_HB_UNANSWERED, x->pkt->ts_ns, x->pkt->frame_no, x->A->id);
    if (e) {
        e->dir = p->dir;
        e->src = p->src;
        e->dst = p->dst;
        e->v[0] = p->hb[i].sent_ns;
    }
}

static void hb_remove(sc_path *p, unsigned i)
{
    memmove(&p->hb[i], &p->hb[i + 1], (p->hb_n - i - 1) * sizeof p->hb[0]);
    p->hb_n--;
}

void on_heartbeat(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail)
{
    uint32_t n = (avail < len ? avail : len) - 4;
    const uint8_t *info = c + 4;
    uint64_t h = hash_bytes(info, n, 0x4842), sent_at = 0, nonce = 0;
    int lin = linux_hb_info(info, n, &sent_at, &nonce);
    if (x->wr) { /* before the path check: the record is kept when the path table is full */
        x->wr->note |= lin ? SC_WN_HB_LINUX : 0;
        x->wr->x = lin ? nonce : h;
        x->wr->y = sent_at;
    }
    if (x->pidx < 0)
        return;
    sc_path *p = &x->A->paths[x->pidx];
    p->hb_sent++;
    if (lin) {
        p->have_linux_hb = 1;
        p->linux_hb_sent_at = sent_at;
        p->linux_hb_nonce = nonce;
    }
    for (unsigned i = 0; i < p->hb_n; i++)
        if (p->hb[i].hash == h) { /* the same HEARTBEAT again: ambiguous, no RTT sample from it */
            p->hb[i].sends++;
            return;
        }
    if (p->hb_n == SC_HB_PENDING) { /* the oldest leaves the table: unanswered unless already counted */
        hb_settle(x, p, 0);
        hb_remove(p, 0);
    }
    sc_hb_pending *hp = &p->hb[p->hb_n++];
    hp->sent_ns = x->pkt->ts_ns;
    hp->hash = h;
    hp->frame = x->pkt->frame_no;
    hp->sends = 1;
    hp->settled = 0;
}

void on_heartbeat_ack(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail)
{
    sc_assoc *A = x->A;
    unsigned hd = 1 - x->d; /* the HEARTBEAT sender */
    uint32_t n = (avail < len ? avail : len) - 4;
    uint64_t h = hash_bytes(c + 4, n, 0x4842);
    if (x->wr) {
        uint64_t sent_at = 0, nonce = 0;
        int lin = linux_hb_info(c + 4, n, &sent_at, &nonce);
        x->wr->note |= lin ? SC_WN_HB_LINUX : 0;
        x->wr->x = lin ? nonce : h;
        x->wr->y = sent_at;
    }
    sc_addr src, dst;
    addr_from_pkt(&src, x->pkt->family, x->pkt->src);
    addr_from_pkt(&dst, x->pkt->family, x->pkt->dst);
    /* RFC 9260 §8.3: the ACK goes back to the HEARTBEAT's source: try the reverse path first */
    for (int pass = 0; pass < 2; pass++) {
        for (uint16_t i = 0; i < A->npaths; i++) {
            sc_path *p = &A->paths[i];
            if (p->dir != hd || !p->hb_n)
                continue;
            int reverse = addr_eq(&p->src, &dst) && addr_eq(&p->dst, &src);
            if (pass == 0 ? !reverse : reverse)
                continue;
            for (unsigned k = 0; k < p->hb_n; k++) {
                if (p->hb[k].hash != h)
                    continue;
                /* Older HEARTBEATs of this path still pending were not answered (counted now, RFC 9260 §8.3
                 * path verification works the same way); they stay matchable should their ACK come late. */
                for (unsigned j = 0; j < k; j++)
                    hb_settle(x, p, j);
                int64_t sent = p->hb[k].sent_ns;
                uint32_t sends = p->hb[k].sends;
                if (p->hb[k].settled) /* a late ACK after all */
                    p->hb_unanswered--;
                hb_remove(p, k);
                p->hb_acked++;
                if (sends == 1) {
                    p->hb_rtt_samples++;
                    rtt_sample(x->an, A, hd, i, x->pkt->ts_ns - sent, 1, 0, 0, 0, x->pkt);
                }
                return;
            }
        }
    }
}

uint64_t sc_path_hb_unanswered(const sc_path *p)
{
    uint64_t n = p->hb_unanswered;
    for (unsigned i = 0; i < p->hb_n; i++)
        n += !p->hb[i].settled;
    return n;
}

/* ------------------------------------------------------------------------------------------------ */
/* ABORT, ASCONF                                                                                     */
/* ------------------------------------------------------------------------------------------------ */

void on_abort(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail, uint8_t flags)
{
    sc_assoc *A = x->A;
    sc_abortinfo tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.ts_ns = x->pkt->ts_ns;
    tmp.by = (uint8_t)x->d;
    tmp.t_bit = flags & 1;
    uint32_t end = avail < len ? avail : len, off = 4;
    while (off + 4 <= end && tmp.ncauses < SC_MAX_CAUSES) { /* RFC 9260 §3.3.10 error causes */
        uint16_t code = be16(c + off), l = be16(c + off + 2);
        if (l < 4)
            break;
        tmp.causes[tmp.ncauses++] = code;
        off += ((uint32_t)l + 3u) & ~3u;
    }
    if (!A->abort && (A->abort = malloc(sizeof *A->abort)))
        *A->abort = tmp;
    if (x->had_abort++)
        return;
    sc_event *e = ev_push(x->an, SC_EV_ABORT, x->pkt->ts_ns, x->pkt->frame_no, A->id);
    if (e) {
        e->dir = (uint8_t)x->d;
        e->b1 = tmp.t_bit;
        e->ncauses = tmp.ncauses;
        memcpy(e->causes, tmp.causes, sizeof e->causes);
    }
}

void on_asconf(pctx *x, const uint8_t *c, uint32_t len, uint32_t avail)
{
    /* RFC 5061 §4.1.1: serial, Address Parameter (the sender's), then Add IP (0xC001), Delete IP (0xC002),
     * Set Primary (0xC004) parameters: correlation ID + address parameter. Every address announced joins the
     * sender's set (a deleted address stays listed: the set is every address the endpoint used or announced). */
    uint32_t end = avail < len ? avail : len, off = 8;
    sc_addrset *set = &x->A->addrs[x->d];
    sc_addr a;
    int guard = 0;
    while (off + 4 <= end && guard++ < 4096) {
        const uint8_t *p = c + off;
        uint16_t t = be16(p), l = be16(p + 2);
        if (l < 4)
            break;
        if ((t == 5 || t == 6) && addr_param(p, end - off, &a))
            addrset_add(x->an, set, &a);
        else if ((t == 0xC001 || t == 0xC002 || t == 0xC004) && l >= 16 && end - off >= 16 &&
                 addr_param(p + 8, end - off - 8, &a))
            addrset_add(x->an, set, &a);
        off += ((uint32_t)l + 3u) & ~3u;
    }
}
