/* For the harnesses of C code that is a CPython extension (the ring-buffer spool decoder, the telecom decoder):
 * the extension's .c file is compiled into the harness (so it is instrumented), the interpreter embedded.
 * Inputs reach the extension through a memoryview of an exact-size heap copy, so ASan sees any read past it. */
#ifndef SCTPCORR_FUZZ_PYEMBED_H
#define SCTPCORR_FUZZ_PYEMBED_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_SYSPATH
#define FUZZ_SYSPATH ""
#endif

static void fz_py_init(PyObject *(*initfunc)(void), const char *name, const char *setup)
{
    setenv("PYTHONMALLOC", "malloc", 1);   /* every object its own allocation: ASan sees them */
    if (initfunc && PyImport_AppendInittab(name, initfunc) < 0)
        abort();
    Py_InitializeEx(0);
    char code[8192];
    snprintf(code, sizeof code, "import sys\nsys.path[:0] = [p for p in %s.split(':') if p]\n%s", "'" FUZZ_SYSPATH "'",
             setup ? setup : "");
    if (PyRun_SimpleString(code) < 0) {
        fprintf(stderr, "fuzz harness: Python setup failed\n");
        abort();
    }
}

/* Hand data to f(self, view) as a read-only memoryview over a heap copy; returns f's result (errors cleared). */
static PyObject *fz_py_call_buf(PyObject *(*f)(PyObject *, PyObject *), const uint8_t *data, size_t size, char **keep)
{
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return NULL;
    memcpy(copy, data, size);
    PyObject *mv = PyMemoryView_FromMemory(copy, (Py_ssize_t)size, PyBUF_READ);
    PyObject *r = mv ? f(NULL, mv) : NULL;
    Py_XDECREF(mv);
    if (!r)
        PyErr_Clear();
    if (keep)
        *keep = copy;
    else
        free(copy);
    return r;
}

static volatile size_t fz_py_sink;   /* unsigned: sums wrap */

/* Read every bytes-like leaf of a result (tuples, lists, dicts) so that what the extension wrote is used. */
static void fz_py_walk(PyObject *o, int depth)
{
    if (!o || depth > 8)
        return;
    if (PyBytes_Check(o)) {
        const char *s = PyBytes_AS_STRING(o);   /* the ends only: bulk is copied, not computed */
        Py_ssize_t n = PyBytes_GET_SIZE(o);
        fz_py_sink += n ? (size_t)(unsigned char)s[0] + (unsigned char)s[n - 1] : 0;
    } else if (PyByteArray_Check(o)) {
        fz_py_sink += (size_t)PyByteArray_GET_SIZE(o);
    } else if (PyTuple_Check(o) || PyList_Check(o)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        for (Py_ssize_t i = 0; i < n; i++)
            fz_py_walk(PySequence_Fast_GET_ITEM(o, i), depth + 1);
    } else if (PyDict_Check(o)) {
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(o, &pos, &k, &v))
            fz_py_walk(v, depth + 1);
    } else if (PyLong_Check(o)) {
        fz_py_sink += (size_t)PyLong_AsSsize_t(o);
        PyErr_Clear();
    }
}

#endif
