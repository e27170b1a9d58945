"""Statistics as one flat vector, and back.

A backend that sums statistics across processes or machines (Dask) ships
each block's statistics as a single float64 vector plus a small description
of its structure (the "spec"): vectors of equal spec add elementwise, and the
driver rebuilds the summed record. The walk is generic over dataclasses,
tuples, lists, numbers, arrays and None, so that any family's statistics
(``Stats`` with Gram matrices, a tuple of gradients and Newton matrices, ...)
travel without code of their own.

The vector lives in the namespace of the block's arrays (NumPy, or CuPy for
CuPy chunks); ``vector_to_numpy`` brings a summed vector to the host.
"""

import dataclasses
from numbers import Number

import numpy as np


def array_module(a):
    """``numpy``, or ``cupy`` for a CuPy array (found by module name)."""
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy

        return cupy
    return np


def vector_to_numpy(v):
    """A NumPy copy of a vector (CuPy vectors are copied to the host)."""
    if type(v).__module__.split(".")[0] == "cupy":
        return v.get()
    return np.asarray(v)


def to_vector(obj, xp=None):
    """``(vector, spec)``: every number and array of ``obj`` in one vector.

    Parameters
    ----------
    obj : dataclass, tuple, list, number, array or None (nested)
    xp : module, optional
        Namespace of the vector; by default that of ``obj``'s first array.

    Returns
    -------
    vector : 1-D float64 array
    spec : tuple
        Hashable description of ``obj``'s structure and shapes; equal specs
        mean vectors that add up elementwise.
    """
    leaves = []

    def walk(o):
        if o is None:
            return ("none",)
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return ("dataclass", type(o),
                    tuple((f.name, walk(getattr(o, f.name)))
                          for f in dataclasses.fields(o)))
        if isinstance(o, (tuple, list)):
            return ("seq", type(o), tuple(walk(v) for v in o))
        if isinstance(o, Number) and not hasattr(o, "shape"):
            leaves.append(float(o))
            return ("number",)
        leaves.append(o)
        return ("array", tuple(int(s) for s in o.shape))

    spec = walk(obj)
    if xp is None:
        arrays = [a for a in leaves if not isinstance(a, float)]
        xp = array_module(arrays[0]) if arrays else np
    parts = [xp.reshape(xp.asarray(a, dtype=xp.float64), (-1,)) for a in leaves]
    vector = xp.concatenate(parts) if parts else xp.zeros(0)
    return vector, spec


def from_vector(vector, spec):
    """Rebuild the object that ``to_vector`` flattened into ``(vector, spec)``."""
    vector = vector_to_numpy(vector)
    pos = [0]

    def take(size):
        out = vector[pos[0]:pos[0] + size]
        pos[0] += size
        return out

    def build(s):
        kind = s[0]
        if kind == "none":
            return None
        if kind == "number":
            return float(take(1)[0])
        if kind == "array":
            shape = s[1]
            return take(int(np.prod(shape, dtype=np.int64))).reshape(shape).copy()
        if kind == "seq":
            cls, items = s[1], [build(c) for c in s[2]]
            if hasattr(cls, "_fields"):  # named tuple
                return cls(*items)
            return cls(items)
        cls, named = s[1], {name: build(c) for name, c in s[2]}
        init = {f.name for f in dataclasses.fields(cls) if f.init}
        out = cls(**{k: v for k, v in named.items() if k in init})
        for k, v in named.items():
            if k not in init:
                object.__setattr__(out, k, v)
        return out

    out = build(spec)
    if pos[0] != vector.shape[0]:
        raise ValueError(
            f"statistics vector of length {vector.shape[0]} does not match its "
            f"spec ({pos[0]} values)"
        )
    return out


def add_vectors(*parts):
    """Sum of ``(vector, spec)`` pairs of one spec (a step of a tree sum)."""
    vector, spec = parts[0]
    for v, s in parts[1:]:
        if s != spec:
            raise ValueError(
                "blocks returned statistics of different structures; every "
                "block must return the same fields and shapes"
            )
        vector = vector + v
    return vector, spec
