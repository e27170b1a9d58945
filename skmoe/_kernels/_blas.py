"""BLAS matrix products for the numba kernels, through SciPy's ``dgemm``.

``np.dot`` inside a numba function compiles a wrapper for every combination of
layouts and shapes it meets (about a second of first-call compile time for the
fused kernel's four products) and allocates its result. The kernels instead call
the ``dgemm`` that SciPy exports to Cython (``scipy.linalg.cython_blas``), by
name: ``llvmlite`` resolves the symbol when the compiled code (fresh or loaded
from numba's cache) is linked, so the kernels stay cacheable.

Arrays are passed as addresses (``a.ctypes.data`` plus a byte offset), which
lets a product read a sub-block of a row-major buffer through its leading
dimension; the addresses travel as ``uintp``, which every 64-bit ABI numba
supports passes exactly as it passes pointers.
"""

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types
from numba.extending import get_cython_function_address

llvm.add_symbol("skmoe_cython_dgemm",
                get_cython_function_address("scipy.linalg.cython_blas", "dgemm"))
_u = types.uintp
_dgemm = types.ExternalFunction("skmoe_cython_dgemm", types.void(*(13 * (_u,))))
_N = 78  # ord("N"): no transpose


@njit(cache=True, nogil=True)
def _addr(a):
    """Address of the first element of array ``a``, as int64."""
    return np.int64(a.ctypes.data)


@njit(cache=True, nogil=True)
def gemm(m, n, k, pa, lda, pb, ldb, beta, pc, ldc, iw, fw):
    """``C = beta C + A B`` for row-major ``A`` (m, k), ``B`` (k, n), ``C`` (m, n).

    ``pa``, ``pb``, ``pc`` are the addresses of the first elements and ``lda``,
    ``ldb``, ``ldc`` the row strides in elements. ``iw`` (int32, >= 7) and
    ``fw`` (float64, >= 2) are scratch for the arguments that Fortran BLAS
    takes by reference. A row-major product is the column-major product of the
    transposes, ``C^T = B^T A^T``, so ``dgemm`` gets the operands swapped.
    """
    iw[0] = n
    iw[1] = m
    iw[2] = k
    iw[3] = ldb
    iw[4] = lda
    iw[5] = ldc
    iw[6] = _N
    fw[0] = 1.0
    fw[1] = beta
    pi = iw.ctypes.data
    pf = fw.ctypes.data
    _dgemm(pi + 24, pi + 24, pi, pi + 4, pi + 8, pf, pb, pi + 12, pa, pi + 16,
           pf + 8, pc, pi + 20)
