/* sctpcorr.kernel._ringbuf: drain a BPF ring buffer map in bulk, without a Python call per event.
 *
 * Why: BCC's open_ring_buffer() calls a Python function for every record.  Under load (a bulk transfer makes
 * about 10,000 events a second) that callback, not the BPF side, is what overflows the ring: in the QEMU lab the
 * recorder drained about 1,200 events a second and counted the rest as lost.  Here one call copies every
 * committed record into one bytes object, in the format of the recorder's raw spool (and of --raw):
 *
 *     repeat { u32 length (little endian); length bytes of the record }
 *
 * so the ring is emptied at memory speed and decoding can happen later, at its own pace.
 *
 * The ring's layout is the kernel's (kernel/bpf/ringbuf.c) and the consumer logic is libbpf's ringbuf_process_ring():
 *   mmap offset 0, one page, read-write:      the consumer position
 *   mmap offset page, one page, read-only:    the producer position
 *   mmap offset 2 pages, 2 x size, read-only: the data, mapped twice so a record never wraps
 *   each record: u32 len (bit 31 busy, bit 30 discarded), u32 page offset, data; padded to 8 bytes.
 *
 * Reader(fd, size): fd of a BPF_MAP_TYPE_RINGBUF map, size its max_entries (bytes, a power of two).
 *   .wait(timeout_ms) -> bool      poll() the map fd (woken when the BPF side forces a wakeup)
 *   .drain(max_bytes=0) -> bytes   copy and consume committed records (0: all of them)
 *   .pending() -> int              bytes between consumer and producer
 *   .records, .bytes               totals drained so far
 *   .close()
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RB_BUSY (1U << 31)
#define RB_DISCARD (1U << 30)
#define RB_HDR 8

typedef struct {
	PyObject_HEAD
	int fd;
	size_t size, page;
	unsigned long *consumer;       /* mapped read-write */
	const unsigned long *producer; /* mapped read-only, data follows one page later */
	const uint8_t *data;
	unsigned long long records, bytes, discarded;
} Reader;

static void unmap(Reader *r)
{
	if (r->consumer)
		munmap(r->consumer, r->page);
	if (r->producer)
		munmap((void *)r->producer, r->page + 2 * r->size);
	r->consumer = NULL;
	r->producer = NULL;
	r->data = NULL;
}

static int Reader_init(Reader *r, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"fd", "size", NULL};
	int fd;
	Py_ssize_t size;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "in", kwlist, &fd, &size))
		return -1;
	if (size <= 0 || (size & (size - 1))) {
		PyErr_Format(PyExc_ValueError, "ring size must be a power of two, not %zd", size);
		return -1;
	}
	unmap(r);
	r->fd = fd;
	r->size = (size_t)size;
	r->page = (size_t)sysconf(_SC_PAGESIZE);
	void *c = mmap(NULL, r->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED) {
		PyErr_SetFromErrno(PyExc_OSError);
		return -1;
	}
	void *p = mmap(NULL, r->page + 2 * r->size, PROT_READ, MAP_SHARED, fd, (off_t)r->page);
	if (p == MAP_FAILED) {
		int e = errno;
		munmap(c, r->page);
		errno = e;
		PyErr_SetFromErrno(PyExc_OSError);
		return -1;
	}
	r->consumer = c;
	r->producer = p;
	r->data = (const uint8_t *)p + r->page;
	return 0;
}

static void Reader_dealloc(Reader *r)
{
	unmap(r);
	Py_TYPE(r)->tp_free((PyObject *)r);
}

static int check(Reader *r)
{
	if (!r->consumer) {
		PyErr_SetString(PyExc_ValueError, "ring reader is closed");
		return -1;
	}
	return 0;
}

static PyObject *Reader_pending(Reader *r, PyObject *unused)
{
	if (check(r))
		return NULL;
	unsigned long cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	unsigned long prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	return PyLong_FromUnsignedLong(prod - cons);
}

