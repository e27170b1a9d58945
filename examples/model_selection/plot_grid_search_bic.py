"""
===============================================================
Choosing the number of experts: grid search and BIC
===============================================================

How many experts does the motorcycle data need? This example answers twice:
with a cross-validated grid search over ``n_experts`` on a scikit-learn
pipeline, and with the Bayesian information criterion (BIC) of fits on all
the data. Both curves are drawn side by side, each with its choice marked.
"""

# %%
# A pipeline and a grid
# ---------------------
# Standardise the input, then fit the mixture; the grid search tries one to
# eight experts, each scored by R² over five shuffled folds (the rows are
# sorted by time, so unshuffled folds would test extrapolation).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_mcycle
from skmoe.plotting import plot_experts

X, y = load_mcycle(return_X_y=True)
pipe = Pipeline([
    ("scale", StandardScaler()),
    ("moe", MixtureOfExpertsRegressor(max_iter=500, n_init=2, random_state=0)),
])
n_experts = np.arange(1, 9)
search = GridSearchCV(
    pipe, {"moe__n_experts": n_experts},
    cv=KFold(5, shuffle=True, random_state=0),
)
search.fit(X, y)
print("grid search chose n_experts =", search.best_params_["moe__n_experts"])

# %%
# The BIC curve
# -------------
# ``bic(X, y)`` is ``-2 log L + P log n``: the fit's log-likelihood penalised by
# its number of free parameters ``P``. One fit per number of experts, on all
# the rows; lower is better. The input is standardised as in the pipeline.
Xs = StandardScaler().fit_transform(X)
bic = np.array([
    MixtureOfExpertsRegressor(n_experts=k, max_iter=500, n_init=2, random_state=0)
    .fit(Xs, y).bic(Xs, y)
    for k in n_experts
])
print("BIC chose n_experts =", n_experts[bic.argmin()])

# %%
# Both curves
# -----------
# The cross-validated R² rises steeply over the first experts, then levels
# off (the band is ± one standard deviation over the folds); BIC, which
# charges every added expert for its parameters, falls over the same first
# experts and then wavers. Past the bend, the differences are within the
# noise of the folds. The "one-standard-error rule" makes that explicit: it
# takes the fewest experts whose mean score is within one standard error
# (the folds' standard deviation over the square root of their number) of
# the best mean.
cv = search.cv_results_
mean, sd = cv["mean_test_score"], cv["std_test_score"]
best = search.best_params_["moe__n_experts"]
i_best = int(np.argmax(mean))
se = sd[i_best] / np.sqrt(search.n_splits_)
simplest = n_experts[np.argmax(mean >= mean[i_best] - se)]
print(f"one-standard-error rule: n_experts = {simplest}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
ax1.plot(n_experts, mean, "o-", color="C0", label="mean over 5 folds")
ax1.fill_between(n_experts, mean - sd, mean + sd, color="C0", alpha=0.2,
                 label="± 1 sd over folds")
ax1.axvline(best, color="k", ls="--", lw=1, label=f"best mean: {best}")
ax1.axvline(simplest, color="C2", ls=":", lw=2,
            label=f"one-standard-error rule: {simplest}")
ax1.set_xlabel("number of experts")
ax1.set_ylabel("cross-validated R²")
ax1.set_title("Grid search (higher is better)")
ax1.legend(loc="lower right")
ax2.plot(n_experts, bic, "o-", color="C3", label="BIC")
ax2.axvline(n_experts[bic.argmin()], color="k", ls="--", lw=1,
            label=f"lowest BIC: {n_experts[bic.argmin()]}")
ax2.set_xlabel("number of experts")
ax2.set_ylabel("BIC")
ax2.set_title("Bayesian information criterion (lower is better)")
ax2.legend(loc="upper right")
plt.show()

# %%
# The chosen model
# ----------------
# ``search.best_estimator_`` is the pipeline refitted on all the data with the
# chosen number of experts; the plotting functions take it (or the search
# itself) directly.
fig, ax = plt.subplots(figsize=(8, 5))
plot_experts(search, X, y, ax=ax)
ax.set_xlabel("time after impact (ms)")
ax.set_ylabel("acceleration (g)")
plt.show()
