/*
 * jsonenc.c: sctpcorr.wire._engine.json_encode(obj) -> str, a JSON encoder for report documents.
 *
 * Why: `sctpcorr pcap --json` on bench/out/corpus-1m.pcap writes 16 MB of JSON for 3,111 associations, and the
 * standard library's encoder (its C accelerator included) spent ~0.33 s of CPU on it, half as long as the
 * analysis itself: it creates a str object for every number, key and string and joins them. This one writes
 * bytes straight into one buffer (~0.05 s for the same document).
 *
 * Contract: the output is character for character what
 *     json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode(obj)
 * returns, for the values a report holds: dict (exact type) with str keys, list and tuple (and subclasses, as
 * the standard encoder treats them), str (and subclasses), int (and subclasses, as int), bool, None, finite
 * float. Anything else (another type, a non-str key, NaN or infinity, a string with lone surrogates, nesting
 * deeper than MAX_DEPTH, which is also how a reference cycle ends) raises TypeError without output: the caller
 * then encodes that value with the standard library, which gives the exact result or the exact error.
 * sctpcorr/report/json.py does so.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <string.h>

#define MAX_DEPTH 200

typedef struct {
    char *p;
    size_t n, cap;
} jbuf;

static int jb_grow_slow(jbuf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more) {
        if (cap > ((size_t)PY_SSIZE_T_MAX) / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *np = PyMem_Realloc(b->p, cap);
    if (!np) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = np;
    b->cap = cap;
    return 0;
}

static inline int jb_grow(jbuf *b, size_t more)
{
    return b->n + more <= b->cap ? 0 : jb_grow_slow(b, more);
}

static inline int jb_put(jbuf *b, const char *s, size_t n)
{
    if (jb_grow(b, n) < 0)
        return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

/* Not encodable here: TypeError, so that the caller falls back to the json module. */
static int unsupported(const char *what)
{
    PyErr_Format(PyExc_TypeError, "json_encode: %s", what);
    return -1;
}

/* Bytes that json escapes (with ensure_ascii=False): '"', '\\' and the control characters below 0x20. */
static const unsigned char NEEDS_ESCAPE[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/* The escapes json's encoder uses with ensure_ascii=False: '"', '\\', the five short forms, and \u00XX (lower-case
 * hex) for the other control characters below 0x20. Everything else, UTF-8 bytes >= 0x80 included, is copied. */
static int put_utf8(jbuf *b, const char *u, Py_ssize_t n)
{
    if (jb_grow(b, (size_t)n * 6 + 2) < 0) /* worst case: every byte as \u00XX */
        return -1;
    char *o = b->p + b->n;
    *o++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (!NEEDS_ESCAPE[c]) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = "0123456789abcdef"[c >> 4];
            *o++ = "0123456789abcdef"[c & 15];
        }
    }
    *o++ = '"';
    b->n = (size_t)(o - b->p);
    return 0;
}

static int put_str(jbuf *b, PyObject *s)
{
    if (PyUnicode_IS_COMPACT_ASCII(s)) /* the usual case: the characters are the bytes */
        return put_utf8(b, (const char *)PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s));
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n); /* cached on the object; fails for lone surrogates */
    if (!u) {
        PyErr_Clear();
        return unsupported("string not encodable as UTF-8");
    }
    return put_utf8(b, u, n);
}

/* Dict keys: the report's keys are a few hundred interned strings used over and over, so their encoded form
 * ("key": ) is kept, found by the object's address. A cached key holds a reference, so its address cannot be
 * reused by another string. With it (and the inline ASCII path of put_str) json_encode went from 427 M to 262 M
 * instructions for the report of bench/out/corpus-1m.pcap. */
#define KEY_CACHE_SLOTS 1024 /* power of two */
#define KEY_MAX 48           /* longer keys are not cached */
static struct {
    PyObject *key;
    unsigned char len;
    char text[KEY_MAX + 4]; /* '"' key '"' ": " */
} key_cache[KEY_CACHE_SLOTS];

