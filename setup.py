"""Build the C extensions (the wire engine sctpcorr.wire._engine, the BPF ring reader sctpcorr.kernel._ringbuf,
the libpcap capture sctpcorr.sources._livecap, the telecom layer's sctpcorr.telecom._fast, the correlator's joins
sctpcorr.correlate._cjoin);
everything else is declared in pyproject.toml."""
from glob import glob

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sctpcorr.wire._engine",
            sources=sorted(glob("sctpcorr/wire/_engine/*.c")),
            depends=sorted(glob("sctpcorr/wire/_engine/*.h")),
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
        Extension(
            "sctpcorr.kernel._ringbuf",
            sources=["sctpcorr/kernel/_ringbuf/ringbuf.c", "sctpcorr/kernel/_ringbuf/columns.c"],
            depends=["sctpcorr/kernel/bpf/sctpcorr_abi.h"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
        Extension(
            "sctpcorr.telecom._fast",
            sources=["sctpcorr/telecom/_fast/fast.c"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
        Extension(
            "sctpcorr.correlate._cjoin",
            sources=["sctpcorr/correlate/_cjoin.c"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
        Extension(
            "sctpcorr.sources._livecap",
            sources=["sctpcorr/sources/_livecap/livecap.c"],
            libraries=["pcap"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
    ]
)
