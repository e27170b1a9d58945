"""Backends of the statistics pass (CuPy, Dask, array-API namespaces).

Nothing here imports an optional dependency at import time: each backend
module imports its library when it is first used.
"""
