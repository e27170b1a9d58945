"""Dask backend: EM over row blocks that never come to the driver.

The shape of dask-ml's k-means, dask-glm's Newton solver and Spark's
Gaussian mixture. ``dask_fit_data`` validates and persists ``X``, ``Y`` and
``sample_weight`` once (rows in aligned blocks, columns in one block), with
the finiteness and weight checks computed in the same graph. Each pass of EM
(``DaskFitData.map_statistics``) then maps the model's block function (the
serial, GIL-releasing kernel of the in-memory path) over the row blocks, in
a few tasks rather than one per block: with a ``distributed.Client``, one
task per worker over the blocks that it holds (``Client.who_has``), pinned
to it; with a local scheduler, one task per thread over consecutive blocks.
Each task sums its blocks' statistics as one float vector
(``_vector.to_vector``), and the driver gets the sum of these vectors
(gathered, or summed in a tree and computed) and solves the small M-step in
NumPy. Parameters are always NumPy arrays, shipped with the tasks of each
pass; nothing of a pass is kept after it.

The initialisation (k-means, random, CART) runs on a random sample of rows
drawn to the driver; initial responsibilities given by the user (NumPy or
Dask) are used on every row. ``map_rows`` runs a fitted estimator's row-wise
methods lazily, block by block.

Blocks may be CuPy arrays (dask-cuda): the vectors are built in the block's
namespace and copied to the host only after the tree sum.
"""

import sys
import uuid
import warnings
from numbers import Number

import dask
import dask.array as da
import numpy as np
from dask.base import get_scheduler
from dask.system import CPU_COUNT
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
)

from .._model import FitData
from ..utils._sklearn_compat import _check_sample_weight, validate_data
from ._dispatch import is_dask
from ._vector import add_vectors, array_module, from_vector, to_vector

# Vectors summed per task of the tree sum (fewer levels, fewer round trips).
SPLIT_EVERY = 32


def _host(a):
    """A NumPy array from a NumPy or CuPy array (or anything array-like)."""
    if type(a).__module__.split(".")[0] == "cupy":
        return a.get()
    return np.asarray(a)


def _is_frame(obj):
    return is_dask(obj) and hasattr(obj, "to_dask_array")


def _as_dask_array(obj, lengths=True):
    """A Dask array from a Dask array, data frame or series (or NumPy)."""
    if _is_frame(obj):
        return obj.to_dask_array(lengths=lengths)
    if is_dask(obj):
        return obj
    return da.from_array(np.asarray(obj))


def _known_rows(a):
    if a.ndim and np.isnan(a.shape[0]):
        a.compute_chunk_sizes()
    return a


def _proxy(obj, a):
    """A tiny in-memory stand-in for ``a`` (at most one row of zeros).

    scikit-learn's validation of the stand-in checks everything that the
    metadata decide (dimensions, dtype, number and names of features) and
    raises the messages it raises for in-memory input.
    """
    n = a.shape[0] if a.ndim else 0
    rows = 0 if n == 0 else 1
    Z = np.zeros((rows,) + tuple(a.shape[1:]), dtype=a.dtype)
    columns = getattr(obj, "columns", None)
    if columns is not None and Z.ndim == 2:
        import pandas as pd

        return pd.DataFrame(Z, columns=list(columns))
    return Z


def _blocks(a):
    """The row blocks of ``a`` (one column block) as a list of Delayed."""
    return list(a.to_delayed(optimize_graph=False).ravel())


class _BlockJob:
    """The block function and its arguments, one graph key per pass."""

    def __init__(self, func, args):
        self.func = func
        self.args = args


def _run_block(job, X, Y, sw, *rows):
    xp = array_module(X)
    X = xp.ascontiguousarray(X, dtype=xp.float64)
    Y = xp.ascontiguousarray(Y, dtype=xp.float64)
    sw = xp.ascontiguousarray(sw, dtype=xp.float64)
    rows = [xp.ascontiguousarray(r, dtype=xp.float64) for r in rows]
    return to_vector(job.func(X, Y, sw, *rows, *job.args), xp)


