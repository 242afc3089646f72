/* sctpcorr.telecom._fast: the per-message work of the telecom layer, in C (issue #10's speed target).
 *
 * Python names what this reads (sctpcorr/telecom/{ap,nas,diameter,m3ua}.py hold the same walks, readable, and are
 * the reference the tests hold this to); this file does it once per message at the engine's pace:
 *
 *   decode(payloads) -> (records, fragments)    records: a bytearray of tc_rec
 *       Stateless. Walks a drain_payloads() buffer (sc_payhdr + user data, see wire/_engine/payload.c). Every
 *       unfragmented chunk (B and E set) becomes one tc_rec: its SCTP fields, the protocol by PPID or port, and
 *       for NGAP/S1AP/X2AP/XnAP the outcome, procedure code, RAN/core UE ids and the NAS message type inside
 *       (plus the type inside a security header, for NEA0/EEA0 read-through, and whether it is a Security Mode
 *       Command selecting null ciphering); for Diameter the command, flags, application, hop-by-hop and
 *       end-to-end ids and the result code; for M3UA class and type. Fragments are left to Python's Reassembler
 *       (their offsets are returned); a reassembled message comes back through decode() as a one-chunk buffer.
 *   nas_codes(octets) -> (nas, inner, smc_null): the NAS codes of octets Python found (S1AP's nested NAS-PDU).
 *   Follower().follow(records): stateful, in capture order: every record counted by type (types()); ciphered
 *       NAS read through once a null-ciphering
 *       Security Mode Command was seen for the UE (association + RAN UE id), each UE numbered in its records
 *       and summed up (ues(): first and last time, messages, first core id, last ciphered NAS); an AP class-1 initiating message
 *       queued by (protocol, association, procedure, RAN UE id), each outcome matched to the oldest (falling back
 *       to the queue without a UE id); a Diameter request kept by (association, hop-by-hop, end-to-end), an
 *       answer matched to it. Writes the latency and flags in place, counts each AP message by what it was to
 *       its procedure and logs every matched response (ap_stats()). pending_diameter() lists the indices of
 *       the requests still waiting.
 *
 * The layout of tc_rec is the numpy dtype sctpcorr/telecom/columns.py REC (asserted there by size). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* sc_payhdr (wire/_engine/analyze.h), 72 bytes */
typedef struct {
    int64_t ts_ns;
    uint64_t frame_no;
    uint32_t assoc_id, tsn, ppid, len, caplen, ssn, vtag;
    uint16_t sid, sport, dport;
    uint8_t dir, flags, idata, pad[3];
    int64_t rtt_ns, a_rwnd;
} payhdr;
_Static_assert(sizeof(payhdr) == 72, "sc_payhdr");

typedef struct {
    int64_t ts_ns;
    uint64_t frame;
    int64_t ran_ue, core_ue;   /* -1: none */
    int64_t result;            /* Diameter Result-Code / Experimental-Result-Code, -1: none */
    int64_t rtt_ns, a_rwnd;    /* -1: none */
    int64_t latency_ns;        /* a matched response: since its request (Follower), -1: none */
    uint64_t data_off;         /* offset of the user data in the decoded buffer */
    uint64_t seq;              /* offset of the (last) chunk's header: order within a packet */
    uint32_t assoc, vtag, tsn0, tsn1, ppid, length, caplen, app, hbh, e2e, block;
    int32_t code;              /* AP procedure code (-1: undecodable); Diameter command; M3UA class << 8 | type */
    uint16_t sid, sport, dport, fragments, nas, inner;
    uint8_t proto, kind, err, flags, dir, pad;
    uint16_t steps;            /* Follower: bit k set when it can be step k of its UE's timeline (configure) */
    uint32_t ue;               /* Follower: 1 + the UE's index in ues() (NGAP/S1AP with a RAN UE id), 0: none */
} tc_rec;
_Static_assert(sizeof(tc_rec) == 152, "tc_rec");

enum { P_OTHER, P_NGAP, P_S1AP, P_X2AP, P_XNAP, P_DIAMETER, P_M3UA };
enum { E_NONE, E_EXT, E_CHOICE, E_SHORT, E_IESHORT, E_FRAGLEN, E_NOTDIA, E_NOTM3UA };
enum { F_UNORDERED = 1, F_TRUNC = 2, F_SMC_NULL = 4, F_MATCHED = 8, F_NEEDS = 16, F_REQ = 32, F_READ_NULL = 64 };
#define NAS_CIPHERED 0xFFFFu
#define NAS_SERVICE_REQUEST ((5u << 8) | 1u)
#define S1AP_ICS 9

/* configure(): IE ids per protocol (RAN id, core id, id pair, NAS-PDU) and the class-1 procedure codes */
static int ie_ids[3][4] = {{-1, -1, -1, -1}, {-1, -1, -1, -1}, {-1, -1, -1, -1}};
static uint8_t class1[5][32];
static int16_t step_nas[2][1 << 16], step_ap[2][3 << 8];   /* NGAP, S1AP: NAS code / kind << 8 | code -> bits */
static int configured;

static inline uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static inline uint32_t be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static inline uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | be24(p + 1); }

static int classify(uint32_t ppid, uint16_t sport, uint16_t dport)
{
    switch (ppid) {
    case 60: return P_NGAP;
    case 18: return P_S1AP;
    case 27: return P_X2AP;
    case 61: return P_XNAP;
    case 46: case 47: return P_DIAMETER;
    case 3: return P_M3UA;
    case 0: break;
    default: return P_OTHER;
    }
    for (int k = 0; k < 2; k++) {
        switch (k ? sport : dport) {
        case 38412: return P_NGAP;
        case 36412: return P_S1AP;
        case 36422: return P_X2AP;
        case 38422: return P_XNAP;
        case 3868: return P_DIAMETER;
        case 2905: return P_M3UA;
        }
    }
    return P_OTHER;
}

