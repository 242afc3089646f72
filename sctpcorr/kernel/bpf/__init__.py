"""Package data: the BPF C sources of `sctpcorr probe` (sctpcorr.bpf.c) and the ABI header (sctpcorr_abi.h)."""
