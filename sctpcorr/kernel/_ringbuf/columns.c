/* sctpcorr.kernel._ringbuf.columns: --raw records straight into columns.
 *
 * Why: the correlator reads a bulk recording (a million events, 250 MB of ABI structs) column by column.  numpy
 * can view the records as structured arrays (split()), but then every field is a strided pass over the whole
 * buffer, and the egress chunk arrays a gather of their own: about a microsecond per event.  Here one pass over
 * the records writes every field the correlator reads into its own int64 column, at memory speed.
 *
 * columns(buf) -> (by_type, consumed_bytes, bad_records)
 *   buf: <u32 little-endian length><record>... (a --raw recording, or drain()'s output)
 *   by_type: {event type: {column name: bytes of int64}} for the event types below (rto_update, sack, path,
 *            hb_sent, hb_ack, egress; the egress chunks as columns "c.*" with "c.row", the egress row they
 *            belong to), {event type: bytes} (the records concatenated, as split() gives them) for the others.
 *   consumed_bytes: where the last whole record ends (a torn tail is left for the next block);
 *   bad_records: records too short for their type, or of a type >= 64 (skipped).
 *
 * Every record of a type gets a row; the header and path fields come first (ts_ns, jiffies, asoc, netns,
 * my_vtag, peer_vtag, assoc_id, lport, pport, state; family, addr_a, addr_b: the 16 address bytes as two
 * native-order u64, hb_nonce), then the type's own: only those the correlator reads (a path event, a third of
 * a bulk recording, is read for its cwnd).  Fields are read as unsigned little-endian integers of their
 * C size.  The offsets come from sctpcorr_abi.h itself, so the ABI has one definition.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../bpf/sctpcorr_abi.h"

#define NTYPES 64
#define MAXCOLS 40

static inline int64_t u64at(const __u8 *b)
{
	uint64_t v;
	memcpy(&v, b, 8);
	return (int64_t)v;
}

/* Each type's columns as X(name, expression of the record r): one list makes both the names and the code. */
#define HDR(X)                                                                                             \
	X(ts_ns, r.hdr.ts_ns) X(jiffies, r.hdr.jiffies) X(asoc, r.hdr.asoc) X(netns, r.hdr.netns)            \
	X(my_vtag, r.hdr.my_vtag) X(peer_vtag, r.hdr.peer_vtag) X(assoc_id, r.hdr.assoc_id)                 \
	X(lport, r.hdr.lport) X(pport, r.hdr.pport) X(state, r.hdr.state)
#define PATH(X)                                                                                            \
	X(family, r.path.addr.family) X(addr_a, u64at(r.path.addr.addr)) X(addr_b, u64at(r.path.addr.addr + 8)) \
	X(hb_nonce, r.path.hb_nonce)
#define RTO(X)                                                                                             \
	HDR(X) PATH(X) X(rtt_j, r.rtt_j) X(srtt_before_j, r.srtt_before_j) X(rttvar_before_j, r.rttvar_before_j) \
	X(srtt_j, r.srtt_j) X(rttvar_j, r.rttvar_j) X(source, r.source) X(paired, r.paired)                 \
	X(rto_before_j, r.rto_before_j) X(rto_j, r.rto_j) X(rto_min_j, r.rto_min_j) X(rto_max_j, r.rto_max_j)
#define SACK(X)                                                                                            \
	HDR(X) PATH(X) X(cum_tsn_ack, r.cum_tsn_ack) X(a_rwnd, r.a_rwnd) X(n_gap_blocks, r.n_gap_blocks)    \
	X(n_dup_tsns, r.n_dup_tsns) X(peer_rwnd, r.peer_rwnd) X(pathmtu, r.pathmtu) X(next_tsn, r.next_tsn) \
	X(ctsn_ack_point, r.ctsn_ack_point) X(outstanding_bytes, r.outstanding_bytes) X(out_qlen, r.out_qlen)
#define PATHINFO(X)                                                                                        \
	HDR(X) PATH(X) X(cwnd, r.cwnd) X(ssthresh, r.ssthresh) X(flight_size, r.flight_size)                 \
	X(path_state, r.path_state)
