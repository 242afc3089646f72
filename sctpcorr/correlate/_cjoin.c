/* sctpcorr.correlate._cjoin: the correlator's per-row joins in C.
 *
 * Why: a window of a bulk run joins a few hundred thousand rows per source (every DATA chunk, every SACK) several
 * times over.  In numpy each join was two or three sorts of the whole column (the k-th row of a key in one source
 * is the k-th row of the same key in the other: a stable argsort per source to number the occurrences, another to
 * look them up) plus a sort to number the keys: about half of a correlation's time.  Here a hash table on the key
 * does it in one pass over each source.
 *
 * Every function fills arrays its caller allocated (numpy, contiguous int64) and returns None; the Python side
 * (sctpcorr/correlate/joins.py) checks the types and lengths and keeps a numpy reference implementation the tests
 * compare with.
 *
 * occurrence_match(out, a0, a1, a_order, b0, b1, b_order)
 *   The rows of A and B are keyed by one column (a0/b0) or two (a1/b1 not None; equal keys: both columns equal).
 *   a_order/b_order: the rows in time order (a stable argsort of their times), or None when they already are.
 *   out[i] (len(A)): the row of B with the same key as A's row i and the same occurrence (the k-th row of that
 *   key in A's time order is paired with the k-th in B's), or -1.
 *
 * piece_bounds(edges, fk, fd, bk, bd) -> [(n_b, n_f, high of bd, low of fd), ...] per piece
 *   The clock bounds of each stretch of time (clock.Accumulator.add): edges (float64, ascending) cut the
 *   kernel times into pieces [e_i, e_i+1), the last one closed; per piece, how many upper-bound pairs (fk, fd)
 *   and lower-bound pairs (bk, bd) fall in it, the trimmed largest bd and the trimmed smallest fd (the k-th
 *   value, k = clock._trim(n), as numpy.partition gives it; None when the piece has none).  Times compare as
 *   float64, as numpy compares int64 with float64.
 *
 * wire_counts(records) -> (n_data, n_sack, n_gap, n_dup, n_hb, n_ctrl, first_ts, last_ts)
 * wire_fill(pieces, tables)
 *   The wire engine's per-chunk records (64 bytes each, sctpcorr.wire.records.RECORD_DTYPE; a list of pieces of
 *   them, in order: a window's slices of the blocks the engine drained) split into the column
 *   tables of correlate.wire.WireView in one pass (numpy: a stable sort by kind, a gather of the records, then a
 *   strided pass and a conversion per column).  tables: six lists of arrays (data, sacks, gaps, dups, hbs, ctrl),
 *   each array as long as its kind's count, in the order and of the dtypes WireView lists (checked: item sizes
 *   and lengths); rows keep the capture's order.  A GAP or DUP record's "sack" is the row of the last SACK
 *   before it.
 *
 * end_groups(gid, parts) -> [(key, first_row, rows, ts_min, ts_max, state_min, state_max, netns, lport, vtag)]
 *   The association ends of a block of kernel events (correlate.kernel.KernelView._from_columns): parts is one
 *   (ts, netns, lport, my_vtag, state) tuple of int64 columns per event type, the rows of all of them numbered
 *   one after the other; an end is the key (netns << 48) | (lport << 32) | my_vtag, wrapped to 64 bits as numpy
 *   computes it.  gid[row]: the row's group, numbered by first appearance; per group its key, first row, rows,
 *   the extremes of its times and states, and the first row's netns, lport and my_vtag.
 *
 * wire_ts(records) -> (first ts, smallest, largest, in order): the times of a block of records, in one pass.
 *
 * order_stats(x, ks) -> [the k-th smallest of x for each k of ks]  (0 <= k < len(x))
 *   A histogram of x (2^16 buckets over its range), then a selection inside the few buckets the ks fall in:
 *   three passes, where numpy.partition on a dozen ks makes a pass per k (clock.quantile_linear).
 *
 * addr_groups(dense, family, addr_a, addr_b, ends) -> ([(family, addr_a, addr_b)], [(end, group)]) or None
 *   The path addresses of one event type of a block: dense[row] numbers the distinct (family, address bytes)
 *   by first appearance, the first list gives them, the second the distinct (end, address number) pairs.
 *   None when one address's bytes came with two families (the caller then numbers them itself).
 *
 * is_sorted(x) -> whether the int64 values never decrease (one pass, no temporary array)
 *
 * dense_ids(out, k0, k1, first) -> number of distinct keys
 *   out[i]: the number of row i's key in order of first appearance (0, 1, ...); k1 may be None; first (None,
 *   or as long as the keys): first[g] is the first row of key number g (only the first n are written).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

static inline uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* An open-addressing table of distinct keys (one or two int64 columns), numbered in order of insertion. */
typedef struct {
	int64_t *slot;        /* group number + 1 (0: empty) */
	int64_t *k0, *k1;     /* each group's key */
	int64_t *next;        /* direct, two columns: the next group with the same first key (-1: none) */
	size_t mask, n;
	int two;
	int direct;           /* first keys spanning a short range: slot[key - base], no hashing */
	int long_chain;       /* direct, two columns: a first key had more than LONG_CHAIN groups (use a hash) */
	int64_t base;
	uint64_t range;
} keytab;

static int kt_init(keytab *t, size_t rows, int two)
{
	size_t cap = 16;
	while (cap < 2 * rows + 16)
		cap <<= 1;
	t->slot = PyMem_RawCalloc(cap, sizeof(int64_t));
	t->k0 = PyMem_RawMalloc((rows + 1) * sizeof(int64_t));
	t->k1 = two ? PyMem_RawMalloc((rows + 1) * sizeof(int64_t)) : NULL;
	t->mask = cap - 1;
	t->n = 0;
	t->two = two;
	t->direct = 0;
	t->next = NULL;
	return t->slot && t->k0 && (!two || t->k1);
}

#define LONG_CHAIN 64

/* A table for keys whose first column is k[0..rows): direct when those span at most 4 * rows + 64 values (TSNs
 * and cumulative acks of a window: nearly in order, so the lookups walk the table instead of jumping about; the
 * groups of one first key chained when there is a second column), else hashed. */