def _run_blocks(job, n_arrays, *blocks):
    """Statistics of several row blocks, summed in order, as one vector.

    Parameters
    ----------
    job : _BlockJob
    n_arrays : int
        Arrays per row block (``X``, ``Y``, ``sample_weight`` and the extra
        row arrays); ``blocks`` lists them block after block.
    *blocks : arrays
        The blocks' arrays, ``n_arrays`` per block.

    Returns
    -------
    vector, spec
        As ``to_vector``; the sum over the blocks (``add_vectors``).
    """
    total = None
    for i in range(0, len(blocks), n_arrays):
        part = _run_block(job, *blocks[i:i + n_arrays])
        total = part if total is None else add_vectors(total, part)
    return total


def _consecutive_groups(n_blocks, n_groups):
    """``range(n_blocks)`` split into ``n_groups`` runs of nearly equal length."""
    n_groups = max(1, min(n_blocks, n_groups))
    edges = np.linspace(0, n_blocks, n_groups + 1).round().astype(int)
    return [list(range(a, b)) for a, b in zip(edges[:-1], edges[1:])]


def _local_parallelism(scheduler):
    """Tasks the local scheduler ``scheduler`` runs at once (1 if synchronous)."""
    import dask.local

    if scheduler is dask.local.get_sync:
        return 1
    return int(dask.config.get("num_workers", None) or CPU_COUNT)


def _current_client(scheduler):
    """The ``distributed.Client`` behind ``scheduler``, or None.

    ``distributed`` is not imported here unless something else already did
    (no Client can exist otherwise).
    """
    if "distributed" not in sys.modules:
        return None
    from distributed import Client

    client = getattr(scheduler, "__self__", None)
    return client if isinstance(client, Client) and not client.asynchronous else None


def _block_futures(client, a):
    """The futures of the row blocks of a persisted ``a``, in order, or None."""
    from distributed import futures_of

    futures = {f.key: f for f in futures_of(a)}
    keys = [b.key for b in _blocks(a)]
    if not all(k in futures for k in keys):
        return None
    return [futures[k] for k in keys]


def _group_by_holder(who_has, block_futures):
    """Row blocks grouped by the worker that holds them.

    Parameters
    ----------
    who_has : dict
        Key -> addresses of the workers holding it (``Client.who_has``).
    block_futures : list of tuples of futures
        Per block, the futures of its arrays (``X`` first).

    Returns
    -------
    dict
        Worker address (None for blocks that no worker holds) -> block indices
        in increasing order. Each block is in exactly one group: a block held
        by several workers goes to the holder of most of its arrays, ties to
        the holder with the fewest blocks so far.
    """
    groups = {}
    for k, futs in enumerate(block_futures):
        holders = {}
        for rank, f in enumerate(futs):
            for w in who_has.get(f.key, ()):
                # X's holders first, then the holders of most other arrays
                holders[w] = holders.get(w, 0) + (len(futs) if rank == 0 else 1)
        if holders:
            w = max(sorted(holders),
                    key=lambda w: (holders[w], -len(groups.get(w, ()))))
        else:
            w = None
        groups.setdefault(w, []).append(k)
    return groups


