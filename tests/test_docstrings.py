"""numpydoc validation of the public API, and documented = fitted attributes.

Validated: every name in ``skmoe.__all__`` and the public methods of its
classes, every function of ``skmoe.datasets`` and ``skmoe.plotting``, and the
command line's ``main`` and ``build_parser``. Methods that a class inherits
from scikit-learn (``get_params``, ``score``, ``set_*_request``, ...) are
scikit-learn's docstrings and are not validated here.

Every public class and function must have an Examples section (they run as
doctests: ``pytest --doctest-modules skmoe``); methods need not.
"""

import importlib
import inspect
import re
import warnings

import numpy as np
import pytest
from sklearn.base import ClassifierMixin, clone, is_classifier
from sklearn.exceptions import ConvergenceWarning

numpydoc_validate = pytest.importorskip("numpydoc.validate")

import skmoe  # noqa: E402
import skmoe.datasets  # noqa: E402
import skmoe.plotting  # noqa: E402

#: numpydoc checks skipped everywhere, with the reason.
IGNORED = {
    "GL01": "the summary may start on the line of the opening quotes",
    "GL02": "the closing quotes may follow the last line",
    "ES01": "an extended summary is welcome, not required",
    "SA01": "a See Also section is welcome, not required",
    "RT02": "single return values are named ('self : object'), as in "
            "scikit-learn; numpydoc's format allows names",
}
#: Further checks skipped for methods (classes and functions keep them).
IGNORED_FOR_METHODS = {
    "EX01": "the class's Examples show its methods; methods need no own",
}


def _public_paths():
    """Import paths of the public objects and of their own public methods."""
    paths = [f"skmoe.{n}" for n in skmoe.__all__ if not n.startswith("__")]
    paths += [f"skmoe.datasets.{n}" for n in skmoe.datasets.__all__]
    paths += [f"skmoe.plotting.{n}" for n in skmoe.plotting.__all__]
    paths += ["skmoe.__main__.main", "skmoe.__main__.build_parser"]
    methods = []
    for path in paths:
        obj = _resolve(path)
        if not inspect.isclass(obj):
            continue
        for name in sorted(dir(obj)):
            if name.startswith("_"):
                continue
            attr = inspect.getattr_static(obj, name)
            func = getattr(attr, "fget", attr)  # properties: their getter
            if not callable(func) or isinstance(func, type):
                continue
            module = getattr(inspect.unwrap(func), "__module__", "") or ""
            if module.split(".")[0] != "skmoe":
                continue  # inherited from scikit-learn
            methods.append(f"{path}.{name}")
    return paths, methods


def _resolve(path):
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError:  # a method: resolve the class first
        return getattr(_resolve(module), name)


OBJECTS, METHODS = _public_paths()


def _errors(path, ignored):
    result = numpydoc_validate.validate(path)
    return [f"{code}: {msg}" for code, msg in result["errors"]
            if code not in ignored]


@pytest.mark.parametrize("path", OBJECTS)
def test_public_object_docstring(path):
    errors = _errors(path, IGNORED)
    assert not errors, f"{path}:\n  " + "\n  ".join(errors)


@pytest.mark.parametrize("path", METHODS)
def test_public_method_docstring(path):
    errors = _errors(path, {**IGNORED, **IGNORED_FOR_METHODS})
    assert not errors, f"{path}:\n  " + "\n  ".join(errors)


def test_every_public_object_is_validated():
    """The lists above are not empty and cover the estimators' main methods."""
    assert "skmoe.MixtureOfExpertsRegressor" in OBJECTS
    for method in ("fit", "predict", "predict_gate", "responsibilities",
                   "score_samples", "bic", "aic", "sample"):
        assert f"skmoe.MixtureOfExpertsRegressor.{method}" in METHODS
    assert "skmoe.MixtureOfExpertsRegressor.get_params" not in METHODS
    assert "skmoe.plotting.plot_gate" in OBJECTS
    assert "skmoe.datasets.load_mcycle" in OBJECTS


# ------------------------------------------------- documented = fitted
ESTIMATORS = [
    _resolve(p) for p in OBJECTS
    if inspect.isclass(_resolve(p)) and hasattr(_resolve(p), "fit")
]


def _documented_attributes(cls):
    """Names in the Attributes section of the class docstring."""
    from numpydoc.docscrape import ClassDoc

    names = set()
    for item in ClassDoc(cls, config={"show_class_members": False})["Attributes"]:
        names.update(n.strip() for n in item.name.split(","))
    return names


def _fitted_attributes(est):
    return {a for a in vars(est) if a.endswith("_") and not a.startswith("_")}


def _data(classifier):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 2))
    if classifier:
        y = (X[:, 0] + 0.5 * rng.standard_normal(120) > 0).astype(int)
    else:
        y = np.where(X[:, 0] > 0, 2 * X[:, 1], -X[:, 1])
        y = y + 0.1 * rng.standard_normal(120)
    return X, y


def _configurations(est):
    """The estimator under each option that adds or removes attributes."""
    params = est.get_params()
    configs = [est]
    if "gate" in params:
        configs.append(clone(est).set_params(gate="gaussian"))
    if "expert" in params:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        tree = (DecisionTreeClassifier if is_classifier(est)
                else DecisionTreeRegressor)(max_depth=2)
        configs.append(clone(est).set_params(expert=tree))
    return configs


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_documented_attributes_are_the_fitted_ones(cls):
    """Every fitted attribute is documented, and every documented attribute
    is set by some configuration (``feature_names_in_`` by a DataFrame)."""
    pd = pytest.importorskip("pandas")
    documented = _documented_attributes(cls)
    X, y = _data(issubclass(cls, ClassifierMixin))
    seen = set()
    for i, est in enumerate(_configurations(cls(random_state=0, max_iter=5))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                est.fit(pd.DataFrame(X, columns=["a", "b"]), y)
            except ValueError:
                if i == 0:
                    raise
                continue  # an option this estimator refuses (e.g. an HME's
                # localised gate): it sets no attributes to check
        fitted = _fitted_attributes(est)
        undocumented = fitted - documented
        assert not undocumented, (
            f"{cls.__name__}{_options(est)} sets undocumented attributes "
            f"{sorted(undocumented)}")
        seen |= fitted
    never = documented - seen
    assert not never, (
        f"{cls.__name__} documents attributes no fit sets: {sorted(never)}")


def _options(est):
    changed = {k: v for k, v in est.get_params(deep=False).items()
               if k in ("gate", "expert") and not isinstance(v, str)
               or k == "gate" and v != "softmax"}
    return "" if not changed else "(" + ", ".join(
        f"{k}={re.sub(r'[(].*', '(...)', repr(v))}" for k, v in changed.items()) + ")"


def test_shared_entries_are_filled_in():
    """Docstrings that name shared entries (``skmoe.utils._docstrings``) get
    their text: no marker is left, and each shared entry reads as written."""
    from skmoe.utils._docstrings import _ENTRIES

    for name in ("MixtureOfExpertsRegressor", "MixtureOfExpertsClassifier",
                 "HierarchicalMixtureOfExpertsRegressor",
                 "HierarchicalMixtureOfExpertsClassifier"):
        doc = getattr(skmoe, name).__doc__
        assert not re.search(r"^ *\{[\w ]+\}$", doc, flags=re.M), name
        for entry in ("max_iter", "tol", "n_init", "n_iter_"):
            text = "\n".join("    " + line if line else line
                             for line in _ENTRIES[entry].split("\n"))
            assert text in doc, (name, entry)