static PyObject *Reader_drain(Reader *r, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"max_bytes", NULL};
	Py_ssize_t max_bytes = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|n", kwlist, &max_bytes))
		return NULL;
	if (check(r))
		return NULL;
	/* Output never exceeds what is between the positions now (records only shrink: 8-byte header -> 4). */
	unsigned long cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	unsigned long prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
	size_t cap = prod - cons;
	if (max_bytes > 0 && (size_t)max_bytes < cap)
		cap = (size_t)max_bytes;
	PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
	if (!out)
		return NULL;
	uint8_t *o = (uint8_t *)PyBytes_AS_STRING(out);
	size_t used = 0;

	while (cons < prod) {
		const uint8_t *rec = r->data + (cons & (r->size - 1));
		uint32_t len = __atomic_load_n((const uint32_t *)rec, __ATOMIC_ACQUIRE);
		if (len & RB_BUSY)
			break; /* reserved, not yet committed: the next drain gets it */
		uint32_t n = len & ~(RB_BUSY | RB_DISCARD);
		if (!(len & RB_DISCARD)) {
			if (used + 4 + n > cap)
				break; /* max_bytes reached */
			memcpy(o + used, &n, 4); /* x86 and arm64 are little endian; the spool is too */
			memcpy(o + used + 4, rec + RB_HDR, n);
			used += 4 + n;
			r->records++;
			r->bytes += n;
		} else {
			r->discarded++;
		}
		cons += (n + RB_HDR + 7) & ~7UL;
		__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
	}
	if (used != cap && _PyBytes_Resize(&out, (Py_ssize_t)used) < 0)
		return NULL;
	return out;
}

static PyObject *Reader_wait(Reader *r, PyObject *args)
{
	int timeout_ms;

	if (!PyArg_ParseTuple(args, "i", &timeout_ms))
		return NULL;
	if (check(r))
		return NULL;
	struct pollfd p = {.fd = r->fd, .events = POLLIN};
	int n;
	Py_BEGIN_ALLOW_THREADS
	n = poll(&p, 1, timeout_ms);
	Py_END_ALLOW_THREADS
	if (n < 0) {
		if (errno == EINTR) /* a signal: let Python run its handler, report "nothing yet" */
			return PyErr_CheckSignals() ? NULL : Py_NewRef(Py_False);
		return PyErr_SetFromErrno(PyExc_OSError);
	}
	return PyBool_FromLong(n > 0);
}

static PyObject *Reader_close(Reader *r, PyObject *unused)
{
	unmap(r);
	Py_RETURN_NONE;
}

static PyObject *Reader_get_records(Reader *r, void *c) { return PyLong_FromUnsignedLongLong(r->records); }
static PyObject *Reader_get_bytes(Reader *r, void *c) { return PyLong_FromUnsignedLongLong(r->bytes); }
static PyObject *Reader_get_discarded(Reader *r, void *c) { return PyLong_FromUnsignedLongLong(r->discarded); }
static PyObject *Reader_get_size(Reader *r, void *c) { return PyLong_FromSize_t(r->size); }

static PyMethodDef Reader_methods[] = {
	{"drain", (PyCFunction)(void (*)(void))Reader_drain, METH_VARARGS | METH_KEYWORDS,
	 "drain(max_bytes=0) -> bytes: consume committed records as <u32 length><record> ..."},
	{"wait", (PyCFunction)Reader_wait, METH_VARARGS, "wait(timeout_ms) -> bool: poll() the ring's fd"},
	{"pending", (PyCFunction)Reader_pending, METH_NOARGS, "bytes between the consumer and producer positions"},
	{"close", (PyCFunction)Reader_close, METH_NOARGS, "unmap the ring (the fd stays the caller's)"},
	{NULL},
};

static PyGetSetDef Reader_getset[] = {
	{"records", (getter)Reader_get_records, NULL, "records drained so far", NULL},
	{"bytes", (getter)Reader_get_bytes, NULL, "record bytes drained so far (without length prefixes)", NULL},
	{"discarded", (getter)Reader_get_discarded, NULL, "records the BPF side discarded", NULL},
	{"size", (getter)Reader_get_size, NULL, "ring size in bytes", NULL},
	{NULL},
};

static PyTypeObject ReaderType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sctpcorr.kernel._ringbuf.Reader",
	.tp_basicsize = sizeof(Reader),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Bulk consumer of one BPF ring buffer map (mmap of its fd).",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Reader_init,
	.tp_dealloc = (destructor)Reader_dealloc,
	.tp_methods = Reader_methods,
	.tp_getset = Reader_getset,
};