class DaskFitData:
    """Training data as persisted Dask arrays with aligned row blocks.

    Parameters
    ----------
    X : dask array of shape (n, d), float64, one column block
    Y : dask array of shape (n, m), float64, X's row blocks
    sample_weight : dask array of shape (n,), X's row blocks
    total_weight : float
        ``sum(sample_weight)``, computed once.
    """

    def __init__(self, X, Y, sample_weight, total_weight):
        self.X = X
        self.Y = Y
        self.sample_weight = sample_weight
        self.total_weight = float(total_weight)
        self._block_keys = list(zip(_blocks(X), _blocks(Y), _blocks(sample_weight)))
        self._whole = None
        self._futures = None  # (client, per block the futures of X, Y, sw)

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_blocks(self):
        return len(self._block_keys)

    def rows_like(self, a):
        """``a`` (n rows, NumPy or Dask) as a Dask array with X's row blocks."""
        a = _as_dask_array(a) if is_dask(a) else da.from_array(np.asarray(a))
        chunks = (self.X.chunks[0],) + tuple((s,) for s in a.shape[1:])
        return a.rechunk(chunks)

    def map_statistics(self, func, *args, rows=()):
        """Sum over row blocks of ``func(X_b, Y_b, sw_b, *rows_b, *args)``.

        ``func`` returns a statistics record (``Stats`` or any nest of
        dataclasses, tuples and arrays). The blocks are grouped and each group
        is one task, which sums its blocks' statistics into one vector:

        - with a ``distributed.Client`` (and the data persisted on it), one
          group per worker, of the blocks that the worker holds
          (``Client.who_has``), submitted to that worker
          (``workers=``, ``allow_other_workers=True``); the vectors are
          gathered and added on the driver;
        - with a local scheduler, as many groups of consecutive blocks as the
          scheduler runs tasks at once (``num_workers``; one for the
          synchronous scheduler); the vectors are summed in a tree of
          ``SPLIT_EVERY``-way additions and one ``compute()`` returns the
          total.

        Each block is in exactly one group. The parameters (``args``) are
        NumPy arrays; every pass builds a new graph of fresh keys and nothing
        of it is kept.

        Parameters
        ----------
        func : callable
            ``func(X_b, Y_b, sw_b, *rows_b, *args)`` on one row block.
        *args
            Passed to every call of ``func``.
        rows : sequence of arrays of n rows (NumPy or Dask)
            Extra per-row arrays, split into X's row blocks.

        Returns
        -------
        The sum of ``func``'s records over the blocks, as a record.
        """
        name = f"skmoe-stats-{uuid.uuid4().hex}"  # one fresh name per pass
        job = _BlockJob(func, args)
        scheduler = get_scheduler(collections=[self.X])
        client = _current_client(scheduler)
        if client is not None:
            vector = self._map_on_workers(client, name, job, rows)
            if vector is not None:
                return from_vector(*vector)
            n_groups = self.n_blocks  # data not persisted on this client
        else:
            n_groups = _local_parallelism(scheduler)
        job = dask.delayed(job, traverse=False, name=f"{name}-job")
        extra = [_blocks(self.rows_like(r)) for r in rows]
        n_arrays = 3 + len(extra)
        run = dask.delayed(_run_blocks, pure=True, traverse=False)
        parts = []
        for g, idx in enumerate(_consecutive_groups(self.n_blocks, n_groups)):
            flat = [b for k in idx
                    for b in (*self._block_keys[k], *(e[k] for e in extra))]
            parts.append(run(job, n_arrays, *flat,
                             dask_key_name=f"{name}-blocks-{g}"))
        add = dask.delayed(add_vectors, pure=True, traverse=False)
        level = 0
        while len(parts) > 1:
            parts = [add(*parts[i:i + SPLIT_EVERY],
                         dask_key_name=f"{name}-sum{level}-{i}")
                     for i in range(0, len(parts), SPLIT_EVERY)]
            level += 1
        vector, spec = parts[0].compute()
        return from_vector(vector, spec)

    def _map_on_workers(self, client, name, job, rows):
        """One task per worker over the blocks it holds; the summed vector.

        Returns ``(vector, spec)``, or None when the data are not persisted
        on ``client`` (the caller then builds a graph of consecutive groups).
        """
        if self._futures is None or self._futures[0] is not client:
            futures = [_block_futures(client, a)
                       for a in (self.X, self.Y, self.sample_weight)]
            if any(f is None for f in futures):
                return None
            self._futures = (client, list(zip(*futures)))
        block_futures = self._futures[1]
        extra = []
        for r in rows:  # extra row arrays (initialisation): persisted first
            futs = _block_futures(client, client.persist(self.rows_like(r)))
            if futs is None:
                return None
            extra.append(futs)
        who_has = client.who_has([f for futs in block_futures for f in futs])
        groups = _group_by_holder(who_has, block_futures)
        tasks = []
        for g, worker in enumerate(sorted(groups, key=str)):
            flat = [f for k in groups[worker]
                    for f in (*block_futures[k], *(e[k] for e in extra))]
            tasks.append(client.submit(
                _run_blocks, job, 3 + len(extra), *flat,
                key=f"{name}-blocks-{g}", pure=False,
                workers=None if worker is None else [worker],
                allow_other_workers=True))
        level = 0
        while len(tasks) > SPLIT_EVERY:  # more workers than one addition takes
            tasks = [client.submit(add_vectors, *tasks[i:i + SPLIT_EVERY],
                                   key=f"{name}-sum{level}-{i}", pure=False)
                     for i in range(0, len(tasks), SPLIT_EVERY)]
            level += 1
        return add_vectors(*client.gather(tasks))

    def init_responsibilities(self, est, n_leaves):
        """The user's initial labels or responsibilities, validated (lazy)."""
        return dask_init_resp(est, self, n_leaves)

    def sample_rows(self, max_rows, rng, resp=None):
        """In-memory ``FitData`` of a uniform random sample of rows (sorted).

        All rows (computed once and kept) when there are at most ``max_rows``.
        Returns the sample and the same rows of ``resp`` (a Dask array with
        X's row blocks, or None), fetched in the same ``compute``.
        """
        n = self.n_samples
        if n <= max_rows:
            idx = slice(None)
            if resp is None and self._whole is not None:
                return self._whole, None
        else:
            idx = np.sort(rng.choice(n, max_rows, replace=False))
        arrays = [self.X[idx], self.Y[idx], self.sample_weight[idx]]
        if resp is not None:
            arrays.append(resp[idx])
        out = [np.ascontiguousarray(_host(a), dtype=np.float64)
               for a in dask.compute(*arrays)]
        sample = FitData(*out[:3])
        if n <= max_rows and resp is None:
            self._whole = sample
        return sample, (out[3] if resp is not None else None)