/* ---- NAS (nas.py) --------------------------------------------------------------------------------------- */
static uint16_t nas_name(const uint8_t *p, size_t n)
{
    if (n < 2)
        return 0;
    uint8_t b0 = p[0];
    if (b0 == 0x7E) {
        unsigned sht = p[1] & 0x0F;
        if (sht == 0)
            return n > 2 ? (uint16_t)(1u << 8 | p[2]) : 0;
        if (sht == 1 || sht == 3)
            return n > 7 ? nas_name(p + 7, n - 7) : 0;
        return NAS_CIPHERED;
    }
    if (b0 == 0x2E)
        return n > 3 ? (uint16_t)(2u << 8 | p[3]) : 0;
    unsigned pd = b0 & 0x0F, high = b0 >> 4;
    if (pd == 7) {
        if (high == 0)
            return (uint16_t)(3u << 8 | p[1]);
        if (high == 1 || high == 3)
            return n > 6 ? nas_name(p + 6, n - 6) : 0;
        if (high == 12)
            return NAS_SERVICE_REQUEST;
        return NAS_CIPHERED;
    }
    if (pd == 2)
        return n > 2 ? (uint16_t)(4u << 8 | p[2]) : 0;
    return 0;
}

static const uint8_t *nas_plain(const uint8_t *p, size_t n, size_t *pn)
{
    if (n >= 1 && p[0] == 0x7E) {
        unsigned sht = n > 1 ? p[1] & 0x0F : 0;
        if (sht == 0) {
            *pn = n;
            return p;
        }
        return (sht == 1 || sht == 3) && n > 7 ? nas_plain(p + 7, n - 7, pn) : NULL;
    }
    if (n >= 1 && (p[0] & 0x0F) == 7) {
        unsigned high = p[0] >> 4;
        if (high == 0) {
            *pn = n;
            return p;
        }
        return (high == 1 || high == 3) && n > 6 ? nas_plain(p + 6, n - 6, pn) : NULL;
    }
    return NULL;
}

static int null_ciphering(const uint8_t *p, size_t n)
{
    size_t pn = 0;
    const uint8_t *q = nas_plain(p, n, &pn);
    if (!q)
        return 0;
    size_t off = q[0] == 0x7E ? 3 : 2;
    return pn > off && q[off - 1] == 0x5D && ((q[off] >> 4) & 7) == 0;
}

/* the codes of one NAS message: its name, the name inside its security header, null-ciphering SMC */
static void nas_fill(tc_rec *r, const uint8_t *p, size_t n)
{
    r->nas = nas_name(p, n);
    if (r->nas == NAS_CIPHERED) {
        size_t strip = p[0] == 0x7E ? 7 : 6;
        r->inner = n > strip ? nas_name(p + strip, n - strip) : 0;
    }
    if (null_ciphering(p, n))
        r->flags |= F_SMC_NULL;
}

/* ---- NGAP / S1AP / X2AP / XnAP (ap.py) ------------------------------------------------------------------ */
/* an aligned-PER length determinant at b[i]: 0 ok, -1 past the end, -2 fragmented */
static int aper_len(const uint8_t *b, size_t n, size_t i, size_t *len, size_t *next)
{
    if (i >= n)
        return -1;
    uint8_t v = b[i];
    if (v < 0x80) {
        *len = v;
        *next = i + 1;
        return 0;
    }
    if ((v & 0xC0) == 0x80) {
        if (i + 1 >= n)
            return -1;
        *len = (size_t)(v & 0x3F) << 8 | b[i + 1];
        *next = i + 2;
        return 0;
    }
    return -2;
}

typedef struct {
    const uint8_t *p;
    size_t n;
    int have;
} span;

static int64_t aligned_int(const uint8_t *v, size_t n, size_t i, size_t k, size_t *next)
{
    *next = i + k;
    if (n < i + k)
        return -1;
    uint64_t x = 0;
    for (size_t j = 0; j < k; j++)
        x = x << 8 | v[i + j];
    return (int64_t)x;
}

static int64_t constrained_int(span s, unsigned bits)
{
    if (!s.have || s.n == 0)
        return -1;
    size_t k = (size_t)(s.p[0] >> (8 - bits)) + 1;
    if (s.n < 1 + k)
        return -1;
    uint64_t x = 0;
    for (size_t j = 0; j < k; j++)
        x = x << 8 | s.p[1 + j];
    return (int64_t)x;
}

static void id_pair(span s, int proto, int64_t *ran, int64_t *core)
{
    const uint8_t *v = s.p;
    size_t n = s.n, i;
    uint8_t b = v[0];
    if (proto == P_NGAP) {
        unsigned choice = b >> 6;
        if (choice == 0) {
            *core = aligned_int(v, n, 1, ((b >> 1) & 7) + 1, &i);
            if (n <= i)
                return;
            *ran = aligned_int(v, n, i + 1, (v[i] >> 6) + 1, &i);
        } else if (choice == 1) {
            *core = aligned_int(v, n, 1, ((b >> 3) & 7) + 1, &i);
        }
        return;
    }
    if (b & 0x80)
        return;
    if (((b >> 6) & 1) == 0) {
        *core = aligned_int(v, n, 1, ((b >> 2) & 3) + 1, &i);
        if (n <= i)
            return;
        *ran = aligned_int(v, n, i + 1, (v[i] >> 6) + 1, &i);
        return;
    }
    *core = aligned_int(v, n, 1, ((b >> 4) & 3) + 1, &i);
}

