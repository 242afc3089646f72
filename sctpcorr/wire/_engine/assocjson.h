/* assocjson.c: an association's report entry as JSON text (Analyzer.associations_json). */
#ifndef SCTPCORR_ASSOCJSON_H
#define SCTPCORR_ASSOCJSON_H
#include <stddef.h>

struct sc_assoc;

typedef struct {
    char *p;
    size_t n, cap;
    int failed; /* an allocation failed: the text is incomplete */
    int compact; /* separators "," and ":" (the --jsonl records), not ", " and ": " (json.dumps' default) */
} sc_jw;

/* Append n bytes. */
void sc_jw_raw(sc_jw *w, const char *s, size_t n);

/* Append the JSON text of A's report entry: exactly json_encode(Analyzer.association(A->id)). */
void sc_assoc_json(sc_jw *w, const struct sc_assoc *A);

/* Append the two CSV rows of A (report/csv.py's COLUMNS: A>B then B>A), each ending in a newline. */
void sc_assoc_csv(sc_jw *w, const struct sc_assoc *A);

/* The same for associations start..stop-1 of the analyzer, their state fetched from memory a few associations
 * ahead (a folded one, fold.c, is read back from the spill file instead): sc_assocs_json records where each
 * one's text ends (ends[i - start] = w->n after it); sc_assocs_json_lines writes "  " + text + ",\n" each, "\n"
 * instead of ",\n" after the last of all associations (the --json layout); sc_assocs_csv their CSV rows.
 * Each returns -1 when a folded association could not be read back, else 0. */
struct sc_analyzer;
int sc_assocs_json(sc_jw *w, struct sc_analyzer *an, size_t start, size_t stop, size_t *ends);
int sc_assocs_json_lines(sc_jw *w, struct sc_analyzer *an, size_t start, size_t stop);
/* The --jsonl "association" records: '{"type":"association",' + the entry's members, compact, then "\n" each:
 * byte for byte what report/jsonl.py's JSON encoder writes for {"type": "association", **association(id)}. */
int sc_assocs_jsonl(sc_jw *w, struct sc_analyzer *an, size_t start, size_t stop);
int sc_assocs_csv(sc_jw *w, struct sc_analyzer *an, size_t start, size_t stop);

#endif