def _raise_like_sklearn(flags, est):
    """Raise, with scikit-learn's message, the first problem that ``flags`` found.

    Each check replays scikit-learn's validator on a one-value array with the
    same problem, so that Dask input gets word for word the error that
    in-memory input gets.
    """
    one = np.zeros((1, 1))
    for name in ("X", "y"):
        for key, value in (("nan", np.nan), ("inf", np.inf)):
            if flags[f"{name}_{key}"]:
                check_array(np.full((1, 1), value), input_name=name, estimator=est,
                            ensure_2d=False)
    for key, value in (("nan", np.nan), ("inf", np.inf), ("neg", -1.0),
                       ("zero", 0.0)):
        if flags[f"sw_{key}"]:
            _check_sample_weight(np.full(1, value), one, dtype=np.float64,
                                 ensure_non_negative=True)
    if not flags["sw_sum"] > 0:
        raise ValueError("sample_weight must have a positive sum.")


def dask_fit_data(est, X, y, sample_weight, chunk_size=None):
    """Validate and persist Dask training data; ``(DaskFitData, y_scale)``.

    Validation never brings the data to the driver: dimensions, dtypes and
    feature names are checked on a one-row stand-in (setting
    ``n_features_in_`` and ``feature_names_in_`` as ``validate_data`` does),
    and NaN, infinity and bad weights by reductions computed in the same
    graph as the persisted arrays. Targets are encoded by the estimator's
    own ``_encode_targets``: numeric targets (``_y_numeric``) pass as Dask
    arrays (the hook uses NumPy functions that dispatch to Dask, and a lazy
    ``y_scale`` is computed with the rest); class labels are encoded in two
    steps, the hook first learning the distinct labels (one reduction) and
    then coding each block with ``fitted=True``, so its state must depend on
    the set of labels only.

    Parameters
    ----------
    est : BaseMoE
    X, y, sample_weight : Dask collections (``y`` and ``sample_weight`` may
        also be in memory)
    chunk_size : int or None
        Rows per block; None keeps the row blocks of ``X``.
    """
    Xa = _known_rows(_as_dask_array(X))
    ya = _known_rows(_as_dask_array(y))
    validate_data(est, _proxy(X, Xa), _proxy(y, ya),
                  dtype=[np.float64, np.float32],
                  multi_output=getattr(est, "_multi_output", True),
                  y_numeric=est._y_numeric, ensure_all_finite=False)
    check_consistent_length(Xa, ya)
    n = Xa.shape[0]
    est._fit_checks(n)
    if Xa.dtype != np.float64:
        Xa = Xa.astype(np.float64)
    Xa = Xa.rechunk((chunk_size or Xa.chunks[0], -1))
    row_chunks = Xa.chunks[0]
    ya = ya.rechunk((row_chunks,) + tuple((s,) for s in ya.shape[1:]))
    if sample_weight is None:
        sw = da.ones(n, chunks=(row_chunks,))
    elif is_dask(sample_weight):
        sw = _known_rows(_as_dask_array(sample_weight))
        if sw.shape != (n,):  # scikit-learn's message for the wrong shape
            _check_sample_weight(np.zeros(sw.shape), np.broadcast_to(0.0, (n, 1)))
        sw = sw.astype(np.float64).rechunk((row_chunks,))
    else:
        if not isinstance(sample_weight, Number):
            sample_weight = np.asarray(sample_weight)
        sw = _check_sample_weight(sample_weight, np.broadcast_to(0.0, (n, 1)),
                                  dtype=np.float64, ensure_non_negative=True)
        sw = da.from_array(sw, chunks=(row_chunks,))
    numeric_y = ya.dtype.kind in "fc"
    no = da.zeros((), dtype=bool)
    flags = {
        "X_nan": da.isnan(Xa).any(), "X_inf": da.isinf(Xa).any(),
        "y_nan": da.isnan(ya).any() if numeric_y else no,
        "y_inf": da.isinf(ya).any() if numeric_y else no,
        "sw_nan": da.isnan(sw).any(), "sw_inf": da.isinf(sw).any(),
        "sw_neg": (sw < 0).any(), "sw_zero": ~(sw != 0).any(), "sw_sum": sw.sum(),
    }
    # one pass over the sources: the arrays stay on the workers, the checks'
    # results come back (a few numbers)
    Xa, ya, sw, flags = dask.persist(Xa, ya, sw, flags)
    flags = dask.compute(flags)[0]
    _raise_like_sklearn(flags, est)
    # the targets are encoded from the persisted y (a pass over n x m values)
    if est._y_numeric:  # NumPy functions on Dask arrays: lazy
        Y, y_scale = est._encode_targets(ya, sample_weight=sw)
    else:  # labels: the encoder learns the distinct labels, then codes blocks
        labels = np.unique(_host(da.unique(ya).compute()))
        Y_labels, y_scale = est._encode_targets(labels)
        Y = ya.map_blocks(_encode_block, est, dtype=np.float64,
                          chunks=(ya.chunks[0], (Y_labels.shape[1],)),
                          new_axis=[1] if ya.ndim == 1 else None)
    Y = _as_dask_array(Y)
    if Y.ndim == 1:
        Y = Y[:, None]
    Y = Y.astype(np.float64).rechunk((row_chunks, -1))
    Y, y_scale = dask.persist(Y, y_scale)
    y_scale = dask.compute(y_scale)[0]
    if y_scale is not None:
        y_scale = _host(y_scale).astype(np.float64)
    return DaskFitData(Xa, Y, sw, flags["sw_sum"]), y_scale


