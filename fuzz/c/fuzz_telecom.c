/* libFuzzer target: the telecom layer's C decoder (sctpcorr/telecom/_fast): decode() over a payload buffer
 * (sc_payhdr + user data, as the wire engine's drain_payloads() writes it: NGAP/S1AP/X2AP/XnAP APER, NAS,
 * Diameter AVPs, M3UA), nas_codes() over the same user data, then a Follower over the records decode() made
 * (the per-UE, request/response and Diameter matching state), and its summaries.
 *
 * Input: a payload buffer as it is.  The instrumented extension is registered as a built-in module and put in
 * sys.modules under the extension's name, so sctpcorr.telecom.columns.configure() loads the real step tables into it. */
#include "pyembed.h"

#include "../../sctpcorr/telecom/_fast/fast.c"

static PyObject *follower_type;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_py_init(PyInit__fast, "_fast_fuzz",
               "import sys, _fast_fuzz, sctpcorr.telecom\n"
               "sys.modules['sctpcorr.telecom._fast'] = sctpcorr.telecom._fast = _fast_fuzz\n"
               "import sctpcorr.telecom._fast as f\n"
               "assert f is _fast_fuzz, repr(f)\n"
               "from sctpcorr.telecom.columns import configure\n"
               "configure()\n");
    follower_type = (PyObject *)&FollowerType;
    return 0;
}

static PyObject *decode_wrap(PyObject *self, PyObject *arg) { return fast_decode(self, arg); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    PyObject *r = fz_py_call_buf(decode_wrap, data, size, NULL);
    if (r && PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 2) {
        PyObject *recs = PyTuple_GET_ITEM(r, 0);
        fz_py_walk(PyTuple_GET_ITEM(r, 1), 0);
        /* follow twice: the second pass finds the first one's requests pending */
        Follower *f = (Follower *)PyObject_CallNoArgs(follower_type);
        if (f) {
            for (int pass = 0; pass < 2; pass++) {
                PyObject *args = Py_BuildValue("(O)", recs);
                PyObject *x = args ? Follower_follow(f, args) : NULL;
                fz_py_walk(x, 0);
                Py_XDECREF(x);
                Py_XDECREF(args);
                PyErr_Clear();
            }
            /* the summaries walk fixed tables of thousands of entries (a per-capture cost): one input in eight,
             * chosen by its bytes so that a run is reproducible */
            PyObject *(*summaries[])(Follower *, PyObject *) = {Follower_pending_diameter, Follower_ues,
                                                                 Follower_types, Follower_ap_stats};
            for (size_t i = 0; (data[0] & 7) == 0 && i < sizeof summaries / sizeof summaries[0]; i++) {
                PyObject *x = summaries[i](f, NULL);
                fz_py_walk(x, 0);
                Py_XDECREF(x);
                PyErr_Clear();
            }
            Py_DECREF(f);
        }
        PyErr_Clear();
    }
    Py_XDECREF(r);
    /* nas_codes() over the bytes after the first header: a NAS PDU as S1AP nests it */
    if (size > sizeof(payhdr)) {
        PyObject *x = fz_py_call_buf(fast_nas_codes, data + sizeof(payhdr), size - sizeof(payhdr), NULL);
        Py_XDECREF(x);
    }
    return 0;
}
