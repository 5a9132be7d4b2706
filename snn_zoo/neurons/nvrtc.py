"""NVRTC plumbing for the fused neuron kernels: headers, options, PTX / CUBIN, loading on a device.

Compilation goes through ``cupy.cuda.nvrtc`` directly, not ``cupy.RawModule``: cupy appends
``-ftz=true`` after the user's options (last one wins in NVRTC), which would flush denormals and
switch ``expf`` to its FTZ variant, unlike PyTorch's kernels. ``--fmad=false`` keeps NVRTC from
fusing a multiply and an add into an FMA, so each operation rounds on its own as in torch.
Compiling needs only cupy importable (no GPU or driver); loading needs a GPU.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import os
from collections.abc import Sequence

DEFAULT_PTX_ARCH = "compute_90"
HALF_HEADERS = ("cuda_fp16.h", "cuda_bf16.h")


@functools.cache
def cuda_include_dirs() -> tuple[str, ...]:
    """Directory holding ``cuda_fp16.h``/``cuda_bf16.h`` for NVRTC (empty tuple if none is found).

    NVRTC has no default include path, so the half/bf16 headers must be passed with ``-I``.
    Only the first directory that has both headers is returned, so headers of two CUDA
    versions never mix. Search order:
    1. ``$SNN_ZOO_CUDA_INCLUDE`` (explicit override, ``os.pathsep``-separated);
    2. cupy's CUDA root (derived from the libnvrtc it loaded, so headers match the compiler:
       pip ``nvidia/cu13``, conda, or a system toolkit);
    3. pip wheels under every ``nvidia`` namespace path: CUDA 13 has ``nvidia/cu13/include``,
       CUDA 12 splits per component (``nvidia/cuda_runtime/include``);
    4. ``$CUDA_PATH``, ``$CUDA_HOME``, ``/usr/local/cuda``.
    """
    candidates: list[str] = []
    override = os.environ.get("SNN_ZOO_CUDA_INCLUDE")
    if override:
        candidates += [p for p in override.split(os.pathsep) if p]
    try:
        from cupy.cuda import get_cuda_path

        root = get_cuda_path()
        if root:
            candidates.append(os.path.join(root, "include"))
    except Exception:  # cupy missing or broken: fall through to the other places
        pass
    spec = importlib.util.find_spec("nvidia")
    if spec is not None and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            candidates += sorted(glob.glob(os.path.join(base, "cu[0-9]*", "include")), reverse=True)
            candidates += sorted(glob.glob(os.path.join(base, "*", "include")))
    for var in ("CUDA_PATH", "CUDA_HOME"):
        if os.environ.get(var):
            candidates.append(os.path.join(os.environ[var], "include"))
    candidates.append("/usr/local/cuda/include")
    for path in candidates:
        if all(os.path.isfile(os.path.join(path, h)) for h in HALF_HEADERS):
            return (os.path.abspath(path),)
    return ()


def compile_options(arch: str = DEFAULT_PTX_ARCH, needs_half_headers: bool = False) -> tuple[str, ...]:
    """NVRTC options: C++17, no FMA contraction, no flush-to-zero (as torch), -I for the half headers."""
    options = ["--std=c++17", "--fmad=false", "-ftz=false", "-default-device", f"--gpu-architecture={arch}"]
    if needs_half_headers:
        include_dirs = cuda_include_dirs()
        if not include_dirs:
            raise RuntimeError(
                "NVRTC needs cuda_fp16.h/cuda_bf16.h for fp16/bf16 neuron kernels and none was found; "
                'install the CUDA headers (`pip install "snn_zoo[cuda]"` pulls them in with cupy\'s '
                "nvidia wheels) or point SNN_ZOO_CUDA_INCLUDE at a CUDA include directory."
            )
        options += [f"-I{path}" for path in include_dirs]
    return tuple(options)


def compile_source(source: str, name: str, options: Sequence[str]) -> bytes:
    """PTX (``--gpu-architecture=compute_XX``) or CUBIN (``sm_XX``) of ``source``; raises with NVRTC's log."""
    from cupy.cuda import nvrtc

    arch = next(o.split("=", 1)[1] for o in options if o.startswith("--gpu-architecture="))
    prog = nvrtc.createProgram(source, f"{name}.cu", [], [])
    try:
        try:
            nvrtc.compileProgram(prog, list(options))
        except nvrtc.NVRTCError as error:
            log = nvrtc.getProgramLog(prog)
            raise RuntimeError(f"NVRTC failed to compile {name} for {arch}:\n{log}") from error
        binary = nvrtc.getCUBIN(prog) if arch.startswith("sm_") else nvrtc.getPTX(prog)
    finally:
        nvrtc.destroyProgram(prog)
    return binary if isinstance(binary, bytes) else binary.encode()


def device_arch(device_index: int) -> str:
    """``sm_XX`` when NVRTC can build a CUBIN for this GPU, else the newest ``compute_XX`` below it.

    A CUBIN avoids the driver's PTX JIT, which fails when NVRTC is newer than the driver
    (CUDA minor-version compatibility covers CUBINs, not PTX), like cupy's own choice.
    """
    import cupy
    from cupy.cuda import nvrtc

    capability = int(cupy.cuda.Device(device_index).compute_capability)
    supported = [a for a in nvrtc.getSupportedArchs() if a <= capability]
    if not supported:
        raise RuntimeError(f"NVRTC {nvrtc.getVersion()} cannot target compute capability {capability}.")
    return f"sm_{capability}" if capability in supported else f"compute_{max(supported)}"


def load_functions(binary: bytes, arch: str, device_index: int, names: Sequence[str]) -> tuple:
    """Load a compiled module on one device and return its functions ``names`` (cupy Functions)."""
    import cupy
    from cupy.cuda import function

    if not arch.startswith("sm_"):
        binary = binary.rstrip(b"\x00") + b"\x00"  # cuModuleLoadData takes NUL-terminated PTX
    with cupy.cuda.Device(device_index):
        module = function.Module()
        module.load(binary)
        return tuple(module.get_function(n) for n in names)