def _encode_block(y, est):
    return est._encode_targets(y, fitted=True)[0]


def dask_init_resp(est, data, n_leaves):
    """The user's initial labels or responsibilities as Dask row blocks.

    NumPy input goes through the estimator's own validation; Dask input is
    checked with reductions (one ``compute``) and the same messages.
    """
    init = est.init_params
    n = data.n_samples
    if not is_dask(init):
        return data.rows_like(est._validate_init(n, n_leaves)).persist()
    init = _known_rows(_as_dask_array(init))
    if init.ndim == 1:
        if init.shape[0] != n or not np.issubdtype(init.dtype, np.integer):
            raise ValueError(
                "init_params as labels must be an integer array of shape "
                f"(n_samples,) = ({n},); got dtype {init.dtype} and "
                f"shape {init.shape}."
            )
        lo, hi = dask.compute(init.min(), init.max())
        if lo < 0 or hi >= n_leaves:
            raise ValueError(
                f"init_params labels must lie in [0, {n_leaves - 1}] "
                f"(one per expert); got values in [{lo}, {hi}]."
            )
        labels = data.rows_like(init)
        resp = labels.map_blocks(_one_hot, n_leaves, new_axis=1,
                                 chunks=(labels.chunks[0], (n_leaves,)),
                                 dtype=np.float64)
        return resp.persist()
    if init.shape != (n, n_leaves):
        raise ValueError(
            "init_params as responsibilities must have shape (n_samples, "
            f"n_experts) = ({n}, {n_leaves}); got {init.shape}."
        )
    resp = data.rows_like(init.astype(np.float64))
    sums = resp.sum(axis=1, keepdims=True)
    bad, neg, empty = dask.compute(~da.isfinite(resp).all(), resp.min() < 0,
                                   (sums <= 0).any())
    if bad or neg:
        raise ValueError("init_params responsibilities must be finite and >= 0.")
    if empty:
        raise ValueError("every row of init_params must have a positive sum.")
    return (resp / sums).persist()


