"""GPU backend: EM's statistics passes on CuPy arrays.

Imported only once the GPU has been chosen (``skmoe._backend._device``); it
imports CuPy lazily and fails with the install hint when CuPy or a device is
missing.

The data move to the device once and stay there for the whole fit. Each
statistics pass goes over row chunks of ``X`` (``GPU_CHUNK_ROWS``):

1. one cuBLAS product ``PT = [coef | gate]^T X^T`` in float64 (float32 ``X``
   is exact in float64: the E-step and the objective carry no float32 error);
2. ``moe_estep`` (``skmoe._backend._cuda_src``): the rest of the E-step in
   float64 registers, writing the Gram weights, the weighted gate residuals
   and the weighted log-likelihoods;
3. ``moe_gram``: every weight column's Gram matrix of ``z = [x, 1, y]``, in
   tiles kept on chip, using their symmetry; float64 partial sums per block;
4. the gates' gradient ``RT X`` as one product, its intercept row and the
   log-likelihood as matrix-vector products.

The small sums go to the host as the same ``Stats`` as the CPU pass, and the
M-step is the same host code (normal equations solved in float64). The
initialisation and prediction use the namespace-generic code of
``skmoe._backend._xp_engine`` on CuPy arrays.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._model import EStep
from ..utils._sklearn_compat import _check_sample_weight, validate_data
from ._cuda_src import estep_source, gram_shape, gram_source
from ._device import fitted_array_names, import_cupy, is_cupy_array
from ._xp_engine import (
    XPEngine,
    XPFitData,
    assemble_stats,
    estep_xp,
    gate_proba_xp,
    moments_xp,
    n_weight_columns,
)

# Rows per chunk of a pass: bounds the (columns, rows) work arrays.
GPU_CHUNK_ROWS = 1 << 20
# Host <-> device copies above this size go through pinned staging buffers
# (CuPy copies pageable memory at a fraction of the bus's speed).
STAGING_MIN_BYTES = 16 << 20
STAGING_BYTES = 128 << 20
_STAGING_THREADS = 4
# Trees larger than this have no unrolled E-step kernel (generic pass).
MAX_KERNEL_SLOTS = 512
# Launch options of the Gram kernel (measured in benchmarks/bench_gpu.py).
GRAM_OPTIONS = dict(threads=256, cols_per_thread=None, pad=True, async_copy=True,
                    unroll=2, min_blocks=1, flush=256)

_NAMESPACE = None
_STAGING = None
_FUNCTIONS = {}


def namespace():
    """``(cupy, xp)``: CuPy and its array-API namespace."""
    global _NAMESPACE
    if _NAMESPACE is None:
        cp = import_cupy()
        try:
            from sklearn.externals.array_api_compat import cupy as xp
        except ImportError:  # pragma: no cover - old scikit-learn
            xp = cp
        _NAMESPACE = (cp, xp)
    return _NAMESPACE


def _function(source, name):
    """Compiled kernel ``name`` of ``source`` (NVRTC; cached per process,
    and on disk by CuPy)."""
    key = (source, name)
    if key not in _FUNCTIONS:
        cp, _ = namespace()
        module = cp.RawModule(code=source, options=("--std=c++17",))
        _FUNCTIONS[key] = module.get_function(name)
    return _FUNCTIONS[key]


# ------------------------------------------------------------------ transfers
def _staging():
    """Two pinned host buffers (allocated once per process)."""
    global _STAGING
    if _STAGING is None:
        import cupyx

        _STAGING = [cupyx.empty_pinned((STAGING_BYTES,), dtype=np.uint8)
                    for _ in range(2)]
    return _STAGING


def _row_blocks(n, row_bytes):
    per = max(1, STAGING_BYTES // max(row_bytes, 1))
    return [(a, min(n, a + per)) for a in range(0, n, per)]


def _parallel_copy(pool, dst, src):
    """``dst[...] = src`` split over threads (NumPy releases the GIL)."""
    edges = np.linspace(0, dst.shape[0], _STAGING_THREADS + 1).astype(int)
    jobs = [pool.submit(np.copyto, dst[a:b], src[a:b], casting="unsafe")
            for a, b in zip(edges, edges[1:]) if b > a]
    for job in jobs:
        job.result()


def to_device(a, dtype=None):
    """Copy a host array to the current device as a C-contiguous array.

    Large arrays are converted to ``dtype`` while they are copied, block by
    block, into two pinned buffers (by several threads) from which the DMA
    engine copies to the device, one buffer's upload overlapping the other's
    filling.
    """
    cp, _ = namespace()
    a = np.asarray(a)
    dtype = np.dtype(a.dtype if dtype is None else dtype)
    out = cp.empty(a.shape, dtype=dtype)
    if out.nbytes < STAGING_MIN_BYTES or a.ndim == 0:
        out.set(np.ascontiguousarray(a, dtype=dtype))
        return out
    n = a.shape[0]
    src = a.reshape(n, -1)
    row_bytes = out.nbytes // n
    bufs = _staging()
    stream = cp.cuda.Stream(non_blocking=True)
    done = [None, None]
    with ThreadPoolExecutor(_STAGING_THREADS) as pool:
        for k, (r0, r1) in enumerate(_row_blocks(n, row_bytes)):
            slot = k % 2
            if done[slot] is not None:
                done[slot].synchronize()
            nbytes = (r1 - r0) * row_bytes
            view = bufs[slot][:nbytes].view(dtype).reshape(r1 - r0, -1)
            _parallel_copy(pool, view, src[r0:r1])
            cp.cuda.runtime.memcpyAsync(out.data.ptr + r0 * row_bytes,
                                        view.ctypes.data, nbytes,
                                        cp.cuda.runtime.memcpyHostToDevice,
                                        stream.ptr)
            done[slot] = cp.cuda.Event(disable_timing=True)
            done[slot].record(stream)
        stream.synchronize()
    return out


def from_device(a):
    """Copy a device array to a new host NumPy array (staged when large)."""
    cp, _ = namespace()
    a = cp.ascontiguousarray(a)
    if a.nbytes < STAGING_MIN_BYTES or a.ndim == 0:
        return a.get()
    out = np.empty(a.shape, dtype=a.dtype)
    n = a.shape[0]
    dst = out.reshape(n, -1)
    row_bytes = a.nbytes // n
    buf = _staging()[0]
    stream = cp.cuda.Stream(non_blocking=True)
    cp.cuda.get_current_stream().synchronize()
    with ThreadPoolExecutor(_STAGING_THREADS) as pool:
        for r0, r1 in _row_blocks(n, row_bytes):
            nbytes = (r1 - r0) * row_bytes
            view = buf[:nbytes].view(a.dtype).reshape(r1 - r0, -1)
            cp.cuda.runtime.memcpyAsync(view.ctypes.data,
                                        a.data.ptr + r0 * row_bytes, nbytes,
                                        cp.cuda.runtime.memcpyDeviceToHost,
                                        stream.ptr)
            stream.synchronize()
            _parallel_copy(pool, dst[r0:r1], view)
    return out


# ----------------------------------------------------------------- validation
def check_device_X(est, X, reset):
    """Validate a CuPy ``X`` on its device (2-D, float, finite)."""
    cp, _ = namespace()
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D array, got a {X.ndim}D array instead: reshape your "
            "data with X.reshape(-1, 1) for a single feature."
        )
    if X.dtype.kind not in "fiub":
        raise ValueError(f"X must be numeric; got dtype {X.dtype}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = cp.ascontiguousarray(X)
    n, d = X.shape
    if n < 1 or d < 1:
        raise ValueError(
            f"Found array with {n} sample(s) and {d} feature(s) (shape={X.shape}) "
            "while a minimum of 1 is required."
        )
    if not bool(cp.isfinite(X).all()):
        raise ValueError("Input X contains NaN or infinity.")
    if reset:
        est.n_features_in_ = d
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    elif d != est.n_features_in_:
        raise ValueError(
            f"X has {d} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    return X


def check_predict_X(est, X):
    """Inputs of a GPU prediction: CuPy arrays checked on their device,
    NumPy inputs checked on the host (keeping float32)."""
    _check_family(est)
    if is_cupy_array(X):
        return check_device_X(est, X, reset=False)
    X = validate_data(est, X, reset=False, dtype=[np.float64, np.float32])
    return np.ascontiguousarray(X)


def _host_targets(y):
    from sklearn.utils import check_array

    if is_cupy_array(y):
        y = y.get()
    return check_array(y, ensure_2d=False, dtype="numeric", input_name="y")


# -------------------------------------------------------------------- fitting
def _check_family(est):
    """Fail before any copy when the estimator has no GPU pass."""
    gate = getattr(est, "gate", "softmax")
    experts = est._make_experts(1, 1, None)
    if gate != "softmax" or not getattr(experts, "fused", False):
        raise NotImplementedError(
            "the GPU backend fits Gaussian experts under softmax gates only "
            f"(got expert={getattr(est, 'expert', 'gaussian')!r}, gate={gate!r}): "
            "fit with device='cpu'."
        )


def cupy_fit_data(est, X, y, sample_weight):
    """Validated training data on the GPU: ``(XPFitData, y_scale)``.

    CuPy ``X`` is checked on its device (``y`` and ``sample_weight`` may be
    CuPy or NumPy; they are read on the host once, to validate and encode
    them); NumPy ``X`` is validated on the host, then copied once (float32
    stays float32). The fitted attributes follow X's array type.
    """
    _check_family(est)
    on_gpu = is_cupy_array(X)
    if on_gpu:
        X_dev = check_device_X(est, X, reset=True)
        y = _host_targets(y)
        X_host = None
        n = X_dev.shape[0]
    else:
        X_host, y = validate_data(est, X, y, dtype=[np.float64, np.float32],
                                  multi_output=est._multi_output,
                                  y_numeric=est._y_numeric)
        n = X_host.shape[0]
    if y.shape[0] != n:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {n} and {y.shape[0]}."
        )
    est._fit_checks(n)
    if is_cupy_array(sample_weight):
        sample_weight = sample_weight.get()
    sw = _check_sample_weight(sample_weight, np.empty((n, 0)), dtype=np.float64,
                              ensure_non_negative=True)
    if not sw.sum() > 0:
        raise ValueError("sample_weight must have a positive sum.")
    Y, y_scale = est._encode_targets(y, sample_weight=sw)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    if not on_gpu:
        X_dev = to_device(X_host)
    cp, xp = namespace()
    data = XPFitData(X_dev, Y, sw, xp, to_device=to_device, engine=CupyEngine,
                     attributes_on_device=on_gpu, cp=cp)
    return data, y_scale


def attributes_to_device(est):
    """Move the fitted arrays of ``est`` to the current device."""
    cp, _ = namespace()
    for name in fitted_array_names(est):
        setattr(est, name, cp.asarray(getattr(est, name)))
    for name in ("node_gate_coef_", "node_gate_intercept_"):
        value = getattr(est, name, None)
        if isinstance(value, list):
            setattr(est, name, [cp.asarray(v) for v in value])


# ----------------------------------------------------------------- the engine
class CupyEngine(XPEngine):
    """Statistics passes with raw CUDA kernels (``_cuda_src``).

    ``gram="kernel"`` uses ``moe_gram`` (its launch options as keywords, see
    ``_cuda_src.gram_source``); ``gram="gemm"`` the generic per-column
    products (a reference and a fallback).
    """

    def __init__(self, model, X, Y, sample_weight, xp, cp=None,
                 chunk_rows=GPU_CHUNK_ROWS, gram="kernel", **gram_options):
        super().__init__(model, X, Y, sample_weight, xp, chunk_rows)
        self.cp = cp if cp is not None else namespace()[0]
        tree = self.tree
        d, m = X.shape[1], Y.shape[1]
        self.q = d + 1 + m
        self.n_cols = n_weight_columns(tree, model.gate_solver)
        self.fast = tree.n_slots <= MAX_KERNEL_SLOTS
        self.gram_mode = gram if self.fast else "gemm"
        if not self.fast:
            return
        self._estep_fn = _function(
            estep_source(tree, m, model.gate_solver, X.dtype), "moe_estep")
        opts = {**GRAM_OPTIONS, **gram_options}
        self._gs = gram_shape(self.q, self.n_cols, X.dtype, opts["threads"],
                              opts["cols_per_thread"], opts["pad"],
                              opts["async_copy"])
        if self.gram_mode == "kernel":
            self._gram_fn = _function(
                gram_source(d, m, self.n_cols, X.dtype, **opts), "moe_gram")
        n_sm = self.cp.cuda.Device().attributes["MultiProcessorCount"]
        rows = min(self.chunk_rows, max(1, self.n_samples))
        gx = self._gs["n_job_blocks"]
        # about four blocks per multiprocessor, at least 1024 rows per block
        self._gram_rows = max(1, min(-(-rows // 1024), -(-4 * n_sm // gx)))
        self._unpack = _tile_unpacker(self._gs, self.q, self.n_cols)

    def statistics(self, params, timing=None):
        """One pass: ``Stats`` on the host. ``timing`` (a dict) receives the
        seconds of each phase (synchronising at the end)."""
        if not self.fast:
            return super().statistics(params)
        cp = self.cp
        f64 = cp.float64
        tree = self.tree
        W = np.concatenate([params.experts.coef, params.gate], axis=1)
        WxT = cp.asarray(np.ascontiguousarray(W[:-1].T), dtype=f64)
        const, inv2var = self.model.experts.kernel_args(params.experts)
        prm = cp.asarray(np.concatenate([W[-1], np.ravel(const), np.ravel(inv2var)]))
        C, M = tree.n_slots, self.n_cols
        gs = self._gs
        R = self._gram_rows
        part = None
        grams = None
        if self.gram_mode == "kernel":
            part = cp.zeros((R, 64 * gs["cpt"] * gs["jobs"]), dtype=f64)
        grad = cp.zeros((C, self.X.shape[1]), dtype=f64)
        gsum = cp.zeros(C, dtype=f64)
        ll = cp.zeros((), dtype=f64)
        marks = [] if timing is not None else None

        def mark(name):
            if marks is not None:
                event = cp.cuda.Event()
                event.record()
                marks.append((name, event))

        mark("start")
        for a, b in self._chunks():
            nb = b - a
            Xc, Yc, swc = self.X[a:b], self.Y[a:b], self.sw[a:b]
            # float64 product: float32 X is exact in float64
            PT = WxT @ (Xc if Xc.dtype == f64 else Xc.astype(f64)).T
            WT = cp.empty((M, nb), dtype=self.dtype)
            RT = cp.empty((C, nb), dtype=self.dtype)
            LL = cp.empty(nb, dtype=f64)
            self._estep_fn(((nb + 127) // 128,), (128,),
                           (PT, Yc, swc, prm, WT, RT, LL, np.int64(nb)))
            ll += LL.sum()
            del PT
            mark("estep")
            if self.gram_mode == "kernel":
                rows = -(-nb // R)
                rows = -(-rows // gs["bk"]) * gs["bk"]
                self._gram_fn((gs["n_job_blocks"], R), (gs["threads"],),
                              (Xc, Yc, WT, np.int64(nb), np.int64(rows), part))
            else:
                part_g = self._grams(Xc, Yc, WT.T)
                grams = part_g if grams is None else grams + part_g
            mark("grams")
            grad += (RT @ Xc).astype(f64)
            gsum += (RT @ cp.ones(nb, dtype=self.dtype)).astype(f64)
            mark("gate")
        if self.gram_mode == "kernel":
            grams = self._unpack((cp.ones((1, R), dtype=f64) @ part)[0].get())
        else:
            grams = grams.get()
        mark("reduce")
        gate_grad = np.vstack([grad.get().T, gsum.get()[None, :]])
        stats = assemble_stats(tree, self.model.gate_solver, self.X.shape[1] + 1,
                               float(ll.get()), grams, gate_grad)
        if marks is not None:
            marks[-1][1].synchronize()
            for (_, e0), (name, e1) in zip(marks, marks[1:]):
                timing[name] = timing.get(name, 0.0) + cp.cuda.get_elapsed_time(
                    e0, e1) / 1e3
        return stats


def _tile_unpacker(gs, q, n_cols):
    """Function: summed partial sums ``(64, cpt, jobs)`` of ``moe_gram`` ->
    symmetric Gram matrices ``(n_cols, q, q)``."""
    nt, nts, cpt = gs["nt"], gs["nts"], gs["cpt"]
    tiles = [(ta, tb) for ta in range(nt) for tb in range(ta, nt)]
    t_idx, i_idx, j_idx = np.meshgrid(np.arange(len(tiles)), np.arange(8),
                                      np.arange(8), indexing="ij")
    ta = np.array([t[0] for t in tiles])[t_idx]
    tb = np.array([t[1] for t in tiles])[t_idx]
    rows = (ta * 8 + i_idx).ravel()
    cols = (tb * 8 + j_idx).ravel()
    keep = np.nonzero((rows < q) & (cols < q) & (rows <= cols))[0]
    rows, cols = rows[keep], cols[keep]

    def unpack(vec):
        V = vec.reshape(64, cpt, gs["n_groups"], nts).transpose(2, 1, 3, 0)
        V = V.reshape(-1, nts * 64)[:n_cols, keep]
        G = np.zeros((n_cols, q, q))
        G[:, rows, cols] = V
        G[:, cols, rows] = V
        return G

    return unpack


# ----------------------------------------------------------------- inference
def _on_device(X):
    return X if is_cupy_array(X) else to_device(X)


def _like_input(a, X):
    if a is None or is_cupy_array(X):
        return a
    return from_device(a)


def mixture_moments(est, X, with_second):
    """Predictive mean (and second moment) on the GPU, in X's array type."""
    _, xp = namespace()
    mean, second = moments_xp(est._fitted_model(), _on_device(X), est._params(),
                              with_second, est._top_k(), xp, GPU_CHUNK_ROWS)
    return _like_input(mean, X), _like_input(second, X)


def gate_proba(est, X):
    """Expert probabilities on the GPU, in X's array type."""
    _, xp = namespace()
    out = gate_proba_xp(est._fitted_model(), _on_device(X), est._params(), xp,
                        GPU_CHUNK_ROWS)
    return _like_input(out, X)


def device_estep(est, X, y):
    """Posteriors and log-likelihoods on the GPU (``EStep``, no residuals)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    _, xp = namespace()
    X = check_predict_X(est, X)
    Y, _ = est._encode_targets(_host_targets(y), fitted=True)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {X.shape[0]} and "
            f"{Y.shape[0]}."
        )
    Xd = _on_device(X)
    Yd = to_device(np.ascontiguousarray(Y, dtype=np.float64), Xd.dtype)
    resp, loglik = estep_xp(est._fitted_model(), Xd, Yd, est._params(), xp,
                            GPU_CHUNK_ROWS)
    return EStep(_like_input(resp, X), None, _like_input(loglik, X))
