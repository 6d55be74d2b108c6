"""Human-vs-machine accuracy studies on image classification.

The public Python API, for notebooks and scripts (the command line runs the same code)::

    import study_app as sa

    study = sa.load_study("demo-digits")
    data = sa.load_raters(study, phases=["test"])   # or sa.load_raters(truth=..., answers=..., predictions=[...])
    result = sa.compare(data)                        # alpha=, rule=, k=, n_boot=, seed=: keyword-only
    result.summary()
    result.tables()["paired"]
    sa.write_report(data, out="report/")

Every name loads on first use: ``import study_app`` costs no pandas, SciPy or Qt, so the
annotation app, which imports this package first, starts as fast as without the API.
The layers below (``protocol``, ``store``, ``stats``, ``analysis``, ``report``, ...) are
described in ``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from study_app.lazy import lazy_attributes, lazy_names
from study_app.version import __version__ as __version__

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads them
    # (`name as name` marks each as re-exported: __all__ below is computed, so tools cannot read it)
    from study_app.analysis.raters import RaterInputs as RaterInputs
    from study_app.api import compare as compare, load_raters as load_raters, write_report as write_report
    from study_app.errors import StudyError as StudyError
    from study_app.protocol.study import Study as Study, load_study as load_study
    from study_app.stats.compare import Comparison as Comparison
    from study_app.stats.planning import plan_study as plan_study
    from study_app.store import ResultsStore as ResultsStore, answers_frame as answers_frame

_LAZY = {
    "protocol.study": ("Study", "load_study"),
    "api": ("compare", "load_raters", "write_report"),
    "analysis.raters": ("RaterInputs",),
    "stats.compare": ("Comparison",),
    "stats.planning": ("plan_study",),
    "store": ("ResultsStore", "answers_frame"),
    "errors": ("StudyError",),
}
__all__ = ["__version__", *lazy_names(_LAZY)]
__getattr__ = lazy_attributes(__name__, _LAZY)


def __dir__() -> list[str]:
    """The public names and the sub-packages loaded so far (what tab completion offers)."""
    return sorted({*__all__, *(name for name, value in globals().items() if isinstance(value, ModuleType))})
