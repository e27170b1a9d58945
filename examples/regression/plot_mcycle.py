"""
==============================================
Mixture of experts on the motorcycle data
==============================================

The motorcycle crash helmet data are flat, then swing hard, then settle, and
their noise changes along the way: no single line or noise level fits them.
This example fits a mixture of linear experts, then reads it: the gate's
probabilities, each expert's line, the predictive band and the convergence
of EM.
"""

# %%
# The data
# --------
# 133 measurements of head acceleration (in g) against time after impact (in
# ms). The rows are sorted by time.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_mcycle
from skmoe.plotting import plot_convergence, plot_experts, plot_gate

X, y = load_mcycle(return_X_y=True, as_frame=True)
print(X.shape, y.name)

# %%
# Fitting the mixture
# -------------------
# Four experts, inputs standardised, the best of five EM starts. The pipeline
# is fitted like any scikit-learn model; the plotting functions accept it and
# draw in the original units (milliseconds).
model = make_pipeline(
    StandardScaler(),
    MixtureOfExpertsRegressor(n_experts=4, n_init=5, random_state=0),
)
model.fit(X, y)
moe = model[-1]
print(f"converged: {moe.converged_} after {moe.n_iter_} iterations, "
      f"R² on the training data: {model.score(X, y):.3f}")

# %%
# Experts, gate and predictive band
# ---------------------------------
# On the left, every point is coloured by the expert that explains it best
# (its largest posterior responsibility). Each expert's line is drawn solid
# where the gate gives it weight and fades where it does not; the black line
# is the mixture's mean and the grey band the mean ± 2 predictive standard
# deviations. The band is narrow at the start, where the head has not moved
# yet, and wide during the impact, where the noise is large and the experts
# hand over to each other. On the right, the gate's probabilities show where
# each expert rules and how sharply it hands over to the next.
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
plot_experts(model, X, y, ax=axes[0])
plot_gate(model, X, ax=axes[1])
axes[0].set_ylabel("acceleration (g)")
axes[0].set_xlabel("time after impact (ms)")
axes[1].set_xlabel("time after impact (ms)")
plt.show()

# %%
# Reading the experts in the data's units
# ---------------------------------------
# The experts were fitted on the standardised time, so their slopes are per
# standard deviation of time. Dividing by the scaler's scale gives g per ms;
# the noise standard deviation is in g. Each expert rules the times where
# the gate gives it the most weight.
scaler = model[0]
slope = moe.coef_[:, 0] / scaler.scale_[0]
intercept = moe.intercept_ - slope * scaler.mean_[0]
times = np.linspace(X["times"].min(), X["times"].max(), 500)
owner = moe.predict_gate(scaler.transform(pd.DataFrame({"times": times})))
owner = owner.argmax(axis=1)
for k in sorted(set(owner), key=lambda k: times[owner == k].min()):
    ruled = times[owner == k]
    print(f"expert {k}: rules {ruled.min():4.1f}-{ruled.max():4.1f} ms, "
          f"slope {slope[k]:+6.2f} g/ms, intercept {intercept[k]:+7.1f} g, "
          f"noise sd {np.sqrt(moe.noise_variance_[k]):5.1f} g")

# %%
# Convergence of EM
# -----------------
# EM never lowers the log-likelihood: the trace rises, then flattens once the
# change per iteration falls below ``tol``. A trace still rising at
# ``max_iter`` is a sign to raise ``max_iter`` or to standardise the inputs.
ax = plot_convergence(model)
plt.show()
