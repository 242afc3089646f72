// SPDX-License-Identifier: GPL-2.0
/*
 * sctpcorr.bpf.c - what the Linux SCTP stack believes, one event per decision (BCC, compiled once).
 *
 * Theory of operation
 * -------------------
 * Every probe below reads the kernel's own structures (struct sctp_association / sctp_transport / sctp_chunk,
 * through the running kernel's headers) and writes one fixed-layout event (sctpcorr_abi.h) into a ring buffer.
 * Every event carries the association pointer, its verification tags and ports (read from asoc->c.my_vtag,
 * asoc->c.peer_vtag, asoc->base.bind_addr.port, asoc->peer.port at the moment of the event, so a restarted
 * association with new tags is never confused with the old one), the network namespace inode, and, when the
 * probe has a transport, the path's peer address and heartbeat nonce.
 *
 * Values the kernel only knows after a function ran (SRTT/RTTVAR/RTO after sctp_transport_update_rto, cwnd after
 * raise/lower, the new path state, the new association state, the new rwnd) are read by a return probe.  An entry
 * probe stores what it saw in the bounded "inflight" hash, keyed by the stack pointer of the call (unique among
 * all calls in flight on every CPU and task) and a function id; the return probe finds it with the stack pointer
 * at return (entry SP + SCTPCORR_RET_SP_ADJ, measured in the lab) and deletes it.  A missing entry or a full map
 * is counted, never silent.
 *
 * Hooks: each probe body (do_*) takes its arguments and is called by a kprobe/kretprobe wrapper (kp_*, krp_*)
 * and by a BPF trampoline twin (fe_* for fentry, fx_* for fexit: the arguments in ctx[0..], a return value after
 * them), which sctpcorr/kernel/trampoline.py loads where the kernel allows (BCC 0.26 cannot attach one to a
 * module's function).  A trampoline pair meets in a per-CPU slot per function (tslot) instead of the map.
 *
 * Retransmissions: the fast-retransmit call of sctp_retransmit() is inlined on Debian 6.1, so a kprobe there sees
 * only timeout/PMTU retransmissions.  Every retransmitted DATA chunk is instead seen where it leaves the stack:
 * sctp_packet_transmit() lists the packet's chunks, and a DATA chunk with sent_count > 1 has been sent before.
 * Its reason is the last cause noted for the association (sctp_retransmit: T3/PMTUD/T1; lower_cwnd(FAST_RTX):
 * fast) combined with the chunk's own fast_retransmit mark.
 *
 * Configuration is by -D flags only (never text substitution):
 *   SCTPCORR_RINGBUF_PAGES   ring buffer size in pages (power of 2), default 1024 (the loader always sets it)
 *   SCTPCORR_INFLIGHT_MAX    entries of the entry->return map, default 4096
 *   SCTPCORR_CAUSE_MAX       entries of the per-association retransmission cause LRU map, default 4096
 *   SCTPCORR_RET_SP_ADJ      return SP - entry SP of a call, default 8 (x86-64)
 *   SCTPCORR_WAKEUP_EVERY    wake the reader once per this many events per CPU, default 2048
 *   SCTPCORR_FILTER_PORT     keep associations whose local or peer port is this
 *   SCTPCORR_FILTER_VTAG     keep associations whose my_vtag or peer_vtag is this
 *   SCTPCORR_FILTER_ADDR_FAMILY + SCTPCORR_FILTER_ADDR_W0..W3  keep associations with this peer address
 *                            (words as the address bytes are laid out in memory, i.e. as a __u32 array)
 *   SCTPCORR_FILTER_INODES   keep associations whose socket inode is in the map filter_ino (filled by --pid)
 *   SCTPCORR_NO_<PROBE>      leave a probe out (the loader sets it for probes that cannot attach)
 */
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>
#include <linux/socket.h>
#include <net/sock.h>
#include <net/net_namespace.h>
#include <net/sctp/structs.h>
#include <net/sctp/constants.h>

#include "sctpcorr_abi.h"

#ifndef SCTPCORR_RINGBUF_PAGES
#define SCTPCORR_RINGBUF_PAGES 1024
#endif
#ifndef SCTPCORR_INFLIGHT_MAX
#define SCTPCORR_INFLIGHT_MAX 4096
#endif
#ifndef SCTPCORR_CAUSE_MAX
#define SCTPCORR_CAUSE_MAX 4096
#endif
#ifndef SCTPCORR_RET_SP_ADJ
#define SCTPCORR_RET_SP_ADJ 8
#endif
#ifndef SCTPCORR_WAKEUP_EVERY
#define SCTPCORR_WAKEUP_EVERY 2048
#endif
#define SCTPCORR_MAX_PEERS 8   /* transports walked by the address filter */
#define SCTPCORR_COUNT_MORE 48 /* egress chunks counted (not listed) beyond SCTPCORR_MAX_CHUNKS */

#define RD(dst, src) bpf_probe_read_kernel(&(dst), sizeof(dst), &(src))

/* function ids of the paired (entry + return) probes */
enum { FN_UPDATE_RTO = 1, FN_LOWER_CWND = 3, FN_CONTROL_TRANSPORT = 4 };

struct inflight_key {
	u64 sp;   /* stack pointer at entry: the address of the return address */
	u64 fn;
};

struct inflight_val {
	u64 ptr;  /* transport or association */
	u64 ptr2;
	u64 w0;
	u64 w1;
	u32 a[8];
};

struct rtx_cause {
	u64 jiffies;
	u32 reason;  /* enum sctpcorr_rtx_reason */
	u32 _pad;
};

struct hb_slot {
	u64 nonce;    /* hb_nonce echoed in the last HEARTBEAT-ACK seen on this CPU */
	u64 sent_at;  /* its sent_at (jiffies) */
	u64 valid;
};

BPF_RINGBUF_OUTPUT(events, SCTPCORR_RINGBUF_PAGES);
BPF_PERCPU_ARRAY(counters, u64, SCTPCORR_NR_COUNTERS);
BPF_HASH(inflight, struct inflight_key, struct inflight_val, SCTPCORR_INFLIGHT_MAX);
BPF_TABLE("lru_hash", u64, struct rtx_cause, rtx_cause, SCTPCORR_CAUSE_MAX);
BPF_PERCPU_ARRAY(hb_slot, struct hb_slot, 1);
BPF_PERCPU_ARRAY(since_wakeup, u64, 1);
#ifdef SCTPCORR_FILTER_INODES
BPF_HASH(filter_ino, u64, u8, 4096);
#endif

static __always_inline void count(u32 idx)
{
	u64 *v = counters.lookup(&idx);
	if (v)
		(*v)++;
}

