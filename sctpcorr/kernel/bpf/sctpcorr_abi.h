/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sctpcorr_abi.h - every structure that crosses the kernel/user boundary of `sctpcorr probe`.
 *
 * Rules (docs/design and style.md 10.5):
 *   - only __u8/__u16/__u32/__u64, natural alignment, EXPLICIT padding fields (no packed attribute),
 *     every struct a multiple of 8 bytes, so that clang (BPF), gcc (the ABI test) and ctypes agree;
 *   - every event starts with struct sctpcorr_hdr, whose first field is the event type (a tagged union);
 *   - the Python mirror is sctpcorr/kernel/abi.py; tests/kernel/test_abi_layout.py compiles this header with
 *     the host compiler and compares sizeof/offsetof of every struct and field with the mirror.
 *     Change both together and bump SCTPCORR_ABI_VERSION.
 *
 * Units: *_ns are nanoseconds of CLOCK_MONOTONIC (bpf_ktime_get_ns); *_j fields are kernel jiffies exactly as
 * the kernel keeps them (user space converts them with the running kernel's HZ); byte counts are bytes.
 * Addresses are normalised from union sctp_addr: family 2 (AF_INET, addr[0..3]) or 10 (AF_INET6).
 * TSNs, vtags and ports are in host byte order.
 */
#ifndef SCTPCORR_ABI_H
#define SCTPCORR_ABI_H

#include <linux/types.h>

#define SCTPCORR_ABI_VERSION 2

#define SCTPCORR_MAX_CHUNKS 16 /* chunks recorded per egress packet; more are counted, not recorded */
#define SCTPCORR_NR_TYPES 16   /* event type slots in the counter array */

enum sctpcorr_event_type {
	SCTPCORR_EV_NONE = 0,
	SCTPCORR_EV_RTO_UPDATE = 1,  /* sctp_transport_update_rto: sample (entry) + SRTT/RTTVAR/RTO (return) */
	SCTPCORR_EV_SACK = 2,        /* tracepoint sctp:sctp_probe (raw): a SACK about to be processed */
	SCTPCORR_EV_PATH = 3,        /* tracepoint sctp:sctp_probe_path (raw): one transport, per SACK */
	SCTPCORR_EV_CWND = 4,        /* sctp_transport_raise_cwnd / sctp_transport_lower_cwnd */
	SCTPCORR_EV_RTX_MARK = 5,    /* sctp_retransmit: chunks queued for retransmission, with the reason */
	SCTPCORR_EV_T3_EXPIRE = 6,   /* sctp_generate_t3_rtx_event: the T3-rtx timer of a transport fired */
	SCTPCORR_EV_HB_SENT = 7,     /* sctp_make_heartbeat (return: the chunk it built) */
	SCTPCORR_EV_HB_ACK = 8,      /* sctp_sf_backbeat_8_3: a HEARTBEAT-ACK arrived */
	SCTPCORR_EV_PATH_STATE = 9,  /* sctp_assoc_control_transport: UP / DOWN / PF command, state before/after */
	/* 10, 11: ABI 1's assoc_state and rwnd events (sctp_do_sm and sctp_assoc_rwnd_* entry + return pairs, the
	 * costliest probes): user space now derives them from the state in every header and the window in every
	 * egress event (sctpcorr/kernel/derive.py) */
	SCTPCORR_EV_EGRESS = 12,     /* sctp_packet_transmit: one packet leaving the stack, with its chunks */
	SCTPCORR_EV_ASSOC_CHANGE = 13,/* sctp_ulpevent_make_assoc_change (a notification to the application) or
	                              * sctp_association_free (the association's end) */
};

/* Indexes into the per-CPU counter array (BPF_PERCPU_ARRAY "counters", SCTPCORR_NR_COUNTERS slots). */
enum sctpcorr_counter {
	SCTPCORR_C_EMITTED = 0,                          /* + event type: events written to the ring buffer */
	SCTPCORR_C_LOST = SCTPCORR_NR_TYPES,             /* + event type: bpf_ringbuf_reserve failed (buffer full) */
	SCTPCORR_C_FILTERED = 2 * SCTPCORR_NR_TYPES,     /* events dropped by a filter (--port/--assoc/--addr/--pid) */
	SCTPCORR_C_INFLIGHT_FULL,   /* entry of a paired probe not stored: in-flight map full (return not reported) */
	SCTPCORR_C_INFLIGHT_STALE,  /* entry overwrote a stale in-flight entry (a return probe was missed) */
	SCTPCORR_C_RET_UNPAIRED,    /* return probe without a stored entry (entry missed or evicted) */
	SCTPCORR_C_CHUNKS_TRUNCATED,/* egress chunks beyond SCTPCORR_MAX_CHUNKS (counted in n_chunks, not listed) */
	SCTPCORR_C_NO_ASOC,         /* probe hits without an association (ignored) */
	SCTPCORR_C_HB_SAMPLE,       /* RTO updates recognised as HEARTBEAT-ACK samples */
	SCTPCORR_C_RTX_CAUSE_SET,   /* retransmission causes remembered (rtx_cause LRU map inserts/updates) */
	SCTPCORR_C_PATH_UNCHANGED,  /* sctp_probe_path hits not written: nothing but flight had changed on that path */
	SCTPCORR_NR_COUNTERS
};

/* Retransmission reason, as reported in RTX_MARK events and egress chunk entries. */
enum sctpcorr_rtx_reason {
	SCTPCORR_RTX_NONE = 0,   /* not a retransmission */
	SCTPCORR_RTX_T3 = 1,     /* T3-rtx timeout */
	SCTPCORR_RTX_FAST = 2,   /* fast retransmit (3 missing reports) */
	SCTPCORR_RTX_PMTUD = 3,  /* path MTU decrease */
	SCTPCORR_RTX_T1 = 4,     /* T1 (INIT/COOKIE) timeout retransmission of DATA bundled with COOKIE-ECHO */
	SCTPCORR_RTX_UNKNOWN = 5,/* sent again, no visible cause */
};

/* RTO update sample source */
enum sctpcorr_rtt_source {
	SCTPCORR_RTT_DATA = 0,      /* DATA chunk acknowledged by a SACK (sctp_check_transmitted) */
	SCTPCORR_RTT_HEARTBEAT = 1, /* HEARTBEAT-ACK (sctp_cmd_transport_on) */
};

/* Common event header: 64 bytes. */
struct sctpcorr_hdr {
	__u32 type;       /* enum sctpcorr_event_type */
	__u32 cpu;        /* CPU the probe ran on */
	__u64 ts_ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC, ns */
	__u64 jiffies;    /* bpf_jiffies64(): the kernel's jiffies at the event */
	__u64 asoc;       /* struct sctp_association * (kernel address; identity together with the vtags), 0 = none */
	__u32 netns;      /* inode number of the association's network namespace (as in /proc/PID/ns/net) */
	__u32 tgid;       /* current task's process id (0 or unrelated in softirq context) */
	__u32 my_vtag;    /* asoc->c.my_vtag: the tag the peer puts in packets to us */
	__u32 peer_vtag;  /* asoc->c.peer_vtag: the tag we put in packets to the peer */
	__u32 assoc_id;   /* asoc->assoc_id (host-local, never on the wire) */
	__u16 lport;      /* local port (asoc->base.bind_addr.port) */
	__u16 pport;      /* peer port (asoc->peer.port) */
	__u8 state;       /* asoc->state at the event (enum sctp_state) */
	__u8 _pad0[3];
	__u32 _pad1;
};

/* A normalised transport address: 24 bytes. */
struct sctpcorr_addr {
	__u16 family;     /* 2 AF_INET, 10 AF_INET6, 0 none */
	__u16 port;       /* host order */
	__u32 _pad;
	__u8 addr[16];    /* IPv4 in addr[0..3], IPv6 all 16 (network order, as on the wire) */
};

/* A path (struct sctp_transport): 40 bytes. */
struct sctpcorr_path {
	struct sctpcorr_addr addr; /* transport->ipaddr: the peer address of this path */
	__u64 transport;           /* struct sctp_transport * (kernel address), 0 = unknown */
	__u64 hb_nonce;            /* transport->hb_nonce (equals the nonce in this path's HEARTBEAT info) */
};

/* SCTPCORR_EV_RTO_UPDATE: one RTT sample and the values it produced. */
struct sctpcorr_rto_update {
	struct sctpcorr_hdr hdr;
	struct sctpcorr_path path;
	__u32 rtt_j;          /* the sample passed to sctp_transport_update_rto (jiffies) */
	__u32 srtt_before_j;  /* tp->srtt at entry (jiffies) */
	__u32 rttvar_before_j;/* tp->rttvar at entry (jiffies) */
	__u32 srtt_j;         /* tp->srtt at return (jiffies) */
	__u32 rttvar_j;       /* tp->rttvar at return (jiffies) */
	__u8 source;          /* enum sctpcorr_rtt_source */
	__u8 paired;          /* 1: the return values were read (0: return probe missed, *_j after = 0) */
	__u16 _pad0;
	__u64 rto_before_j;   /* tp->rto at entry (jiffies) */
	__u64 rto_j;          /* tp->rto at return (jiffies, after the rto_min/rto_max clamp) */
	__u64 rto_min_j;      /* asoc->rto_min (jiffies) */
	__u64 rto_max_j;      /* asoc->rto_max (jiffies) */
};

/* SCTPCORR_EV_SACK: tracepoint sctp:sctp_probe (values before the SACK is processed). */
struct sctpcorr_sack {
	struct sctpcorr_hdr hdr;
	struct sctpcorr_path path;  /* chunk->transport: the path the SACK arrived on */
	__u32 cum_tsn_ack;    /* SACK cumulative TSN ack */
	__u32 a_rwnd;         /* SACK advertised receiver window (bytes) */
	__u16 n_gap_blocks;   /* SACK number of gap ack blocks */
	__u16 n_dup_tsns;     /* SACK number of duplicate TSNs */
	__u16 unack_data;     /* asoc->unack_data (as in the tracepoint) */
	__u16 _pad0;
	__u32 peer_rwnd;      /* asoc->peer.rwnd before processing (bytes) */
	__u32 pathmtu;        /* asoc->pathmtu (bytes) */
	__u32 mark;           /* skb->mark */
	__u32 next_tsn;       /* asoc->next_tsn: next TSN to assign */
	__u32 ctsn_ack_point; /* asoc->ctsn_ack_point: highest cumulatively acked TSN before this SACK */
	__u32 outstanding_bytes; /* asoc->outqueue.outstanding_bytes: DATA bytes in flight, all paths */
	__u32 out_qlen;       /* asoc->outqueue.out_qlen: bytes queued, not yet sent */
	__u32 sndbuf_used;    /* asoc->sndbuf_used: send buffer bytes charged to the association */
	__u32 sk_wmem_queued; /* sk->sk_wmem_queued (bytes) */
	__u32 sk_sndbuf;      /* sk->sk_sndbuf (bytes) */
};

/* SCTPCORR_EV_PATH: tracepoint sctp:sctp_probe_path (one per transport per SACK). */
struct sctpcorr_pathinfo {
	struct sctpcorr_hdr hdr;
	struct sctpcorr_path path;
	__u32 cwnd;           /* bytes */
	__u32 ssthresh;       /* bytes */
	__u32 flight_size;    /* bytes */
	__u32 partial_bytes_acked; /* bytes */
	__u32 pathmtu;        /* bytes */
	__u32 srtt_j;         /* jiffies */
	__u32 rttvar_j;       /* jiffies */
	__u32 rtt_j;          /* tp->rtt: the last sample (jiffies) */
	__u64 rto_j;          /* jiffies */
	__u16 error_count;    /* tp->error_count */
	__u8 primary;         /* 1: asoc->peer.primary_path == this transport */
	__u8 active;          /* 1: asoc->peer.active_path == this transport */
	__u8 path_state;      /* tp->state: 0 INACTIVE 1 PF 2 ACTIVE 3 UNCONFIRMED (255 = UNKNOWN) */
	__u8 _pad0[3];
};

/* SCTPCORR_EV_CWND */
struct sctpcorr_cwnd {
	struct sctpcorr_hdr hdr;
	struct sctpcorr_path path;
	__u8 op;              /* 2 lower (ABI 1 also sent 1 = raise; raises are now derived in user space) */
	__u8 reason;          /* raise: 0 slow start, 1 congestion avoidance; lower: enum sctp_lower_cwnd + 1
	                       * (1 T3_RTX, 2 FAST_RTX, 3 ECNE, 4 INACTIVE) */
	__u8 fast_recovery;   /* asoc->fast_recovery at entry */
	__u8 paired;          /* 1: the after values were read at return */
	__u32 cwnd_before;
	__u32 cwnd_after;
	__u32 ssthresh_before;
	__u32 ssthresh_after;
	__u32 pba_before;     /* partial_bytes_acked */
	__u32 pba_after;
	__u32 flight_size;    /* at entry (bytes) */
	__u32 sack_ctsn;      /* raise: the SACK's cumulative TSN ack argument */
	__u32 bytes_acked;    /* raise: bytes newly acked on this transport */
};

/* SCTPCORR_EV_RTX_MARK */
struct sctpcorr_rtx_mark {
	struct sctpcorr_hdr hdr;
	struct sctpcorr_path path;
	__u8 reason;          /* enum sctpcorr_rtx_reason */
	__u8 _pad0;
	__u16 error_count;    /* transport->error_count */
	__u32 flight_size;    /* transport->flight_size (bytes) */
	__u32 cwnd;           /* transport->cwnd (bytes) */
	__u32 outstanding_bytes; /* q->outstanding_bytes (bytes) */
	__u64 rto_j;          /* transport->rto (jiffies) */
};

/* SCTPCORR_EV_T3_EXPIRE */
struct sctpcorr_t3 {
	struct sctpcorr_hdr hdr;
	struct sctpcorr_path path;
	__u64 rto_j;          /* transport->rto when the timer fired (before the 8.2/6.3.3 back-off) */
	__u32 flight_size;    /* bytes */
	__u32 cwnd;           /* bytes */
	__u16 error_count;
	__u8 deferred;        /* 1: socket owned by user: the kernel re-armed the timer (HZ/20) instead */
	__u8 _pad0[5];
};

/* SCTPCORR_EV_HB_SENT / SCTPCORR_EV_HB_ACK */
struct sctpcorr_hb {
	struct sctpcorr_hdr hdr;
	struct sctpcorr_path path;  /* HB_SENT: the transport (hb_nonce as put in the chunk); HB_ACK: address and
	                             * nonce from the echoed HB info (path.transport = 0) */
	__u64 sent_at_j;      /* the HEARTBEAT info's sent_at: HB_SENT as stamped in the chunk, HB_ACK as echoed */
	__u32 rtt_j;          /* HB_ACK: jiffies now - sent_at; HB_SENT: 0 */
	__u32 probe_size;     /* PLPMTUD probe size (0 = plain heartbeat) */
	__u64 rto_j;          /* HB_SENT: transport->rto */
	__u32 hbinterval_j;   /* HB_SENT: transport->hbinterval (jiffies) */
	__u16 error_count;    /* HB_SENT: transport->error_count */
	__u8 path_state;      /* HB_SENT: transport->state */
	__u8 _pad0;
};

/* SCTPCORR_EV_PATH_STATE */
struct sctpcorr_path_state {
	struct sctpcorr_hdr hdr;
	struct sctpcorr_path path;
	__u8 command;         /* enum sctp_transport_cmd: 0 UP, 1 DOWN, 2 PF */
	__u8 state_before;    /* tp->state before (0 INACTIVE 1 PF 2 ACTIVE 3 UNCONFIRMED) */
	__u8 state_after;     /* tp->state after (255 if the return was not seen) */
	__u8 primary;         /* 1: asoc->peer.primary_path == this transport (after) */
	__u8 active;          /* 1: asoc->peer.active_path == this transport (after) */
	__u8 paired;
	__u16 error_count;    /* tp->error_count at entry */
	__u32 sn_error;       /* the sctp_sn_error_t argument (e.g. SCTP_HEARTBEAT_SUCCESS, SCTP_FAILED_THRESHOLD) */
	__u32 _pad0;
};

/* SCTPCORR_EV_ASSOC_STATE */
struct sctpcorr_assoc_change {
	struct sctpcorr_hdr hdr;   /* hdr.state: asoc->state at the call (a notification is built before the state
	                            * machine applies the new state: COMM_UP arrives while still COOKIE_ECHOED) */
	__u8 kind;            /* 1 notification (sctp_ulpevent_make_assoc_change), 2 freed (sctp_association_free) */
	__u8 _pad0;
	__u16 sac_state;      /* kind 1: enum sctp_sac_state: 0 COMM_UP 1 COMM_LOST 2 RESTART 3 SHUTDOWN_COMP
	                       * 4 CANT_STR_ASSOC */
	__u16 sac_error;      /* kind 1: the error (an ABORT's cause code, or 0) */
	__u16 sac_flags;
	__u16 outbound_streams; /* kind 1 */
	__u16 inbound_streams;  /* kind 1 */
	__u32 _pad1;
};

/* One chunk of an egress packet: 16 bytes. */
struct sctpcorr_chunk {
	__u32 value;          /* DATA/I-DATA: TSN; SACK/NR-SACK: cumulative TSN ack; FORWARD-TSN: new cum TSN;
	                       * other chunk types: the first 4 bytes after the chunk header (host order) */
	__u16 length;         /* chunk length field (bytes, without padding) */
	__u8 type;            /* chunk type */
	__u8 flags;           /* chunk flags */
	__u16 sent_count;     /* chunk->sent_count after packing (DATA: 1 first transmission, >1 retransmission) */
	__u8 fast_rtx;        /* chunk->fast_retransmit (0 CAN, 1 NEED, 2 DONT = was fast-retransmitted) */
	__u8 rtx_reason;      /* enum sctpcorr_rtx_reason (DATA with sent_count > 1, else 0) */
	__u32 sent_at_lo;     /* DATA: low 32 bits of chunk->sent_at (jiffies stamped when packed; the RTT sample's
	                       * start); the high bits are those of hdr.jiffies (the decoder restores them) */
};

/* SCTPCORR_EV_EGRESS */
struct sctpcorr_egress {
	struct sctpcorr_hdr hdr;
	struct sctpcorr_path path;  /* packet->transport */
	__u32 vtag;           /* packet->vtag: the verification tag in this packet's common header */
	__u16 sport;          /* packet->source_port */
	__u16 dport;          /* packet->destination_port */
	__u32 size;           /* packet->size: bytes of SCTP packet (common header + chunks) */
	__u16 n_chunks;       /* chunks in the packet */
	__u16 n_recorded;     /* chunks listed below (<= SCTPCORR_MAX_CHUNKS) */
	__u32 cwnd;           /* transport->cwnd (bytes) */
	__u32 flight_size;    /* transport->flight_size (bytes; includes this packet's DATA, counted when appended) */
	__u32 ssthresh;       /* transport->ssthresh (bytes) */
	__u32 pba;            /* transport->partial_bytes_acked (bytes) */
	__u32 rwnd;           /* asoc->rwnd: the local receive window as the packet leaves (bytes) */
	__u32 a_rwnd;         /* asoc->a_rwnd: the window last advertised in a SACK (bytes) */
	__u32 rwnd_over;      /* asoc->rwnd_over: bytes received beyond the window */
	__u32 rwnd_press;     /* asoc->rwnd_press: window withheld because the receive buffer is full */
	__u32 rmem_alloc;     /* sk->sk_rmem_alloc (bytes) */
	__u32 rcvbuf;         /* sk->sk_rcvbuf (bytes) */
	struct sctpcorr_chunk chunks[SCTPCORR_MAX_CHUNKS];
};

#endif /* SCTPCORR_ABI_H */