static void ap_decode(tc_rec *r, const uint8_t *d, size_t n)
{
    r->code = -1;
    r->ran_ue = r->core_ue = -1;
    if (n < 1) {
        r->err = E_SHORT;
        return;
    }
    uint8_t b0 = d[0];
    if (b0 & 0x80) {
        r->err = E_EXT;
        return;
    }
    r->kind = (b0 >> 5) & 3;
    if (r->kind > 2) {
        r->err = E_CHOICE;
        return;
    }
    if (n < 2) {
        r->err = E_SHORT;
        return;
    }
    r->code = d[1];
    int ue = r->proto == P_NGAP ? 1 : r->proto == P_S1AP ? 2 : 0;
    span ies[4] = {{0}};
    size_t len, i, end;
    int rc = aper_len(d, n, 3, &len, &i);
    if (rc < 0) {
        r->err = rc == -2 ? E_FRAGLEN : E_SHORT;
        goto ids;
    }
    end = i + len;
    if (end > n) {
        r->err = E_SHORT;
        end = n;
    }
    if (i + 2 >= n) {
        r->err = E_SHORT;
        goto ids;
    }
    uint32_t count = be16(d + i + 1);
    i += 3;
    for (uint32_t c = 0; c < count; c++) {
        if (i + 4 > end) {
            r->err = E_IESHORT;
            break;
        }
        uint32_t iid = be16(d + i);
        size_t vlen, j;
        rc = aper_len(d, n, i + 3, &vlen, &j);
        if (rc < 0) {
            r->err = rc == -2 ? E_FRAGLEN : E_SHORT;
            break;
        }
        if (ue)
            for (int k = 0; k < 4; k++)
                if ((int)iid == ie_ids[ue][k] && !ies[k].have) {
                    size_t a = j < n ? j : n, z = j + vlen < n ? j + vlen : n;
                    ies[k].p = d + a;
                    ies[k].n = z - a;
                    ies[k].have = 1;
                }
        i = j + vlen;
    }
ids:
    if (!ue)
        return;
    r->ran_ue = constrained_int(ies[0], 2);
    r->core_ue = constrained_int(ies[1], ue == 1 ? 3 : 2);
    if (r->ran_ue < 0 && r->core_ue < 0 && ies[2].have && ies[2].n)
        id_pair(ies[2], r->proto, &r->ran_ue, &r->core_ue);
    int found = 0;
    if (ies[3].have && ies[3].n) {
        size_t nl, ni;
        if (aper_len(ies[3].p, ies[3].n, 0, &nl, &ni) == 0) {
            size_t a = ni < ies[3].n ? ni : ies[3].n, z = ni + nl < ies[3].n ? ni + nl : ies[3].n;
            nas_fill(r, ies[3].p + a, z - a);
            found = 1;
        }
    }
    if (!found && r->proto == P_S1AP && r->kind == 0 && r->code == S1AP_ICS)
        r->flags |= F_NEEDS;          /* the Attach Accept rides in an E-RAB item: Python asks pycrate */
}

/* ---- Diameter (diameter.py), M3UA (m3ua.py) ------------------------------------------------------------- */
static int64_t dia_result(const uint8_t *b, size_t n, size_t i, size_t end)
{
    int64_t found = -1;
    while (i + 8 <= end) {
        uint32_t code = be32(b + i), alen = be24(b + i + 5);
        if (alen < 8)
            break;
        size_t hdr = (b[i + 4] & 0x80) ? 12 : 8;
        size_t a = i + hdr < n ? i + hdr : n, z = i + alen < n ? i + alen : n;
        if (z < a)
            z = a;
        if (code == 268 && z - a >= 4)
            return be32(b + a);
        if (code == 297) {
            size_t j = a;       /* Experimental-Result's AVPs, within its data */
            while (j + 8 <= z) {
                uint32_t c2 = be32(b + j), l2 = be24(b + j + 5);
                if (l2 < 8)
                    break;
                size_t h2 = (b[j + 4] & 0x80) ? 12 : 8;
                size_t a2 = j + h2 < z ? j + h2 : z, z2 = j + l2 < z ? j + l2 : z;
                if (c2 == 298 && z2 > a2 && z2 - a2 >= 4) {
                    found = be32(b + a2);
                    break;
                }
                j += (l2 + 3) & ~3u;
            }
        }
        i += (alen + 3) & ~3u;
    }
    return found;
}

static void dia_decode(tc_rec *r, const uint8_t *b, size_t n)
{
    r->result = -1;
    r->code = -1;
    if (n < 20 || b[0] != 1 || be24(b + 1) < 20) {
        r->err = E_NOTDIA;
        return;
    }
    size_t length = be24(b + 1);
    r->kind = (b[4] & 0x80) ? 0 : 1;          /* 0 request, 1 answer */
    r->code = (int32_t)be24(b + 5);
    r->app = be32(b + 8);
    r->hbh = be32(b + 12);
    r->e2e = be32(b + 16);
    if (length > n)
        r->err = E_SHORT;
    if (r->kind == 1)
        r->result = dia_result(b, n, 20, length < n ? length : n);
}

static void m3ua_decode(tc_rec *r, const uint8_t *b, size_t n)
{
    if (n < 8 || b[0] != 1) {
        r->code = -1;
        r->err = E_NOTM3UA;
        return;
    }
    r->code = (int32_t)((uint32_t)b[2] << 8 | b[3]);
}