static __always_inline u16 bswap16(u16 x) { return __builtin_bswap16(x); }
static __always_inline u32 bswap32(u32 x) { return __builtin_bswap32(x); }

/* ---- identity ----------------------------------------------------------------------------------------------- */

/* What never changes while an association lives (ports, network namespace), cached per association so that an
 * event reads 3 fields instead of 9.  The key is the association's address, which the allocator reuses once it is
 * freed: an entry counts only while its my_vtag (random, chosen at creation) is the association's own. */
struct asoc_ident {
	u32 my_vtag;
	u32 netns;
	u16 lport;
	u16 pport;
	u32 _pad;
};
BPF_TABLE("lru_hash", u64, struct asoc_ident, ident, SCTPCORR_CAUSE_MAX);

static __always_inline void fill_hdr(struct sctpcorr_hdr *h, u32 type, struct sctp_association *asoc)
{
	struct { u32 my, peer; } tags = {};
	struct asoc_ident *id;
	struct asoc_ident fresh = {};
	struct sock *sk = NULL;
	struct net *net = NULL;
	int state = 0;
	u64 key = (u64)asoc;

	h->type = type;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = bpf_ktime_get_ns();
	h->jiffies = bpf_jiffies64();
	h->asoc = (u64)asoc;
	h->tgid = bpf_get_current_pid_tgid() >> 32;
	if (!asoc)
		return;
	/* c.my_vtag and c.peer_vtag are adjacent (struct sctp_cookie): one read */
	bpf_probe_read_kernel(&tags, sizeof(tags), &asoc->c.my_vtag);
	h->my_vtag = tags.my;
	h->peer_vtag = tags.peer;
	RD(h->assoc_id, asoc->assoc_id);
	RD(state, asoc->state);
	h->state = state;
	id = ident.lookup(&key);
	if (id && id->my_vtag == tags.my) {
		h->lport = id->lport;
		h->pport = id->pport;
		h->netns = id->netns;
		return;
	}
	RD(h->lport, asoc->base.bind_addr.port);
	RD(h->pport, asoc->peer.port);
	RD(sk, asoc->base.sk);
	if (sk) {
		RD(net, sk->__sk_common.skc_net.net);
		if (net)
			RD(h->netns, net->ns.inum);
	}
	if (h->lport && h->pport && h->netns && tags.my) {
		fresh.my_vtag = tags.my;
		fresh.netns = h->netns;
		fresh.lport = h->lport;
		fresh.pport = h->pport;
		ident.update(&key, &fresh);
	}
}

static __always_inline void fill_addr(struct sctpcorr_addr *a, union sctp_addr *u)
{
	u16 family = 0, port = 0;

	RD(family, u->sa.sa_family);
	a->family = family;
	if (family == AF_INET) {
		RD(port, u->v4.sin_port);
		bpf_probe_read_kernel(a->addr, 4, &u->v4.sin_addr);
	} else if (family == AF_INET6) {
		RD(port, u->v6.sin6_port);
		bpf_probe_read_kernel(a->addr, 16, &u->v6.sin6_addr);
	}
	a->port = bswap16(port);
}

static __always_inline void fill_path(struct sctpcorr_path *p, struct sctp_transport *t)
{
	if (!t)
		return;
	p->transport = (u64)t;
	RD(p->hb_nonce, t->hb_nonce);
	fill_addr(&p->addr, &t->ipaddr);
}

/* ---- filters ------------------------------------------------------------------------------------------------ */

#if defined(SCTPCORR_FILTER_ADDR_FAMILY)
static __always_inline int addr_matches(union sctp_addr *u)
{
	u16 family = 0;
	u32 w[4] = {};

	RD(family, u->sa.sa_family);
	if (family != SCTPCORR_FILTER_ADDR_FAMILY)
		return 0;
	if (family == AF_INET) {
		bpf_probe_read_kernel(w, 4, &u->v4.sin_addr);
		return w[0] == (u32)SCTPCORR_FILTER_ADDR_W0;
	}
	bpf_probe_read_kernel(w, 16, &u->v6.sin6_addr);
	return w[0] == (u32)SCTPCORR_FILTER_ADDR_W0 && w[1] == (u32)SCTPCORR_FILTER_ADDR_W1 &&
	       w[2] == (u32)SCTPCORR_FILTER_ADDR_W2 && w[3] == (u32)SCTPCORR_FILTER_ADDR_W3;
}

static __always_inline int asoc_has_peer_addr(struct sctp_association *asoc)
{
	struct list_head *head = &asoc->peer.transport_addr_list;
	struct list_head *pos = NULL;

	RD(pos, asoc->peer.transport_addr_list.next);
#pragma unroll
	for (int i = 0; i < SCTPCORR_MAX_PEERS; i++) {
		if (!pos || pos == head)
			return 0;
		struct sctp_transport *t = (struct sctp_transport *)((void *)pos - offsetof(struct sctp_transport, transports));
		if (addr_matches(&t->ipaddr))
			return 1;
		RD(pos, pos->next);
	}
	return 0;
}
#endif

static __always_inline int keep(struct sctpcorr_hdr *h, struct sctp_association *asoc)
{
#ifdef SCTPCORR_FILTER_PORT
	if (h->lport != SCTPCORR_FILTER_PORT && h->pport != SCTPCORR_FILTER_PORT)
		goto drop;
#endif
#ifdef SCTPCORR_FILTER_VTAG
	if (h->my_vtag != (u32)SCTPCORR_FILTER_VTAG && h->peer_vtag != (u32)SCTPCORR_FILTER_VTAG)
		goto drop;
#endif
#ifdef SCTPCORR_FILTER_ADDR_FAMILY
	if (!asoc || !asoc_has_peer_addr(asoc))
		goto drop;
#endif
#ifdef SCTPCORR_FILTER_INODES
	{
		struct sock *sk = NULL;
		struct socket *sock = NULL;
		u64 ino = 0;

		if (!asoc)
			goto drop;
		RD(sk, asoc->base.sk);
		if (sk)
			RD(sock, sk->sk_socket);
		if (!sock)
			goto drop;
		struct socket_alloc *sa = (struct socket_alloc *)((void *)sock - offsetof(struct socket_alloc, socket));
		RD(ino, sa->vfs_inode.i_ino);
		if (!filter_ino.lookup(&ino))
			goto drop;
	}
#endif
	return 1;
#if defined(SCTPCORR_FILTER_PORT) || defined(SCTPCORR_FILTER_VTAG) || defined(SCTPCORR_FILTER_ADDR_FAMILY) || \
	defined(SCTPCORR_FILTER_INODES)
drop:
	count(SCTPCORR_C_FILTERED);
	return 0;
#endif
}

