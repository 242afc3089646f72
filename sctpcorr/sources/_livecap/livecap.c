/* sctpcorr.sources._livecap: capture from an interface with libpcap, handing out pcapng blocks in bulk.
 *
 * Why C: scapy's sniffer (a Python call and a packet object per frame) reads a few thousand packets a second;
 * `live` must keep up with hundreds of thousands.  Here one dispatch() call empties what libpcap's memory-mapped
 * ring (TPACKET_V3 on Linux) holds and returns it as one bytes object of pcapng Enhanced Packet Blocks, which
 * are written to the -w file and fed to the wire engine as they are: the engine reads live traffic through the
 * very code that reads capture files, so live and offline give the same numbers.
 *
 * The kernel-side filter is libpcap's (classic BPF attached to the socket): only SCTP leaves the kernel.
 * Timestamps are asked for in nanoseconds (PCAP_TSTAMP_PRECISION_NANO); the interface description block that
 * sctpcorr.sources.live writes says so (if_tsresol = 9).
 *
 * Capture(device, filter, snaplen, buffer_bytes, timeout_ms, promisc, immediate)
 *   .fileno() -> int                 selectable fd (poll it, then dispatch)
 *   .dispatch(iface_id) -> (bytes, n)  pcapng EPBs of the packets available now (nonblocking; b"" when none)
 *   .stats() -> (received, dropped, ifdropped)   pcap_stats(): kernel drops (ring full) and the interface's
 *   .linktype, .snaplen, .device
 *   .close()
 * Errors: LiveError(kind, message), kind one of "no_such_device", "permission", "not_up", "filter", "down",
 * "error"; the message is libpcap's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static PyObject *LiveError;

typedef struct {
	uint8_t *buf;
	size_t len, cap;
	uint32_t iface;
	Py_ssize_t n;
	int oom;
} Out;

typedef struct {
	PyObject_HEAD
	pcap_t *p;
	char device[256];
	int linktype, snaplen;
	Out out;
} Capture;

static PyObject *raise_kind(const char *kind, const char *msg)
{
	PyObject *args = Py_BuildValue("(ss)", kind, msg);
	if (args) {
		PyErr_SetObject(LiveError, args);
		Py_DECREF(args);
	}
	return NULL;
}

static const char *activate_kind(int rc)
{
	switch (rc) {
	case PCAP_ERROR_NO_SUCH_DEVICE:
		return "no_such_device";
	case PCAP_ERROR_PERM_DENIED:
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		return "permission";
	case PCAP_ERROR_IFACE_NOT_UP:
		return "not_up";
	default:
		return "error";
	}
}

static void put32(uint8_t *b, uint32_t v) { memcpy(b, &v, 4); }

/* One Enhanced Packet Block (pcapng section 4.3), in the host's byte order like the section header we write. */
static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	Out *o = (Out *)user;
	uint32_t pad = (4 - (h->caplen & 3)) & 3;
	size_t total = 32 + (size_t)h->caplen + pad;
	if (o->len + total > o->cap) {
		size_t cap = o->cap ? o->cap : (1u << 20);
		while (cap < o->len + total)
			cap *= 2;
		uint8_t *nb = realloc(o->buf, cap);
		if (!nb) {
			o->oom = 1;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
	uint8_t *b = o->buf + o->len;
	/* with PCAP_TSTAMP_PRECISION_NANO, tv_usec holds nanoseconds */
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
	put32(b, 6);
	put32(b + 4, (uint32_t)total);
	put32(b + 8, o->iface);
	put32(b + 12, (uint32_t)(ts >> 32));
	put32(b + 16, (uint32_t)ts);
	put32(b + 20, h->caplen);
	put32(b + 24, h->len);
	memcpy(b + 28, data, h->caplen);
	memset(b + 28 + h->caplen, 0, pad);
	put32(b + 28 + h->caplen + pad, (uint32_t)total);
	o->len += total;
	o->n++;
}

static int Capture_init(Capture *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"device", "filter", "snaplen", "buffer_bytes", "timeout_ms", "promisc", "immediate",
				 NULL};
	const char *device, *filter = "";
	int snaplen = 262144, buffer_bytes = 32 << 20, timeout_ms = 100, promisc = 0, immediate = 0;
	char errbuf[PCAP_ERRBUF_SIZE];
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|siiipp", kwlist, &device, &filter, &snaplen, &buffer_bytes,
					 &timeout_ms, &promisc, &immediate))
		return -1;
	if (c->p)
		return 0;
	snprintf(c->device, sizeof c->device, "%s", device);
	errbuf[0] = 0;
	pcap_t *p = pcap_create(device, errbuf);
	if (!p) {
		raise_kind("error", errbuf);
		return -1;
	}
	pcap_set_snaplen(p, snaplen);
	pcap_set_promisc(p, promisc);
	pcap_set_timeout(p, timeout_ms);
	pcap_set_buffer_size(p, buffer_bytes);
	pcap_set_immediate_mode(p, immediate);
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
	int rc = pcap_activate(p);
	if (rc < 0) {
		char msg[PCAP_ERRBUF_SIZE + 64];
		const char *e = pcap_geterr(p);
		snprintf(msg, sizeof msg, "%s", (e && *e) ? e : pcap_statustostr(rc));
		pcap_close(p);
		raise_kind(activate_kind(rc), msg);
		return -1;
	}
	if (filter && *filter) {
		struct bpf_program prog;
		if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(p, &prog) < 0) {
			char msg[PCAP_ERRBUF_SIZE + 64];
			snprintf(msg, sizeof msg, "%s", pcap_geterr(p));
			pcap_close(p);
			raise_kind("filter", msg);
			return -1;
		}
		pcap_freecode(&prog);
	}
	if (pcap_setnonblock(p, 1, errbuf) < 0) {
		pcap_close(p);
		raise_kind("error", errbuf);
		return -1;
	}
	c->p = p;
	c->linktype = pcap_datalink(p);
	c->snaplen = pcap_snapshot(p);
	return 0;
}

