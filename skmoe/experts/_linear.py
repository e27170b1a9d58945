"""Linear predictors of selected experts only (sparse top-k prediction)."""

import numpy as np


def linear_predictor_at(X, coef, leaves, width):
    """``[x_i, 1] . coef[:, l width + c]`` for the leaves ``l = leaves[i, j]``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    coef : ndarray of shape (d + 1, n_leaves * width)
        Slopes then intercept (last row); columns leaf-major, ``width`` per
        leaf (outputs or classes).
    leaves : ndarray of int of shape (n, k)

    Returns
    -------
    ndarray of shape (n, k, width)
        Only the selected leaves' columns are read: the cost is
        ``n k width (d + 1)``, not ``n n_leaves width (d + 1)``.
    """
    p = coef.shape[0]
    per_leaf = coef.T.reshape(-1, width, p)[leaves]  # (n, k, width, p)
    eta = np.einsum("nkwf,nf->nkw", per_leaf[..., :-1], X)
    eta += per_leaf[..., -1]
    return eta