/* Header, filter, ring buffer reservation; NULL if filtered or the ring is full (both counted). */
static __always_inline void *reserve(struct sctpcorr_hdr *h, struct sctp_association *asoc, u32 evt, u32 size)
{
	void *e;

	fill_hdr(h, evt, asoc);
	if (!keep(h, asoc))
		return NULL;
	e = events.ringbuf_reserve(size);
	if (!e)
		count(SCTPCORR_C_LOST + evt);
	return e;
}

/* Start an event: a zeroed TYPE *e with its header filled, or return 0 from the probe. */
#define EMIT_BEGIN(e, TYPE, EVT, asoc_)                                                                          \
	struct sctpcorr_hdr _h = {};                                                                                 \
	TYPE *e = reserve(&_h, asoc_, EVT, sizeof(TYPE));                                                            \
	if (!e)                                                                                                      \
		return 0;                                                                                            \
	__builtin_memset(e, 0, sizeof(TYPE));                                                                        \
	__builtin_memcpy(&e->hdr, &_h, sizeof(_h));

/* Submit.  Waking the reader for every event costs more than the probe itself; the reader is woken once per
 * SCTPCORR_WAKEUP_EVERY events per CPU and otherwise drains the ring on its own every poll interval. */
static __always_inline void emit_end(void *e, u32 evt)
{
	u32 zero = 0;
	u64 *n = since_wakeup.lookup(&zero);
	u64 flags = BPF_RB_NO_WAKEUP;

	if (n && ++(*n) >= SCTPCORR_WAKEUP_EVERY) {
		*n = 0;
		flags = BPF_RB_FORCE_WAKEUP;
	}
	events.ringbuf_submit(e, flags);
	count(SCTPCORR_C_EMITTED + evt);
}

/* ---- entry -> return pairing -------------------------------------------------------------------------------- */

/* The key of a call: for a kprobe + kretprobe pair the stack pointer (KP_KEY at entry, KRP_KEY at return); for a
 * BPF trampoline pair (fentry + fexit, which both see the arguments) the object the call works on (the
 * transport), which the socket lock keeps from being in two such calls at once. */
#define KP_KEY(ctx) PT_REGS_SP(ctx)
#define KRP_KEY(ctx) (PT_REGS_SP(ctx) - SCTPCORR_RET_SP_ADJ)

/* A trampoline pair needs no map of calls in flight: fentry and fexit of one call run on the same CPU (the
 * function does not sleep), so the fentry leaves what it saw in this CPU's slot for that function and the fexit
 * takes it, checking the key.  A call of the same function nested inside it on that CPU (a softirq) overwrites the
 * slot: the outer fexit then finds another key and counts itself unpaired, as a lost kretprobe pairing would. */
struct tramp_slot {
	u64 key;
	struct inflight_val v;
};
BPF_PERCPU_ARRAY(tslot, struct tramp_slot, 8);

static __always_inline void push(u64 key, u64 fn, struct inflight_val *v, int tramp)
{
	struct inflight_key k = {.sp = key, .fn = fn};

	if (tramp) {
		u32 i = fn;
		struct tramp_slot *s = tslot.lookup(&i);

		if (s) {
			s->key = key;
			__builtin_memcpy(&s->v, v, sizeof(*v));
		}
		return;
	}
	if (inflight.lookup(&k))
		count(SCTPCORR_C_INFLIGHT_STALE);
	if (inflight.update(&k, v))
		count(SCTPCORR_C_INFLIGHT_FULL);
}

static __always_inline int pop(u64 key, u64 fn, struct inflight_val *out, int tramp)
{
	struct inflight_key k = {.sp = key, .fn = fn};
	struct inflight_val *v;

	if (tramp) {
		u32 i = fn;
		struct tramp_slot *s = tslot.lookup(&i);

		if (!s || s->key != key) {
			count(SCTPCORR_C_RET_UNPAIRED);
			return 0;
		}
		__builtin_memcpy(out, &s->v, sizeof(*out));
		s->key = 0;
		return 1;
	}
	v = inflight.lookup(&k);
	if (!v) {
		count(SCTPCORR_C_RET_UNPAIRED);
		return 0;
	}
	__builtin_memcpy(out, v, sizeof(*out));
	inflight.delete(&k);
	return 1;
}

static __always_inline struct sctp_association *transport_asoc(struct sctp_transport *t)
{
	struct sctp_association *asoc = NULL;

	if (t)
		RD(asoc, t->asoc);
	return asoc;
}

static __always_inline void note_cause(struct sctp_association *asoc, u32 reason)
{
	struct rtx_cause c = {.jiffies = bpf_jiffies64(), .reason = reason};
	u64 key = (u64)asoc;

	rtx_cause.update(&key, &c);
	count(SCTPCORR_C_RTX_CAUSE_SET);
}

/* struct sctp_transport's rto, rtt, rttvar and srtt, adjacent (asserted below) */
struct rtt_state {
	unsigned long rto;
	u32 rtt;
	u32 rttvar;
	u32 srtt;
};
_Static_assert(offsetof(struct sctp_transport, rtt) == offsetof(struct sctp_transport, rto) + 8 &&
	       offsetof(struct sctp_transport, rttvar) == offsetof(struct sctp_transport, rto) + 12 &&
	       offsetof(struct sctp_transport, srtt) == offsetof(struct sctp_transport, rto) + 16,
	       "struct sctp_transport changed");
/* struct sctp_association's rto_max and rto_min, adjacent (asserted below) */
_Static_assert(offsetof(struct sctp_association, rto_min) == offsetof(struct sctp_association, rto_max) + 8,
	       "struct sctp_association changed");

/* ---- 1. RTT samples: sctp_transport_update_rto(struct sctp_transport *tp, __u32 rtt) ------------------------- */
#ifndef SCTPCORR_NO_RTO_UPDATE
static __always_inline int do_kp_update_rto(u64 p1, u64 p2, u64 ckey, int tramp)
{
	struct sctp_transport *tp = (void *)p1;
	struct inflight_val v = {};
	u32 zero = 0;

	struct rtt_state rs = {};

	v.ptr = (u64)tp;
	v.a[0] = (u32)p2;
	bpf_probe_read_kernel(&rs, sizeof(rs), &tp->rto);   /* rto, rtt, rttvar, srtt: adjacent, one read */
	v.a[1] = rs.srtt;
	v.a[2] = rs.rttvar;
	v.w0 = rs.rto;
	/* A HEARTBEAT-ACK sample follows sctp_sf_backbeat_8_3 on the same CPU within the same state-machine call
	 * (sctp_cmd_transport_on): same nonce as this transport and rtt == jiffies - sent_at, where the kernel read
	 * jiffies a moment before this probe: a tick may fall in between (often under emulation), so 0 or 1 late. */
	struct hb_slot *hs = hb_slot.lookup(&zero);
	if (hs && hs->valid) {
		u64 nonce = 0;
		RD(nonce, tp->hb_nonce);
		if (nonce == hs->nonce && (u32)(bpf_jiffies64() - hs->sent_at) - v.a[0] <= 1) {
			v.a[3] = SCTPCORR_RTT_HEARTBEAT;
			count(SCTPCORR_C_HB_SAMPLE);
		}
		hs->valid = 0;
	}
	push(ckey, FN_UPDATE_RTO, &v, tramp);
	return 0;
}