static void decode_one(tc_rec *r, const uint8_t *d, size_t n)
{
    switch (r->proto) {
    case P_NGAP: case P_S1AP: case P_X2AP: case P_XNAP: ap_decode(r, d, n); break;
    case P_DIAMETER: dia_decode(r, d, n); break;
    case P_M3UA: m3ua_decode(r, d, n); break;
    default: r->code = -1; break;
    }
}

static PyObject *fast_decode(PyObject *self, PyObject *arg)
{
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "sctpcorr.telecom._fast: configure() first");
        return NULL;
    }
    Py_buffer in;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0)
        return NULL;
    const uint8_t *buf = in.buf;
    size_t n = (size_t)in.len, off = 0, count = 0;
    while (off + sizeof(payhdr) <= n) {       /* count first: one allocation */
        payhdr h;
        memcpy(&h, buf + off, sizeof h);
        if ((h.flags & 3) == 3)
            count++;
        off += sizeof h + (((size_t)h.caplen + 7u) & ~(size_t)7);   /* size_t: a caplen near 2^32 must not wrap */
    }
    PyObject *recs = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(count * sizeof(tc_rec)));
    PyObject *frags = PyList_New(0);
    if (!recs || !frags) {
        Py_XDECREF(recs);
        Py_XDECREF(frags);
        PyBuffer_Release(&in);
        return NULL;
    }
    tc_rec *out = (tc_rec *)PyByteArray_AS_STRING(recs);
    size_t k = 0;
    off = 0;
    Py_BEGIN_ALLOW_THREADS
    while (off + sizeof(payhdr) <= n) {
        payhdr h;
        memcpy(&h, buf + off, sizeof h);
        size_t data = off + sizeof h, cap = h.caplen;
        if (data + cap > n)
            cap = n - data;
        if ((h.flags & 3) == 3) {
            tc_rec *r = &out[k++];
            memset(r, 0, sizeof *r);
            r->ts_ns = h.ts_ns;
            r->frame = h.frame_no;
            r->assoc = h.assoc_id;
            r->vtag = h.vtag;
            r->tsn0 = r->tsn1 = h.tsn;
            r->ppid = h.ppid;
            r->length = h.len;
            r->caplen = (uint32_t)cap;
            r->sid = h.sid;
            r->sport = h.sport;
            r->dport = h.dport;
            r->dir = h.dir;
            r->fragments = 1;
            r->rtt_ns = h.rtt_ns;
            r->a_rwnd = h.a_rwnd;
            r->latency_ns = -1;
            r->ran_ue = r->core_ue = r->result = -1;
            r->data_off = data;
            r->seq = off;
            r->flags = (uint8_t)(((h.flags & 4) ? F_UNORDERED : 0) | (cap < h.len ? F_TRUNC : 0));
            r->proto = (uint8_t)classify(h.ppid, h.sport, h.dport);
            decode_one(r, buf + data, cap);
        } else {
            PyGILState_STATE g = PyGILState_Ensure();
            PyObject *o = PyLong_FromSize_t(off);
            if (o) {
                PyList_Append(frags, o);
                Py_DECREF(o);
            }
            PyGILState_Release(g);
        }
        off = data + (((size_t)h.caplen + 7u) & ~(size_t)7);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    if (PyErr_Occurred()) {
        Py_DECREF(recs);
        Py_DECREF(frags);
        return NULL;
    }
    return Py_BuildValue("(NN)", recs, frags);
}

static PyObject *fast_nas_codes(PyObject *self, PyObject *arg)
{
    Py_buffer in;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0)
        return NULL;
    tc_rec r;
    memset(&r, 0, sizeof r);
    if (in.len > 0)
        nas_fill(&r, in.buf, (size_t)in.len);
    PyBuffer_Release(&in);
    return Py_BuildValue("(iiO)", r.nas, r.inner, (r.flags & F_SMC_NULL) ? Py_True : Py_False);
}

/* configure(ngap=(ran, core, pair, nas), s1ap=(...), class1={proto index: bytes(32)}, step_nas, step_ap) */
static PyObject *fast_configure(PyObject *self, PyObject *args)
{
    PyObject *ng, *s1, *c1;
    Py_buffer sn, sa;
    if (!PyArg_ParseTuple(args, "OOO!y*y*:configure", &ng, &s1, &PyDict_Type, &c1, &sn, &sa))
        return NULL;
    int ok = sn.len == (Py_ssize_t)sizeof step_nas && sa.len == (Py_ssize_t)sizeof step_ap;
    if (ok) {
        memcpy(step_nas, sn.buf, sizeof step_nas);
        memcpy(step_ap, sa.buf, sizeof step_ap);
    }
    PyBuffer_Release(&sn);
    PyBuffer_Release(&sa);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "step tables: int16 [2][65536] and [2][768]");
        return NULL;
    }
    PyObject *src[2] = {ng, s1};
    for (int p = 0; p < 2; p++)
        if (!PyArg_ParseTuple(src[p], "iiii", &ie_ids[p + 1][0], &ie_ids[p + 1][1], &ie_ids[p + 1][2],
                              &ie_ids[p + 1][3]))
            return NULL;
    memset(class1, 0, sizeof class1);
    PyObject *key, *val;
    Py_ssize_t pos = 0;
    while (PyDict_Next(c1, &pos, &key, &val)) {
        long p = PyLong_AsLong(key);
        if (p < 1 || p > 4 || !PyBytes_Check(val) || PyBytes_GET_SIZE(val) != 32) {
            PyErr_SetString(PyExc_ValueError, "class1: {1..4: bytes(32)}");
            return NULL;
        }
        memcpy(class1[p], PyBytes_AS_STRING(val), 32);
    }
    configured = 1;
    Py_RETURN_NONE;
}