static int kt_init_for(keytab *t, const int64_t *k, size_t rows, int two)
{
	int64_t lo = 0, hi = 0;
	for (size_t i = 0; i < rows; i++) {
		if (!i || k[i] < lo)
			lo = k[i];
		if (!i || k[i] > hi)
			hi = k[i];
	}
	uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
	if (!rows || span == 0 || span > 4 * (uint64_t)rows + 64)
		return kt_init(t, rows, two);
	t->slot = PyMem_RawCalloc((size_t)span, sizeof(int64_t));
	t->k0 = PyMem_RawMalloc((rows + 1) * sizeof(int64_t));
	t->k1 = two ? PyMem_RawMalloc((rows + 1) * sizeof(int64_t)) : NULL;
	t->next = two ? PyMem_RawMalloc((rows + 1) * sizeof(int64_t)) : NULL;
	t->mask = 0;
	t->n = 0;
	t->two = two;
	t->direct = 1;
	t->long_chain = 0;
	t->base = lo;
	t->range = span;
	return t->slot && t->k0 && (!two || (t->k1 && t->next));
}

static void kt_free(keytab *t)
{
	PyMem_RawFree(t->next);
	PyMem_RawFree(t->slot);
	PyMem_RawFree(t->k0);
	PyMem_RawFree(t->k1);
}

/* the group of key (a, b); a new one when insert, else -1 when absent */
static inline int64_t kt_get(keytab *t, int64_t a, int64_t b, int insert)
{
	if (t->direct) {
		uint64_t d = (uint64_t)a - (uint64_t)t->base;
		if (d >= t->range)
			return -1;          /* outside the keys inserted (a direct table is made from all of them) */
		int64_t s = t->slot[d];
		if (t->two) {           /* the groups of one first key, chained */
			int steps = 0;
			for (int64_t g = s - 1; g >= 0; g = t->next[g]) {
				if (t->k1[g] == b)
					return g;
				if (++steps > LONG_CHAIN)
					t->long_chain = 1;
			}
		} else if (s || !insert) {
			return s - 1;
		}
		if (!insert)
			return -1;
		int64_t g = (int64_t)t->n++;
		t->k0[g] = a;
		if (t->two) {
			t->k1[g] = b;
			t->next[g] = s - 1;
		}
		t->slot[d] = g + 1;
		return g;
	}
	uint64_t h = mix64((uint64_t)a ^ (t->two ? mix64((uint64_t)b) : 0));
	size_t i = (size_t)h & t->mask;
	for (;;) {
		int64_t s = t->slot[i];
		if (!s)
			break;
		int64_t g = s - 1;
		if (t->k0[g] == a && (!t->two || t->k1[g] == b))
			return g;
		i = (i + 1) & t->mask;
	}
	if (!insert)
		return -1;
	int64_t g = (int64_t)t->n++;
	t->k0[g] = a;
	if (t->two)
		t->k1[g] = b;
	t->slot[i] = g + 1;
	return g;
}

/* An int64 column: a contiguous buffer of n items (n: -1 = take its length) */
typedef struct {
	Py_buffer v;
	int have;
} col;

