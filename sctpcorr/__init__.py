"""sctpcorr: what SCTP is really doing, on the wire and in the Linux kernel."""
__version__ = "0.1.0"
