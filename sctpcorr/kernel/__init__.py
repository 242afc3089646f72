"""Kernel-side observation of SCTP: BPF probes (BCC) and the sock_diag fallback.

Only ``loader`` imports ``bcc`` (inside a function); ``abi``, ``diag``, ``probes`` and ``recorder`` use the standard
library, so recorded files can be decoded anywhere.
"""
