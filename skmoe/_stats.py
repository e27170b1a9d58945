"""Sufficient statistics: the only sums over samples that the M-steps need.

Every M-step of skmoe consumes small matrices built from sums over samples, so
that the NumPy, CuPy, Dask and chunked backends share the same M-step code:

- per weight column ``k``: ``S_k = sum_i W_ik z_i z_i^T`` with ``z_i = [x_i, 1, y_i]``
  (gives ``X^T H_k X``, ``X^T H_k y``, ``sum h y^2`` and ``sum h`` at once);
- the gates' gradient ``T = sum_i [x_i, 1] v_i^T``.
"""

from dataclasses import dataclass

import numpy as np

CHUNK_ROWS = 4096


def augmented_grams(X, Y, W, V=None, sample_weight=None, chunk_rows=CHUNK_ROWS):
    """Weighted Gram matrices of ``z = [x, 1, y]`` and the gate gradient.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    Y : ndarray of shape (n, m) or None
    W : ndarray of shape (n, M)
        One weight column per Gram matrix (responsibilities).
    V : ndarray of shape (n, C), optional
        Gate residuals; ``T = [X, 1]^T diag(sample_weight) V``.
    sample_weight : ndarray of shape (n,), optional
        Multiplies every weight column and ``V``.

    Returns
    -------
    S : ndarray of shape (M, q, q), ``q = d + 1 + m``
    T : ndarray of shape (d + 1, C) or None
    """
    n, d = X.shape
    m = 0 if Y is None else Y.shape[1]
    q = d + 1 + m
    M = W.shape[1]
    C = 0 if V is None else V.shape[1]
    acc = np.zeros((q, q * M + C))
    Z = np.empty((min(chunk_rows, n), q))
    KR = np.empty((min(chunk_rows, n), q * M + C))
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        c = stop - start
        z, kr = Z[:c], KR[:c]
        z[:, :d] = X[start:stop]
        z[:, d] = 1.0
        if m:
            z[:, d + 1 :] = Y[start:stop]
        w = W[start:stop]
        if sample_weight is not None:
            w = w * sample_weight[start:stop, None]
        np.multiply(z[:, :, None], w[:, None, :], out=kr[:, : q * M].reshape(c, q, M))
        if C:
            v = V[start:stop]
            if sample_weight is not None:
                np.multiply(v, sample_weight[start:stop, None], out=kr[:, q * M :])
            else:
                kr[:, q * M :] = v
        acc += z.T @ kr
    S = acc[:, : q * M].reshape(q, q, M).transpose(2, 0, 1).copy()
    T = acc[: d + 1, q * M :].copy() if C else None
    return S, T


@dataclass
class WeightedData:
    """The data of an M-step that needs more than sums (in-memory only).

    X : ndarray of shape (n, d)
    Y : ndarray of shape (n, m)
    W : ndarray of shape (n, n_leaves)
        ``sample_weight * responsibilities``, one column per expert.
    sample_weight : ndarray of shape (n,)
    """

    X: np.ndarray
    Y: np.ndarray
    W: np.ndarray
    sample_weight: np.ndarray


def unpack_triangles(v, q):
    """Symmetric ``(q, q)`` matrices from packed triangles ``v`` (..., q (q + 1) / 2).

    The packing is column-major upper: entry ``(j, l), j <= l`` at index
    ``l (l + 1) / 2 + j``, so the triangle of the leading ``p x p`` block is a
    prefix (the layout of the fused kernels' accumulators).
    """
    cols = np.repeat(np.arange(q), np.arange(1, q + 1))
    rows = np.concatenate([np.arange(c + 1) for c in range(q)])
    out = np.zeros(v.shape[:-1] + (q, q))
    out[..., rows, cols] = v
    out[..., cols, rows] = v
    return out