#define HB(X) HDR(X) PATH(X) X(sent_at_j, r.sent_at_j) X(rtt_j, r.rtt_j) X(rto_j, r.rto_j)
#define EGRESS(X)                                                                                          \
	HDR(X) PATH(X) X(size, r.size) X(n_chunks, r.n_chunks) X(n_recorded, r.n_recorded) X(cwnd, r.cwnd)   \
	X(flight_size, r.flight_size) X(a_rwnd, r.a_rwnd)
#define CHUNK(X)                                                                                           \
	X(c.value, r.value) X(c.length, r.length) X(c.type, r.type) X(c.flags, r.flags)                      \
	X(c.sent_count, r.sent_count) X(c.rtx_reason, r.rtx_reason) X(c.sent_at_lo, r.sent_at_lo)

#define NAME(n, e) #n,
#define FILL(n, e) row[c++] = (int64_t)(e);
static const char *const RTO_N[] = { RTO(NAME) NULL }, *const SACK_N[] = { SACK(NAME) NULL },
	*const PATHINFO_N[] = { PATHINFO(NAME) NULL }, *const HB_N[] = { HB(NAME) NULL },
	*const EGRESS_N[] = { EGRESS(NAME) NULL }, *const CHUNK_N[] = { CHUNK(NAME) "c.row", "c.pos", NULL };
#define N_CHUNK_COLS 9

#define FILLER(fn, st, LIST)                                                                               \
	static void fn(const unsigned char *p, int64_t *row)                                                  \
	{                                                                                                    \
		st r;                                                                                        \
		int c = 0;                                                                                   \
		memcpy(&r, p, sizeof r);                                                                     \
		LIST(FILL)                                                                                   \
	}
FILLER(fill_rto, struct sctpcorr_rto_update, RTO)
FILLER(fill_sack, struct sctpcorr_sack, SACK)
FILLER(fill_pathinfo, struct sctpcorr_pathinfo, PATHINFO)
FILLER(fill_hb, struct sctpcorr_hb, HB)
FILLER(fill_egress, struct sctpcorr_egress, EGRESS)

typedef void (*filler_t)(const unsigned char *, int64_t *);

/* Rows are written one after the other into a small staging area (one write stream, in the cache), and every
 * STAGE_ROWS rows handed to the columns a column at a time: writing thirty columns row by row straight into
 * thirty arrays, or staging a whole 8 MB block, both ran 3 to 6 times slower (cache misses on this machine). */
#define STAGE_ROWS 256

static void flush(const int64_t *stage, size_t nc, int64_t *const *w, size_t first, size_t n)
{
	for (size_t c = 0; c < nc; c++) {
		int64_t *dst = w[c] + first;
		const int64_t *src = stage + c;
		for (size_t i = 0; i < n; i++)
			dst[i] = src[i * nc];
	}
}

/* the columns of event type t (NULL: kept as records), its filler and the record size it needs */
static const char *const *spec_of(uint32_t t, size_t *min_len, filler_t *fill)
{
	switch (t) {
	case SCTPCORR_EV_RTO_UPDATE: *min_len = sizeof(struct sctpcorr_rto_update); *fill = fill_rto; return RTO_N;
	case SCTPCORR_EV_SACK: *min_len = sizeof(struct sctpcorr_sack); *fill = fill_sack; return SACK_N;
	case SCTPCORR_EV_PATH: *min_len = sizeof(struct sctpcorr_pathinfo); *fill = fill_pathinfo; return PATHINFO_N;
	case SCTPCORR_EV_HB_SENT:
	case SCTPCORR_EV_HB_ACK: *min_len = sizeof(struct sctpcorr_hb); *fill = fill_hb; return HB_N;
	case SCTPCORR_EV_EGRESS: *min_len = sizeof(struct sctpcorr_egress); *fill = fill_egress; return EGRESS_N;
	default: *min_len = 4; *fill = NULL; return NULL;
	}
}