static int get_col(PyObject *o, col *c, Py_ssize_t *n, int writable, const char *what)
{
	c->have = 0;
	if (o == Py_None)
		return 0;
	if (PyObject_GetBuffer(o, &c->v, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
		return -1;
	c->have = 1;
	if (c->v.itemsize != 8 || !c->v.format || (strcmp(c->v.format, "l") && strcmp(c->v.format, "q"))) {
		PyErr_Format(PyExc_TypeError, "_cjoin: %s must be int64", what);
		return -1;
	}
	Py_ssize_t len = c->v.len / 8;
	if (*n < 0)
		*n = len;
	else if (len != *n) {
		PyErr_Format(PyExc_ValueError, "_cjoin: %s has %zd rows, not %zd", what, len, *n);
		return -1;
	}
	return 0;
}

static void rel(col *c)
{
	if (c->have)
		PyBuffer_Release(&c->v);
	c->have = 0;
}

#define I64(c) ((const int64_t *)(c).v.buf)

static PyObject *occurrence_match(PyObject *self, PyObject *args)
{
	PyObject *o_out, *o_a0, *o_a1, *o_ao, *o_b0, *o_b1, *o_bo;
	if (!PyArg_ParseTuple(args, "OOOOOOO", &o_out, &o_a0, &o_a1, &o_ao, &o_b0, &o_b1, &o_bo))
		return NULL;
	col out, a0, a1, ao, b0, b1, bo;
	col *all[] = {&out, &a0, &a1, &ao, &b0, &b1, &bo};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		all[i]->have = 0;
	Py_ssize_t na = -1, nb = -1;
	PyObject *ret = NULL;
	int64_t *grp = NULL, *start = NULL, *fill = NULL, *csr = NULL;
	keytab t = {0};
	if (o_a0 == Py_None || o_b0 == Py_None || (o_a1 == Py_None) != (o_b1 == Py_None)) {
		PyErr_SetString(PyExc_TypeError, "_cjoin.occurrence_match: one or two key columns on both sides");
		return NULL;
	}
	if (get_col(o_a0, &a0, &na, 0, "a0") || get_col(o_a1, &a1, &na, 0, "a1") || get_col(o_ao, &ao, &na, 0, "a_order")
	    || get_col(o_out, &out, &na, 1, "out") || get_col(o_b0, &b0, &nb, 0, "b0") || get_col(o_b1, &b1, &nb, 0, "b1")
	    || get_col(o_bo, &bo, &nb, 0, "b_order"))
		goto done;
	int two = a1.have;
	if (!kt_init_for(&t, I64(b0), (size_t)nb, two)) {
		PyErr_NoMemory();
		goto done;
	}
	grp = PyMem_RawMalloc(((size_t)nb + 1) * sizeof(int64_t));
	csr = PyMem_RawMalloc(((size_t)nb + 1) * sizeof(int64_t));
	if (!grp || !csr) {
		PyErr_NoMemory();
		goto done;
	}
	const int64_t *B0 = I64(b0), *B1 = two ? I64(b1) : NULL, *BO = bo.have ? I64(bo) : NULL;
	const int64_t *A0 = I64(a0), *A1 = two ? I64(a1) : NULL, *AO = ao.have ? I64(ao) : NULL;
	int64_t *OUT = (int64_t *)out.v.buf;
	int oom = 0;
	for (Py_ssize_t j = 0; j < nb; j++) {     /* orders are permutations: checked as they are used */
		int64_t r = BO ? BO[j] : j;
		if (r < 0 || r >= nb) {
			PyErr_SetString(PyExc_ValueError, "_cjoin.occurrence_match: b_order out of range");
			goto done;
		}
	}
	for (Py_ssize_t j = 0; j < na; j++) {
		int64_t r = AO ? AO[j] : j;
		if (r < 0 || r >= na) {
			PyErr_SetString(PyExc_ValueError, "_cjoin.occurrence_match: a_order out of range");
			goto done;
		}
	}
	Py_BEGIN_ALLOW_THREADS
	/* B: each row's key group, in time order; then the rows of each group in time order (counting sort) */
	for (int pass = 0; pass < 2; pass++) {
		for (Py_ssize_t j = 0; j < nb; j++) {
			int64_t r = BO ? BO[j] : j;
			grp[j] = kt_get(&t, B0[r], two ? B1[r] : 0, 1);
		}
		if (!t.direct || !t.long_chain)
			break;
		kt_free(&t);             /* many second keys per first key: a hash table after all */
		if (!kt_init(&t, (size_t)nb, two)) {
			oom = 1;
			break;
		}
	}
	size_t ng = t.n;
	if (!oom) {
		start = PyMem_RawCalloc(ng + 1, sizeof(int64_t));
		fill = PyMem_RawCalloc(ng + 1, sizeof(int64_t));
	}
	if (start && fill) {
		for (Py_ssize_t j = 0; j < nb; j++)
			start[grp[j] + 1]++;
		for (size_t g = 0; g < ng; g++)
			start[g + 1] += start[g];
		for (Py_ssize_t j = 0; j < nb; j++) {
			int64_t g = grp[j];
			csr[start[g] + fill[g]++] = BO ? BO[j] : j;
		}
		memset(fill, 0, (ng + 1) * sizeof(int64_t));      /* now: occurrences seen in A, per group */
		for (Py_ssize_t j = 0; j < na; j++) {
			int64_t r = AO ? AO[j] : j;
			int64_t g = kt_get(&t, A0[r], two ? A1[r] : 0, 0);
			int64_t res = -1;
			if (g >= 0) {
				int64_t k = fill[g]++;
				if (k < start[g + 1] - start[g])
					res = csr[start[g] + k];
			}
			OUT[r] = res;
		}
	}
	Py_END_ALLOW_THREADS
	if (oom || !start || !fill) {
		PyErr_NoMemory();
		goto done;
	}
	ret = Py_NewRef(Py_None);
done:
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		rel(all[i]);
	kt_free(&t);
	PyMem_RawFree(grp);
	PyMem_RawFree(csr);
	PyMem_RawFree(start);
	PyMem_RawFree(fill);
	return ret;
}

static PyObject *dense_ids(PyObject *self, PyObject *args)
{
	PyObject *o_out, *o_k0, *o_k1, *o_first;
	if (!PyArg_ParseTuple(args, "OOOO", &o_out, &o_k0, &o_k1, &o_first))
		return NULL;
	col out, k0, k1, first;
	out.have = k0.have = k1.have = first.have = 0;
	Py_ssize_t n = -1;
	PyObject *ret = NULL;
	keytab t = {0};
	if (o_k0 == Py_None) {
		PyErr_SetString(PyExc_TypeError, "_cjoin.dense_ids: k0 is required");
		return NULL;
	}
	if (get_col(o_k0, &k0, &n, 0, "k0") || get_col(o_k1, &k1, &n, 0, "k1") || get_col(o_out, &out, &n, 1, "out")
	    || get_col(o_first, &first, &n, 1, "first"))
		goto done;
	int two = k1.have;
	if (!kt_init_for(&t, I64(k0), (size_t)n, two)) {
		PyErr_NoMemory();
		goto done;
	}
	const int64_t *K0 = I64(k0), *K1 = two ? I64(k1) : NULL;
	int64_t *OUT = (int64_t *)out.v.buf, *FIRST = first.have ? (int64_t *)first.v.buf : NULL;
	int ok = 1;
	Py_BEGIN_ALLOW_THREADS
	for (int pass = 0; pass < 2; pass++) {
		for (Py_ssize_t i = 0; i < n; i++) {
			size_t before = t.n;
			int64_t g = kt_get(&t, K0[i], two ? K1[i] : 0, 1);
			OUT[i] = g;
			if (FIRST && t.n != before)
				FIRST[g] = i;
		}
		if (!t.direct || !t.long_chain)
			break;
		kt_free(&t);             /* many second keys per first key: a hash table after all */
		if (!(ok = kt_init(&t, (size_t)n, two)))
			break;
	}
	Py_END_ALLOW_THREADS
	if (!ok) {
		PyErr_NoMemory();
		goto done;
	}
	ret = PyLong_FromSize_t(t.n);
done:
	rel(&out);
	rel(&k0);
	rel(&k1);
	rel(&first);
	kt_free(&t);
	return ret;
}

/* the k-th smallest of x[0..n) (x is reordered) */
static int64_t kth(int64_t *x, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;
	while (lo < hi) {
		int64_t a = x[lo], b = x[lo + (hi - lo) / 2], c = x[hi];
		int64_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
		size_t i = lo, j = hi;
		for (;;) {
			while (x[i] < pivot)
				i++;
			while (x[j] > pivot)
				j--;
			if (i >= j)
				break;
			int64_t t = x[i];
			x[i] = x[j];
			x[j] = t;
			i++;
			j--;
		}
		/* x[lo..j] <= pivot <= x[j+1..hi] */
		if (k <= j)
			hi = j;
		else
			lo = j + 1;
	}
	return x[k];
}

/* The k-th smallest (largest: 0) or the k-th largest (largest: 1) of x[0..n), for a small k: one pass keeping
 * the k + 1 most extreme values in a heap (most values are rejected by one comparison with its top); the same
 * value kth() selects. */
#define SMALL_K 512
static int64_t extreme_k(const int64_t *x, size_t n, size_t k, int largest)
{
	int64_t h[SMALL_K + 1];
	size_t m = 0;
	/* a heap whose top is the least extreme kept: the largest of the smallest, or the smallest of the largest */
#define WORSE(a, b) (largest ? (a) < (b) : (a) > (b))
	for (size_t i = 0; i < n; i++) {
		int64_t v = x[i];
		if (m < k + 1) {
			size_t c = m++;
			h[c] = v;
			while (c && WORSE(h[c], h[(c - 1) / 2])) {
				int64_t t = h[c];
				h[c] = h[(c - 1) / 2];
				h[(c - 1) / 2] = t;
				c = (c - 1) / 2;
			}
		} else if (WORSE(h[0], v)) {
			size_t c = 0;
			h[0] = v;
			for (;;) {
				size_t l = 2 * c + 1, r = l + 1, w = c;
				if (l < m && WORSE(h[l], h[w]))
					w = l;
				if (r < m && WORSE(h[r], h[w]))
					w = r;
				if (w == c)
					break;
				int64_t t = h[c];
				h[c] = h[w];
				h[w] = t;
				c = w;
			}
		}
	}
#undef WORSE
	return h[0];
}

static size_t trim(size_t n)
{
	size_t k = (size_t)((double)n * 0.001);       /* clock.QUANTILE, MIN_TRIM */
	return k > 0 ? k : (n >= 50 ? 1 : 0);
}

static PyObject *piece_bounds(PyObject *self, PyObject *args)
{
	PyObject *o_e, *o_fk, *o_fd, *o_bk, *o_bd;
	if (!PyArg_ParseTuple(args, "OOOOO", &o_e, &o_fk, &o_fd, &o_bk, &o_bd))
		return NULL;
	Py_buffer e;
	if (PyObject_GetBuffer(o_e, &e, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
		return NULL;
	col fk, fd, bk, bd;
	fk.have = fd.have = bk.have = bd.have = 0;
	Py_ssize_t nf = -1, nbk = -1;
	PyObject *ret = NULL;
	int64_t *buf = NULL;
	int32_t *pf = NULL, *pb = NULL;
	if (e.itemsize != 8 || !e.format || strcmp(e.format, "d") || e.len < 16) {
		PyErr_SetString(PyExc_TypeError, "_cjoin.piece_bounds: edges must be float64, two or more");
		goto done;
	}
	if (get_col(o_fk, &fk, &nf, 0, "fk") || get_col(o_fd, &fd, &nf, 0, "fd") || get_col(o_bk, &bk, &nbk, 0, "bk")
	    || get_col(o_bd, &bd, &nbk, 0, "bd"))
		goto done;
	const double *E = e.buf;
	size_t np_ = (size_t)(e.len / 8) - 1;
	buf = PyMem_RawMalloc(((size_t)nf + (size_t)nbk + 1) * sizeof(int64_t));
	pf = PyMem_RawMalloc(((size_t)nf + 1) * sizeof(int32_t));
	pb = PyMem_RawMalloc(((size_t)nbk + 1) * sizeof(int32_t));
	size_t *cnt = PyMem_RawCalloc(2 * np_ + 2, sizeof(size_t));
	if (!buf || !pf || !pb || !cnt) {
		PyMem_RawFree(cnt);
		PyErr_NoMemory();
		goto done;
	}
	const int64_t *FK = I64(fk), *FD = I64(fd), *BK = I64(bk), *BD = I64(bd);
	/* the piece of each pair (-1: none) */
	for (int side = 0; side < 2; side++) {
		const int64_t *K = side ? BK : FK;
		int32_t *P = side ? pb : pf;
		size_t n = side ? (size_t)nbk : (size_t)nf;
		for (size_t r = 0; r < n; r++) {
			double t = (double)K[r];
			P[r] = -1;
			for (size_t i = 0; i < np_; i++) {
				if (t >= E[i] && (i == np_ - 1 ? t <= E[i + 1] : t < E[i + 1])) {
					P[r] = (int32_t)i;
					cnt[2 * i + side]++;
					break;
				}
			}
		}
	}
	/* each piece's values in one stretch of buf (a counting sort by piece): upper-bound ones, then lower */
	size_t *at = PyMem_RawCalloc(2 * np_ + 2, sizeof(size_t));
	if (!at) {
		PyMem_RawFree(cnt);
		PyErr_NoMemory();
		goto done;
	}
	for (size_t i = 0, o = 0; i < 2 * np_; i++) {
		at[i] = o;
		o += cnt[i];
	}
	for (size_t r = 0; r < (size_t)nf; r++)      /* (at[] moves to the end of each stretch) */
		if (pf[r] >= 0)
			buf[at[2 * (size_t)pf[r]]++] = FD[r];
	for (size_t r = 0; r < (size_t)nbk; r++)
		if (pb[r] >= 0)
			buf[at[2 * (size_t)pb[r] + 1]++] = BD[r];
	ret = PyList_New(0);
	for (size_t i = 0; ret && i < np_; i++) {
		size_t n_f = cnt[2 * i], n_b = cnt[2 * i + 1];
		int64_t *vf = buf + at[2 * i] - n_f, *vb = buf + at[2 * i + 1] - n_b;
		size_t tb = n_b ? trim(n_b) : 0, tf = n_f ? trim(n_f) : 0;
		PyObject *hi = !n_b ? Py_NewRef(Py_None) : PyLong_FromLongLong(
			tb < SMALL_K ? extreme_k(vb, n_b, tb, 1) : kth(vb, n_b, n_b - 1 - tb));
		PyObject *lo = !n_f ? Py_NewRef(Py_None) : PyLong_FromLongLong(
			tf < SMALL_K ? extreme_k(vf, n_f, tf, 0) : kth(vf, n_f, tf));
		PyObject *item = (hi && lo) ? Py_BuildValue("(nnNN)", (Py_ssize_t)n_b, (Py_ssize_t)n_f, hi, lo) : NULL;
		if (!item) {
			Py_XDECREF(hi);
			Py_XDECREF(lo);
			Py_CLEAR(ret);
			break;
		}
		if (PyList_Append(ret, item) < 0)
			Py_CLEAR(ret);
		Py_DECREF(item);
	}
	PyMem_RawFree(at);
	PyMem_RawFree(cnt);
done:
	PyBuffer_Release(&e);
	rel(&fk);
	rel(&fd);
	rel(&bk);
	rel(&bd);
	PyMem_RawFree(buf);
	PyMem_RawFree(pf);
	PyMem_RawFree(pb);
	return ret;
}

/* sctpcorr.wire.records.RECORD_DTYPE (the engine's sc_wrec; wire.py checks the offsets at import) */
typedef struct {
	int64_t ts_ns;
	uint64_t frame_no;
	uint32_t assoc_id, vtag;
	uint16_t path;
	uint8_t type, flags, dir, note;
	uint16_t chunk_index;
	uint32_t tsn, a, b, c;
	uint64_t x, y;
} wrec;
_Static_assert(sizeof(wrec) == 64, "wrec is 64 bytes");

enum { K_DATA, K_SACK, K_GAP, K_DUP, K_HB, K_CTRL, N_KINDS };

static inline int kind_of(uint8_t t)
{
	switch (t) {
	case 0: case 64: return K_DATA;
	case 3: case 16: return K_SACK;
	case 0xF0: return K_GAP;
	case 0xF1: return K_DUP;
	case 4: case 5: return K_HB;
	default: return K_CTRL;
	}
}

static int get_records(PyObject *o, Py_buffer *v, size_t *n)
{
	if (PyObject_GetBuffer(o, v, PyBUF_C_CONTIGUOUS) < 0)
		return -1;
	if (v->len % (Py_ssize_t)sizeof(wrec)) {
		PyBuffer_Release(v);
		PyErr_SetString(PyExc_ValueError, "_cjoin: records are 64 bytes each");
		return -1;
	}
	*n = (size_t)v->len / sizeof(wrec);
	return 0;
}

static PyObject *wire_counts(PyObject *self, PyObject *arg)
{
	Py_buffer v;
	size_t n, cnt[N_KINDS] = {0};
	if (get_records(arg, &v, &n) < 0)
		return NULL;
	const wrec *r = v.buf;
	int64_t lo = 0, hi = 0;
	for (size_t i = 0; i < n; i++) {
		cnt[kind_of(r[i].type)]++;
		if (!i || r[i].ts_ns < lo)
			lo = r[i].ts_ns;
		if (!i || r[i].ts_ns > hi)
			hi = r[i].ts_ns;
	}
	PyBuffer_Release(&v);
	if (!n)
		return Py_BuildValue("(nnnnnnOO)", (Py_ssize_t)0, (Py_ssize_t)0, (Py_ssize_t)0, (Py_ssize_t)0,
				     (Py_ssize_t)0, (Py_ssize_t)0, Py_None, Py_None);
	return Py_BuildValue("(nnnnnnLL)", (Py_ssize_t)cnt[0], (Py_ssize_t)cnt[1], (Py_ssize_t)cnt[2],
			     (Py_ssize_t)cnt[3], (Py_ssize_t)cnt[4], (Py_ssize_t)cnt[5], (long long)lo, (long long)hi);
}

/* item size of each column, per kind: the five common ones (ts, frame, assoc, dir, path), then the kind's own */
static const int COLS[N_KINDS][16] = {
	{8, 8, 8, 1, 8, /* tsn sid ssn length ppid rtx kind spurious ibit first */ 4, 4, 8, 8, 4, 1, 1, 1, 1, 1, 0},
	{8, 8, 8, 1, 8, /* cum a_rwnd ngap ndup flight nr */ 4, 8, 4, 4, 8, 1, 0},
	{8, 8, 8, 1, 8, /* start end sack nr */ 4, 4, 8, 1, 0},
	{8, 8, 8, 1, 8, /* tsn sack */ 4, 8, 0},
	{8, 8, 8, 1, 8, /* ack linux nonce sent_at info_len */ 1, 1, 8, 8, 4, 0},
	{8, 8, 8, 1, 8, /* type flags value a b c */ 1, 1, 4, 4, 4, 4, 0},
};

#define MAXC 16

#define NBUCKETS (1 << 16)

static PyObject *order_stats(PyObject *self, PyObject *args)
{
	PyObject *o_x, *o_ks;
	if (!PyArg_ParseTuple(args, "OO", &o_x, &o_ks))
		return NULL;
	col x = {.have = 0}, ks = {.have = 0};
	Py_ssize_t n = -1, nk = -1;
	PyObject *ret = NULL;
	size_t *cnt = NULL, *cum = NULL;
	int64_t *buf = NULL;
	if (get_col(o_x, &x, &n, 0, "x") || get_col(o_ks, &ks, &nk, 0, "ks"))
		goto done;
	const int64_t *X = I64(x), *K = I64(ks);
	for (Py_ssize_t i = 0; i < nk; i++)
		if (K[i] < 0 || K[i] >= n) {
			PyErr_SetString(PyExc_ValueError, "_cjoin.order_stats: k out of range");
			goto done;
		}
	ret = PyList_New(nk);
	if (!ret || !nk)
		goto done;
	int64_t lo = X[0], hi = X[0];
	for (Py_ssize_t i = 1; i < n; i++) {
		if (X[i] < lo)
			lo = X[i];
		if (X[i] > hi)
			hi = X[i];
	}
	uint64_t span = (uint64_t)hi - (uint64_t)lo;
	int shift = 0;
	while ((span >> shift) >= NBUCKETS)
		shift++;
	cnt = PyMem_RawCalloc(NBUCKETS + 1, sizeof(size_t));
	cum = PyMem_RawMalloc((NBUCKETS + 1) * sizeof(size_t));
	buf = PyMem_RawMalloc(((size_t)n + 1) * sizeof(int64_t));
	if (!cnt || !cum || !buf) {
		Py_CLEAR(ret);
		PyErr_NoMemory();
		goto done;
	}
	for (Py_ssize_t i = 0; i < n; i++)
		cnt[((uint64_t)X[i] - (uint64_t)lo) >> shift]++;
	cum[0] = 0;
	for (size_t b = 0; b < NBUCKETS; b++)
		cum[b + 1] = cum[b] + cnt[b];
	/* the bucket of each k (cum[b] <= k < cum[b + 1]); their values gathered in one pass, each bucket's at
	 * buf[cum[b]...] (cnt reused as the fill count of the buckets wanted, 0 for the others) */
	size_t *bk = PyMem_RawMalloc(((size_t)nk + 1) * sizeof(size_t));
	if (!bk) {
		Py_CLEAR(ret);
		PyErr_NoMemory();
		goto done;
	}
	memset(cnt, 0, (NBUCKETS + 1) * sizeof(size_t));
	for (Py_ssize_t i = 0; i < nk; i++) {
		size_t k = (size_t)K[i], b = 0, e = NBUCKETS;
		while (e - b > 1) {
			size_t m = (b + e) / 2;
			if (cum[m] <= k)
				b = m;
			else
				e = m;
		}
		bk[i] = b;
		cnt[b] = 1;
	}
	for (Py_ssize_t j = 0; j < n; j++) {
		size_t b = ((uint64_t)X[j] - (uint64_t)lo) >> shift;
		if (cnt[b])
			buf[cum[b] + cnt[b]++ - 1] = X[j];
	}
	for (Py_ssize_t i = 0; i < nk; i++) {
		size_t b = bk[i];
		PyObject *v = PyLong_FromLongLong(kth(buf + cum[b], cum[b + 1] - cum[b], (size_t)K[i] - cum[b]));
		if (!v) {
			Py_CLEAR(ret);
			break;
		}
		PyList_SET_ITEM(ret, i, v);
	}
	PyMem_RawFree(bk);
done:
	rel(&x);
	rel(&ks);
	PyMem_RawFree(cnt);
	PyMem_RawFree(cum);
	PyMem_RawFree(buf);
	return ret;
}

static PyObject *wire_ts(PyObject *self, PyObject *arg)
{
	Py_buffer v;
	size_t n;
	if (get_records(arg, &v, &n) < 0)
		return NULL;
	if (!n) {
		PyBuffer_Release(&v);
		return Py_BuildValue("(OOOO)", Py_None, Py_None, Py_None, Py_True);
	}
	const wrec *r = v.buf;
	int64_t lo = r[0].ts_ns, hi = r[0].ts_ns, prev = r[0].ts_ns;
	int sorted = 1;
	for (size_t i = 1; i < n; i++) {
		int64_t t = r[i].ts_ns;
		if (t < prev)
			sorted = 0;
		if (t < lo)
			lo = t;
		if (t > hi)
			hi = t;
		prev = t;
	}
	int64_t first = r[0].ts_ns;
	PyBuffer_Release(&v);
	return Py_BuildValue("(LLLO)", (long long)first, (long long)lo, (long long)hi, sorted ? Py_True : Py_False);
}

static PyObject *wire_fill(PyObject *self, PyObject *args)
{
	PyObject *o_recs, *o_tabs;
	if (!PyArg_ParseTuple(args, "OO", &o_recs, &o_tabs))
		return NULL;
	if (!PyList_Check(o_recs)) {
		PyErr_SetString(PyExc_TypeError, "_cjoin.wire_fill: records is a list of pieces");
		return NULL;
	}
	Py_ssize_t npc = PyList_GET_SIZE(o_recs);
	Py_buffer *pv = PyMem_RawCalloc((size_t)npc + 1, sizeof(Py_buffer));
	size_t *pn = PyMem_RawCalloc((size_t)npc + 1, sizeof(size_t));
	Py_ssize_t got = 0;
	Py_buffer cv[N_KINDS][MAXC];
	int have[N_KINDS][MAXC] = {{0}};
	size_t cnt[N_KINDS] = {0};
	char *w[N_KINDS][MAXC] = {{0}};
	PyObject *ret = NULL;
	if (!pv || !pn) {
		PyErr_NoMemory();
		goto done;
	}
	for (; got < npc; got++) {
		if (get_records(PyList_GET_ITEM(o_recs, got), &pv[got], &pn[got]) < 0)
			goto done;
		const wrec *r = pv[got].buf;
		for (size_t i = 0; i < pn[got]; i++)
			cnt[kind_of(r[i].type)]++;
	}
	if (!PyList_Check(o_tabs) || PyList_GET_SIZE(o_tabs) != N_KINDS) {
		PyErr_SetString(PyExc_TypeError, "_cjoin.wire_fill: tables is a list of six lists");
		goto done;
	}
	for (int k = 0; k < N_KINDS; k++) {
		PyObject *lst = PyList_GET_ITEM(o_tabs, k);
		int nc = 0;
		while (COLS[k][nc])
			nc++;
		if (!PyList_Check(lst) || PyList_GET_SIZE(lst) != nc) {
			PyErr_Format(PyExc_TypeError, "_cjoin.wire_fill: table %d needs %d columns", k, nc);
			goto done;
		}
		for (int c = 0; c < nc; c++) {
			if (PyObject_GetBuffer(PyList_GET_ITEM(lst, c), &cv[k][c], PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
				goto done;
			have[k][c] = 1;
			if (cv[k][c].len != (Py_ssize_t)(cnt[k] * (size_t)COLS[k][c])) {
				PyErr_Format(PyExc_ValueError, "_cjoin.wire_fill: table %d column %d: %zd bytes, not %zu", k, c,
					     cv[k][c].len, cnt[k] * (size_t)COLS[k][c]);
				goto done;
			}
			w[k][c] = cv[k][c].buf;
		}
	}
	Py_BEGIN_ALLOW_THREADS
	size_t row[N_KINDS] = {0};
	int64_t sack_no = -1;
	for (Py_ssize_t p = 0; p < npc; p++) {
		const wrec *r = pv[p].buf;
		for (size_t i = 0; i < pn[p]; i++) {
			const wrec *q = r + i;
			int k = kind_of(q->type);
			size_t j = row[k]++;
			char *const *W = w[k];
			((int64_t *)W[0])[j] = q->ts_ns;
			((int64_t *)W[1])[j] = (int64_t)q->frame_no;
			((int64_t *)W[2])[j] = q->assoc_id;
			((int8_t *)W[3])[j] = (int8_t)q->dir;
			((int64_t *)W[4])[j] = q->path;
			switch (k) {
			case K_DATA:
				((uint32_t *)W[5])[j] = q->tsn;
				((int32_t *)W[6])[j] = (int32_t)(q->c >> 16);
				((int64_t *)W[7])[j] = q->type == 64 ? (int64_t)(q->x & 0xFFFFFFFFu) : (int64_t)(q->c & 0xFFFF);
				((int64_t *)W[8])[j] = q->b;
				((uint32_t *)W[9])[j] = q->a;
				((uint8_t *)W[10])[j] = (q->note & 0x01) != 0;
				((int8_t *)W[11])[j] = (int8_t)((q->note >> 1) & 3);
				((uint8_t *)W[12])[j] = (q->note & 0x08) != 0;
				((uint8_t *)W[13])[j] = (q->note & 0x10) != 0;
				((uint8_t *)W[14])[j] = (q->note & 0x20) != 0;
				break;
			case K_SACK:
				sack_no++;
				((uint32_t *)W[5])[j] = q->tsn;
				((int64_t *)W[6])[j] = q->a;
				((int32_t *)W[7])[j] = (int32_t)(q->b >> 16);
				((int32_t *)W[8])[j] = (int32_t)(q->b & 0xFFFF);
				((int64_t *)W[9])[j] = q->c;
				((uint8_t *)W[10])[j] = q->type == 16;
				break;
			case K_GAP:
				((uint32_t *)W[5])[j] = q->tsn;
				((uint32_t *)W[6])[j] = q->a;
				((int64_t *)W[7])[j] = sack_no;
				((uint8_t *)W[8])[j] = (q->note & 0x01) != 0;
				break;
			case K_DUP:
				((uint32_t *)W[5])[j] = q->tsn;
				((int64_t *)W[6])[j] = sack_no;
				break;
			case K_HB:
				((uint8_t *)W[5])[j] = q->type == 5;
				((uint8_t *)W[6])[j] = (q->note & 0x01) != 0;
				((uint64_t *)W[7])[j] = q->x;
				((int64_t *)W[8])[j] = (int64_t)q->y;
				((uint32_t *)W[9])[j] = q->a;
				break;
			default:
				((uint8_t *)W[5])[j] = q->type;
				((uint8_t *)W[6])[j] = q->flags;
				((uint32_t *)W[7])[j] = q->tsn;
				((uint32_t *)W[8])[j] = q->a;
				((uint32_t *)W[9])[j] = q->b;
				((uint32_t *)W[10])[j] = q->c;
			}
		}
	}
	Py_END_ALLOW_THREADS
	ret = Py_NewRef(Py_None);
done:
	for (int k = 0; k < N_KINDS; k++)
		for (int c = 0; c < MAXC; c++)
			if (have[k][c])
				PyBuffer_Release(&cv[k][c]);
	for (Py_ssize_t p = 0; p < got; p++)
		PyBuffer_Release(&pv[p]);
	PyMem_RawFree(pv);
	PyMem_RawFree(pn);
	return ret;
}

static PyObject *end_groups(PyObject *self, PyObject *args)
{
	PyObject *o_gid, *o_parts;
	if (!PyArg_ParseTuple(args, "OO", &o_gid, &o_parts))
		return NULL;
	if (!PyList_Check(o_parts)) {
		PyErr_SetString(PyExc_TypeError, "_cjoin.end_groups: parts is a list of 5-tuples");
		return NULL;
	}
	Py_ssize_t np_ = PyList_GET_SIZE(o_parts), total = 0, ngid = -1;
	col gid = {.have = 0};
	col (*c)[5] = PyMem_RawCalloc((size_t)np_ + 1, sizeof *c);
	keytab t = {0};
	int64_t *g_first = NULL, *g_n = NULL, *g_tlo = NULL, *g_thi = NULL, *g_slo = NULL, *g_shi = NULL;
	PyObject *ret = NULL;
	if (!c)
		return PyErr_NoMemory();
	for (Py_ssize_t i = 0; i < np_; i++) {
		PyObject *tup = PyList_GET_ITEM(o_parts, i);
		if (!PyTuple_Check(tup) || PyTuple_GET_SIZE(tup) != 5) {
			PyErr_SetString(PyExc_TypeError, "_cjoin.end_groups: parts is a list of 5-tuples");
			goto done;
		}
		Py_ssize_t n = -1;
		for (int j = 0; j < 5; j++)
			if (get_col(PyTuple_GET_ITEM(tup, j), &c[i][j], &n, 0, "part column"))
				goto done;
		total += n;
	}
	if (get_col(o_gid, &gid, &ngid, 1, "gid"))
		goto done;
	if (ngid != total) {
		PyErr_SetString(PyExc_ValueError, "_cjoin.end_groups: gid must have a row per event");
		goto done;
	}
	size_t cap = (size_t)total + 1;
	g_first = PyMem_RawMalloc(cap * 8);
	g_n = PyMem_RawMalloc(cap * 8);
	g_tlo = PyMem_RawMalloc(cap * 8);
	g_thi = PyMem_RawMalloc(cap * 8);
	g_slo = PyMem_RawMalloc(cap * 8);
	g_shi = PyMem_RawMalloc(cap * 8);
	if (!g_first || !g_n || !g_tlo || !g_thi || !g_slo || !g_shi || !kt_init(&t, (size_t)total, 0)) {
		PyErr_NoMemory();
		goto done;
	}
	int64_t *G = (int64_t *)gid.v.buf;
	Py_ssize_t row = 0;
	for (Py_ssize_t i = 0; i < np_; i++) {
		const int64_t *ts = I64(c[i][0]), *ns = I64(c[i][1]), *lp = I64(c[i][2]), *vt = I64(c[i][3]),
			      *st = I64(c[i][4]);
		Py_ssize_t n = c[i][0].v.len / 8;
		for (Py_ssize_t r = 0; r < n; r++, row++) {
			int64_t key = (int64_t)(((uint64_t)ns[r] << 48) | ((uint64_t)lp[r] << 32) | (uint64_t)vt[r]);
			size_t before = t.n;
			int64_t g = kt_get(&t, key, 0, 1);
			G[row] = g;
			if (t.n != before) {
				g_first[g] = row;
				g_n[g] = 0;
				g_tlo[g] = g_thi[g] = ts[r];
				g_slo[g] = g_shi[g] = st[r];
			}
			g_n[g]++;
			if (ts[r] < g_tlo[g])
				g_tlo[g] = ts[r];
			if (ts[r] > g_thi[g])
				g_thi[g] = ts[r];
			if (st[r] < g_slo[g])
				g_slo[g] = st[r];
			if (st[r] > g_shi[g])
				g_shi[g] = st[r];
		}
	}
	ret = PyList_New((Py_ssize_t)t.n);
	for (size_t g = 0; ret && g < t.n; g++) {
		/* the first row's own netns, lport and my_vtag */
		int64_t f = g_first[g], ns = 0, lp = 0, vt = 0;
		for (Py_ssize_t i = 0; i < np_; i++) {
			Py_ssize_t n = c[i][0].v.len / 8;
			if (f < n) {
				ns = I64(c[i][1])[f];
				lp = I64(c[i][2])[f];
				vt = I64(c[i][3])[f];
				break;
			}
			f -= n;
		}
		PyObject *item = Py_BuildValue("(LLLLLLLLLL)", (long long)t.k0[g], (long long)g_first[g], (long long)g_n[g],
					       (long long)g_tlo[g], (long long)g_thi[g], (long long)g_slo[g],
					       (long long)g_shi[g], (long long)ns, (long long)lp, (long long)vt);
		if (!item) {
			Py_CLEAR(ret);
			break;
		}
		PyList_SET_ITEM(ret, (Py_ssize_t)g, item);
	}
done:
	for (Py_ssize_t i = 0; i < np_; i++)
		for (int j = 0; j < 5; j++)
			rel(&c[i][j]);
	PyMem_RawFree(c);
	rel(&gid);
	kt_free(&t);
	PyMem_RawFree(g_first);
	PyMem_RawFree(g_n);
	PyMem_RawFree(g_tlo);
	PyMem_RawFree(g_thi);
	PyMem_RawFree(g_slo);
	PyMem_RawFree(g_shi);
	return ret;
}

static PyObject *addr_groups(PyObject *self, PyObject *args)
{
	PyObject *o_dense, *o_fam, *o_a, *o_b, *o_end;
	if (!PyArg_ParseTuple(args, "OOOOO", &o_dense, &o_fam, &o_a, &o_b, &o_end))
		return NULL;
	col dense = {.have = 0}, fam = {.have = 0}, aa = {.have = 0}, ab = {.have = 0}, en = {.have = 0};
	Py_ssize_t n = -1;
	keytab t = {0}, tp = {0};
	int64_t *gfam = NULL;
	PyObject *ret = NULL, *groups = NULL, *pairs = NULL;
	if (get_col(o_fam, &fam, &n, 0, "family") || get_col(o_a, &aa, &n, 0, "addr_a") || get_col(o_b, &ab, &n, 0, "addr_b")
	    || get_col(o_end, &en, &n, 0, "ends") || get_col(o_dense, &dense, &n, 1, "dense"))
		goto done;
	if (!kt_init(&t, (size_t)n, 1) || !kt_init(&tp, (size_t)n, 1) || !(gfam = PyMem_RawMalloc(((size_t)n + 1) * 8))) {
		PyErr_NoMemory();
		goto done;
	}
	const int64_t *F = I64(fam), *A = I64(aa), *B = I64(ab), *E = I64(en);
	int64_t *D = (int64_t *)dense.v.buf;
	int conflict = 0;
	for (Py_ssize_t i = 0; i < n; i++) {
		size_t before = t.n;
		int64_t g = kt_get(&t, A[i], B[i], 1);
		if (t.n != before)
			gfam[g] = F[i];
		else if (gfam[g] != F[i])
			conflict = 1;
		D[i] = g;
		kt_get(&tp, E[i], g, 1);
	}
	if (conflict) {
		ret = Py_NewRef(Py_None);
		goto done;
	}
	groups = PyList_New((Py_ssize_t)t.n);
	pairs = PyList_New((Py_ssize_t)tp.n);
	if (!groups || !pairs)
		goto done;
	for (size_t g = 0; g < t.n; g++) {
		PyObject *it = Py_BuildValue("(LLL)", (long long)gfam[g], (long long)t.k0[g], (long long)t.k1[g]);
		if (!it)
			goto done;
		PyList_SET_ITEM(groups, (Py_ssize_t)g, it);
	}
	for (size_t p = 0; p < tp.n; p++) {
		PyObject *it = Py_BuildValue("(LL)", (long long)tp.k0[p], (long long)tp.k1[p]);
		if (!it)
			goto done;
		PyList_SET_ITEM(pairs, (Py_ssize_t)p, it);
	}
	ret = PyTuple_Pack(2, groups, pairs);
done:
	Py_XDECREF(groups);
	Py_XDECREF(pairs);
	rel(&dense);
	rel(&fam);
	rel(&aa);
	rel(&ab);
	rel(&en);
	kt_free(&t);
	kt_free(&tp);
	PyMem_RawFree(gfam);
	return ret;
}

static PyObject *is_sorted(PyObject *self, PyObject *arg)
{
	col x = {.have = 0};
	Py_ssize_t n = -1;
	if (get_col(arg, &x, &n, 0, "x"))
		return NULL;
	const int64_t *X = I64(x);
	int ok = 1;
	for (Py_ssize_t i = 1; i < n && ok; i++)
		ok = X[i] >= X[i - 1];
	rel(&x);
	return PyBool_FromLong(ok);
}

static PyMethodDef methods[] = {
	{"is_sorted", is_sorted, METH_O, "is_sorted(x) -> whether x never decreases."},
	{"addr_groups", addr_groups, METH_VARARGS, "addr_groups(dense, family, addr_a, addr_b, ends): see the module doc."},
	{"end_groups", end_groups, METH_VARARGS, "end_groups(gid, parts) -> groups: see the module doc."},
	{"wire_counts", wire_counts, METH_O, "wire_counts(records) -> counts per kind, first and last ts."},
	{"wire_ts", wire_ts, METH_O, "wire_ts(records) -> (first ts, smallest, largest, in order)."},
	{"order_stats", order_stats, METH_VARARGS, "order_stats(x, ks) -> the k-th smallest for each k."},
	{"wire_fill", wire_fill, METH_VARARGS, "wire_fill(pieces, tables): see the module doc."},
	{"piece_bounds", piece_bounds, METH_VARARGS,
	 "piece_bounds(edges, fk, fd, bk, bd) -> [(n_b, n_f, high, low)]: see the module doc."},
	{"occurrence_match", occurrence_match, METH_VARARGS,
	 "occurrence_match(out, a0, a1, a_order, b0, b1, b_order): see the module doc."},
	{"dense_ids", dense_ids, METH_VARARGS, "dense_ids(out, k0, k1, first) -> n: see the module doc."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cjoin", "The correlator's per-row joins in C.", -1,
				    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__cjoin(void)
{
	return PyModule_Create(&module);
}
