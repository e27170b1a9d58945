"""
=======================================
Fitting a mixture of experts on a GPU
=======================================

With CuPy installed (``pip install "skmoe[gpu]"``) and a CUDA device, the same
estimator fits on the GPU: pass CuPy arrays, or set ``device="cuda"`` for
NumPy inputs. This example fits two million rows on the CPU and on the GPU,
compares the two fits, and plots their times. It needs a GPU, so the
documentation shows it without running it.
"""

# %%
# Data
# ----
# Two million rows drawn from a known mixture of eight linear experts in
# twenty dimensions, in float32 (the GPU keeps float32 inputs in float32 and
# accumulates its sums in float64); the last 100,000 rows are held out.
import time

import matplotlib.pyplot as plt
import numpy as np

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_regression

try:
    import cupy as cp
except ImportError as exc:
    raise SystemExit('this example needs CuPy: pip install "skmoe[gpu]"') from exc

X, y, truth = make_moe_regression(
    n_samples=2_000_000, n_features=20, n_experts=8, random_state=0
)
X = X.astype(np.float32)
X_new, y_new = X[-100_000:], y[-100_000:]  # held out, to score both fits
X, y = X[:-100_000], y[:-100_000]
params = dict(n_experts=8, max_iter=50, tol=0.0, random_state=0)

# %%
# Warming up
# ----------
# The first fit on each device compiles its kernels (numba on the CPU, CUDA
# on the GPU; both are cached). A small fit on each warms them up, so that
# the times below are those of EM itself.
small = dict(params, max_iter=2)
MixtureOfExpertsRegressor(n_jobs=-1, **small).fit(X[:20_000], y[:20_000])
MixtureOfExpertsRegressor(**small).fit(cp.asarray(X[:20_000]),
                                      cp.asarray(y[:20_000]))

# %%
# CPU
# ---
# The fused numba kernel on every CPU core.
t0 = time.perf_counter()
cpu = MixtureOfExpertsRegressor(n_jobs=-1, **params).fit(X, y)
t_cpu = time.perf_counter() - t0

# %%
# GPU, from CuPy arrays
# ---------------------
# The data go to the device once and stay there; the fitted attributes are
# CuPy arrays, and ``to_numpy()`` copies the model to the host.
X_gpu, y_gpu = cp.asarray(X), cp.asarray(y)
cp.cuda.Device().synchronize()
t0 = time.perf_counter()
gpu = MixtureOfExpertsRegressor(**params).fit(X_gpu, y_gpu)
cp.cuda.Device().synchronize()
t_gpu = time.perf_counter() - t0
gpu_host = gpu.to_numpy()

# %%
# GPU, from NumPy arrays
# ----------------------
# ``device="cuda"`` copies NumPy inputs to the GPU (through pinned buffers)
# and returns NumPy attributes, so the rest of a CPU workflow is unchanged.
t0 = time.perf_counter()
MixtureOfExpertsRegressor(device="cuda", **params).fit(X, y)
t_gpu_numpy = time.perf_counter() - t0

# %%
# Comparing the fits
# ------------------
# Both fits start from k-means on a sample of the rows and run the same
# EM; their mean log-likelihoods and their R² on the held-out rows should be
# close (they may end in different local maxima when the starts differ).
print(f"mean log-likelihood: CPU {cpu.log_likelihood_:.4f}, "
      f"GPU {gpu_host.log_likelihood_:.4f}")
print(f"held-out R²: CPU {cpu.score(X_new, y_new):.4f}, "
      f"GPU {gpu_host.score(X_new, y_new):.4f}")

# %%
# Times
# -----
# Fifty EM iterations each (``tol=0`` makes every run do all of them).
fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
labels = ["CPU (all cores)", "GPU (CuPy input)", "GPU (NumPy input)"]
times = [t_cpu, t_gpu, t_gpu_numpy]
ax.barh(labels, times, color=["C0", "C1", "C2"])
ax.invert_yaxis()  # first bar on top
ax.set_xlabel("fit time for 50 EM iterations (s)")
ax.set_ylabel("device")
ax.set_title("1,900,000 rows, 20 features, 8 experts")
plt.show()
