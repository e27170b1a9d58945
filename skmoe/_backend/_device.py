"""Where a fit or a prediction runs, decided without importing CuPy.

CuPy arrays are recognised by their type's module name, so ``import skmoe``
and every CPU code path never import CuPy. The GPU backend itself
(``skmoe._backend._cupy``) is imported only once the GPU has been chosen.
"""

import copy

import numpy as np

GPU_HINT = 'install CuPy with `pip install "skmoe[gpu]"`'

# device="auto" picks the GPU for NumPy inputs from this many values
# (n_samples * n_features) on. Measured on an H100 against the CPU default
# (one thread), d=10, 8 experts, 30 iterations: the GPU fit is faster from
# 1e5 values on (0.16 s vs 0.28 s) and 5x faster at 5e5; the threshold leaves
# room for the kernels' first compilation (benchmarks/bench_gpu.py).
AUTO_GPU_MIN_CELLS = 1_000_000


def is_cupy_array(a):
    """Whether ``a`` is a CuPy array (checked by module name: no import)."""
    return type(a).__module__.split(".")[0] == "cupy"


def to_host(a):
    """``a`` as a NumPy array when it is a CuPy array; anything else unchanged."""
    if is_cupy_array(a):
        return a.get()
    return a


def import_cupy():
    """The ``cupy`` module, with a usable CUDA device, or a clear error."""
    try:
        import cupy
    except ImportError as exc:
        raise ImportError(
            f"device='cuda' needs CuPy, which is not installed: {GPU_HINT}."
        ) from exc
    try:
        n_devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise RuntimeError(
            f"device='cuda' found CuPy but no usable CUDA device ({exc}); "
            f"fit on the CPU (device='cpu') or {GPU_HINT} matching your CUDA."
        ) from exc
    if n_devices < 1:
        raise RuntimeError(
            "device='cuda' found CuPy but no CUDA device; fit on the CPU "
            "(device='cpu')."
        )
    return cupy


def gpu_available():
    """Whether CuPy imports and sees a CUDA device (never raises)."""
    try:
        import_cupy()
    except (ImportError, RuntimeError):
        return False
    return True


def compute_device(device, X):
    """``"cpu"`` or ``"cuda"``: where to work on ``X`` for the ``device`` option.

    None follows ``X`` (a CuPy array means its GPU); "cpu" and "cuda" force
    a side (asking for "cuda" without CuPy or a device raises); "auto" also
    sends NumPy inputs of at least ``AUTO_GPU_MIN_CELLS`` cells to the GPU
    when one is available.
    """
    on_gpu = is_cupy_array(X)
    if device == "cpu":
        return "cpu"
    if device == "cuda":
        import_cupy()
        return "cuda"
    if on_gpu:
        return "cuda"
    if device == "auto":
        shape = np.shape(X)
        cells = int(np.prod(shape)) if len(shape) else 0
        if cells >= AUTO_GPU_MIN_CELLS and gpu_available():
            return "cuda"
    return "cpu"


def fitted_array_names(est):
    """Names of the estimator's fitted array attributes (ending in ``_``)."""
    return [k for k, v in vars(est).items()
            if k.endswith("_") and not k.startswith("_")
            and (isinstance(v, np.ndarray) or is_cupy_array(v))]


def estimator_to_numpy(est):
    """A copy of the fitted estimator whose fitted arrays are NumPy arrays."""
    out = copy.copy(est)
    for name in fitted_array_names(est):
        setattr(out, name, np.array(to_host(getattr(est, name))))
    for name in ("node_gate_coef_", "node_gate_intercept_"):
        value = getattr(est, name, None)
        if isinstance(value, list):
            setattr(out, name, [np.array(to_host(v)) for v in value])
    return out
