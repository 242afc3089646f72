/* evjson.c: the engine's pending events as `sctpcorr pcap --jsonl` lines, and JSON made compact
 * (Analyzer.drain_events_jsonl, json_compact_lines). */
#ifndef SCTPCORR_EVJSON_H
#define SCTPCORR_EVJSON_H
#include <stdint.h>

#include "analyze.h"
#include "assocjson.h"

/* The "type" of each sc_event_kind (drain_events()' first item). */
extern const char *const sc_ev_json_names[SC_EV_KINDS];

/* Append one line per pending event (oldest first): exactly what sctpcorr/report/jsonl.py writes for
 * pipeline.event_to_dict(event, file_index), "\n" included. counts[kind] is increased per event. The events
 * stay queued (the caller clears them once the text is safe). On an allocation failure w->failed is set. */
void sc_events_jsonl(sc_jw *w, const sc_analyzer *an, unsigned file_index, uint64_t counts[SC_EV_KINDS]);

/* Append the n bytes of JSON text s with the separators ", " and ": " written as "," and ":" (what the json
 * module writes with separators=(",", ":") for the value it wrote with separators=(", ", ": ")). The text
 * inside strings is copied as it is. */
void sc_json_compact(sc_jw *w, const char *s, size_t n);

/* Each line of s (n bytes) holds one JSON object, maybe indented and followed by a comma (the entry lines of
 * the --json document: Analyzer.associations_json(lines=True)); append it compact (sc_json_compact) as one
 * line, with head (e.g. {"type":"association", ) written in place of its opening brace. A line that is not an
 * object is left out and counted in *skipped. */
void sc_json_lines_compact(sc_jw *w, const char *s, size_t n, const char *head, size_t head_n, size_t *skipped);

#endif
