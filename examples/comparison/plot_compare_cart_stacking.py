"""
=====================================================================
Mixture of experts against CART, stacking and gradient boosting
=====================================================================

How does a mixture of experts compare with the usual tools? This example
cross-validates it beside a linear model, a tuned CART tree, a stacking
ensemble and histogram gradient boosting, on the motorcycle data and on a
piecewise-linear problem with oblique boundaries, and shows the scores as a
table and as a plot of every fold. The ``skmoe compare`` command runs the
same comparison on your own CSV file.
"""

# %%
# Two data sets
# -------------
# The motorcycle data (133 rows, one input) and a synthetic problem: two
# inputs, three regions separated by oblique lines, a different linear law in
# each region. Axis-aligned trees need many splits to follow an oblique
# boundary; a softmax gate draws it with one hyperplane.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor, StackingRegressor
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsRegressor
from skmoe.datasets import load_mcycle

rng = np.random.default_rng(0)


def piecewise(n):
    X = rng.uniform(-2, 2, size=(n, 2))
    upper = X[:, 1] - X[:, 0] > 1.0
    right = X[:, 0] + 0.5 * X[:, 1] > 0.0
    y = np.select(
        [upper, right],
        [4.0 - X[:, 0] + 2.0 * X[:, 1], 2.0 * X[:, 0] - X[:, 1]],
        -1.0 + 0.5 * X[:, 0] + 1.5 * X[:, 1],
    )
    return X, y + 0.3 * rng.standard_normal(n)


datasets = {"mcycle": load_mcycle(return_X_y=True), "piecewise": piecewise(400)}

# %%
# The models
# ----------
# Every model gets the same chance: CART is tuned over its depth and leaf
# size, the mixture over its number of experts, each by an inner 3-fold
# search inside every outer fold (nested cross-validation). The folds are
# shuffled, because the motorcycle rows are sorted by time.
inner = KFold(3, shuffle=True, random_state=0)
moe = make_pipeline(StandardScaler(),
                    MixtureOfExpertsRegressor(max_iter=500, random_state=0))
models = {
    "Linear": LinearRegression(),
    "CART": GridSearchCV(
        DecisionTreeRegressor(random_state=0),
        {"max_depth": [2, 3, 4, 6, None], "min_samples_leaf": [1, 5, 10, 20]},
        cv=inner,
    ),
    "Stacking": StackingRegressor(
        [("ridge", make_pipeline(StandardScaler(), Ridge())),
         ("cart", DecisionTreeRegressor(min_samples_leaf=5, random_state=0)),
         ("knn", make_pipeline(StandardScaler(), KNeighborsRegressor()))],
        final_estimator=RidgeCV(), cv=inner,
    ),
    "GradientBoosting": HistGradientBoostingRegressor(random_state=0),
    "MoE": GridSearchCV(
        moe, {"mixtureofexpertsregressor__n_experts": [2, 3, 4, 6]}, cv=inner
    ),
}

# %%
# Cross-validation
# ----------------
# Five shuffled folds per data set; the score is R² on the held-out fold.
outer = KFold(5, shuffle=True, random_state=1)
scores = {
    (data, name): cross_val_score(model, X, y, cv=outer)
    for data, (X, y) in datasets.items()
    for name, model in models.items()
}

# %%
# The table
# ---------
# Mean and standard deviation of R² over the five folds, best model of each
# data set first, and in how many folds each model was the best one. The
# folds are the same for every model, so the last column compares models
# fold by fold, free of how hard each fold happens to be.
names = list(models)
table = pd.concat(
    {
        data: pd.DataFrame({
            "R² mean": [scores[data, n].mean() for n in names],
            "R² std": [scores[data, n].std() for n in names],
            "folds won": np.bincount(
                np.argmax([scores[data, n] for n in names], axis=0),
                minlength=len(names)),
        }, index=pd.Index(names, name="model"))
        for data in datasets
    },
    names=["data"],
)
table = table.sort_values(["data", "R² mean"], ascending=[True, False]).round(3)
table

# %%
# The plot
# --------
# Each grey line is one fold, through its score under every model; the
# diamond is the mean. On the motorcycle data the flexible models are close:
# the lines cross, and which model wins depends on the fold. On the piecewise
# problem the mixture recovers the three linear laws and their oblique
# boundaries and is the best model in every fold; CART and boosting
# approximate each oblique boundary by a staircase of axis-aligned splits.
# The linear model, far below the others, is left out of the plot.
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
for ax, data in zip(axes, datasets):
    order = [name for name in table.loc[data].index if name != "Linear"]
    folds = np.array([scores[data, name] for name in order])  # (models, folds)
    x = np.arange(len(order))
    ax.plot(x, folds, color="0.6", lw=1, marker="o", ms=4, zorder=1)
    ax.scatter(x, folds.mean(axis=1), marker="D", s=50, color="darkorange",
               edgecolor="k", zorder=3, label="mean over folds")
    ax.plot([], [], color="0.6", marker="o", ms=4, label="one fold")
    ax.set_xticks(x, order, rotation=20)
    ax.set_xlabel("model (best mean first)")
    ax.set_ylabel("R² on the held-out fold")
    ax.set_title(f"{data}: 5-fold cross-validation")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
plt.show()

# %%
# On your own data
# ----------------
# The command line runs the same comparison (with repeated folds, gradient
# boosting and hierarchical mixtures too) on a CSV file, and can save the
# scores and this kind of plot::
#
#     skmoe compare --data mydata.csv --target y --plot scores.png --out scores.csv
