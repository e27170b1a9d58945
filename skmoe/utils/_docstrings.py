"""Docstring entries shared word for word by the estimators.

An estimator's docstring names shared parameters or attributes by a line
``{name ...}`` alone (names separated by spaces), indented as the entries
would be; ``fill_docstring`` (a class decorator) puts the entries there, in
that order. Entries that differ between estimators, even by a word, stay
written out in each docstring.
"""

import re

_ENTRIES = {
    "n_experts": """\
n_experts : int, default=3
    Number of experts.""",
    "max_iter": """\
max_iter : int, default=200
    Maximum number of EM iterations per initialisation; 0 initialises only.""",
    "tol": """\
tol : float, default=1e-6
    EM stops when the mean per-sample penalised log-likelihood changes by
    less than ``tol``.""",
    "n_init": """\
n_init : int, default=1
    Number of initialisations; the best final log-likelihood is kept. One
    run only when ``init_params`` is an array (every run would start from
    it); "tree" starts alike every time up to 100,000 rows (CART sees
    every row), so several runs pay off with "kmeans" and "random".""",
    "random_state": """\
random_state : int, RandomState instance or None, default=None
    Seeds the initialisation.""",
    "verbose": """\
verbose : int, default=0
    1 prints each initialisation and every ``verbose_interval``-th
    iteration; 2 also the time and the log-likelihood change.""",
    "verbose_interval": """\
verbose_interval : int, default=10
    Iterations between progress lines.""",
    "n_jobs": """\
n_jobs : int, default=None
    Threads of the statistics pass of ``fit`` and of prediction (None: 1,
    -1: all cores); estimator experts predict on one thread.""",
    "gate_weights_": """\
gate_weights_ : ndarray of shape (n_experts,)
    Gaussian gate only: mixing weights ``a_k``.""",
    "gate_means_": """\
gate_means_ : ndarray of shape (n_experts, n_gate_features)
    Gaussian gate only: means ``m_k`` of the gate features (in increasing
    column order).""",
    "gate_covariances_": """\
gate_covariances_ : ndarray of shape (n_experts, n_gate_features, \
            n_gate_features) or (n_experts, n_gate_features)
    Gaussian gate only: covariances ``S_k`` ("full") or their diagonals.""",
    "converged_": """\
converged_ : bool
    Whether the best run reached ``tol``.""",
    "n_iter_": """\
n_iter_ : int
    EM iterations of the best run.""",
    "log_likelihoods_": """\
log_likelihoods_ : ndarray of shape (`n_iter_` + 1,)
    Its history: after initialisation, then after every iteration.""",
    "n_features_in_": """\
n_features_in_ : int
    Number of features seen during fit.""",
    "feature_names_in_": """\
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Names of features seen during fit, when ``X`` has string column names.""",
    "classes_": """\
classes_ : ndarray of shape (n_classes,)
    Class labels.""",
    "depth": """\
depth : int, default=2
    Number of levels of gates.""",
    "branching": """\
branching : int or sequence of int, default=2
    Branches of every gate: one int for all levels, or one per level
    (root first; its length must equal ``depth``). Each is at least 2;
    ``n_experts_ = prod(branching)`` (at most 65,536).""",
    "n_experts_": """\
n_experts_ : int
    Number of experts (leaves), ``prod(branching_)``.""",
    "branching_": """\
branching_ : tuple of int
    Branching factor of every level, root first.""",
    "node_gate_coef_": """\
node_gate_coef_ : list of ndarray of shape (branching, n_features)
    Per-gate view of ``gate_coef_``: gate ``j`` (breadth first).""",
    "node_gate_intercept_": """\
node_gate_intercept_ : list of ndarray of shape (branching,)
    Per-gate view of ``gate_intercept_``.""",
    "node_paths_": """\
node_paths_ : list of tuple of int
    Branches taken from the root to reach each gate (``()`` for the root).""",
    "expert_paths_": """\
expert_paths_ : ndarray of shape (`n_experts_`, depth)
    Branch taken at every level to reach each expert.""",
}

_MARKER = re.compile(r"^( *)\{([\w ]+)\}$")


def fill_docstring(cls):
    """Class decorator: each docstring line ``{name ...}`` becomes the shared
    entries it names, indented as the line was (no-op without docstrings)."""
    if cls.__doc__ is None:  # python -OO
        return cls
    lines = []
    for line in cls.__doc__.split("\n"):
        m = _MARKER.match(line)
        if m is None:
            lines.append(line)
            continue
        indent, names = m.groups()
        for name in names.split():
            lines += [indent + part if part else part
                      for part in _ENTRIES[name].split("\n")]
    cls.__doc__ = "\n".join(lines)
    return cls
