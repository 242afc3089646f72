/* User-message payloads (Analyzer(payloads=True), drain_payloads(); sctpcorr/telecom reads them).
 *
 * What the telecom layer needs from the wire: the bytes of every DATA / I-DATA chunk the first time the capture
 * shows its TSN (retransmissions carry the same bytes), with what names it: time, frame, association, TSN,
 * stream, SSN (I-DATA: MID), PPID (I-DATA middle/last fragments: FSN), the B/E/U flags and the packet's
 * verification tag and ports, the association's last RTT sample and the receiver's last advertised window when the
 * chunk was read (each message's SCTP context; the direction is decided again from the tags once the association's orientation is
 * final: a provisional orientation may swap).  Reassembly of fragmented messages and decoding are the reader's.
 *
 * Layout: one sc_payhdr (72 bytes, native byte order) followed by caplen bytes of user data, padded to 8.  The
 * pending bytes are bounded by SC_PAYLOADS_MAX; beyond that a chunk's payload is dropped and counted
 * (limits.payloads_dropped), never the analysis. */
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

void sc_pay_add(sc_analyzer *an, const sc_packet *pkt, const sc_assoc *A, unsigned dir, uint32_t tsn, uint16_t sid,
                uint32_t ssn, uint32_t ppid, const uint8_t *data, uint32_t bytes, uint32_t cap, uint8_t flags,
                int idata)
{
    size_t need = sizeof(sc_payhdr) + ((cap + 7u) & ~7u);
    if (an->pay_n + need > an->pay_cap) {
        size_t ncap = an->pay_cap ? an->pay_cap : (1u << 16);   /* grows by doubling to a block's worth */
        while (ncap < an->pay_n + need)
            ncap *= 2;
        if (ncap > SC_PAYLOADS_MAX) {
            an->cap.payloads_dropped++;
            return;
        }
        uint8_t *nb = realloc(an->pay, ncap);
        if (!nb) {
            an->cap.payloads_dropped++;
            return;
        }
        an->pay = nb;
        an->pay_cap = ncap;
    }
    sc_payhdr *h = (sc_payhdr *)(an->pay + an->pay_n);
    memset(h, 0, sizeof *h);
    h->ts_ns = pkt->ts_ns;
    h->frame_no = pkt->frame_no;
    h->assoc_id = A->id;
    h->tsn = tsn;
    h->sid = sid;
    h->ssn = ssn;
    h->ppid = ppid;
    h->len = bytes;
    h->caplen = cap;
    h->vtag = pkt->vtag;
    h->sport = pkt->sport;
    h->dport = pkt->dport;
    h->dir = (uint8_t)dir;
    h->flags = flags;
    h->idata = (uint8_t)(idata != 0);
    h->rtt_ns = A->last_rtt_ns;
    const sc_dir *R = &A->dir[dir ^ 1u];         /* the receiver: the SACKs it sent carry its window */
    h->a_rwnd = R->have_rwnd ? (int64_t)R->rwnd_last : -1;
    memcpy(an->pay + an->pay_n + sizeof *h, data, cap);
    if (cap & 7u)
        memset(an->pay + an->pay_n + sizeof *h + cap, 0, 8u - (cap & 7u));
    an->pay_n += need;
}