/* ---- Follower ------------------------------------------------------------------------------------------- */
/* open addressing, keys (a, b), value: AP a queue (head/tail into the node pool), Diameter a record index */
typedef struct {
    uint64_t a, b;
    int64_t v1, v2;           /* AP: head, tail node (-1 empty); Diameter: record index (-1 none), ts */
    uint8_t used;
} slot;

typedef struct {
    slot *s;
    size_t cap, n;
} map;

typedef struct {
    int64_t ts;
    int64_t next;
} node;

/* one UE (association + RAN UE id), what the per-UE view needs without grouping every message again */
typedef struct {
    int64_t ran_ue, core_ue;  /* core_ue: the first core-side id seen (-1: none) */
    int64_t first_ts, last_ts, last_ciphered_ts; /* last_ciphered_ts: its last NAS still ciphered (-1: none) */
    uint64_t first, messages; /* index of its first record; its records */
    uint32_t assoc;
    uint8_t proto, null_cipher, pad[2];
} ue_t;
_Static_assert(sizeof(ue_t) == 64, "ue_t");

#define PENDING_MAX (1u << 22)

/* a matched AP response: its procedure (protocol << 8 | code), outcome, record index and latency */
typedef struct {
    int64_t latency_ns;
    uint64_t index;
    uint16_t key;
    uint8_t kind, pad[5];
} match_t;
_Static_assert(sizeof(match_t) == 24, "match_t");
enum { C_REQUEST, C_SUCCESS, C_FAILURE, C_ORPHAN, C_OTHER };   /* what an AP message was to its procedure */

typedef struct {
    PyObject_HEAD
    map ap, dia, ue;
    ue_t *ues;
    size_t nues, ues_cap;
    node *nodes;
    int64_t nnodes, nodes_cap, free_node;
    uint64_t index;           /* records followed so far (the global index of the next one) */
    /* messages by type: AP dense by (protocol, kind or 3: undecodable, code); the rest in a map */
    uint64_t ap_count[5 * 4 * 256], ap_first[5 * 4 * 256];
    map types;                /* key (protocol << 48 | kind << 40 | code, 0) -> v1 first index, v2 count */
    uint64_t ap_class[5 * 256][5]; /* per AP procedure (protocol << 8 | code): C_* counts */
    match_t *matches;         /* every matched AP response */
    size_t nmatches, matches_cap;
    PyObject *failures;       /* follow(): local indices of the matched AP failures of this call */
    uint64_t dropped;         /* requests not queued: PENDING_MAX reached */
    uint64_t pending;
} Follower;

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return x;
}

static slot *map_get(map *m, uint64_t a, uint64_t b, int create)
{
    if (create && (m->n + 1) * 4 > m->cap * 3) {
        size_t ncap = m->cap ? m->cap * 2 : 1024;
        slot *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->s[i].used)
                continue;
            size_t j = mix(m->s[i].a, m->s[i].b) & (ncap - 1);
            while (ns[j].used)
                j = (j + 1) & (ncap - 1);
            ns[j] = m->s[i];
        }
        free(m->s);
        m->s = ns;
        m->cap = ncap;
    }
    if (!m->cap)
        return NULL;
    size_t j = mix(a, b) & (m->cap - 1);
    while (m->s[j].used) {
        if (m->s[j].a == a && m->s[j].b == b)
            return &m->s[j];
        j = (j + 1) & (m->cap - 1);
    }
    if (!create)
        return NULL;
    m->s[j].used = 1;
    m->s[j].a = a;
    m->s[j].b = b;
    m->s[j].v1 = m->s[j].v2 = -1;
    m->n++;
    return &m->s[j];
}

static int64_t node_new(Follower *f, int64_t ts)
{
    int64_t i = f->free_node;
    if (i >= 0) {
        f->free_node = f->nodes[i].next;
    } else {
        if (f->nnodes == f->nodes_cap) {
            int64_t ncap = f->nodes_cap ? f->nodes_cap * 2 : 1024;
            node *nn = realloc(f->nodes, (size_t)ncap * sizeof *nn);
            if (!nn)
                return -1;
            f->nodes = nn;
            f->nodes_cap = ncap;
        }
        i = f->nnodes++;
    }
    f->nodes[i].ts = ts;
    f->nodes[i].next = -1;
    return i;
}

static uint64_t ap_key(const tc_rec *r, int with_ue)
{
    uint64_t ue = with_ue && r->ran_ue >= 0 ? (uint64_t)r->ran_ue + 1 : 0;
    return (uint64_t)r->proto << 56 | (uint64_t)(uint8_t)r->code << 48 | (ue & 0xFFFFFFFFFFFFull);
}

/* one more record of map key `key` (its first index kept) */
static int count_key(Follower *f, uint64_t key, uint64_t index)
{
    slot *s = map_get(&f->types, key, 0, 1);
    if (!s)
        return -1;
    if (s->v1 < 0) {
        s->v1 = (int64_t)index;
        s->v2 = 0;
    }
    s->v2++;
    return 0;
}

/* count the record by type (see Follower.types()) */
static int count_type(Follower *f, const tc_rec *r, uint64_t index)
{
    if (r->proto == P_OTHER)            /* by PPID */
        return count_key(f, 1ull << 63 | r->ppid, index);
    int bad = r->code < 0 || r->err == E_NOTDIA || r->err == E_NOTM3UA;
    uint64_t kind = bad ? 3 : r->kind;
    if (r->proto <= P_XNAP) {
        size_t d = ((size_t)r->proto * 4 + kind) << 8 | (bad ? 0 : (uint8_t)r->code);
        if (!f->ap_count[d]++)
            f->ap_first[d] = index;
        return 0;
    }
    return count_key(f, (uint64_t)r->proto << 48 | kind << 40 | (bad ? 0 : (uint32_t)r->code), index);
}

