"""The correlator: the Linux kernel's view of SCTP associations joined with the wire's, per association, path and
TSN, with verdicts on where they agree, disagree, and why.

Pure (sans-IO): it takes ``WireView`` objects (a capture as the wire engine saw it, chunk by chunk) and
``KernelView`` objects (a ``sctpcorr probe`` recording) and returns a ``Correlation``.  Opening files is the job
of ``sctpcorr.correlate_io``; printing it, of ``sctpcorr.report``.  The same code runs on a lab bundle, on a
capture plus a recording of the same host, and on inputs from different hosts with no shared clock.

Modules, in the order ``correlate()`` uses them: ``kernel`` and ``wire`` (sort each input into tables),
``assoc`` (which association is which), ``joins`` (per TSN, SACK, HEARTBEAT), ``clock`` (aligning clocks),
``rtt`` (attributing and decomposing every kernel RTT sample), ``checks`` (verdicts), ``jitter``.
"""
from sctpcorr.correlate.core import SCHEMA_VERSION, Correlation, correlate
from sctpcorr.correlate.model import AGREE, DISAGREE, EXPLAINED, NOT_CHECKABLE, VERDICTS, Check, Tolerances

__all__ = ["SCHEMA_VERSION", "Correlation", "correlate", "Check", "Tolerances", "AGREE", "EXPLAINED", "DISAGREE",
           "NOT_CHECKABLE", "VERDICTS"]
