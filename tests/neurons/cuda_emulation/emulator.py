"""CPU emulation of the fused cupy neuron kernels (test infrastructure, not part of the package).

The exact text :func:`snn_zoo.neurons.cupy_kernel.kernel_source` hands to NVRTC is compiled by g++
against ``include/cuda_shim.h`` (indices, qualifiers, fp16/bf16 with round-to-nearest-even, warp
shuffles, block barrier, atomicAdd) into one shared library holding every requested variant: each
variant's source is ``#include``-d unchanged inside its own namespace, its two ``extern "C"`` kernels
renamed by a macro. A block's threads run as cooperative fibers (``include/emu_runtime.cpp``) with
CUDA's rules for ``__shfl_down_sync`` (all 32 lanes) and ``__syncthreads`` (every thread of the block).

:func:`install` swaps cupy_kernel's two device hooks (``_kernels``: load a variant's functions;
``_launch``: call one over ``launch_config(n)``) for emulated ones, so ``cupy_kernel.forward`` and
``backward`` run unchanged on CPU tensors: their argument packing (``_ptr``, ``_scalars``,
``np.int64``) reaches the kernel through ``void**`` exactly as cuLaunchKernel passes it, after a
check against the kernel's C signature, which the compiler derives from the source.

The library is cached by a hash of every input under ``$TMPDIR/snn_zoo_cuda_emulation``; the
variants are split over two translation units compiled in parallel.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from snn_zoo.neurons import cupy_kernel

HERE = Path(__file__).resolve().parent
INCLUDE = HERE / "include"
CXX = os.environ.get("CXX", "g++")
# -ffp-contract=off: no FMA contraction, like NVRTC's --fmad=false; no -ffast-math (denormals kept, like -ftz=false).
CXXFLAGS = ("-std=c++17", "-O1", "-fPIC", "-ffp-contract=off", "-fno-fast-math", "-Wno-unknown-pragmas", "-w")
CACHE = Path(tempfile.gettempdir()) / "snn_zoo_cuda_emulation"
JOBS = 2

# numpy scalar type of a launch argument -> the C parameter code emu_launch.h derives from the signature.
_ARG_CODES = {np.uint64: "P", np.int64: "q", np.int32: "i", np.float32: "f", np.float64: "d"}
_CODE_NAMES = {"P": "pointer", "q": "long long", "i": "int", "f": "float", "d": "double", "?": "other"}


def cxx_available() -> bool:
    return shutil.which(CXX) is not None


def _symbol(index: int, kernel: str) -> str:
    return f"emu_v{index}_{kernel}"


def _unit(entries: Sequence[tuple[int, str]]) -> str:
    """One translation unit: the shim, then each variant's exact source in its own namespace."""
    lines = ['#include "cuda_shim.h"', '#include "emu_launch.h"']
    fwd, bwd = cupy_kernel.FORWARD_KERNEL, cupy_kernel.BACKWARD_KERNEL
    for index, name in entries:
        lines += [
            f"// {name}",
            f"namespace emu_v{index} {{",
            f"#define {fwd} {_symbol(index, 'fwd_kernel')}",
            f"#define {bwd} {_symbol(index, 'bwd_kernel')}",
            f'#include "v{index}.cu"',
            f"#undef {fwd}",
            f"#undef {bwd}",
            "}",
            f"EMU_EXPORT({_symbol(index, 'forward')}, emu_v{index}::{_symbol(index, 'fwd_kernel')})",
            f"EMU_EXPORT({_symbol(index, 'backward')}, emu_v{index}::{_symbol(index, 'bwd_kernel')})",
        ]
    return "\n".join(lines) + "\n"


class EmulatedFunction:
    """One kernel of the library, called like a cupy Function: ``fn(grid, block, args)``."""

    def __init__(self, lib: ctypes.CDLL, symbol: str, label: str):
        self._launch = getattr(lib, symbol)
        self._launch.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p)]
        self._launch.restype = ctypes.c_int
        sig = getattr(lib, symbol + "_sig")
        sig.restype = ctypes.c_char_p
        self.signature = sig().decode()
        self._error = lib.emu_last_error
        self._error.restype = ctypes.c_char_p
        self.label = label

    def check_args(self, args: Sequence) -> None:
        """Raise unless ``args`` match the kernel's C parameters one by one (count, order, C type)."""
        if len(args) != len(self.signature):
            raise TypeError(f"{self.label}: kernel takes {len(self.signature)} arguments, launch passes {len(args)}")
        for i, (arg, code) in enumerate(zip(args, self.signature)):
            got = _ARG_CODES.get(type(arg))
            if got is None:
                raise TypeError(f"{self.label}: argument {i} is {type(arg).__name__}; pass a sized numpy scalar")
            if got != code:
                raise TypeError(
                    f"{self.label}: argument {i} is passed as {_CODE_NAMES[got]} ({type(arg).__name__}) "
                    f"but the kernel declares {_CODE_NAMES[code]}"
                )

    def __call__(self, grid: tuple, block: tuple, args: Sequence, **unused) -> None:
        self.check_args(args)
        if tuple(grid[1:]) not in ((), (1,), (1, 1)) or tuple(block[1:]) not in ((), (1,), (1, 1)):
            raise ValueError(f"{self.label}: the emulation runs 1-D launches, got grid={grid} block={block}")
        values = [np.array([a], dtype=type(a)) for a in args]  # each argument in its own C-sized cell
        params = (ctypes.c_void_p * len(values))(*[v.ctypes.data for v in values])
        if self._launch(int(grid[0]), int(block[0]), params) != 0:
            raise RuntimeError(f"{self.label}: {self._error().decode()}")