int kp_update_rto(struct pt_regs *ctx)
{
	return do_kp_update_rto(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), KP_KEY(ctx), 0);
}

int fe_update_rto(u64 *ctx)
{
	return do_kp_update_rto(ctx[0], ctx[1], ctx[0], 1);
}

static __always_inline int do_krp_update_rto(u64 unused, u64 ckey, int tramp)
{
	struct inflight_val v = {};

	if (!pop(ckey, FN_UPDATE_RTO, &v, tramp))
		return 0;
	struct sctp_transport *tp = (void *)v.ptr;
	struct sctp_association *asoc = transport_asoc(tp);
	EMIT_BEGIN(e, struct sctpcorr_rto_update, SCTPCORR_EV_RTO_UPDATE, asoc);
	fill_path(&e->path, tp);
	e->rtt_j = v.a[0];
	e->srtt_before_j = v.a[1];
	e->rttvar_before_j = v.a[2];
	e->source = v.a[3];
	e->rto_before_j = v.w0;
	{
		struct rtt_state rs = {};
		struct { unsigned long max, min; } lim = {};

		bpf_probe_read_kernel(&rs, sizeof(rs), &tp->rto);
		e->srtt_j = rs.srtt;
		e->rttvar_j = rs.rttvar;
		e->rto_j = rs.rto;
		if (asoc)
			bpf_probe_read_kernel(&lim, sizeof(lim), &asoc->rto_max);
		e->rto_min_j = lim.min;
		e->rto_max_j = lim.max;
	}
	e->paired = 1;
	emit_end(e, SCTPCORR_EV_RTO_UPDATE);
	return 0;
}

int krp_update_rto(struct pt_regs *ctx)
{
	return do_krp_update_rto(0, KRP_KEY(ctx), 0);
}

int fx_update_rto(u64 *ctx)
{
	return do_krp_update_rto(0, ctx[0], 1);
}
#endif

/* ---- 2. tracepoint sctp:sctp_probe (ep, asoc, chunk): a SACK about to be processed -------------------------- */
#ifndef SCTPCORR_NO_SCTP_PROBE
int rtp_sctp_probe(struct bpf_raw_tracepoint_args *ctx)
{
	struct sctp_association *asoc = (void *)ctx->args[1];
	struct sctp_chunk *chunk = (void *)ctx->args[2];
	struct sctp_transport *t = NULL;
	struct sctp_sackhdr *sh = NULL;
	struct sctp_sackhdr sack = {};
	struct sk_buff *skb = NULL;
	struct sock *sk = NULL;
	u16 ua = 0;

	if (!asoc) {
		count(SCTPCORR_C_NO_ASOC);
		return 0;
	}
	EMIT_BEGIN(e, struct sctpcorr_sack, SCTPCORR_EV_SACK, asoc);
	RD(t, chunk->transport);
	fill_path(&e->path, t);
	RD(sh, chunk->subh.sack_hdr);
	if (sh) {
		bpf_probe_read_kernel(&sack, sizeof(sack), sh);
		e->cum_tsn_ack = bswap32(sack.cum_tsn_ack);
		e->a_rwnd = bswap32(sack.a_rwnd);
		e->n_gap_blocks = bswap16(sack.num_gap_ack_blocks);
		e->n_dup_tsns = bswap16(sack.num_dup_tsns);
	}
	RD(ua, asoc->unack_data);
	e->unack_data = ua;
	RD(e->peer_rwnd, asoc->peer.rwnd);
	RD(e->pathmtu, asoc->pathmtu);
	RD(skb, chunk->skb);
	if (skb)
		RD(e->mark, skb->mark);
	RD(e->next_tsn, asoc->next_tsn);
	RD(e->ctsn_ack_point, asoc->ctsn_ack_point);
	RD(e->outstanding_bytes, asoc->outqueue.outstanding_bytes);
	RD(e->out_qlen, asoc->outqueue.out_qlen);
	RD(e->sndbuf_used, asoc->sndbuf_used);
	RD(sk, asoc->base.sk);
	if (sk) {
		RD(e->sk_wmem_queued, sk->sk_wmem_queued);
		RD(e->sk_sndbuf, sk->sk_sndbuf);
	}
	emit_end(e, SCTPCORR_EV_SACK);
	return 0;
}
#endif

/* ---- 3. tracepoint sctp:sctp_probe_path (transport, asoc): every transport, per SACK ------------------------ */
/* Written when the path changed: its cwnd, ssthresh, MTU, SRTT/RTTVAR/RTO, error count, state, or its role
 * (primary, active) differ from the last path event of that transport (the LRU map path_last, checked with the
 * association's my_vtag: a transport's address reused by a new association is a new path).  Every SACK runs this
 * for every transport of the association; on a multi-homed association the idle paths change rarely.  The flight
 * size, partial_bytes_acked and latest RTT of a written event are the values at that moment; the association's
 * outstanding data at every SACK is in the sack event.  Skipped hits are counted (path_unchanged). */
struct path_vals {
	u64 rto;
	u32 cwnd, ssthresh, pathmtu, srtt, rttvar, my_vtag;
	u16 error_count;
	u8 state, primary, active, _pad[3];
};
BPF_TABLE("lru_hash", u64, struct path_vals, path_last, SCTPCORR_CAUSE_MAX);

