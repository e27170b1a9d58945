"""The one place where skmoe imports scikit-learn's private helpers.

scikit-learn does not promise these names across releases; keeping every import
here means a rename upstream is fixed in one file.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "validate_data",
]