class EmulatedKernels:
    """The compiled library: ``functions(variant) -> (forward, backward)`` for every variant built."""

    def __init__(self, path: Path, variants: Sequence):
        self.path = path
        self._lib = ctypes.CDLL(str(path))
        self._index = {tuple(v): i for i, v in enumerate(variants)}
        self._names = [cupy_kernel.KernelVariant(*v).name for v in variants]
        self._cache: dict = {}

    def functions(self, variant) -> tuple[EmulatedFunction, EmulatedFunction]:
        """(forward, backward) of ``variant``, like ``cupy_kernel._kernels`` returns them."""
        return self.functions_at(self._index[tuple(variant)])

    def functions_at(self, index: int) -> tuple[EmulatedFunction, EmulatedFunction]:
        """(forward, backward) of the ``index``-th source built (several may share one variant)."""
        if index not in self._cache:
            name = self._names[index]
            self._cache[index] = (
                EmulatedFunction(self._lib, _symbol(index, "forward"), f"{name} forward"),
                EmulatedFunction(self._lib, _symbol(index, "backward"), f"{name} backward"),
            )
        return self._cache[index]


def build(
    variants: Sequence, block_size: int = cupy_kernel.BLOCK_SIZE, sources: Sequence[str] | None = None
) -> EmulatedKernels:
    """Compile (or load from the cache) one library with every variant's exact kernel source.

    ``sources`` (one per variant) replaces ``kernel_source(variant)``: planted-bug copies in the tests.
    """
    variants = [cupy_kernel.KernelVariant(*v) for v in variants]
    if sources is None:
        sources = [cupy_kernel.kernel_source(v, block_size) for v in variants]
    shim = [(p.name, p.read_bytes()) for p in sorted(INCLUDE.iterdir())]
    digest = hashlib.sha256(repr((sources, shim, CXXFLAGS, cupy_kernel.FORWARD_KERNEL, JOBS)).encode()).hexdigest()
    out = CACHE / digest[:24]
    lib = out / "libemu.so"
    if not lib.exists():
        work = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE.mkdir(parents=True, exist_ok=True) or CACHE))
        for i, src in enumerate(sources):
            (work / f"v{i}.cu").write_text(src)
        entries = [(i, v.name) for i, v in enumerate(variants)]
        units = [work / "emu_runtime.cpp"]
        shutil.copy(INCLUDE / "emu_runtime.cpp", units[0])
        for j in range(JOBS):
            unit = work / f"variants{j}.cpp"
            unit.write_text(_unit(entries[j::JOBS]))
            units.append(unit)
        base = [CXX, *CXXFLAGS, f"-I{INCLUDE}", f"-I{work}", "-c"]
        procs = [
            subprocess.Popen([*base, str(u), "-o", str(u.with_suffix(".o"))], stderr=subprocess.PIPE) for u in units
        ]
        for unit, proc in zip(units, procs):
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"g++ failed on {unit} (sources kept in {work}):\n{err.decode()[-4000:]}")
        objects = [str(u.with_suffix(".o")) for u in units]
        subprocess.run([CXX, "-shared", "-o", str(work / "libemu.so"), *objects], check=True)
        try:
            work.rename(out)
        except OSError:  # another process built the same library first
            shutil.rmtree(work, ignore_errors=True)
    return EmulatedKernels(lib, variants)


def install(monkeypatch, kernels: EmulatedKernels) -> None:
    """Route ``cupy_kernel``'s kernel loading and launching to ``kernels`` (CPU tensors, no cupy)."""

    def launch(fn, n, device, args):
        grid, block = cupy_kernel.launch_config(n)
        fn(grid, block, args)

    monkeypatch.setattr(cupy_kernel, "_kernels", lambda variant, device_index: kernels.functions(variant))
    monkeypatch.setattr(cupy_kernel, "_launch", launch)
