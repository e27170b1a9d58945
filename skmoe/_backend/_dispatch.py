"""Which backend an input asks for, decided without importing Dask.

Dask collections are recognised by their type's module name, so ``import
skmoe`` and every in-memory code path never import Dask. ``skmoe._backend.
_dask`` (which imports ``dask``) is imported only once a Dask input is seen.
"""

import functools

import numpy as np

DASK_HINT = 'install Dask with `pip install "skmoe[dask]"`'

# Public methods that map rows to rows: on Dask input they run lazily, block
# by block (``BaseMoE.__init_subclass__`` wraps them in every estimator).
ROW_METHODS = ("predict", "predict_proba", "predict_log_proba", "predict_gate",
               "score_samples", "responsibilities")


def is_dask(obj):
    """Whether ``obj`` is a Dask collection (array, data frame or series)."""
    return type(obj).__module__.split(".")[0] in ("dask", "dask_expr")


def is_memmap(obj):
    """Whether ``obj`` is a NumPy memory map (or a view of one)."""
    while isinstance(obj, np.ndarray):
        if isinstance(obj, np.memmap):
            return True
        obj = obj.base
    return False


def import_dask():
    """Import ``dask`` and ``dask.array``, or raise with the install hint."""
    try:
        import dask
        import dask.array
    except ImportError as exc:
        raise ImportError(
            f"fitting on Dask input needs dask[array]: {DASK_HINT}."
        ) from exc
    return dask


def dask_rows(method):
    """Run ``method(self, X, *args)`` lazily over row blocks on Dask input.

    With NumPy (or any in-memory) input the method runs as written; when
    ``X`` or a later positional argument (``y``) is a Dask collection, the
    result is a Dask array whose blocks are the method applied to X's row
    blocks (see ``skmoe._backend._dask.map_rows``).
    """
    if getattr(method, "_skmoe_dask_rows", False):
        return method

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        if is_dask(X) or any(is_dask(a) for a in args):
            import_dask()
            from ._dask import map_rows

            return map_rows(self, method.__name__, X, *args, **kwargs)
        return method(self, X, *args, **kwargs)

    wrapper._skmoe_dask_rows = True
    return wrapper