static void Capture_dealloc(Capture *c)
{
	if (c->p)
		pcap_close(c->p);
	free(c->out.buf);
	Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyObject *need_open(Capture *c)
{
	if (!c->p) {
		PyErr_SetString(PyExc_ValueError, "capture is closed");
		return NULL;
	}
	return Py_None;
}

static PyObject *Capture_dispatch(Capture *c, PyObject *args)
{
	unsigned int iface = 0;
	if (!PyArg_ParseTuple(args, "|I", &iface) || !need_open(c))
		return NULL;
	c->out.len = 0;
	c->out.n = 0;
	c->out.oom = 0;
	c->out.iface = iface;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = pcap_dispatch(c->p, -1, on_packet, (u_char *)&c->out);
	Py_END_ALLOW_THREADS
	if (c->out.oom)
		return PyErr_NoMemory();
	if (rc < 0 && rc != PCAP_ERROR_BREAK && c->out.n == 0) {
		/* packets read before an error are handed out first; the next call reports the error */
		const char *e = pcap_geterr(c->p);
		const char *kind = (rc == PCAP_ERROR_IFACE_NOT_UP || strstr(e, "went down") || strstr(e, "disappeared"))
					   ? "down" : "error";
		return raise_kind(kind, (e && *e) ? e : pcap_statustostr(rc));
	}
	return Py_BuildValue("(y#n)", c->out.len ? (const char *)c->out.buf : "", (Py_ssize_t)c->out.len, c->out.n);
}

static PyObject *Capture_stats(Capture *c, PyObject *unused)
{
	struct pcap_stat ps;
	if (!need_open(c))
		return NULL;
	memset(&ps, 0, sizeof ps);
	if (pcap_stats(c->p, &ps) < 0)
		return raise_kind("error", pcap_geterr(c->p));
	return Py_BuildValue("(kkk)", (unsigned long)ps.ps_recv, (unsigned long)ps.ps_drop,
			     (unsigned long)ps.ps_ifdrop);
}

static PyObject *Capture_fileno(Capture *c, PyObject *unused)
{
	if (!need_open(c))
		return NULL;
	return PyLong_FromLong(pcap_get_selectable_fd(c->p));
}

static PyObject *Capture_close(Capture *c, PyObject *unused)
{
	if (c->p)
		pcap_close(c->p);
	c->p = NULL;
	Py_RETURN_NONE;
}

static PyMethodDef Capture_methods[] = {
	{"dispatch", (PyCFunction)Capture_dispatch, METH_VARARGS,
	 "dispatch(iface_id=0) -> (bytes, n): pcapng EPBs of every packet available now"},
	{"stats", (PyCFunction)Capture_stats, METH_NOARGS, "(received, dropped, ifdropped) from pcap_stats()"},
	{"fileno", (PyCFunction)Capture_fileno, METH_NOARGS, "selectable file descriptor"},
	{"close", (PyCFunction)Capture_close, METH_NOARGS, "close the capture"},
	{NULL, NULL, 0, NULL},
};

static PyObject *get_linktype(Capture *c, void *x) { return PyLong_FromLong(c->linktype); }
static PyObject *get_snaplen(Capture *c, void *x) { return PyLong_FromLong(c->snaplen); }
static PyObject *get_device(Capture *c, void *x) { return PyUnicode_FromString(c->device); }

static PyGetSetDef Capture_getset[] = {
	{"linktype", (getter)get_linktype, NULL, "LINKTYPE_* of the interface", NULL},
	{"snaplen", (getter)get_snaplen, NULL, "snapshot length", NULL},
	{"device", (getter)get_device, NULL, "interface name", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CaptureType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sctpcorr.sources._livecap.Capture",
	.tp_basicsize = sizeof(Capture),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "One libpcap capture handle, read in bulk as pcapng Enhanced Packet Blocks.",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)Capture_init,
	.tp_dealloc = (destructor)Capture_dealloc,
	.tp_methods = Capture_methods,
	.tp_getset = Capture_getset,
};

static PyObject *lib_version(PyObject *m, PyObject *unused) { return PyUnicode_FromString(pcap_lib_version()); }

static PyMethodDef mod_methods[] = {
	{"lib_version", lib_version, METH_NOARGS, "libpcap's version string"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
	PyModuleDef_HEAD_INIT, "sctpcorr.sources._livecap", "libpcap capture in bulk, as pcapng blocks.", -1,
	mod_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__livecap(void)
{
	if (PyType_Ready(&CaptureType) < 0)
		return NULL;
	PyObject *m = PyModule_Create(&moddef);
	if (!m)
		return NULL;
	LiveError = PyErr_NewException("sctpcorr.sources._livecap.LiveError", PyExc_Exception, NULL);
	Py_INCREF(LiveError);
	PyModule_AddObject(m, "LiveError", LiveError);
	Py_INCREF(&CaptureType);
	PyModule_AddObject(m, "Capture", (PyObject *)&CaptureType);
	return m;
}
