"""Fuzzing: 10,000 mutated protocol folders and prediction files, and random TOML documents,
give only our clear errors (StudyError and its kinds), never another exception.

A longer run: ``python -m tests.reliability.fuzz --cases 100000 --seed 10000``.
"""

from __future__ import annotations

import json
import math
import shutil

from hypothesis import HealthCheck, given, settings, strategies as st

from study_app.errors import StudyError
from study_app.protocol.study import _IMAGES, _LABELS, _PHASE, _PRESENTATION, _TOP, load_study
from tests.reliability import fuzz

CI_CASES = 10_000


def test_ten_thousand_mutated_files_give_only_clear_errors():
    done, failures = fuzz.run_parallel(CI_CASES, first_seed=0)
    assert done == CI_CASES
    assert not failures, "\n\n".join(f"seed {f.seed} ({f.target}):\n{f.error}" for f in failures[:3])


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


SCALARS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "labels.csv",
            "manifest.csv",
            "train",
            "test",
            "ranked",
            "multi-label",
            "random",
            "fixed",
            "../x",
            "/etc/passwd",
            "instructions.md",
        ]
    ),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))


def table(schema, extra_keys=("nmae", "split_", "answer")):
    keys = st.sampled_from(sorted(schema) + list(extra_keys))
    return st.dictionaries(keys, VALUES, max_size=len(schema) + 1)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    top=table(_TOP, ("nmae", "title_")),
    labels=table(_LABELS),
    images=table(_IMAGES),
    phases=st.lists(table(_PHASE), max_size=3),
    presentation=st.none() | table(_PRESENTATION),
)
def test_random_toml_documents_give_only_clear_errors(tiny_study, top, labels, images, phases, presentation):
    """Property: any TOML document built from the protocol's keys (and near misses) with values of
    any type either loads or is refused with located problems."""
    lines = [
        f"{k} = {toml_value(v)}" for k, v in top.items() if k not in ("labels", "images", "phases", "models", "keys")
    ]
    for header, body in (("[labels]", labels), ("[images]", images)):
        lines += [header, *(f"{k} = {toml_value(v)}" for k, v in body.items() if k != "presentation")]
    for phase in phases:
        lines += ["[[phases]]", *(f"{k} = {toml_value(v)}" for k, v in phase.items() if k != "presentation")]
        if presentation is not None:
            lines += ["[phases.presentation]", *(f"{k} = {toml_value(v)}" for k, v in presentation.items())]
    original = (tiny_study / "study.toml").read_text()
    (tiny_study / "study.toml").write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    try:
        load_study(tiny_study, check_images=False)
    except StudyError as exc:
        assert str(exc).strip()
        for problem in getattr(exc, "problems", []):
            assert problem.file and problem.message
    finally:
        (tiny_study / "study.toml").write_text(original)
    shutil.rmtree(tiny_study / "results", ignore_errors=True)