/*
 * split(buf) -> (records_by_type, consumed, bad)
 *
 * A --raw recording (and what drain() returns) is <u32 little-endian length><record>..., each record an ABI struct
 * whose first __u32 is its event type (sctpcorr_abi.h). Reading one in Python is a loop per record; this walks
 * the buffer once and hands back, per event type, every record of that type concatenated (lengths dropped): the
 * caller views each as a numpy array of that struct. `consumed` is where the last complete record ends (a torn
 * tail is left for the next block); `bad` counts records too short to hold a type (skipped).
 */
#define SPLIT_TYPES 64
static PyObject *mod_split(PyObject *self, PyObject *arg)
{
	Py_buffer view;
	if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
		return NULL;
	const unsigned char *p = view.buf;
	size_t n = (size_t)view.len, off = 0, end = 0;
	size_t bytes[SPLIT_TYPES] = {0};
	unsigned long long bad = 0;
	/* pass 1: bytes per type */
	while (off + 4 <= n) {
		uint32_t len;
		memcpy(&len, p + off, 4);
		if (off + 4 + (size_t)len > n)
			break;
		if (len >= 4) {
			uint32_t t;
			memcpy(&t, p + off + 4, 4);
			if (t < SPLIT_TYPES)
				bytes[t] += len;
			else
				bad++;
		} else {
			bad++;
		}
		off += 4 + (size_t)len;
	}
	end = off;
	PyObject *out = PyDict_New();
	PyObject *bufs[SPLIT_TYPES] = {0};
	char *w[SPLIT_TYPES] = {0};
	if (!out)
		goto fail;
	for (int t = 0; t < SPLIT_TYPES; t++) {
		if (!bytes[t])
			continue;
		bufs[t] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)bytes[t]);
		if (!bufs[t])
			goto fail;
		w[t] = PyBytes_AS_STRING(bufs[t]);
	}
	/* pass 2: copy */
	Py_BEGIN_ALLOW_THREADS
	off = 0;
	while (off < end) {
		uint32_t len, t;
		memcpy(&len, p + off, 4);
		if (len >= 4) {
			memcpy(&t, p + off + 4, 4);
			if (t < SPLIT_TYPES) {
				memcpy(w[t], p + off + 4, len);
				w[t] += len;
			}
		}
		off += 4 + (size_t)len;
	}
	Py_END_ALLOW_THREADS
	for (int t = 0; t < SPLIT_TYPES; t++) {
		if (!bufs[t])
			continue;
		PyObject *k = PyLong_FromLong(t);
		if (!k || PyDict_SetItem(out, k, bufs[t]) < 0) {
			Py_XDECREF(k);
			goto fail;
		}
		Py_DECREF(k);
		Py_CLEAR(bufs[t]);
	}
	PyBuffer_Release(&view);
	return Py_BuildValue("(NnK)", out, (Py_ssize_t)end, bad);
fail:
	for (int t = 0; t < SPLIT_TYPES; t++)
		Py_XDECREF(bufs[t]);
	Py_XDECREF(out);
	PyBuffer_Release(&view);
	return NULL;
}

PyObject *ringbuf_columns(PyObject *self, PyObject *arg); /* columns.c */

static PyMethodDef mod_methods[] = {
	{"columns", ringbuf_columns, METH_O,
	 "columns(buf) -> ({event_type: {column: int64 bytes} or records concatenated}, consumed_bytes, bad_records)"},
	{"split", mod_split, METH_O,
	 "split(buf) -> ({event_type: records concatenated}, consumed_bytes, bad_records): <u32 len><record>... by type"},
	{NULL},
};

static struct PyModuleDef moddef = {
	PyModuleDef_HEAD_INIT, "sctpcorr.kernel._ringbuf", "Bulk reader of BPF ring buffer maps.", -1, mod_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ringbuf(void)
{
	if (PyType_Ready(&ReaderType) < 0)
		return NULL;
	PyObject *m = PyModule_Create(&moddef);
	if (!m)
		return NULL;
	Py_INCREF(&ReaderType);
	if (PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType) < 0) {
		Py_DECREF(&ReaderType);
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