static int follow_one(Follower *f, tc_rec *r, uint64_t index)
{
    if (count_type(f, r, index) < 0)
        return -1;
    if (r->proto >= P_NGAP && r->proto <= P_XNAP && r->code >= 0) {
        int has_ue = r->ran_ue >= 0;
        if (has_ue && (r->proto == P_NGAP || r->proto == P_S1AP)) {
            slot *s = map_get(&f->ue, r->assoc, (uint64_t)r->ran_ue, 1);   /* the UE: association + RAN UE id */
            if (!s)
                return -1;
            if (s->v1 < 0) {
                if (f->nues == f->ues_cap) {
                    size_t ncap = f->ues_cap ? f->ues_cap * 2 : 256;
                    ue_t *nu = realloc(f->ues, ncap * sizeof *nu);
                    if (!nu)
                        return -1;
                    f->ues = nu;
                    f->ues_cap = ncap;
                }
                ue_t *u = &f->ues[f->nues];
                memset(u, 0, sizeof *u);
                u->ran_ue = r->ran_ue;
                u->core_ue = u->last_ciphered_ts = -1;
                u->first = index;
                u->first_ts = r->ts_ns;
                u->assoc = r->assoc;
                u->proto = r->proto;
                s->v1 = (int64_t)f->nues++;
            }
            ue_t *u = &f->ues[s->v1];
            r->ue = (uint32_t)s->v1 + 1;
            u->messages++;
            u->last_ts = r->ts_ns;
            if (u->core_ue < 0 && r->core_ue >= 0)
                u->core_ue = r->core_ue;
            if (r->nas == NAS_CIPHERED && u->null_cipher) {
                r->nas = r->inner;
                r->flags |= F_READ_NULL;
            }
            if (r->nas == NAS_CIPHERED)
                u->last_ciphered_ts = r->ts_ns;
            if (r->flags & F_SMC_NULL)
                u->null_cipher = 1;
            int pi = r->proto == P_NGAP ? 0 : 1;
            r->steps = (uint16_t)(step_nas[pi][r->nas] | step_ap[pi][(unsigned)r->kind << 8 | (uint8_t)r->code]);
        }
        uint64_t *cls = f->ap_class[(size_t)r->proto << 8 | (uint8_t)r->code];
        if (r->kind == 0) {
            if (!(class1[r->proto][r->code >> 3] & (1u << (r->code & 7)))) {
                cls[C_OTHER]++;
                return 0;
            }
            cls[C_REQUEST]++;
            r->flags |= F_REQ;
            if (f->pending >= PENDING_MAX) {
                f->dropped++;
                return 0;
            }
            slot *s = map_get(&f->ap, ap_key(r, 1), r->assoc, 1);
            int64_t nd = s ? node_new(f, r->ts_ns) : -1;
            if (nd < 0)
                return -1;
            if (s->v2 >= 0)
                f->nodes[s->v2].next = nd;
            else
                s->v1 = nd;
            s->v2 = nd;
            f->pending++;
            return 0;
        }
        slot *s = map_get(&f->ap, ap_key(r, 1), r->assoc, 0);
        if ((!s || s->v1 < 0) && has_ue)
            s = map_get(&f->ap, ap_key(r, 0), r->assoc, 0);
        if (!s || s->v1 < 0) {
            cls[C_ORPHAN]++;
            return 0;
        }
        int64_t nd = s->v1;
        s->v1 = f->nodes[nd].next;
        if (s->v1 < 0)
            s->v2 = -1;
        r->latency_ns = (int64_t)((uint64_t)r->ts_ns - (uint64_t)f->nodes[nd].ts);   /* wraps, never UB */
        r->flags |= F_MATCHED;
        f->nodes[nd].next = f->free_node;
        f->free_node = nd;
        f->pending--;
        cls[r->kind == 1 ? C_SUCCESS : C_FAILURE]++;
        if (f->nmatches == f->matches_cap) {
            size_t ncap = f->matches_cap ? f->matches_cap * 2 : 1024;
            match_t *nm = realloc(f->matches, ncap * sizeof *nm);
            if (!nm)
                return -1;
            f->matches = nm;
            f->matches_cap = ncap;
        }
        match_t *m = &f->matches[f->nmatches++];
        memset(m, 0, sizeof *m);
        m->latency_ns = r->latency_ns;
        m->index = index;
        m->key = (uint16_t)((unsigned)r->proto << 8 | (uint8_t)r->code);
        m->kind = r->kind;
        return r->kind == 2 ? 1 : 0;
    }
    if (r->proto == P_DIAMETER && r->err != E_NOTDIA) {
        uint64_t a = (uint64_t)r->hbh, b = (uint64_t)r->assoc << 32 | r->e2e;
        if (r->kind == 0) {
            slot *s = map_get(&f->dia, a, b, 1);
            if (!s)
                return -1;
            s->v1 = (int64_t)index;
            s->v2 = r->ts_ns;
            return 0;
        }
        slot *s = map_get(&f->dia, a, b, 0);
        if (!s || s->v1 < 0)
            return 0;
        r->latency_ns = (int64_t)((uint64_t)r->ts_ns - (uint64_t)s->v2);   /* wraps, never UB */
        r->flags |= F_MATCHED;
        s->v1 = -1;
    }
    return 0;
}

/* what the telecom layer keeps of every record (columns.LEAN, in this order), written by follow() into its
 * columns: the fields Telecom.finish reads */
