"""Study planning: Connor's formula by hand, exact power by enumeration, simulation by theory."""

from __future__ import annotations

import math

import pytest
from scipy.stats import multinomial, norm
from statsmodels.stats.contingency_tables import mcnemar

from study_app.errors import StudyError
from study_app.stats import mcnemar_power, mcnemar_sample_size, plan_study, simulated_power


def test_connor_formula_by_hand():
    # p_h = .10, p_m = .05, discordance .11: d = .05,
    # n = (1.95996 sqrt(.11) + 0.84162 sqrt(.11 - .0025))^2 / .0025 = 342.98 -> 343.
    z_alpha, z_power = norm.isf(0.025), norm.ppf(0.8)
    expected = (z_alpha * math.sqrt(0.11) + z_power * math.sqrt(0.11 - 0.05**2)) ** 2 / 0.05**2
    assert expected == pytest.approx(342.98, abs=0.01)
    assert mcnemar_sample_size(0.10, 0.05, 0.11) == 343
    # independent errors: discordance .1 * .95 + .05 * .9 = .14, which needs more images
    assert mcnemar_sample_size(0.10, 0.05) > 343


def test_exact_power_equals_enumeration_with_statsmodels():
    n, human, model, discordance = 14, 0.3, 0.1, 0.3
    human_only, model_only = (discordance + human - model) / 2, (discordance - human + model) / 2
    power = 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            if mcnemar([[0, b], [c, 0]], exact=True).pvalue <= 0.05:
                power += multinomial.pmf([b, c, n - b - c], n, [human_only, model_only, 1 - discordance])
    assert mcnemar_power(n, human, model, discordance) == pytest.approx(power, rel=1e-9)


def test_simulated_power_matches_the_normal_theory_of_its_test():
    # One annotator: per-image differences are -1, 0, 1 with mean .05 and variance .11 - .05^2;
    # the t-test's power at n = 343 is about Phi(.05 sqrt(343) / sqrt(.1075) - 1.96) = 0.806.
    theory = norm.cdf(0.05 * math.sqrt(343) / math.sqrt(0.1075) - norm.isf(0.025))
    assert simulated_power(343, 1, 0.10, 0.05, 0.11, n_sim=4000, seed=1) == pytest.approx(theory, abs=0.03)
    more_people = simulated_power(343, 5, 0.10, 0.05, 0.11, n_sim=2000, seed=1)
    assert more_people > theory


def test_plan_table_and_clear_errors():
    plan = plan_study(0.10, 0.05, 0.11, annotators=[3, 1], n_sim=500)
    table = plan.table.set_index("annotators")
    assert table.loc[1, "n_images"] >= 343 and table.loc[1, "power"] >= 0.8
    assert table.loc[3, "n_images"] < table.loc[1, "n_images"] and table.loc[3, "power"] >= 0.8
    assert "exact McNemar" in table.loc[1, "method"] and "simulation" in table.loc[3, "method"]
    assert "n_images" in plan.summary()
    with pytest.raises(StudyError, match="no difference"):
        plan_study(0.1, 0.1)
    with pytest.raises(StudyError, match="discordance 0.01 is impossible"):
        plan_study(0.1, 0.05, 0.01)


def test_large_plans_search_by_bisection_and_huge_ones_give_the_formula(monkeypatch):
    import study_app.stats.planning as planning

    args = (0.10, 0.07, 0.13, 0.05, 0.8)
    start = mcnemar_sample_size(*args[:3])
    smallest, _ = planning.exact_mcnemar_sample_size(start, *args)  # below the limit: each n in turn
    monkeypatch.setattr(planning, "LINEAR_SEARCH_LIMIT", 0)
    found, power = planning.exact_mcnemar_sample_size(start, *args)
    assert power >= 0.8 and mcnemar_power(found - 1, *args[:4]) < 0.8  # the first n past a shortfall
    assert smallest <= found <= smallest * 1.02  # the saw-tooth may hide a smaller n, never by much
    monkeypatch.setattr(planning, "EXACT_POWER_LIMIT", start - 1)
    row = plan_study(*args[:3]).table.iloc[0]
    assert row["n_images"] == start and math.isnan(row["power"]) and "Connor 1987 formula" in row["method"]
    several = plan_study(*args[:3], annotators=[1, 3]).table
    assert several["n_images"].iloc[0] == start and math.isnan(several["n_images"].iloc[1])
    assert several["method"].iloc[1].startswith("not simulated")
    assert "optimistic" in plan_study(0.3, 0.1, annotators=[2], n_sim=200).table.iloc[0]["method"]
