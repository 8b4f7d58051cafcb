"""Build of fastcorr's compiled core.

One Cython extension, ``fastcorr._core``, linked with the C kernel layer in
``src/fastcorr/_kernels``.  ``corr_kernels.c`` and ``exact_kernels.c`` are compiled once per SIMD
path with that path's flags (and nothing else is): the baseline objects use only the architecture's baseline ISA, so
the extension imports on any CPU of its architecture, and the dispatcher picks the best path at
import.  No ``-march=native``: the wheel must not depend on the machine that built it.
"""
import glob
import os
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = os.path.join("src", "fastcorr", "_kernels")


def target_arch():
    """The architecture the extension is built for (honours cibuildwheel's cross builds)."""
    plat = sysconfig.get_platform()  # respects _PYTHON_HOST_PLATFORM
    archflags = os.environ.get("ARCHFLAGS", "")
    if "arm64" in archflags or plat.endswith(("arm64", "aarch64")):
        return "aarch64"
    if plat.endswith(("x86_64", "amd64")) or plat == "win-amd64" or "x86_64" in archflags:
        return "x86_64"
    return plat


def is_msvc(compiler):
    return compiler.compiler_type == "msvc"


def simd_paths(compiler):
    """(path name, extra compile flags) for each kernel object of this architecture."""
    paths = [("scalar", []), ("baseline", [])]
    if target_arch() == "x86_64":
        if is_msvc(compiler):
            paths += [("avx2", ["/arch:AVX2"]), ("avx512", ["/arch:AVX512"])]
        else:
            paths += [("avx2", ["-mavx2", "-mfma"]), ("avx512", ["-mavx512f", "-mavx2", "-mfma"])]
    return paths


def openmp_flags(compiler):
    """(compile flags, link flags) for OpenMP; fastcorr requires it (workers= must mean something)."""
    if is_msvc(compiler):
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang has no -fopenmp driver flag; libomp comes from the build environment
        # (Homebrew or a prebuilt runtime) and delocate bundles it into the wheel.
        prefix = os.environ.get("OPENMP_PREFIX", "/opt/homebrew/opt/libomp")
        return (["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                [f"-L{prefix}/lib", "-lomp"])
    return ["-fopenmp"], ["-fopenmp"]


def no_contraction_flags(compiler):
    """Flags that keep every multiply and add separate: exact_kernels.c reproduces
    scipy.ndimage's float64 results bit for bit, which a fused multiply-add would change.
    MSVC does not contract unless asked to (/fp:contract)."""
    return [] if is_msvc(compiler) else ["-ffp-contract=off"]


def optimisation_flags(compiler):
    if is_msvc(compiler):
        return ["/O2"]
    # -fno-math-errno lets the compiler skip errno work; no -ffast-math: NaN/Inf and summation
    # order must stay as written.
    return ["-O3", "-fno-math-errno"]


def build_jobs(command):
    """How many kernel objects to compile at once: ``build_ext -j N`` if given, else one per
    core this process may run on.  The eight kernel objects are most of a build's time (the
    AVX-512 one alone about a third): on two cores (Zen 1) a from-scratch wheel build went from
    295 to 181 s, and .ci/run makes five of them."""
    if command.parallel not in (None, False, True):
        return max(1, int(command.parallel))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class BuildExt(build_ext):
    def build_extensions(self):
        compiler = self.compiler
        x86 = target_arch() == "x86_64"
        omp_compile, omp_link = openmp_flags(compiler)
        opt = optimisation_flags(compiler)
        macros = [("FC_WITH_X86_PATHS", "1")] if x86 else []
        if is_msvc(compiler) and not getattr(compiler, "initialized", True):
            compiler.initialize()  # its lazy first-compile set-up is not safe from two threads
        for ext in self.extensions:
            jobs = []
            for name, flags in simd_paths(compiler):
                for source, extra in (("corr_kernels", []),
                                      ("exact_kernels", no_contraction_flags(compiler))):
                    # A distinct source path per ISA keeps the objects apart in build_temp.
                    src = os.path.join(self.build_temp, f"{source}_{name}.c")
                    os.makedirs(os.path.dirname(src), exist_ok=True)
                    with open(src, "w") as f:
                        f.write(f'#include "{source}.c"\n')
                    jobs.append(dict(
                        sources=[src],
                        output_dir=self.build_temp,
                        macros=macros + [(f"FC_ISA_{name.upper()}", "1")],
                        include_dirs=[KERNELS],
                        extra_postargs=opt + flags + extra,
                    ))
            # Each compile is a compiler subprocess, so threads run them in parallel.  The widest
            # paths take longest (AVX-512's corr_kernels about 40% of the kernels' time): started
            # first, they do not end the build alone.  The link line keeps the jobs' order.
            with ThreadPoolExecutor(build_jobs(self)) as pool:
                compiled = list(pool.map(lambda job: compiler.compile(**job), jobs[::-1]))[::-1]
            objects = [o for objs in compiled for o in objs]
            ext.extra_objects = objects + list(ext.extra_objects or [])
            ext.define_macros = list(ext.define_macros or []) + macros
            ext.extra_compile_args = list(ext.extra_compile_args or []) + opt + omp_compile
            ext.extra_link_args = list(ext.extra_link_args or []) + omp_link
        super().build_extensions()


extensions = [
    Extension(
        "fastcorr._core",
        sources=["src/fastcorr/_core.pyx", os.path.join(KERNELS, "dispatch.c")],
        # The kernel objects are linked in as extra objects, which build_ext does not compare
        # with the module: without these a kernel edit would be compiled but never relinked.
        depends=sorted(glob.glob(os.path.join(KERNELS, "*.[ch]"))),
        include_dirs=[np.get_include(), KERNELS],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
