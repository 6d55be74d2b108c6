"""How small p-values are written: never 0 in text, every significant digit in JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from study_app.stats.agreement import ErrorConsistencyResult
from study_app.stats.results import format_pvalue, format_value, is_pvalue, json_records
from tests.stats.builders import model_beyond_people


def test_pvalues_below_1e16_are_never_written_as_0():
    assert format_pvalue(0.0) == format_pvalue(3e-17) == format_pvalue(np.float64(1e-300)) == "< 1e-16"
    assert format_pvalue(2.0123e-11) == format_value(2.0123e-11) == "2.012e-11"
    assert format_pvalue(0.5) == "0.5" and format_pvalue(float("nan")) == "n/a"
    assert all(map(is_pvalue, ("pvalue", "pvalue_holm", "mcnemar_p", "mcnemar_midp", "gee_p", "spearman_p")))
    assert not any(map(is_pvalue, ("pvalue_method", "kappa", "n_boot", "error_b")))


def test_result_summary_writes_a_zero_pvalue_as_below_1e16():
    result = ErrorConsistencyResult("A", "B", 10, 0.5, 0.5, 1.0, 0.5, 1.0, -1.0, 1.0, np.nan, np.nan, "", 0.0)
    assert "pvalue                < 1e-16" in result.summary()


def test_json_records_keep_significant_digits():
    # an exact McNemar p of 3 vs 48 discordant images: 2 P(X <= 3), X ~ Bin(51, 1/2)
    tiny = 2 * sum(math.comb(51, k) for k in range(4)) / 2**51
    table = pd.DataFrame({"pvalue": [tiny, np.nan, 0.25], "n": [1, 2, 3], "test": ["a", "b", "c"]})
    assert pd.DataFrame(json.loads(table.to_json(orient="records")))["pvalue"][0] == 0.0  # what pandas wrote
    records = json.loads(json.dumps(json_records(table)))
    assert records[0]["pvalue"] == tiny and 1e-11 < tiny < 1e-10
    assert records[1]["pvalue"] is None and records[2] == {"pvalue": 0.25, "n": 3, "test": "c"}


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _subclasses(direct))]


def test_every_result_dataclass_keeps_the_short_repr():
    from study_app.stats import conditions, error_taxonomy, psychometric
    from study_app.stats.results import Result

    assert conditions and error_taxonomy and psychometric  # imported for their result classes

    found = [cls for cls in _subclasses(Result) if "__dataclass_params__" in cls.__dict__]
    assert len(found) >= 20
    generated = [cls.__name__ for cls in found if cls.__dataclass_params__.repr]  # type: ignore[attr-defined]
    assert not generated, f"declare these with @dataclass(frozen=True, repr=False): {generated}"


def _comparison():
    from study_app.stats import compare

    return compare(model_beyond_people(), rule="top-1", k=1, n_boot=200)


def test_a_comparison_repr_names_what_it_holds_in_a_few_lines():
    result = _comparison()
    text = repr(result)
    assert len(text.splitlines()) <= 6 and len(text) < 800
    assert text.startswith(
        "<Comparison: top-1 rule (k = 1), alpha 0.05, 200 bootstrap replicates; phases test; 2 annotator(s), 1 model(s)"
    )
    assert f"paired[{len(result.paired)}x{len(result.paired.columns)}]" in text and "empty: models" in text
    assert "P1" not in text  # names tables, never their rows


def test_a_comparison_shows_its_summary_as_html_in_a_notebook():
    result = _comparison()
    summary = result.summary()
    assert isinstance(summary, str) and repr(summary) == str(summary)  # a console echoes the text, not a quoted string
    html = result._repr_html_()
    assert html == summary._repr_html_() and html.startswith("<h4>Human vs model comparison: top-1 rule")
    for title in (
        "Error rates on the shared images",
        "Paired comparisons on shared images",
        "Error consistency (kappa",
    ):
        assert title in summary and f"<p><b>{title}" in html
    assert html.count("<table") == summary.count("\nphase ")  # one HTML table per table of the text
    assert set(result.tables()) == {
        "rates",
        "paired",
        "population",
        "models",
        "consistency",
        "consistency_differences",
        "label_agreement",
        "classes",
        "class_correlation",
        "confusions",
        "trend",
        "response_times",
    }


def test_a_test_result_repr_is_its_fields_with_tables_by_size():
    result = ErrorConsistencyResult("A", "B", 10, 0.5, 0.5, 1.0, 0.5, 1.0, -1.0, 1.0, np.nan, np.nan, "", 0.0)
    assert repr(result).startswith(
        "ErrorConsistencyResult(rater_a='A', rater_b='B', n_images=10,"
    ) and "pvalue=< 1e-16" in repr(result)
    html = result._repr_html_()
    assert (
        html.startswith("<h4>Error consistency (Geirhos et al. 2020)")
        and "<td style='text-align:left'>&lt; 1e-16</td>" in html
    )
    assert result.summary()._repr_html_() == html
