/* evjson.c: the engine's pending events as `sctpcorr pcap --jsonl` lines, and JSON made compact
 * (Analyzer.drain_events_jsonl, json_compact_lines). */
#ifndef SCTPCORR_EVJSON_H
#define SCTPCORR_EVJSON_H
#include <stddef.h>
#include <stdint.h>

#include "analyze.h"

/* The "type" of each sc_event_kind (drain_events()' first item). */
extern const char *const sc_ev_json_names[SC_EV_KINDS];

/* An upper bound of the bytes sc_events_jsonl writes for the events pending now. */
size_t sc_events_jsonl_bound(const sc_analyzer *an);

/* Write one line per pending event (oldest first) at out, which has room for sc_events_jsonl_bound(an) bytes;
 * returns the bytes written. Each line is exactly what sctpcorr/report/jsonl.py writes for
 * pipeline.event_to_dict(event, file_index), "\n" included. counts[kind] is increased per event. The events stay
 * queued (the caller clears them once the text is safe). */
size_t sc_events_jsonl(char *out, const sc_analyzer *an, unsigned file_index, uint64_t counts[SC_EV_KINDS]);

/* Write the n bytes of JSON text s (no indent) with the separators ", " and ": " written as "," and ":" (what the
 * json module writes with separators=(",", ":") for the value it wrote with separators=(", ", ": ")) at out,
 * which has room for n + 16 bytes; returns the bytes written. Text inside strings is copied as it is. */
size_t sc_json_compact(char *out, const char *s, size_t n);

/* Each line of s (n bytes) holds one JSON object, maybe indented and followed by a comma (the entry lines of
 * the --json document: Analyzer.associations_json(lines=True)); write it compact (sc_json_compact) as one
 * line, with head (e.g. {"type":"association", ) in place of its opening brace, at out, which has room for
 * sc_json_lines_compact_bound(s, n, head_n) bytes; returns the bytes written. A line that is not an object is
 * left out and counted in *skipped. */
size_t sc_json_lines_compact_bound(const char *s, size_t n, size_t head_n);
size_t sc_json_lines_compact(char *out, const char *s, size_t n, const char *head, size_t head_n, size_t *skipped);

#endif
