"""Build the C wire engine (sctpcorr.wire._engine); everything else is declared in pyproject.toml."""
from glob import glob

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sctpcorr.wire._engine",
            sources=sorted(glob("sctpcorr/wire/_engine/*.c")),
            depends=sorted(glob("sctpcorr/wire/_engine/*.h")),
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
