"""How small p-values are written: never 0 in text, every significant digit in JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from study_app.stats.agreement import ErrorConsistencyResult
from study_app.stats.results import format_pvalue, format_value, is_pvalue, json_records


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