#ifndef SCTPCORR_NO_SCTP_PROBE_PATH
int rtp_sctp_probe_path(struct bpf_raw_tracepoint_args *ctx)
{
	struct sctp_transport *t = (void *)ctx->args[0];
	struct sctp_association *asoc = (void *)ctx->args[1];
	struct sctp_transport *prim = NULL, *act = NULL;
	struct path_vals pv = {}, *last;
	struct rtt_state rs = {};
	struct { u32 cwnd, ssthresh, pba, flight; } cg = {};
	unsigned short ec = 0;
	int st = 0;
	u64 key = (u64)t;

	if (!asoc) {
		count(SCTPCORR_C_NO_ASOC);
		return 0;
	}
	bpf_probe_read_kernel(&cg, sizeof(cg), &t->cwnd);   /* cwnd, ssthresh, pba, flight: adjacent */
	bpf_probe_read_kernel(&rs, sizeof(rs), &t->rto);    /* rto, rtt, rttvar, srtt: adjacent */
	RD(pv.pathmtu, t->pathmtu);
	RD(ec, t->error_count);
	RD(st, t->state);
	RD(prim, asoc->peer.primary_path);
	RD(act, asoc->peer.active_path);
	RD(pv.my_vtag, asoc->c.my_vtag);
	pv.rto = rs.rto;
	pv.cwnd = cg.cwnd;
	pv.ssthresh = cg.ssthresh;
	pv.srtt = rs.srtt;
	pv.rttvar = rs.rttvar;
	pv.error_count = ec;
	pv.state = st;
	pv.primary = prim == t;
	pv.active = act == t;
	last = path_last.lookup(&key);
	if (last && last->rto == pv.rto && last->cwnd == pv.cwnd && last->ssthresh == pv.ssthresh &&
	    last->pathmtu == pv.pathmtu && last->srtt == pv.srtt && last->rttvar == pv.rttvar &&
	    last->my_vtag == pv.my_vtag && last->error_count == pv.error_count && last->state == pv.state &&
	    last->primary == pv.primary && last->active == pv.active) {
		count(SCTPCORR_C_PATH_UNCHANGED);
		return 0;
	}
	path_last.update(&key, &pv);
	EMIT_BEGIN(e, struct sctpcorr_pathinfo, SCTPCORR_EV_PATH, asoc);
	fill_path(&e->path, t);
	e->cwnd = cg.cwnd;
	e->ssthresh = cg.ssthresh;
	e->flight_size = cg.flight;
	e->partial_bytes_acked = cg.pba;
	e->pathmtu = pv.pathmtu;
	e->srtt_j = rs.srtt;
	e->rttvar_j = rs.rttvar;
	e->rtt_j = rs.rtt;
	e->rto_j = rs.rto;
	e->error_count = ec;
	e->path_state = st;
	e->primary = pv.primary;
	e->active = pv.active;
	emit_end(e, SCTPCORR_EV_PATH);
	return 0;
}
#endif

/* ---- 4. cwnd lowered: sctp_transport_lower_cwnd(t, reason) -------------------------------------------------- */
/* Raises are not probed: sctp_transport_raise_cwnd runs for every SACK, and an entry + return pair there cost more
 * than the rest of the per-SACK probes together.  Every egress and path event carries the transport's cwnd,
 * ssthresh, partial_bytes_acked and flight size; the decoder (derive.py) reports each change between two samples
 * that no exact event (this one) explains. */
#ifndef SCTPCORR_NO_LOWER_CWND
static __always_inline int do_kp_lower_cwnd(u64 p1, u64 p2, u64 ckey, int tramp)
{
	struct sctp_transport *t = (void *)p1;
	struct sctp_association *asoc = transport_asoc(t);
	struct inflight_val v = {};
	u8 fr = 0;

	v.ptr = (u64)t;
	RD(v.a[0], t->cwnd);
	RD(v.a[1], t->ssthresh);
	RD(v.a[2], t->partial_bytes_acked);
	RD(v.a[3], t->flight_size);
	v.a[4] = (u32)p2;  /* reason */
	if (asoc)
		RD(fr, asoc->fast_recovery);
	v.a[6] = fr;
	if (asoc) {
		if (v.a[4] == SCTP_LOWER_CWND_FAST_RTX)
			note_cause(asoc, SCTPCORR_RTX_FAST);
		else if (v.a[4] == SCTP_LOWER_CWND_T3_RTX)
			note_cause(asoc, SCTPCORR_RTX_T3);
	}
	push(ckey, FN_LOWER_CWND, &v, tramp);
	return 0;
}

int kp_lower_cwnd(struct pt_regs *ctx)
{
	return do_kp_lower_cwnd(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), KP_KEY(ctx), 0);
}

int fe_lower_cwnd(u64 *ctx)
{
	return do_kp_lower_cwnd(ctx[0], ctx[1], ctx[0], 1);
}

static __always_inline int do_krp_lower_cwnd(u64 unused, u64 ckey, int tramp)
{
	struct inflight_val v = {};
	u32 cwnd = 0, ssthresh = 0, pba = 0;

	if (!pop(ckey, FN_LOWER_CWND, &v, tramp))
		return 0;
	struct sctp_transport *t = (void *)v.ptr;
	RD(cwnd, t->cwnd);
	RD(ssthresh, t->ssthresh);
	RD(pba, t->partial_bytes_acked);
	struct sctp_association *asoc = transport_asoc(t);
	EMIT_BEGIN(e, struct sctpcorr_cwnd, SCTPCORR_EV_CWND, asoc);
	fill_path(&e->path, t);
	e->op = 2;
	e->reason = v.a[4] + 1;
	e->fast_recovery = v.a[6];
	e->paired = 1;
	e->cwnd_before = v.a[0];
	e->ssthresh_before = v.a[1];
	e->pba_before = v.a[2];
	e->flight_size = v.a[3];
	e->cwnd_after = cwnd;
	e->ssthresh_after = ssthresh;
	e->pba_after = pba;
	emit_end(e, SCTPCORR_EV_CWND);
	return 0;
}

int krp_lower_cwnd(struct pt_regs *ctx)
{
	return do_krp_lower_cwnd(0, KRP_KEY(ctx), 0);
}

int fx_lower_cwnd(u64 *ctx)
{
	return do_krp_lower_cwnd(0, ctx[0], 1);
}
#endif

/* ---- 5. sctp_retransmit(struct sctp_outq *q, struct sctp_transport *t, enum sctp_retransmit_reason reason) ---- */
#ifndef SCTPCORR_NO_RETRANSMIT
static __always_inline int do_kp_retransmit(u64 p1, u64 p2, u64 p3, u64 ckey)
{
	struct sctp_outq *q = (void *)p1;
	struct sctp_transport *t = (void *)p2;
	u32 kreason = (u32)p3;
	struct sctp_association *asoc = NULL;
	unsigned long rto = 0;
	unsigned short ec = 0;
	u32 reason;

	RD(asoc, q->asoc);
	if (!asoc) {
		count(SCTPCORR_C_NO_ASOC);
		return 0;
	}
	reason = kreason == SCTP_RTXR_T3_RTX ? SCTPCORR_RTX_T3 : kreason == SCTP_RTXR_FAST_RTX ? SCTPCORR_RTX_FAST
		 : kreason == SCTP_RTXR_PMTUD ? SCTPCORR_RTX_PMTUD : kreason == SCTP_RTXR_T1_RTX ? SCTPCORR_RTX_T1
		 : SCTPCORR_RTX_UNKNOWN;
	note_cause(asoc, reason);
	EMIT_BEGIN(e, struct sctpcorr_rtx_mark, SCTPCORR_EV_RTX_MARK, asoc);
	fill_path(&e->path, t);
	e->reason = reason;
	if (t) {
		RD(ec, t->error_count);
		RD(e->flight_size, t->flight_size);
		RD(e->cwnd, t->cwnd);
		RD(rto, t->rto);
	}
	e->error_count = ec;
	e->rto_j = rto;
	RD(e->outstanding_bytes, q->outstanding_bytes);
	emit_end(e, SCTPCORR_EV_RTX_MARK);
	return 0;
}

