"""
=====================================================
Decision regions: mixture of experts against CART
=====================================================

A mixture of logistic experts classifies with a few linear boundaries, each
valid in its own part of the input space, chosen softly by the gate. This
example draws its decision regions beside those of a tuned CART tree on two
interleaved half-moons, and the gate's regions that explain them.
"""

# %%
# The data
# --------
# Two interleaved half-moons with noise: no single line separates the
# classes, but a few lines do, each over part of the plane.
import matplotlib.pyplot as plt
from sklearn.datasets import make_moons
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from skmoe import MixtureOfExpertsClassifier
from skmoe.plotting import plot_gate

X, y = make_moons(n_samples=600, noise=0.25, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

# %%
# Two classifiers
# ---------------
# Four logistic experts under a softmax gate (the best of three EM starts),
# and a CART tree tuned over its depth and leaf size by 5-fold search.
moe = make_pipeline(
    StandardScaler(),
    MixtureOfExpertsClassifier(n_experts=4, n_init=3, random_state=0),
).fit(X_train, y_train)
cart = GridSearchCV(
    DecisionTreeClassifier(random_state=0),
    {"max_depth": [2, 3, 4, 6, 8, None], "min_samples_leaf": [1, 5, 10, 20]},
    cv=5,
).fit(X_train, y_train)
for name, model in [("mixture of experts", moe), ("CART", cart)]:
    print(f"{name}: held-out accuracy {model.score(X_test, y_test):.3f}")

# %%
# Decision regions and the gate
# -----------------------------
# Left and middle: the probability of the second class over the plane, with
# the held-out points on top. The mixture's boundary is smooth and bends
# where the gate hands over from one expert to the next; CART's is a
# staircase of axis-aligned cuts. Right: the gate's regions, each coloured by
# the expert that rules it, paler where the gate blends two experts. Each
# region holds one linear piece of the mixture's boundary.
fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), layout="constrained")
plot_gate(moe, X, ax=axes[2])
for ax, (name, model) in zip(axes, [("Mixture of experts", moe), ("CART", cart)]):
    disp = DecisionBoundaryDisplay.from_estimator(
        model, X, response_method="predict_proba", plot_method="pcolormesh",
        cmap="RdBu", alpha=0.7, ax=ax, grid_resolution=200, eps=0.3,
        vmin=0, vmax=1,
    )
    ax.scatter(X_test[:, 0], X_test[:, 1], c=y_test, cmap="RdBu", s=14,
               edgecolors="k", linewidths=0.4)
    ax.set_title(f"{name}: held-out accuracy {model.score(X_test, y_test):.3f}")
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.set_xlim(axes[2].get_xlim())  # the same window as the gate's plot
    ax.set_ylim(axes[2].get_ylim())
fig.colorbar(disp.surface_, ax=axes[:2], label="P(class 1 | x)", shrink=0.9)
plt.show()
