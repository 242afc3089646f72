/* libFuzzer target: the kernel event spool decoder (sctpcorr/kernel/_ringbuf: split() and columns()), which
 * reads `sctpcorr probe --raw` files and the ring buffer's bytes: repeat { u32 length; record }, each record an
 * ABI struct (sctpcorr/kernel/bpf/sctpcorr_abi.h) that starts with its event type.
 *
 * Input: the spool bytes as they are. */
#include "pyembed.h"

#include "../../sctpcorr/kernel/_ringbuf/ringbuf.c"
#include "../../sctpcorr/kernel/_ringbuf/columns.c"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_py_init(NULL, NULL, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PyObject *r = fz_py_call_buf(mod_split, data, size, NULL);
    fz_py_walk(r, 0);
    Py_XDECREF(r);
    r = fz_py_call_buf(ringbuf_columns, data, size, NULL);
    fz_py_walk(r, 0);
    Py_XDECREF(r);
    return 0;
}
