"""Out-of-core fits on one machine: the data streamed in chunks of rows.

``ChunkedFitData`` stands in for ``FitData`` when ``X`` is a memory map (or
``chunk_size`` is set): every pass of EM runs the model's block function on
chunks of ``chunk_rows`` rows (spread over ``n_jobs`` threads; the kernels
release the GIL) and adds the chunks' statistics, so memory is bounded by a
few chunks plus the parameters, whatever the number of rows. Chunks are cast
to C-contiguous float64 one at a time (a float32 memory map is never copied
whole), and a missing ``sample_weight`` is made of ones chunk by chunk.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._model import FitData
from ._vector import add_vectors, from_vector, to_vector

# The initialisation (k-means, random, CART) of a streamed fit runs on a
# random sample of at most this many rows.
INIT_MAX_ROWS = 20_000
# Rows per chunk of a streamed fit when ``chunk_size`` is None (a memory map).
STREAM_CHUNK_ROWS = 65_536


def _f64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


class ChunkedFitData:
    """Training data read in chunks of rows (X never copied whole).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Any array (a ``numpy.memmap``, say); rows are read chunk by chunk.
    Y : ndarray of shape (n, m)
        Encoded targets.
    sample_weight : ndarray of shape (n,) or None
        None: every weight is one (no array of ``n`` ones is made).
    chunk_rows : int
        Rows per chunk.
    n_jobs : int
        Threads over chunks.
    """

    def __init__(self, X, Y, sample_weight, chunk_rows, n_jobs=1):
        self.X = X
        self.Y = Y
        self.sample_weight = sample_weight
        self.chunk_rows = int(chunk_rows)
        self.n_jobs = max(1, int(n_jobs))
        if sample_weight is None:
            self.total_weight = float(X.shape[0])
        else:
            self.total_weight = float(np.sum(sample_weight))

    @property
    def n_samples(self):
        return self.X.shape[0]

    def _weights(self, a, b):
        if self.sample_weight is None:
            return np.ones(b - a)
        return _f64(self.sample_weight[a:b])

    def map_statistics(self, func, *args, rows=()):
        """Sum over chunks of ``func(X_c, Y_c, sw_c, *rows_c, *args)``.

        ``rows`` are further arrays of ``n`` rows cut like ``X``. ``func``
        returns a statistics record (see ``_vector.to_vector``); the chunks'
        records are added elementwise in row order, as the Dask backend adds
        its blocks', so the result does not depend on ``n_jobs``.
        """
        n = self.n_samples
        edges = list(range(0, n, self.chunk_rows)) + [n]

        def one(k):
            a, b = edges[k], edges[k + 1]
            return func(_f64(self.X[a:b]), _f64(self.Y[a:b]), self._weights(a, b),
                        *(_f64(r[a:b]) for r in rows), *args)

        n_chunks = len(edges) - 1
        if self.n_jobs == 1 or n_chunks == 1:
            return _sum(map(one, range(n_chunks)))
        with ThreadPoolExecutor(min(self.n_jobs, n_chunks)) as pool:
            return _sum(pool.map(one, range(n_chunks)))

    def init_responsibilities(self, est, n_leaves):
        """The user's initial labels or responsibilities, validated, (n, L)."""
        return est._validate_init(self.n_samples, n_leaves)

    def sample_rows(self, max_rows, rng, resp=None):
        """In-memory ``FitData`` of a uniform random sample of rows (sorted).

        All rows (no random draw) when there are at most ``max_rows``. Returns
        the sample and the same rows of ``resp`` (None when ``resp`` is None).
        """
        n = self.n_samples
        if n <= max_rows:
            idx = slice(None)
        else:
            idx = np.sort(rng.choice(n, max_rows, replace=False))
        X, Y = _f64(self.X[idx]), _f64(self.Y[idx])
        sw = (np.ones(X.shape[0]) if self.sample_weight is None
              else _f64(self.sample_weight[idx]))
        return FitData(X, Y, sw), None if resp is None else _f64(resp[idx])


def _sum(parts):
    """Sum of the chunks' statistics, in order, as the Dask backend sums them."""
    total = None
    for s in parts:
        v = to_vector(s)
        total = v if total is None else add_vectors(total, v)
    return from_vector(*total)