static size_t ncols(const char *const *names)
{
	size_t n = 0;
	while (names[n])
		n++;
	return n;
}

PyObject *ringbuf_columns(PyObject *self, PyObject *arg)
{
	Py_buffer view;
	if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
		return NULL;
	const unsigned char *p = view.buf;
	size_t n = (size_t)view.len, off = 0, end;
	size_t rows[NTYPES] = {0}, raw_bytes[NTYPES] = {0}, chunks = 0;
	(void)CHUNK_N;
	unsigned long long bad = 0;
	/* pass 1: rows per type (and egress chunks), where the whole records end */
	Py_BEGIN_ALLOW_THREADS
	while (off + 4 <= n) {
		uint32_t len, t;
		/* each record's length says where the next one starts: a chain of dependent loads, one every few
		 * cache lines; fetch the lines ahead (records are contiguous) instead of waiting for each */
		__builtin_prefetch(p + off + 1024);
		__builtin_prefetch(p + off + 1088);
		memcpy(&len, p + off, 4);
		if (off + 4 + (size_t)len > n)
			break;
		if (len >= 4) {
			memcpy(&t, p + off + 4, 4);
			size_t min_len = 4;
			filler_t fill;
			const char *const *spec = t < NTYPES ? spec_of(t, &min_len, &fill) : NULL;
			if (t >= NTYPES || len < min_len) {
				bad++;
			} else if (spec) {
				rows[t]++;
				if (t == SCTPCORR_EV_EGRESS) {
					uint16_t nr;
					memcpy(&nr, p + off + 4 + offsetof(struct sctpcorr_egress, n_recorded), 2);
					chunks += nr < SCTPCORR_MAX_CHUNKS ? nr : SCTPCORR_MAX_CHUNKS;
				}
			} else {
				raw_bytes[t] += len;
			}
		} else {
			bad++;
		}
		off += 4 + (size_t)len;
	}
	Py_END_ALLOW_THREADS
	end = off;
	PyObject *out = PyDict_New(), *cols[NTYPES][MAXCOLS] = {{0}}, *raws[NTYPES] = {0};
	PyObject *ccols[N_CHUNK_COLS] = {0};
	int64_t *w[NTYPES][MAXCOLS] = {{0}}, *cw[N_CHUNK_COLS] = {0};
	int64_t *stage[NTYPES] = {0};   /* rows as written (row-major): one write stream, not one per column */
	size_t nc[NTYPES] = {0};
	char *rw[NTYPES] = {0};
	if (!out)
		goto fail;
	for (int t = 0; t < NTYPES; t++) {
		size_t min_len;
		filler_t fill;
		const char *const *spec = spec_of((uint32_t)t, &min_len, &fill);
		if (rows[t] && spec) {
			nc[t] = ncols(spec);
			for (size_t c = 0; c < nc[t]; c++) {
				cols[t][c] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(rows[t] * 8));
				if (!cols[t][c])
					goto fail;
				w[t][c] = (int64_t *)PyBytes_AS_STRING(cols[t][c]);
			}
			stage[t] = PyMem_RawMalloc(STAGE_ROWS * nc[t] * 8);
			if (!stage[t]) {
				PyErr_NoMemory();
				goto fail;
			}
		} else if (raw_bytes[t]) {
			raws[t] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)raw_bytes[t]);
			if (!raws[t])
				goto fail;
			rw[t] = PyBytes_AS_STRING(raws[t]);
		}
	}
	if (rows[SCTPCORR_EV_EGRESS]) {
		for (int c = 0; c < N_CHUNK_COLS; c++) {
			ccols[c] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(chunks * 8));
			if (!ccols[c])
				goto fail;
			cw[c] = (int64_t *)PyBytes_AS_STRING(ccols[c]);
		}
	}
	/* pass 2: fill */
	Py_BEGIN_ALLOW_THREADS
	size_t row_of[NTYPES] = {0};
	off = 0;
	while (off < end) {
		uint32_t len, t;
		__builtin_prefetch(p + off + 1024);
		__builtin_prefetch(p + off + 1088);
		memcpy(&len, p + off, 4);
		const unsigned char *r = p + off + 4;
		off += 4 + (size_t)len;
		if (len < 4)
			continue;
		memcpy(&t, r, 4);
		size_t min_len = 4;
		filler_t fill = NULL;
		const char *const *spec = t < NTYPES ? spec_of(t, &min_len, &fill) : NULL;
		if (t >= NTYPES || len < min_len)
			continue;
		if (!spec) {
			memcpy(rw[t], r, len);
			rw[t] += len;
			continue;
		}
		size_t i = row_of[t]++;
		fill(r, stage[t] + (i % STAGE_ROWS) * nc[t]);
		if (i % STAGE_ROWS == STAGE_ROWS - 1)
			flush(stage[t], nc[t], w[t], i + 1 - STAGE_ROWS, STAGE_ROWS);
		if (t == SCTPCORR_EV_EGRESS) {
			uint16_t nr;
			memcpy(&nr, r + offsetof(struct sctpcorr_egress, n_recorded), 2);
			if (nr > SCTPCORR_MAX_CHUNKS)
				nr = SCTPCORR_MAX_CHUNKS;
			for (uint16_t k = 0; k < nr; k++) {
				struct sctpcorr_chunk c_;
				memcpy(&c_, r + offsetof(struct sctpcorr_egress, chunks) + (size_t)k * sizeof c_, sizeof c_);
				*cw[0]++ = c_.value;
				*cw[1]++ = c_.length;
				*cw[2]++ = c_.type;
				*cw[3]++ = c_.flags;
				*cw[4]++ = c_.sent_count;
				*cw[5]++ = c_.rtx_reason;
				*cw[6]++ = c_.sent_at_lo;
				*cw[7]++ = (int64_t)i;
				*cw[8]++ = k;
			}
		}
	}
	for (int t = 0; t < NTYPES; t++) {      /* the rows still staged */
		if (!stage[t])
			continue;
		size_t left = row_of[t] % STAGE_ROWS;
		if (left)
			flush(stage[t], nc[t], w[t], row_of[t] - left, left);
		PyMem_RawFree(stage[t]);
		stage[t] = NULL;
	}
	Py_END_ALLOW_THREADS
	for (int t = 0; t < NTYPES; t++) {
		PyObject *val = NULL;
		size_t min_len;
		filler_t fill;
		const char *const *spec = spec_of((uint32_t)t, &min_len, &fill);
		if (rows[t] && spec) {
			val = PyDict_New();
			if (!val)
				goto fail;
			for (size_t c = 0; spec[c]; c++) {
				if (PyDict_SetItemString(val, spec[c], cols[t][c]) < 0) {
					Py_DECREF(val);
					goto fail;
				}
				Py_CLEAR(cols[t][c]);
			}
			if (t == SCTPCORR_EV_EGRESS) {
				for (int c = 0; c < N_CHUNK_COLS; c++) {
					if (PyDict_SetItemString(val, CHUNK_N[c], ccols[c]) < 0) {
						Py_DECREF(val);
						goto fail;
					}
					Py_CLEAR(ccols[c]);
				}
			}
		} else if (raws[t]) {
			val = raws[t];
			raws[t] = NULL;
		} else {
			continue;
		}
		PyObject *k = PyLong_FromLong(t);
		int rc = k ? PyDict_SetItem(out, k, val) : -1;
		Py_XDECREF(k);
		Py_DECREF(val);
		if (rc < 0)
			goto fail;
	}
	PyBuffer_Release(&view);
	return Py_BuildValue("(NnK)", out, (Py_ssize_t)end, bad);
fail:
	for (int t = 0; t < NTYPES; t++) {
		PyMem_RawFree(stage[t]);
		for (int c = 0; c < MAXCOLS; c++)
			Py_XDECREF(cols[t][c]);
		Py_XDECREF(raws[t]);
	}
	for (int c = 0; c < N_CHUNK_COLS; c++)
		Py_XDECREF(ccols[c]);
	Py_XDECREF(out);
	PyBuffer_Release(&view);
	return NULL;
}
