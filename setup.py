"""The one thing pyproject.toml cannot declare stably: the fast path's compiled inner loop.

src/linnet/models/_kernel.c is loaded with ctypes by linnet/models/kernel.py. The build is
optional: where it fails (no C compiler, a CPU family without AVX2) the install still succeeds and
linnet.models.fast runs its torch code instead, 2.5-3.5x slower (make bench). Everything else
lives in pyproject.toml.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "linnet.models._kernel", ["src/linnet/models/_kernel.c"],
    extra_compile_args=["-O3", "-mavx2", "-mfma", "-fopenmp"], extra_link_args=["-fopenmp"], optional=True)])