#define LEAN_FIELDS 13
static const char *const LEAN_NAMES[LEAN_FIELDS] = {"ts_ns", "assoc", "vtag", "tsn0", "tsn1", "code", "ue", "sid",
                                                      "nas", "proto", "kind", "err", "flags"};

static void keep_lean(const tc_rec *r, char *const *col, size_t at)
{
    ((int64_t *)col[0])[at] = r->ts_ns;
    ((uint32_t *)col[1])[at] = r->assoc;
    ((uint32_t *)col[2])[at] = r->vtag;
    ((uint32_t *)col[3])[at] = r->tsn0;
    ((uint32_t *)col[4])[at] = r->tsn1;
    ((int32_t *)col[5])[at] = r->code;
    ((uint32_t *)col[6])[at] = r->ue;
    ((uint16_t *)col[7])[at] = r->sid;
    ((uint16_t *)col[8])[at] = r->nas;
    ((uint8_t *)col[9])[at] = r->proto;
    ((uint8_t *)col[10])[at] = r->kind;
    ((uint8_t *)col[11])[at] = r->err;
    ((uint8_t *)col[12])[at] = r->flags;
}

/* follow(records, lean=None): lean, a tuple of LEAN_FIELDS writable buffers (the columns, each with room for
 * these records from the start) */
static PyObject *Follower_follow(Follower *f, PyObject *args)
{
    PyObject *arg, *lean = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:follow", &arg, &lean))
        return NULL;
    Py_buffer cols[LEAN_FIELDS];
    char *colp[LEAN_FIELDS];
    int ncols = 0;
    static const size_t width[LEAN_FIELDS] = {8, 4, 4, 4, 4, 4, 4, 2, 2, 1, 1, 1, 1};
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_WRITABLE) < 0)
        return NULL;
    size_t nrec = (size_t)b.len / sizeof(tc_rec);
    if (lean != Py_None) {
        if (!PyTuple_Check(lean) || PyTuple_GET_SIZE(lean) != LEAN_FIELDS) {
            PyBuffer_Release(&b);
            PyErr_SetString(PyExc_ValueError, "follow(): lean is a tuple of the LEAN columns");
            return NULL;
        }
        for (; ncols < LEAN_FIELDS; ncols++) {
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(lean, ncols), &cols[ncols], PyBUF_WRITABLE) < 0)
                break;
            colp[ncols] = cols[ncols].buf;
            if ((size_t)cols[ncols].len < nrec * width[ncols]) {
                PyBuffer_Release(&cols[ncols]);
                PyErr_SetString(PyExc_ValueError, "follow(): a LEAN column without room for the records");
                break;
            }
        }
        if (ncols < LEAN_FIELDS) {
            while (ncols--)
                PyBuffer_Release(&cols[ncols]);
            PyBuffer_Release(&b);
            return NULL;
        }
    }
    if (b.len % (Py_ssize_t)sizeof(tc_rec)) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "follow(): a whole number of records");
        return NULL;
    }
    tc_rec *r = b.buf;
    size_t n = nrec;
    int bad = 0;
    PyObject *failures = PyList_New(0);
    if (!failures) {
        PyBuffer_Release(&b);
        return NULL;
    }
    for (size_t i = 0; i < n && !bad; i++) {
        int rc = follow_one(f, &r[i], f->index++);
        if (rc == 1) {                  /* a matched AP failure: Python reads its cause */
            PyObject *o = PyLong_FromSize_t(i);
            bad = !o || PyList_Append(failures, o) < 0;
            Py_XDECREF(o);
        } else {
            bad = rc < 0;
        }
        if (ncols)
            keep_lean(&r[i], colp, i);
    }
    while (ncols--)
        PyBuffer_Release(&cols[ncols]);
    PyBuffer_Release(&b);
    if (bad) {
        Py_DECREF(failures);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    return failures;
}

