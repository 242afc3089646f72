"""Output only: renders the report document and events built by sctpcorr.pipeline; computes no protocol facts.

text (the default table), json (one document), jsonl (one record per event), csv (one row per direction),
progress (the stderr progress bar).
"""
