"""Documented ranges of numbers: one rule for protocol keys and command-line options alike.

A number that passes a check must be safe to use everywhere downstream: ``nan`` compares
false with everything (so ``value <= 0`` lets it through), ``inf`` and ``1e300``
overflow a ``QTimer`` or a ``timedelta``, and a huge integer exhausts memory. So a
:class:`Range` accepts only finite values between two inclusive bounds, and says so in
the same words wherever it refuses one: in ``validate`` (with file, line and field, see
:mod:`study_app.io.toml_check`), at parse time for the command line (:meth:`Range.option`,
a usage error with exit status 2) and for a keyword of the Python API (:meth:`Range.check`).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from study_app.errors import StudyError


def _show(number: float) -> str:
    """A bound as people write it: 10,000 rather than 10000.0."""
    return f"{number:,}" if float(number).is_integer() and abs(number) < 1e15 else f"{number:g}"


@dataclass(frozen=True)
class Range:
    """Finite numbers from ``low`` to ``high`` (both included); ``note`` explains a special value."""

    low: float
    high: float
    note: str = ""

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return self.low <= value <= self.high  # exact for integers of any size

    def describe(self) -> str:
        """``between 1 and 10`` (with the note), the wording every refusal uses."""
        text = f"between {_show(self.low)} and {_show(self.high)}"
        return f"{text} ({self.note})" if self.note else text

    def check(self, name: str, value: object, *, whole: bool = False) -> None:
        """Refuse the setting ``name`` (a keyword argument) when ``value`` is out of the range,
        or is not an integer where ``whole`` asks for one."""
        if value not in self or (whole and not isinstance(value, int)):
            raise StudyError(f"{name} must be {'an integer ' if whole else ''}{self.describe()}, not {value!r}")

    def option(self, kind: type = float):
        """An argparse ``type``: parses ``kind`` (int or float) and refuses what is not in the range."""
        wanted = "an integer" if kind is int else "a number"

        def parse(text: str) -> int | float:
            try:
                value = kind(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected {wanted} {self.describe()}, not {text!r}") from None
            if value not in self:
                raise argparse.ArgumentTypeError(f"must be {self.describe()}, not {text!r}")
            return value

        parse.__name__ = kind.__name__  # argparse names the type in its own messages
        return parse


# Ranges that several places share (a protocol key and a command-line option, or the
# options of several commands); each of the others is written where its key or option is.
#: A study's seed (``seed`` in study.toml, ``new-study --seed``): stored as an SQLite integer.
SEED = Range(-(2**63), 2**63 - 1, "a 64-bit integer")
#: Example images shown per class (``[labels] examples_per_class``, ``new-study --examples-per-class``).
EXAMPLES_PER_CLASS = Range(0, 100, "0: no examples shown")
#: Seeds of scripted answers, bootstraps and simulations (NumPy takes no negative seed).
RUN_SEED = Range(0, 2**63 - 1)
#: ``--alpha`` of compare and report: 1 - the confidence level.
ALPHA = Range(0.0001, 0.5)
#: ``--n-boot`` of compare and report.
N_BOOT = Range(100, 1_000_000)
#: ``--k`` of compare and report (a study asks for at most 10 guesses).
TOP_K = Range(1, 10)

#: ``--gallery-size`` of report: images per gallery.
GALLERY_SIZE = Range(0, 1000)
#: ``--top-rows`` of report: rows of a long table shown in the page.
TOP_ROWS = Range(1, 100_000)
