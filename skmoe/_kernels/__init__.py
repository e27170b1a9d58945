"""Numba kernels (CPU only). Each kernel has a NumPy twin in ``skmoe._xp_ops``."""
