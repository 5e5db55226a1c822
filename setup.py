"""Build the Cython hot path (src/aioloop/_core/*.pyx) as separate extensions.

Each .pyx is its own extension module; they share C-level contracts through
their .pxd files, so no module includes another's source.
"""

import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

CORE = Path("src/aioloop/_core")

# AIOLOOP_DEBUG_BUILD=1 keeps asserts and adds line tracing for coverage/profiling.
debug_build = os.environ.get("AIOLOOP_DEBUG_BUILD") == "1"

extensions = [
    Extension(
        f"aioloop._core.{pyx.stem}",
        [str(pyx)],
        include_dirs=[str(CORE)],
        extra_compile_args=["-O2", "-fno-plt"] if not debug_build else ["-O0", "-g"],
    )
    for pyx in sorted(CORE.glob("*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        include_path=["src"],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "cdivision": True,
            "embedsignature": True,
            "linetrace": debug_build,
        },
        annotate=os.environ.get("AIOLOOP_ANNOTATE") == "1",
    ),
)
