"""Compilation flags, argument preparation and thread control shared by the
numba kernels."""

from contextlib import contextmanager

import numba
import numpy as np

# Every fast-math flag but "nnan"/"ninf": the kernels meet -inf on purpose
# (log of a zero probability) and must keep it.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# Below this many rows the serial kernel is faster than spawning threads.
PARALLEL_MIN_ROWS = 20_000


def effective_n_jobs(n_jobs):
    """Number of numba threads for ``n_jobs`` (None -> 1, -1 -> all cores)."""
    n_max = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, n_max + 1 + n_jobs)
    return max(1, min(int(n_jobs), n_max))


@contextmanager
def numba_threads(n_jobs):
    """Run the body with ``n_jobs`` numba threads; restore the old count after."""
    old = numba.get_num_threads()
    numba.set_num_threads(effective_n_jobs(n_jobs))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def kernel_array(a):
    """A read-only, C-contiguous, aligned float64 view (or copy) of ``a``.

    One compiled signature of a kernel, whether the caller's array is
    writable (a memory map, say) or not; and aligned: arrays rebuilt from a
    byte buffer (a Dask worker's deserialised block, ``np.frombuffer`` at an
    offset) can start at any byte, which would compile a second, slower,
    unaligned specialisation and break the kernels that pass addresses to
    BLAS.
    """
    a = np.require(a, dtype=np.float64, requirements=["C", "A"]).view()
    a.flags.writeable = False
    return a