int kp_retransmit(struct pt_regs *ctx)
{
	return do_kp_retransmit(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx), KP_KEY(ctx));
}

int fe_retransmit(u64 *ctx)
{
	return do_kp_retransmit(ctx[0], ctx[1], ctx[2], 0);
}
#endif

/* ---- 6. sctp_generate_t3_rtx_event(struct timer_list *t) ---------------------------------------------------- */
#ifndef SCTPCORR_NO_T3_EXPIRE
static __always_inline int do_kp_t3_expire(u64 p1, u64 ckey)
{
	struct timer_list *timer = (void *)p1;
	struct sctp_transport *t = (struct sctp_transport *)((void *)timer - offsetof(struct sctp_transport, T3_rtx_timer));
	struct sctp_association *asoc = transport_asoc(t);
	struct sock *sk = NULL;
	unsigned long rto = 0;
	unsigned short ec = 0;
	int owned = 0;

	if (!asoc) {
		count(SCTPCORR_C_NO_ASOC);
		return 0;
	}
	EMIT_BEGIN(e, struct sctpcorr_t3, SCTPCORR_EV_T3_EXPIRE, asoc);
	fill_path(&e->path, t);
	RD(rto, t->rto);
	e->rto_j = rto;
	RD(e->flight_size, t->flight_size);
	RD(e->cwnd, t->cwnd);
	RD(ec, t->error_count);
	e->error_count = ec;
	RD(sk, asoc->base.sk);
	if (sk)
		RD(owned, sk->sk_lock.owned);
	e->deferred = owned != 0;
	emit_end(e, SCTPCORR_EV_T3_EXPIRE);
	return 0;
}

int kp_t3_expire(struct pt_regs *ctx)
{
	return do_kp_t3_expire(PT_REGS_PARM1(ctx), KP_KEY(ctx));
}

int fe_t3_expire(u64 *ctx)
{
	return do_kp_t3_expire(ctx[0], 0);
}
#endif

/* ---- 7. sctp_make_heartbeat(asoc, transport, probe_size) returns the HEARTBEAT chunk ----------------------- */
/* Read at return from the chunk itself: the kernel stamps sent_at after allocating the chunk, so the jiffies at
 * entry can be earlier than the stamp on the wire. */
#ifndef SCTPCORR_NO_HB_SENT
static __always_inline int do_krp_make_heartbeat(u64 rc, u64 ckey)
{
	struct sctp_chunk *chunk = (void *)rc;
	struct sctp_association *asoc = NULL;
	struct sctp_transport *t = NULL;
	struct sctp_sender_hb_info *hbp = NULL;
	struct sctp_sender_hb_info hb = {};
	unsigned long rto = 0, hbi = 0;
	unsigned short ec = 0;
	int st = 0;

	if (!chunk)
		return 0;  /* allocation failed: no HEARTBEAT */
	RD(asoc, chunk->asoc);
	RD(t, chunk->transport);
	RD(hbp, chunk->subh.hbs_hdr);
	if (hbp)
		bpf_probe_read_kernel(&hb, sizeof(hb), hbp);
	EMIT_BEGIN(e, struct sctpcorr_hb, SCTPCORR_EV_HB_SENT, asoc);
	fill_path(&e->path, t);
	e->path.hb_nonce = hb.hb_nonce;
	e->sent_at_j = hb.sent_at;
	e->probe_size = hb.probe_size;
	if (t) {
		RD(rto, t->rto);
		RD(hbi, t->hbinterval);
		RD(ec, t->error_count);
		RD(st, t->state);
	}
	e->rto_j = rto;
	e->hbinterval_j = hbi;
	e->error_count = ec;
	e->path_state = st;
	emit_end(e, SCTPCORR_EV_HB_SENT);
	return 0;
}

int krp_make_heartbeat(struct pt_regs *ctx)
{
	return do_krp_make_heartbeat(PT_REGS_RC(ctx), 0);
}

int fx_make_heartbeat(u64 *ctx)
{
	return do_krp_make_heartbeat(ctx[3], 0);
}
#endif

/* ---- 8. sctp_sf_backbeat_8_3(net, ep, asoc, type, arg = chunk, commands): HEARTBEAT-ACK -------------------- */
#ifndef SCTPCORR_NO_HB_ACK
static __always_inline int do_kp_backbeat(u64 p1, u64 p2, u64 p3, u64 p4, u64 p5, u64 ckey)
{
	struct sctp_association *asoc = (void *)p3;
	struct sctp_chunk *chunk = (void *)p5;
	struct sctp_sender_hb_info hb = {};
	struct sk_buff *skb = NULL;
	unsigned char *data = NULL;
	u32 zero = 0;

	if (!asoc || !chunk) {
		count(SCTPCORR_C_NO_ASOC);
		return 0;
	}
	RD(skb, chunk->skb);
	if (skb)
		RD(data, skb->data);
	if (data)
		bpf_probe_read_kernel(&hb, sizeof(hb), data);
	struct hb_slot *hs = hb_slot.lookup(&zero);
	if (hs) {
		hs->nonce = hb.hb_nonce;
		hs->sent_at = hb.sent_at;
		hs->valid = 1;
	}
	EMIT_BEGIN(e, struct sctpcorr_hb, SCTPCORR_EV_HB_ACK, asoc);
	fill_addr(&e->path.addr, &hb.daddr);
	e->path.hb_nonce = hb.hb_nonce;
	e->sent_at_j = hb.sent_at;
	e->rtt_j = (u32)(e->hdr.jiffies - hb.sent_at);
	e->probe_size = hb.probe_size;
	emit_end(e, SCTPCORR_EV_HB_ACK);
	return 0;
}

int kp_backbeat(struct pt_regs *ctx)
{
	return do_kp_backbeat(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx), KP_KEY(ctx));
}
#endif

