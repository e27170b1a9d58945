"""The EM driver: one run from one start, pure (parameters in, result out)."""

from dataclasses import dataclass

import numpy as np

# A drop of the penalised log-likelihood larger than this (relative) is a bug.
MONOTONE_RTOL = 1e-8
_MAX_HALVINGS = 30


@dataclass
class EMResult:
    params: object
    log_likelihoods: list  # mean penalised log-likelihood, start then per iteration
    n_iter: int
    converged: bool
    collapsed: tuple  # experts that had no posterior mass at some iteration
    max_drop: float  # largest relative decrease seen (0 when monotone)


def run_em(model, data, params, *, max_iter, tol, min_mass=0.0, callback=None):
    """Run EM from ``params`` until the mean log-likelihood changes by < ``tol``.

    Each iteration takes the M-step from the statistics of the last pass, then
    one pass (E-step and statistics) with the new parameters. Some parts of the
    M-step are exact maximisers (Gaussian experts, the localised gate), others
    one step (the softmax gates' Newton step, the IRLS step of logistic or
    Poisson experts) or a fit that is not a maximiser (an estimator expert);
    if the penalised log-likelihood falls, the inexact parts are moved back
    (``model.interpolate``, the step halved) until it does not, ending at their
    old values, where EM guarantees no decrease.

    Parameters
    ----------
    model : MixtureModel
    data : FitData
    params : Params
        Starting parameters.
    max_iter : int
        Maximum number of EM iterations (0 evaluates the start only).
    tol : float
        Tolerance on the change of the mean per-sample penalised log-likelihood.
    min_mass : float
        Experts whose posterior mass is at most this keep their parameters.
    callback : callable, optional
        ``callback(n_iter, mean_loglik, delta)`` after every iteration.

    Returns
    -------
    EMResult
    """
    total_w = data.total_weight
    stats = model.statistics(data, params)
    ll = model.objective(stats, params)
    _check_finite(ll)
    history = [ll / total_w]
    converged = False
    collapsed = set()
    max_drop = 0.0
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        new, lost = model.m_step(stats, params, min_mass)
        collapsed.update(lost)
        stats = model.statistics(data, new)
        ll_new = model.objective(stats, new)
        if not ll_new >= ll - MONOTONE_RTOL * abs(ll):
            new, stats, ll_new = _backtrack(model, data, params, new, ll)
        _check_finite(ll_new)
        if ll_new < ll:
            max_drop = max(max_drop, (ll - ll_new) / max(abs(ll), 1e-300))
        delta = (ll_new - ll) / total_w
        params, ll = new, ll_new
        history.append(ll / total_w)
        if callback is not None:
            callback(n_iter, history[-1], delta)
        if abs(delta) < tol:
            converged = True
            break
    return EMResult(params, history, n_iter, converged, tuple(sorted(collapsed)),
                    max_drop)


def _backtrack(model, data, old, new, ll_old):
    """Halve the inexact steps until the objective is back above ``ll_old``."""
    t = 1.0
    for i in range(_MAX_HALVINGS + 1):
        t = 0.5 * t if i < _MAX_HALVINGS else 0.0
        trial = model.interpolate(old, new, t)
        stats = model.statistics(data, trial)
        ll = model.objective(stats, trial)
        if ll >= ll_old - MONOTONE_RTOL * abs(ll_old):
            break
    return trial, stats, ll


def _check_finite(ll):
    if not np.isfinite(ll):
        raise FloatingPointError(
            "the log-likelihood is not finite; scale X and y (e.g. with "
            "StandardScaler) or increase alpha and reg_var"
        )
