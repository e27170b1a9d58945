"""The models of ``skmoe compare``: a registry of small factories.

Each entry of :data:`MODELS` maps a display name to a factory
``factory(task, random_state, **options) -> estimator``. ``task`` is
"regression" or "classification"; ``options`` are the command's tuning flags
(``n_experts``, ``depth``), which a factory takes if it uses them and ignores
otherwise. A factory that cannot serve a task (or whose skmoe estimator is not
part of this version of skmoe) raises :class:`ModelUnavailable` with the
reason; the command then skips that model with a note. Adding a model is one
factory and one line in the registry.

Every skmoe model is tuned by an inner cross-validated grid search over its
own small grid; CART is tuned over depth and leaf size; the others run with
their defaults. The grids are kept small so that the default run on the
motorcycle data stays within about a minute on two cores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Folds of the inner grid searches (tuning and stacking).
INNER_SPLITS = 3
#: ``n_experts`` grid of the flat mixtures of experts.
MOE_N_EXPERTS_GRID = (2, 3, 4, 6, 8)
#: ``depth`` grid of the hierarchical mixtures (binary trees: 4 or 8 experts).
HME_DEPTH_GRID = (2, 3)
#: CART's grid.
CART_GRID = {"max_depth": [2, 3, 4, 6, None], "min_samples_leaf": [1, 5, 10, 20]}

__all__ = [
    "CART_GRID",
    "HME_DEPTH_GRID",
    "INNER_SPLITS",
    "MODELS",
    "MOE_N_EXPERTS_GRID",
    "ModelUnavailable",
    "inner_cv",
]


class ModelUnavailable(Exception):
    """A registered model cannot serve this task (the message says why)."""


def inner_cv(task: str, random_state: int):
    """Shuffled K-fold (stratified for classification) for the inner searches.

    Shuffled: the training rows reach a model in file order, which is often
    sorted (mcycle is sorted by time), and unshuffled folds would then test
    extrapolation instead of interpolation.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if task == "classification" else KFold
    return cls(INNER_SPLITS, shuffle=True, random_state=random_state)


def _skmoe_class(name: str):
    """The public skmoe estimator ``name``, or ModelUnavailable."""
    import skmoe

    cls = getattr(skmoe, name, None)
    if cls is None:
        raise ModelUnavailable(
            f"skmoe.{name} is not part of skmoe {skmoe.__version__}"
        )
    return cls


def _tuned_skmoe(cls_name, step, task, random_state, grid, fixed, **params):
    """Standardised inputs, then a skmoe estimator; a grid search unless fixed."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    cls = _skmoe_class(cls_name)
    key, values = grid
    params[key] = fixed if fixed is not None else values[0]
    est = cls(random_state=random_state, **params)
    pipe = Pipeline([("scale", StandardScaler()), (step, est)])
    if fixed is not None:
        return pipe
    return GridSearchCV(pipe, {f"{step}__{key}": list(values)},
                        cv=inner_cv(task, random_state))


def _moe(task: str, random_state: int, *, n_experts: int | None = None, **_):
    """Mixture of experts on standardised inputs; n_experts by inner CV."""
    name = ("MixtureOfExpertsClassifier" if task == "classification"
            else "MixtureOfExpertsRegressor")
    return _tuned_skmoe(name, "moe", task, random_state,
                        ("n_experts", MOE_N_EXPERTS_GRID), n_experts)


def _hme(task: str, random_state: int, *, depth: int | None = None, **_):
    """Binary hierarchical mixture of experts; depth by inner CV."""
    name = ("HierarchicalMixtureOfExpertsClassifier" if task == "classification"
            else "HierarchicalMixtureOfExpertsRegressor")
    return _tuned_skmoe(name, "hme", task, random_state, ("depth", HME_DEPTH_GRID),
                        depth, branching=2)


def _cart(task: str, random_state: int, **_):
    """Decision tree (CART) tuned over depth and leaf size by inner CV."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor
    return GridSearchCV(cls(random_state=random_state), CART_GRID,
                        cv=inner_cv(task, random_state))


def _stacking(task: str, random_state: int, **_):
    """Stacking of a linear model, CART and k-NN under a linear final model."""
    from sklearn.ensemble import StackingClassifier, StackingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge, RidgeCV
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cv = inner_cv(task, random_state)
    if task == "classification":
        estimators = [
            ("logistic", make_pipeline(StandardScaler(),
                                       LogisticRegression(max_iter=1000))),
            ("cart", DecisionTreeClassifier(min_samples_leaf=5,
                                            random_state=random_state)),
            ("knn", make_pipeline(StandardScaler(), KNeighborsClassifier())),
        ]
        return StackingClassifier(estimators,
                                  final_estimator=LogisticRegression(max_iter=1000),
                                  cv=cv)
    estimators = [
        ("ridge", make_pipeline(StandardScaler(), Ridge())),
        ("cart", DecisionTreeRegressor(min_samples_leaf=5,
                                       random_state=random_state)),
        ("knn", make_pipeline(StandardScaler(), KNeighborsRegressor())),
    ]
    return StackingRegressor(estimators, final_estimator=RidgeCV(), cv=cv)


def _gradient_boosting(task: str, random_state: int, **_):
    """Histogram gradient boosting with scikit-learn's defaults."""
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )

    cls = (HistGradientBoostingClassifier if task == "classification"
           else HistGradientBoostingRegressor)
    return cls(random_state=random_state)


def _linear(task: str, random_state: int, **_):
    """Least squares, or logistic regression on standardised inputs."""
    if task == "classification":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


#: Model registry: display name -> ``factory(task, random_state, **options)``.
MODELS: dict[str, Callable[..., Any]] = {
    "MoE": _moe,
    "HME": _hme,
    "CART": _cart,
    "Stacking": _stacking,
    "GradientBoosting": _gradient_boosting,
    "Linear": _linear,
}

#: One line per model for ``skmoe compare --help``.
DESCRIPTIONS = {
    "MoE": (f"MixtureOfExperts{{Regressor,Classifier}} on standardised inputs; "
            f"n_experts by an inner {INNER_SPLITS}-fold grid search over "
            f"{MOE_N_EXPERTS_GRID} (or fixed by --n-experts)"),
    "HME": (f"HierarchicalMixtureOfExperts{{Regressor,Classifier}}, binary, "
            f"standardised inputs; depth by an inner "
            f"{INNER_SPLITS}-fold grid search over {HME_DEPTH_GRID} (or fixed by "
            f"--depth)"),
    "CART": (f"DecisionTree{{Regressor,Classifier}}, max_depth and "
             f"min_samples_leaf by an inner {INNER_SPLITS}-fold grid search"),
    "Stacking": ("Stacking{Regressor,Classifier} of a linear model, CART and "
                 "k-NN (standardised), a linear model on top"),
    "GradientBoosting": "HistGradientBoosting{Regressor,Classifier}, defaults",
    "Linear": ("LinearRegression, or LogisticRegression on standardised "
               "inputs"),
}