static int put_key(jbuf *b, PyObject *k)
{
    if (!PyUnicode_CHECK_INTERNED(k) || !PyUnicode_IS_COMPACT_ASCII(k) || PyUnicode_GET_LENGTH(k) > KEY_MAX)
        return put_str(b, k) < 0 ? -1 : jb_put(b, ": ", 2);
    size_t i = (size_t)(((uintptr_t)k * 0x9E3779B97F4A7C15ULL) >> 40) & (KEY_CACHE_SLOTS - 1);
    for (unsigned probe = 0; probe < 8; probe++, i = (i + 1) & (KEY_CACHE_SLOTS - 1)) {
        if (key_cache[i].key == k)
            return jb_put(b, key_cache[i].text, key_cache[i].len);
        if (!key_cache[i].key) {
            Py_ssize_t n = PyUnicode_GET_LENGTH(k);
            const char *u = (const char *)PyUnicode_DATA(k);
            int plain = 1;
            for (Py_ssize_t j = 0; j < n; j++)
                plain &= !NEEDS_ESCAPE[(unsigned char)u[j]];
            if (!plain) /* a key with escapes is not cached */
                break;
            char *t = key_cache[i].text;
            t[0] = '"';
            memcpy(t + 1, u, (size_t)n);
            memcpy(t + 1 + n, "\": ", 3);
            key_cache[i].len = (unsigned char)(n + 4);
            Py_INCREF(k);
            key_cache[i].key = k;
            return jb_put(b, key_cache[i].text, key_cache[i].len);
        }
    }
    return put_str(b, k) < 0 ? -1 : jb_put(b, ": ", 2);
}

/* The UTF-8 of str(r), stealing r (a repr result). */
static int put_repr(jbuf *b, PyObject *r)
{
    if (!r)
        return -1;
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(r, &n);
    int rc = u ? jb_put(b, u, (size_t)n) : -1;
    Py_DECREF(r);
    return rc;
}

static int put_int(jbuf *b, PyObject *o)
{
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow) /* int.__repr__, as json does for every int (and int subclass) */
        return put_repr(b, PyLong_Type.tp_repr(o));
    if (v == -1 && PyErr_Occurred())
        return -1;
    char tmp[24];
    int k = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (jb_grow(b, (size_t)k + 1) < 0)
        return -1;
    if (v < 0)
        b->p[b->n++] = '-';
    while (k)
        b->p[b->n++] = tmp[--k];
    return 0;
}

static int put_value(jbuf *b, PyObject *o, int depth)
{
    if (o == Py_None)
        return jb_put(b, "null", 4);
    if (o == Py_True)
        return jb_put(b, "true", 4);
    if (o == Py_False)
        return jb_put(b, "false", 5);
    if (PyUnicode_Check(o))
        return put_str(b, o);
    if (PyLong_Check(o))
        return put_int(b, o);
    if (depth >= MAX_DEPTH)
        return unsupported("nested too deeply");
    if (PyDict_CheckExact(o)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        if (jb_put(b, "{", 1) < 0)
            return -1;
        int first = 1;
        while (PyDict_Next(o, &pos, &k, &v)) {
            if (!PyUnicode_Check(k))
                return unsupported("dict key that is not a str");
            if (!first && jb_put(b, ", ", 2) < 0)
                return -1;
            first = 0;
            /* the dict cannot change meanwhile: nothing here runs Python code on its items */
            if (put_key(b, k) < 0 || put_value(b, v, depth + 1) < 0)
                return -1;
        }
        return jb_put(b, "}", 1);
    }
    if (PyList_Check(o) || PyTuple_Check(o)) {
        /* PyList_GET_ITEM re-read each time: the list cannot change size meanwhile (no Python code runs) */
        Py_ssize_t n = PyList_Check(o) ? PyList_GET_SIZE(o) : PyTuple_GET_SIZE(o);
        if (jb_put(b, "[", 1) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *v = PyList_Check(o) ? PyList_GET_ITEM(o, i) : PyTuple_GET_ITEM(o, i);
            if ((i && jb_put(b, ", ", 2) < 0) || put_value(b, v, depth + 1) < 0)
                return -1;
        }
        return jb_put(b, "]", 1);
    }
    if (PyFloat_Check(o)) {
        double d = PyFloat_AS_DOUBLE(o);
        if (!isfinite(d))
            return unsupported("NaN or infinity");
        return put_repr(b, PyFloat_Type.tp_repr(o));
    }
    return unsupported(Py_TYPE(o)->tp_name);
}

PyObject *sc_json_encode(PyObject *module, PyObject *obj)
{
    jbuf b = {NULL, 0, 0};
    PyObject *r = NULL;
    if (put_value(&b, obj, 0) == 0)
        r = PyUnicode_DecodeUTF8(b.p ? b.p : "", (Py_ssize_t)b.n, "strict");
    PyMem_Free(b.p);
    return r;
}