static PyObject *Follower_pending_diameter(Follower *f, PyObject *unused)
{
    PyObject *out = PyList_New(0);
    for (size_t i = 0; out && i < f->dia.cap; i++) {
        if (!f->dia.s[i].used || f->dia.s[i].v1 < 0)
            continue;
        PyObject *o = PyLong_FromLongLong(f->dia.s[i].v1);
        if (!o || PyList_Append(out, o) < 0) {
            Py_XDECREF(o);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(o);
    }
    return out;
}

static PyObject *Follower_ues(Follower *f, PyObject *unused)
{
    return PyBytes_FromStringAndSize(f->ues ? (const char *)f->ues : "", (Py_ssize_t)(f->nues * sizeof(ue_t)));
}

/* types() -> list of (key, first index, count): key protocol << 48 | kind << 40 | code (kind 3: not decodable),
 * or 1 << 63 | PPID for the messages of no protocol this reads */
static PyObject *Follower_types(Follower *f, PyObject *unused)
{
    PyObject *out = PyList_New(0);
    for (size_t d = 0; out && d < 5 * 4 * 256; d++) {
        if (!f->ap_count[d])
            continue;
        unsigned long long key = (unsigned long long)(d >> 10) << 48 | (unsigned long long)((d >> 8) & 3) << 40 | (d & 0xFF);
        PyObject *t = Py_BuildValue("(KKK)", key, (unsigned long long)f->ap_first[d],
                                    (unsigned long long)f->ap_count[d]);
        if (!t || PyList_Append(out, t) < 0)
            Py_CLEAR(out);
        Py_XDECREF(t);
    }
    for (size_t i = 0; out && i < f->types.cap; i++) {
        slot *s = &f->types.s[i];
        if (!s->used)
            continue;
        PyObject *t = Py_BuildValue("(KLL)", (unsigned long long)s->a, (long long)s->v1, (long long)s->v2);
        if (!t || PyList_Append(out, t) < 0)
            Py_CLEAR(out);
        Py_XDECREF(t);
    }
    return out;
}

static PyObject *Follower_ap_stats(Follower *f, PyObject *unused)
{
    return Py_BuildValue("(y#y#)", (const char *)f->ap_class, (Py_ssize_t)sizeof f->ap_class,
                         f->matches ? (const char *)f->matches : "", (Py_ssize_t)(f->nmatches * sizeof(match_t)));
}

static PyObject *Follower_get_dropped(Follower *f, void *c) { return PyLong_FromUnsignedLongLong(f->dropped); }

static void Follower_dealloc(Follower *f)
{
    free(f->ap.s);
    free(f->dia.s);
    free(f->ue.s);
    free(f->types.s);
    free(f->matches);
    free(f->ues);
    free(f->nodes);
    Py_TYPE(f)->tp_free((PyObject *)f);
}

static PyObject *Follower_new(PyTypeObject *t, PyObject *args, PyObject *kw)
{
    Follower *f = (Follower *)t->tp_alloc(t, 0);
    if (f)
        f->free_node = -1;
    return (PyObject *)f;
}

static PyMethodDef Follower_methods[] = {
    {"follow", (PyCFunction)Follower_follow, METH_VARARGS,
     "follow(records, lean=None) -> list[int]\n--\n\nFollow decoded records (a writable buffer), in capture order, "
     "in place, and write what is kept of each into the LEAN columns (a tuple of writable buffers starting where "
     "these records go); returns the indices (in records) of the matched AP failures."},
    {"types", (PyCFunction)Follower_types, METH_NOARGS,
     "types() -> list[tuple[int, int, int]]\n--\n\n(key, first record index, count) per message type: key "
     "protocol << 48 | kind << 40 | code (kind 3: not decodable), or 1 << 63 | PPID (no protocol read)."},
    {"ap_stats", (PyCFunction)Follower_ap_stats, METH_NOARGS,
     "ap_stats() -> (classes: bytes, matches: bytes)\n--\n\nPer AP procedure (protocol << 8 | code) the counts of "
     "requests, matched successes and failures, responses without request and others (5 x uint64); every matched "
     "response (columns.MATCH)."},
    {"ues", (PyCFunction)Follower_ues, METH_NOARGS,
     "ues() -> bytes\n--\n\nOne ue_t per UE, in order of first appearance (columns.UE)."},
    {"pending_diameter", (PyCFunction)Follower_pending_diameter, METH_NOARGS,
     "pending_diameter() -> list[int]\n--\n\nIndices of the Diameter requests still waiting for an answer."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Follower_getset[] = {
    {"dropped", (getter)Follower_get_dropped, NULL, "requests not queued (too many waiting)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject FollowerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sctpcorr.telecom._fast.Follower",
    .tp_basicsize = sizeof(Follower),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Follower(): requests matched to responses, null-ciphered NAS read through (see the module doc).",
    .tp_methods = Follower_methods,
    .tp_getset = Follower_getset,
    .tp_new = Follower_new,
    .tp_dealloc = (destructor)Follower_dealloc,
};

static PyMethodDef fast_functions[] = {
    {"configure", fast_configure, METH_VARARGS,
     "configure(ngap_ids, s1ap_ids, class1, step_nas, step_ap) -> None\n--\n\nIE ids (RAN id, core id, id pair, "
     "NAS-PDU), class-1 procedure bitmaps {protocol 1..4: bytes(32)}, the timeline step tables (int16 [NGAP, S1AP] "
     "x NAS code, x kind << 8 | code)."},
    {"decode", fast_decode, METH_O,
     "decode(payloads) -> (records: bytearray, fragments: list[int])\n--\n\nOne record per unfragmented chunk of a "
     "drain_payloads() buffer; the header offsets of the fragments."},
    {"nas_codes", fast_nas_codes, METH_O,
     "nas_codes(octets) -> (nas, inner, smc_null)\n--\n\nThe codes decode() gives a NAS message."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fast_module = {
    PyModuleDef_HEAD_INIT, .m_name = "sctpcorr.telecom._fast",
    .m_doc = "The telecom layer's per-message work in C (see sctpcorr/telecom/_fast/fast.c).", .m_size = -1,
    .m_methods = fast_functions,
};

PyMODINIT_FUNC PyInit__fast(void)
{
    if (PyType_Ready(&FollowerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&fast_module);
    if (!m)
        return NULL;
    Py_INCREF(&FollowerType);
    if (PyModule_AddObject(m, "Follower", (PyObject *)&FollowerType) < 0 ||
        PyModule_AddIntConstant(m, "REC_SIZE", sizeof(tc_rec)) < 0 || PyModule_AddIntConstant(m, "UE_SIZE", sizeof(ue_t)) < 0 ||
        PyModule_AddIntConstant(m, "NAS_CIPHERED", NAS_CIPHERED) < 0 ||
        PyModule_AddObject(m, "LEAN", Py_BuildValue("(sssssssssssss)", LEAN_NAMES[0], LEAN_NAMES[1], LEAN_NAMES[2],
                                                    LEAN_NAMES[3], LEAN_NAMES[4], LEAN_NAMES[5], LEAN_NAMES[6],
                                                    LEAN_NAMES[7], LEAN_NAMES[8], LEAN_NAMES[9], LEAN_NAMES[10],
                                                    LEAN_NAMES[11], LEAN_NAMES[12])) < 0 ||
        PyModule_AddIntConstant(m, "NAS_SERVICE_REQUEST", NAS_SERVICE_REQUEST) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
