"""
=================================================
A hierarchical mixture on robot-arm dynamics
=================================================

The forward dynamics of a two-link robot arm map its joint angles, velocities
and torques to the joint accelerations: a smooth, strongly non-linear,
coupled two-output problem, the task Jordan & Jacobs (1994) used for
hierarchical mixtures of experts. This example fits a binary HME of depth 3
(eight linear experts under seven gates), reads its tree, compares it with a
flat mixture, CART and a linear model on held-out data, and tries sparse
top-k prediction.
"""

# %%
# The data
# --------
# 3,000 random states of the arm: angles ``q`` (rad), velocities ``qd``
# (rad/s) and torques ``tau`` (N m) for the two joints; the targets are the
# two joint accelerations (rad/s²). A quarter of the rows are held out.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from skmoe import HierarchicalMixtureOfExpertsRegressor, MixtureOfExpertsRegressor
from skmoe.datasets import make_robot_arm

X, y = make_robot_arm(n_samples=3000, noise=0.1, random_state=0)
X = pd.DataFrame(X, columns=["q1", "q2", "qd1", "qd2", "tau1", "tau2"])
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
print(X_train.shape, y_train.shape)

# %%
# The hierarchical mixture
# ------------------------
# Depth 3, two branches per gate: eight experts, the best of three EM starts
# (k-means on the standardised inputs and targets, near clusters under the
# same gate). The scaler keeps the column names (``set_output``), so the tree
# summary names the inputs.
hme = make_pipeline(
    StandardScaler().set_output(transform="pandas"),
    HierarchicalMixtureOfExpertsRegressor(
        depth=3, branching=2, n_init=3, max_iter=300, random_state=0
    ),
)
hme.fit(X_train, y_train)

# %%
# Reading the tree
# ----------------
# Every gate is listed with the inputs its branches differ on most (the
# range of its slopes across branches, per standard deviation of the input),
# then its children down to the experts' linear fits of both accelerations.
# Here the gates split on the joint angles, the shoulder's ``q1`` at the
# root and the elbow's ``q2`` below: the arm's configuration sets its inertia
# and the pull of gravity, and within one configuration the accelerations
# are close to linear in the torques, which is what each expert fits.
print(hme[-1].tree_summary(n_features=2))

# %%
# Against other models
# --------------------
# A flat mixture with as many experts, CART tuned over its depth, and one
# linear model, all scored by R² of each acceleration on the held-out rows.
models = {
    "HME (depth 3)": hme,
    "MoE (8 experts)": make_pipeline(
        StandardScaler(),
        MixtureOfExpertsRegressor(n_experts=8, n_init=3, max_iter=300,
                                  random_state=0)),
    "CART": GridSearchCV(DecisionTreeRegressor(random_state=0),
                         {"max_depth": [4, 6, 8, 10, 12]}, cv=3),
    "Linear": LinearRegression(),
}
rows = {}
for name, model in models.items():
    if model is not hme:
        model.fit(X_train, y_train)
    pred = model.predict(X_test)
    rows[name] = {"R² joint 1": r2_score(y_test[:, 0], pred[:, 0]),
                  "R² joint 2": r2_score(y_test[:, 1], pred[:, 1])}
scores = pd.DataFrame(rows).T.round(3)
scores

# %%
# Predictions against the truth
# -----------------------------
# Held-out accelerations predicted by the HME against their true values; the
# closer to the diagonal, the better. On the right, the held-out R² of every
# model: the two mixtures, with eight linear experts each, are well ahead of
# CART and of a single linear model.
pred = hme.predict(X_test)
fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), layout="constrained")
for j, ax in enumerate(axes[:2]):
    ax.scatter(y_test[:, j], pred[:, j], s=6, alpha=0.4, color=f"C{j}")
    lim = np.percentile(np.r_[y_test[:, j], pred[:, j]], [0.5, 99.5])
    ax.plot(lim, lim, "k--", lw=1, label="perfect prediction")
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel(f"true acceleration of joint {j + 1} (rad/s²)")
    ax.set_ylabel("HME prediction (rad/s²)")
    ax.set_title(f"Joint {j + 1}: held-out R² = "
                 f"{r2_score(y_test[:, j], pred[:, j]):.3f}")
    ax.legend(loc="upper left")
scores.plot.barh(ax=axes[2], color=["C0", "C1"])
axes[2].set_xlabel("held-out R² (higher is better)")
axes[2].set_ylabel("model")
axes[2].set_title("All models")
axes[2].set_xlim(0, 1)
axes[2].legend(loc="upper right")
plt.show()

# %%
# Sparse top-k prediction
# -----------------------
# With ``top_k=2`` the prediction follows the gates best first down the tree
# and evaluates only the two most probable experts of each row (their gate
# weights renormalised). Setting it on the fitted model needs no refit. For
# most rows the two best experts hold nearly all the gate weight, so the
# predictions, and their R², barely change.
hme_full = hme[-1]
Xt = hme[0].transform(X_test)
full = hme_full.predict(Xt)
hme_full.set_params(top_k=2)
sparse = hme_full.predict(Xt)
hme_full.set_params(top_k=None)
kept = np.sort(hme_full.predict_gate(Xt), axis=1)[:, -2:].sum(axis=1)
print(f"gate weight kept by the top two experts: median {np.median(kept):.3f}, "
      f"lowest {kept.min():.3f}")
print(f"largest change of a prediction: {np.abs(sparse - full).max():.3g} rad/s² "
      f"(targets' sd {y_test.std(axis=0).round(2)})")
print(f"R² joint 1: all experts {r2_score(y_test[:, 0], full[:, 0]):.4f}, "
      f"top-2 {r2_score(y_test[:, 0], sparse[:, 0]):.4f}")

# %%
# Class labels
# ------------
# For a categorical target, :class:`~skmoe.HierarchicalMixtureOfExpertsClassifier`
# fits the same tree of gates with multinomial logistic experts at its leaves:
# the same ``depth``, ``branching``, ``top_k`` and ``tree_summary()``, which
# then lists every expert's logit of each class.