/* ---- 9. sctp_assoc_control_transport(asoc, transport, command, error): path state ------------------------- */
#ifndef SCTPCORR_NO_PATH_STATE
static __always_inline int do_kp_control_transport(u64 p1, u64 p2, u64 p3, u64 p4, u64 ckey, int tramp)
{
	struct sctp_transport *t = (void *)p2;
	struct inflight_val v = {};
	unsigned short ec = 0;
	int st = 0;

	v.ptr = (u64)t;
	v.ptr2 = p1;
	v.a[0] = (u32)p3;
	v.a[1] = (u32)p4;
	RD(st, t->state);
	v.a[2] = st;
	RD(ec, t->error_count);
	v.a[3] = ec;
	push(ckey, FN_CONTROL_TRANSPORT, &v, tramp);
	return 0;
}

int kp_control_transport(struct pt_regs *ctx)
{
	return do_kp_control_transport(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx), KP_KEY(ctx), 0);
}

int fe_control_transport(u64 *ctx)
{
	return do_kp_control_transport(ctx[0], ctx[1], ctx[2], ctx[3], ctx[1], 1);
}

static __always_inline int do_krp_control_transport(u64 unused, u64 ckey, int tramp)
{
	struct inflight_val v = {};
	struct sctp_transport *prim = NULL, *act = NULL;
	int st = 0;

	if (!pop(ckey, FN_CONTROL_TRANSPORT, &v, tramp))
		return 0;
	struct sctp_transport *t = (void *)v.ptr;
	struct sctp_association *asoc = (void *)v.ptr2;
	EMIT_BEGIN(e, struct sctpcorr_path_state, SCTPCORR_EV_PATH_STATE, asoc);
	fill_path(&e->path, t);
	e->command = v.a[0];
	e->sn_error = v.a[1];
	e->state_before = v.a[2];
	e->error_count = v.a[3];
	RD(st, t->state);
	e->state_after = st;
	RD(prim, asoc->peer.primary_path);
	RD(act, asoc->peer.active_path);
	e->primary = prim == t;
	e->active = act == t;
	e->paired = 1;
	emit_end(e, SCTPCORR_EV_PATH_STATE);
	return 0;
}

int krp_control_transport(struct pt_regs *ctx)
{
	return do_krp_control_transport(0, KRP_KEY(ctx), 0);
}

int fx_control_transport(u64 *ctx)
{
	return do_krp_control_transport(0, ctx[1], 1);
}
#endif

/* ---- 10. association changes ------------------------------------------------------------------------------ */
/* State changes are not probed in sctp_do_sm: it runs for every chunk and timer, and the entry + return pair
 * needed to see a change cost more than any other probe.  Every event carries asoc->state; the decoder reports a
 * change between two events of an association (derive.py).  What an exact time matters for is caught here, where
 * it is rare: the notifications the kernel gives the application (COMM_UP, COMM_LOST, RESTART, SHUTDOWN_COMP,
 * CANT_STR_ASSOC), built by sctp_ulpevent_make_assoc_change(asoc, flags, state, error, outbound, inbound, chunk,
 * gfp), and the association's end, sctp_association_free(asoc). */
#ifndef SCTPCORR_NO_ASSOC_CHANGE
static __always_inline int do_kp_assoc_change(u64 p1, u64 p2, u64 p3, u64 p4, u64 p5, u64 p6, u64 ckey)
{
	struct sctp_association *asoc = (void *)p1;

	if (!asoc)
		return 0;
	EMIT_BEGIN(e, struct sctpcorr_assoc_change, SCTPCORR_EV_ASSOC_CHANGE, asoc);
	e->kind = 1;
	e->sac_flags = (u16)p2;
	e->sac_state = (u16)p3;
	e->sac_error = (u16)p4;
	e->outbound_streams = (u16)p5;
	e->inbound_streams = (u16)p6;
	emit_end(e, SCTPCORR_EV_ASSOC_CHANGE);
	return 0;
}

int kp_assoc_change(struct pt_regs *ctx)
{
	return do_kp_assoc_change(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx), PT_REGS_PARM6(ctx), KP_KEY(ctx));
}

static __always_inline int do_kp_assoc_free(u64 p1, u64 ckey)
{
	struct sctp_association *asoc = (void *)p1;
	u64 key = (u64)asoc;

	if (!asoc)
		return 0;
	/* --addr: the transports still exist at entry */
	EMIT_BEGIN(e, struct sctpcorr_assoc_change, SCTPCORR_EV_ASSOC_CHANGE, asoc);
	e->kind = 2;
	emit_end(e, SCTPCORR_EV_ASSOC_CHANGE);
	ident.delete(&key);
	rtx_cause.delete(&key);
	return 0;
}

int kp_assoc_free(struct pt_regs *ctx)
{
	return do_kp_assoc_free(PT_REGS_PARM1(ctx), KP_KEY(ctx));
}

int fe_assoc_free(u64 *ctx)
{
	return do_kp_assoc_free(ctx[0], 0);
}
#endif

/* ---- 12. sctp_packet_transmit(struct sctp_packet *packet, gfp_t gfp): egress ------------------------------- */
/* The chunk flag bits that follow `auth_chunk` at the end of struct sctp_chunk (include/net/sctp/structs.h):
 * one __u16 of bitfields; mirrored here to read fast_retransmit, which has no address of its own. */
struct chunk_bits {
	__u16 rtt_in_progress:1, has_tsn:1, has_ssn:1, singleton:1, end_of_packet:1, ecn_ce_done:1, pdiscard:1,
		tsn_gap_acked:1, data_accepted:1, auth:1, has_asconf:1, pmtu_probe:1, tsn_missing_report:2,
		fast_retransmit:2;
};
#define CHUNK_BITS_OFF (offsetof(struct sctp_chunk, auth_chunk) + sizeof(struct sk_buff *))
/* the bitfields must be the last member (a change of the kernel struct breaks the build, not the values) */
_Static_assert(sizeof(struct sctp_chunk) == ((CHUNK_BITS_OFF + 2 + 7) & ~7UL), "struct sctp_chunk layout changed");

/* The head of struct sctp_packet, copied in one read; the asserts keep it the kernel's layout. */
struct pkt_head {
	__u16 source_port;
	__u16 destination_port;
	__u32 vtag;
	struct list_head chunk_list;
	size_t overhead;
	size_t size;
	size_t max_size;
	struct sctp_transport *transport;
};
_Static_assert(offsetof(struct sctp_packet, vtag) == offsetof(struct pkt_head, vtag), "struct sctp_packet changed");
_Static_assert(offsetof(struct sctp_packet, chunk_list) == offsetof(struct pkt_head, chunk_list),
	       "struct sctp_packet changed");
