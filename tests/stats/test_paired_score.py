"""Tango's score interval of a paired difference: a reference implementation, hand-worked
limits, exact coverage, a seeded simulation through ``paired_comparisons``, the notes
where intervals and the exact test part, and Holm within families."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multinomial, norm

from study_app.stats import HUMANS, paired_comparisons
from study_app.stats.paired import HUMANS_VS_MODELS, MODELS_VS_MODELS
from study_app.stats.paired_score import tango_interval
from tests.stats.builders import correctness_table

REFERENCE = Path(__file__).parent / "reference" / "tango_reference.csv"


def test_agrees_with_the_contingencytables_r_package():
    """Limits from the R code of Fagerland, Lydersen & Laake's book (tango_reference.R),
    whose own tests print the Cavo et al. example as -0.1240 to -0.0054. R's root finder
    stops at a tolerance of 1e-7, so agreement is asked to 1e-6."""
    reference = pd.read_csv(REFERENCE)
    assert len(reference) == 16
    cavo = reference[(reference["n11"] == 59) & (reference["alpha"] == 0.05)].iloc[0]
    assert (round(cavo["tango_low"], 4), round(cavo["tango_high"], 4)) == (-0.1240, -0.0054)
    for alpha, rows in reference.groupby("alpha"):
        n = rows[["n11", "n12", "n21", "n22"]].sum(axis=1)
        low, high = tango_interval(rows["n12"], rows["n21"], n, alpha=alpha)
        np.testing.assert_allclose(low, rows["tango_low"], atol=1e-6)
        np.testing.assert_allclose(high, rows["tango_high"], atol=1e-6)


def test_hand_worked_limits():
    """No discordant image: T(d) = -sqrt(n d / (1 - d)) for d > 0, so the limits are
    +-z^2 / (n + z^2): 3.8415 / 18.8415 = 0.2039 on 15 images, never a point."""
    z2 = norm.isf(0.025) ** 2
    low, high = tango_interval([0], [0], [15])
    assert (low[0], high[0]) == pytest.approx((-z2 / (15 + z2), z2 / (15 + z2)), abs=1e-12)
    # at d = 0 the statistic is McNemar's (b - c) / sqrt(b + c): 4 vs 0 gives z = 2 > 1.96,
    # so the interval just excludes 0, and with 3 vs 0 (z = 1.73) it does not
    assert tango_interval([4], [0], [15])[0][0] > 0 > tango_interval([3], [0], [15])[0][0]
    # every image discordant one way: the upper limit is 1; no image at all: no interval
    assert tango_interval([15], [0], [15])[1][0] == 1.0 and tango_interval([0], [15], [15])[0][0] == -1.0
    assert np.isnan(tango_interval([0], [0], [0])).all()


def _exact_coverage(n: int, only_a_wrong: float, only_b_wrong: float, alpha: float = 0.05) -> float:
    """P(interval covers the true difference), summed over every (b, c) the trinomial can give."""
    b, c = (x.ravel() for x in np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"))
    b, c = b[b + c <= n], c[b + c <= n]
    probability = multinomial.pmf(
        np.column_stack([b, c, n - b - c]), n, [only_a_wrong, only_b_wrong, 1 - only_a_wrong - only_b_wrong]
    )
    low, high = tango_interval(b, c, np.full(len(b), n))
    truth = only_a_wrong - only_b_wrong
    return float(probability[(low <= truth) & (truth <= high)].sum())


@pytest.mark.parametrize("n", [15, 200])
def test_exact_coverage_at_least_093(n):
    """Coverage computed exactly (not simulated) over a grid of discordance probabilities.
    On a finer grid (0.01 to 0.45) the lowest is 0.940 (n = 200, 0.01 vs 0.03); at n = 15
    the interval is conservative (mean 0.978 here), at n = 200 close to nominal."""
    levels = (0.01, 0.05, 0.2, 0.45)
    coverages = [_exact_coverage(n, p, q) for p in levels for q in levels]
    assert min(coverages) >= 0.93
    assert np.mean(coverages) == (pytest.approx(0.978, abs=0.005) if n == 15 else pytest.approx(0.95, abs=0.005))


def _simulated_table(
    n_images: int, pairs: int, error_a: float, error_b: float, both_wrong: float, rng: np.random.Generator
) -> pd.DataFrame:
    """``pairs`` independent (annotator, model) pairs on their own ``n_images`` images each."""
    cells = rng.multinomial(
        1,
        [both_wrong, error_a - both_wrong, error_b - both_wrong, 1 - error_a - error_b + both_wrong],
        size=(pairs, n_images),
    ).argmax(axis=2)
    a_right, b_right = ~np.isin(cells, (0, 1)), ~np.isin(cells, (0, 2))
    blank = "." * n_images
    patterns = {}
    for i in range(pairs):  # pair i sees images i * n_images ... (i + 1) * n_images - 1 only
        before, after = blank * i, blank * (pairs - i - 1)
        patterns[f"a{i}"] = before + "".join("1" if r else "0" for r in a_right[i]) + after
        patterns[f"m{i}"] = before + "".join("1" if r else "0" for r in b_right[i]) + after
    return correctness_table(patterns, models=tuple(f"m{i}" for i in range(pairs)))


@pytest.mark.parametrize(
    ("n_images", "pairs", "error_a", "error_b", "both_wrong"),
    [
        (15, 300, 0.3, 0.2, 0.1),  # correlated errors
        (15, 300, 0.1, 0.1, 0.05),  # equal and rare: many tables with no discordant image
        (200, 120, 0.3, 0.25, 0.1),
    ],
)
def test_simulated_coverage_through_paired_comparisons(n_images, pairs, error_a, error_b, both_wrong):
    """End to end (sign of the difference included), seeded: the share of pairs whose score
    interval covers error_a - error_b. With 300 pairs the standard error of a 0.95 share is
    0.013, so >= 0.92 fails a true coverage of 0.93 or less only by chance; the bootstrap's
    coverage is recorded to show why it is no longer the primary interval."""
    rng = np.random.default_rng(26 + n_images)
    table = _simulated_table(n_images, pairs, error_a, error_b, both_wrong, rng)
    result = paired_comparisons(table, [(f"a{i}", f"m{i}") for i in range(pairs)], n_boot=200, seed=1, gee=False)
    assert result["n_images"].eq(n_images).all()
    truth = error_a - error_b
    covered = (result["score_low"] <= truth) & (truth <= result["score_high"])
    assert covered.mean() >= (0.92 if pairs >= 300 else 0.9)
    assert (result["score_low"] <= result["difference"]).all() and (result["difference"] <= result["score_high"]).all()


def test_identical_raters_get_an_interval_not_a_point():
    table = correctness_table({"A": "111101111011110", "m": "111101111011110"}, models=("m",))
    row = paired_comparisons(table, n_boot=200, gee=False).iloc[0]
    assert (row["boot_low"], row["boot_high"]) == (0, 0)  # the bootstrap cannot see past its sample
    assert row["score_low"] == pytest.approx(-0.2039, abs=1e-4) and row["score_high"] == pytest.approx(0.2039, abs=1e-4)
    assert row["note"] == ""


def test_notes_where_the_score_interval_and_the_exact_test_part():
    """The issue's case: 4 vs 0 discordant images of 15. Exact McNemar p = 2 / 16 = 0.125,
    Tango's interval (R: 0.0084 to 0.5195) just excludes 0; the bootstrap excludes it too."""
    table = correctness_table({"A": "000011111110000", "m": "111111111110000"}, models=("m",))
    row = paired_comparisons(table, n_boot=2000).iloc[0]
    assert (row["only_a_right"], row["only_b_right"], row["mcnemar_p"]) == (0, 4, pytest.approx(0.125))
    assert row["score_low"] == pytest.approx(0.0084144837, abs=1e-6)
    assert row["boot_low"] > 0
    assert row["note"] == "score interval excludes 0 but exact McNemar p >= alpha"
    # 3 vs 0 (p = 0.25): the score interval includes 0, the bootstrap's [0.0, 0.4] touches it: all agree
    three = paired_comparisons(
        correctness_table({"A": "000111111110000", "m": "111111111110000"}, models=("m",)), n_boot=2000
    ).iloc[0]
    assert three["score_low"] < 0 and three["boot_low"] == 0 and three["note"] == ""
    # 10 vs 3 of 15 (p = 0.092): the score interval just keeps 0, the percentile bootstrap does not
    ten = paired_comparisons(
        correctness_table({"A": "0" * 10 + "1" * 5, "m": "1" * 10 + "000" + "11"}, models=("m",)), n_boot=2000
    ).iloc[0]
    assert ten["mcnemar_p"] == pytest.approx(0.0923, abs=1e-4) and ten["score_low"] < 0 < ten["boot_low"]
    assert ten["note"] == "bootstrap and score intervals disagree on excluding 0"


def test_holm_within_families():
    """Two annotators, the pooled annotators and two models: the human-model McNemar p-values
    are one family of four tests (pooled "humans" has a GEE p, not McNemar), the model pair
    another of one, where Holm changes nothing."""
    table = correctness_table(
        {"A": "1110000000", "B": "1111100000", "m": "1101111110", "n": "1111111111"}, models=("m", "n")
    )
    result = paired_comparisons(table, n_boot=200).set_index(["rater_a", "rater_b"])
    humans = result[result["family"] == HUMANS_VS_MODELS]
    assert (
        len(humans) == 6 and humans.loc[(HUMANS, "m"), "mcnemar_p_holm"] != humans.loc[(HUMANS, "m"), "mcnemar_p_holm"]
    )  # NaN
    tested = humans["mcnemar_p"].dropna().sort_values()
    expected = np.minimum(1, np.maximum.accumulate(tested.to_numpy() * np.arange(len(tested), 0, -1)))
    np.testing.assert_allclose(humans.loc[tested.index, "mcnemar_p_holm"], expected)
    models = result.loc[("m", "n")]
    assert models["family"] == MODELS_VS_MODELS and models["mcnemar_p_holm"] == models["mcnemar_p"]