def _one_hot(labels, n_leaves):
    out = np.zeros((labels.shape[0], n_leaves))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


# --------------------------------------------------------------- inference
def _apply_rows(X, *arrays, est, method, kwargs, keep_tuple=False):
    with warnings.catch_warnings():
        # the feature names were checked once on the driver
        warnings.filterwarnings("ignore", message="X does not have valid feature")
        out = getattr(est, method)(X, *arrays, **kwargs)
    if isinstance(out, tuple) and not keep_tuple:
        return np.stack(out, axis=1)
    return out


def _probe_target(est, a):
    """One row of a valid target for ``a``'s shape (for the output's shape)."""
    classes = getattr(est, "classes_", None)
    if classes is not None and a.ndim == 1:
        return np.asarray(classes)[:1]
    return np.zeros((1,) + tuple(a.shape[1:]), dtype=a.dtype)


def map_rows(est, method, X, *args, **kwargs):
    """``est.<method>(X, *args, **kwargs)`` as a lazy Dask array over row blocks.

    The fitted estimator is shipped with the graph; each block runs the
    in-memory method, so its validation (NaN, infinity) applies block by block
    and raises when the result is computed. Feature count and names are
    checked now, on a one-row stand-in. Methods returning a tuple give a tuple
    of Dask arrays.
    """
    check_is_fitted(est)
    Xa = _as_dask_array(X, lengths=bool(args))
    validate_data(est, _proxy(X, Xa), reset=False, ensure_all_finite=False,
                  dtype=[np.float64, np.float32])
    if Xa.ndim == 2 and len(Xa.chunks[1]) > 1:
        Xa = Xa.rechunk({1: -1})
    arrays = []
    for a in args:  # targets: row blocks as X's (when X's are known)
        a = _as_dask_array(a) if is_dask(a) else da.from_array(np.asarray(a))
        if not np.isnan(Xa.shape[0]) and a.ndim:
            a = a.rechunk((Xa.chunks[0],) + tuple((s,) for s in a.shape[1:]))
        arrays.append(a)
    probe = _apply_rows(np.zeros((1,) + Xa.shape[1:]),
                        *(_probe_target(est, a) for a in arrays), est=est,
                        method=method, kwargs=kwargs, keep_tuple=True)
    n_out = len(probe) if isinstance(probe, tuple) else 0
    probe = np.stack(probe, axis=1) if n_out else np.asarray(probe)
    letters = iter("klmnopqrstuvwxyz")
    argpairs = [Xa, "ij"]
    for a in arrays:
        argpairs += [a, "i" + "".join(next(letters) for _ in a.shape[1:])]
    out_axes = "".join(next(letters) for _ in probe.shape[1:])
    out = da.blockwise(
        _apply_rows, "i" + out_axes, *argpairs,
        new_axes=dict(zip(out_axes, probe.shape[1:])), concatenate=True,
        dtype=probe.dtype, meta=np.empty((0,) * probe.ndim, dtype=probe.dtype),
        name=f"skmoe-{method}-{uuid.uuid4().hex}",
        est=est, method=method, kwargs=kwargs,
    )
    if n_out:
        return tuple(out[:, k] for k in range(n_out))
    return out