_Static_assert(offsetof(struct sctp_packet, size) == offsetof(struct pkt_head, size), "struct sctp_packet changed");
_Static_assert(offsetof(struct sctp_packet, transport) == offsetof(struct pkt_head, transport),
	       "struct sctp_packet changed");
_Static_assert(offsetof(struct sctp_cookie, peer_vtag) == offsetof(struct sctp_cookie, my_vtag) + 4,
	       "struct sctp_cookie changed");
_Static_assert(offsetof(struct sctp_transport, flight_size) == offsetof(struct sctp_transport, cwnd) + 12 &&
	       offsetof(struct sctp_transport, ssthresh) == offsetof(struct sctp_transport, cwnd) + 4 &&
	       offsetof(struct sctp_transport, partial_bytes_acked) == offsetof(struct sctp_transport, cwnd) + 8,
	       "struct sctp_transport changed");
_Static_assert(offsetof(struct sctp_association, a_rwnd) == offsetof(struct sctp_association, rwnd) + 4 &&
	       offsetof(struct sctp_association, rwnd_over) == offsetof(struct sctp_association, rwnd) + 8 &&
	       offsetof(struct sctp_association, rwnd_press) == offsetof(struct sctp_association, rwnd) + 12,
	       "struct sctp_association changed");

#ifndef SCTPCORR_NO_EGRESS
static __always_inline int do_kp_packet_transmit(u64 p1, u64 ckey)
{
	struct sctp_packet *packet = (void *)p1;
	struct sctp_transport *t = NULL;
	struct sctp_association *asoc = NULL;
	struct list_head *head = &packet->chunk_list;
	struct list_head *pos = NULL;
	struct rtx_cause *cause = NULL;
	u32 cause_reason = 0;
	u16 n = 0, rec = 0;
	u64 key;

	struct pkt_head ph = {};

	bpf_probe_read_kernel(&ph, sizeof(ph), packet);   /* ports, vtag, chunk list, size, transport: one read */
	pos = ph.chunk_list.next;
	if (!pos || pos == head)
		return 0;  /* empty packet: the kernel returns at once */
	t = ph.transport;
	asoc = transport_asoc(t);
	if (!asoc) {
		count(SCTPCORR_C_NO_ASOC);
		return 0;
	}
	EMIT_BEGIN(e, struct sctpcorr_egress, SCTPCORR_EV_EGRESS, asoc);
	fill_path(&e->path, t);
	e->vtag = ph.vtag;
	e->sport = ph.source_port;
	e->dport = ph.destination_port;
	e->size = ph.size;
	/* cwnd, ssthresh, partial_bytes_acked, flight_size are adjacent in struct sctp_transport: one read */
	{
		struct { u32 cwnd, ssthresh, pba, flight; } cg = {};
		bpf_probe_read_kernel(&cg, sizeof(cg), &t->cwnd);
		e->cwnd = cg.cwnd;
		e->ssthresh = cg.ssthresh;
		e->pba = cg.pba;
		e->flight_size = cg.flight;
	}
	/* the local receive window as this packet leaves (its SACK, if any, advertises it): rwnd, a_rwnd, rwnd_over,
	 * rwnd_press are adjacent in struct sctp_association */
	{
		struct { u32 rwnd, a_rwnd, over, press; } rw = {};
		struct sock *sk = NULL;
		int rmem = 0, rcvbuf = 0;
		bpf_probe_read_kernel(&rw, sizeof(rw), &asoc->rwnd);
		e->rwnd = rw.rwnd;
		e->a_rwnd = rw.a_rwnd;
		e->rwnd_over = rw.over;
		e->rwnd_press = rw.press;
		RD(sk, asoc->base.sk);
		if (sk) {
			RD(rmem, sk->sk_backlog.rmem_alloc.counter);
			RD(rcvbuf, sk->sk_rcvbuf);
		}
		e->rmem_alloc = rmem;
		e->rcvbuf = rcvbuf;
	}
	key = (u64)asoc;
	cause = rtx_cause.lookup(&key);
	if (cause)
		cause_reason = cause->reason;  /* 0 = no cause noted for this association */
#pragma unroll
	for (int i = 0; i < SCTPCORR_MAX_CHUNKS; i++) {
		if (!pos || pos == head)
			break;
		struct sctp_chunk *ch = (struct sctp_chunk *)pos; /* `list` is the first member */
		struct sctpcorr_chunk *c = &e->chunks[i];
		struct sctp_chunkhdr *chdr = NULL;
		struct { struct sctp_chunkhdr hh; u32 value; } hv = {};
		struct chunk_bits bits = {};
		int sent = 0;

		RD(chdr, ch->chunk_hdr);
		if (chdr)  /* the chunk header and the 4 bytes after it (TSN, cumulative TSN ack...): one read */
			bpf_probe_read_kernel(&hv, sizeof(hv), chdr);
		c->type = hv.hh.type;
		c->flags = hv.hh.flags;
		c->length = bswap16(hv.hh.length);
		c->value = bswap32(hv.value);
		RD(sent, ch->sent_count);
		c->sent_count = sent;
		{
			unsigned long sa = 0;
			RD(sa, ch->sent_at);
			c->sent_at_lo = (u32)sa;
		}
		bpf_probe_read_kernel(&bits, sizeof(bits), (void *)ch + CHUNK_BITS_OFF);
		c->fast_rtx = bits.fast_retransmit;
		if ((hv.hh.type == SCTP_CID_DATA || hv.hh.type == SCTP_CID_I_DATA) && sent > 1) {
			if (bits.fast_retransmit == SCTP_DONT_FRTX &&
			    (!cause_reason || cause_reason == SCTPCORR_RTX_FAST))
				c->rtx_reason = SCTPCORR_RTX_FAST;
			else if (cause_reason)
				c->rtx_reason = cause_reason;
			else
				c->rtx_reason = SCTPCORR_RTX_UNKNOWN;
		}
		rec++;
		RD(pos, pos->next);
	}
	n = rec;
	if (pos && pos != head) {
#pragma unroll
		for (int i = 0; i < SCTPCORR_COUNT_MORE; i++) {
			if (!pos || pos == head)
				break;
			n++;
			count(SCTPCORR_C_CHUNKS_TRUNCATED);
			RD(pos, pos->next);
		}
	}
	e->n_chunks = n;
	e->n_recorded = rec;
	emit_end(e, SCTPCORR_EV_EGRESS);
	return 0;
}

int kp_packet_transmit(struct pt_regs *ctx)
{
	return do_kp_packet_transmit(PT_REGS_PARM1(ctx), KP_KEY(ctx));
}

int fe_packet_transmit(u64 *ctx)
{
	return do_kp_packet_transmit(ctx[0], 0);
}
#endif
