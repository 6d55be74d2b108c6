"""Study planning: Connor's formula by hand, exact power by enumeration, simulation by theory,
correlated annotators measured with the library's error consistency."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multinomial, norm
from statsmodels.stats.contingency_tables import mcnemar

from study_app.cli.main import main
from study_app.errors import StudyError
from study_app.stats import (
    error_consistency_table,
    implied_consistency,
    mcnemar_power,
    mcnemar_sample_size,
    plan_study,
    simulated_errors,
    simulated_power,
)


def test_connor_formula_by_hand():
    # p_h = .10, p_m = .05, discordance .11: d = .05,
    # n = (1.95996 sqrt(.11) + 0.84162 sqrt(.11 - .0025))^2 / .0025 = 342.98 -> 343.
    z_alpha, z_power = norm.isf(0.025), norm.ppf(0.8)
    expected = (z_alpha * math.sqrt(0.11) + z_power * math.sqrt(0.11 - 0.05**2)) ** 2 / 0.05**2
    assert expected == pytest.approx(342.98, abs=0.01)
    assert mcnemar_sample_size(0.10, 0.05, discordance=0.11) == 343
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
    assert mcnemar_power(n, human, model, discordance=discordance) == pytest.approx(power, rel=1e-9)


def test_simulated_power_matches_the_normal_theory_of_its_test():
    # One annotator: per-image differences are -1, 0, 1 with mean .05 and variance .11 - .05^2;
    # the t-test's power at n = 343 is about Phi(.05 sqrt(343) / sqrt(.1075) - 1.96) = 0.806.
    theory = norm.cdf(0.05 * math.sqrt(343) / math.sqrt(0.1075) - norm.isf(0.025))
    assert simulated_power(343, 1, 0.10, 0.05, discordance=0.11, n_sim=4000, seed=1) == pytest.approx(theory, abs=0.03)
    more_people = simulated_power(343, 5, 0.10, 0.05, discordance=0.11, n_sim=2000, seed=1)
    assert more_people > theory


def test_plan_table_and_clear_errors():
    plan = plan_study(0.10, 0.05, discordance=0.11, annotators=[3, 1], n_sim=500)
    table = plan.table.set_index("annotators")
    assert table.loc[1, "n_images"] >= 343 and table.loc[1, "power"] >= 0.8
    assert table.loc[3, "n_images"] < table.loc[1, "n_images"] and table.loc[3, "power"] >= 0.8
    assert "exact McNemar" in table.loc[1, "method"] and "simulation" in table.loc[3, "method"]
    assert "n_images" in plan.summary()
    with pytest.raises(StudyError, match="no difference"):
        plan_study(0.1, 0.1)
    with pytest.raises(StudyError, match="discordance 0.01 is impossible"):
        plan_study(0.1, 0.05, discordance=0.01)


def test_large_plans_search_by_bisection_and_huge_ones_give_the_formula(monkeypatch):
    import study_app.stats.planning as planning

    errors, settings = (0.10, 0.07), {"discordance": 0.13, "alpha": 0.05, "power": 0.8}
    start = mcnemar_sample_size(*errors, discordance=0.13)
    smallest, _ = planning.exact_mcnemar_sample_size(start, *errors, **settings)  # below the limit: each n in turn
    monkeypatch.setattr(planning, "LINEAR_SEARCH_LIMIT", 0)
    found, power = planning.exact_mcnemar_sample_size(start, *errors, **settings)
    assert (
        power >= 0.8 and mcnemar_power(found - 1, *errors, discordance=0.13, alpha=0.05) < 0.8
    )  # the first n past a shortfall
    assert smallest <= found <= smallest * 1.02  # the saw-tooth may hide a smaller n, never by much
    monkeypatch.setattr(planning, "EXACT_POWER_LIMIT", start - 1)
    row = plan_study(*errors, discordance=0.13).table.iloc[0]
    assert row["n_images"] == start and math.isnan(row["power"]) and "Connor 1987 formula" in row["method"]
    several = plan_study(*errors, discordance=0.13, annotators=[1, 3]).table
    assert several["n_images"].iloc[0] == start and math.isnan(several["n_images"].iloc[1])
    assert several["method"].iloc[1].startswith("not simulated")
    assert "optimistic" in plan_study(0.3, 0.1, annotators=[2], n_sim=200).table.iloc[0]["method"]


def simulated_raters(model_wrong: np.ndarray, human_wrong: np.ndarray) -> pd.DataFrame:
    """One simulated study as a rater table: annotators h0, h1, ... and the model."""
    n_images, n_annotators = human_wrong.shape
    images = [f"img{i}" for i in range(n_images)]
    parts = [
        pd.DataFrame({"rater": f"h{j}", "kind": "human", "image_id": images, "correct_topk": ~human_wrong[:, j]})
        for j in range(n_annotators)
    ]
    parts.append(pd.DataFrame({"rater": "model", "kind": "model", "image_id": images, "correct_topk": ~model_wrong}))
    return pd.concat(parts, ignore_index=True).assign(phase="test", condition="")


@pytest.mark.parametrize("consistency", [None, 0.2, 0.43, 0.8, 1.0])
def test_simulated_annotators_have_the_requested_error_consistency(consistency):
    """On 20,000 images x 4 annotators, the human-human kappa (the library's error consistency)
    is within 0.02 of the request (its SE is about 0.01 per pair), and every annotator keeps
    the planned error and discordance with the model (SEs about 0.002)."""
    model_wrong, human_wrong = simulated_errors(
        20_000, 4, 0.10, 0.05, discordance=0.11, human_consistency=consistency, rng=np.random.default_rng(3)
    )
    table = error_consistency_table(simulated_raters(model_wrong[0], human_wrong[0]))
    people = table[(table["kind_a"] == "human") & (table["kind_b"] == "human")]
    expected = implied_consistency(0.10, 0.05, discordance=0.11) if consistency is None else consistency
    assert len(people) == 6 and people["kappa"].mean() == pytest.approx(expected, abs=0.02)
    assert human_wrong.mean(axis=(0, 1)) == pytest.approx([0.10] * 4, abs=0.008)
    discordance = (human_wrong[0] != model_wrong[0][:, None]).mean(axis=0)
    assert discordance == pytest.approx([0.11] * 4, abs=0.008)


def test_the_implied_consistency_by_hand():
    # both wrong .02: P(human wrong | model wrong) = .4, | model right = .08 / .95;
    # kappa_0 = .05 * .95 * (.4 - .0842105)^2 / (.1 * .9) = .0526316
    assert implied_consistency(0.10, 0.05, discordance=0.11) == pytest.approx(
        0.05 * 0.95 * (0.4 - 0.08 / 0.95) ** 2 / 0.09, rel=1e-12
    )
    assert implied_consistency(0.10, 0.05) == pytest.approx(0.0, abs=1e-15)  # independent of the model: none
    with pytest.raises(StudyError, match="consistency 0.03 is impossible here.*between 0.0526 and 1"):
        plan_study(0.10, 0.05, discordance=0.11, annotators=[3], human_consistency=0.03)


def test_power_falls_as_annotators_agree_more_as_normal_theory_says():
    """The per-image difference D = mean human error - model error has variance
    p_h (1 - p_h) (kappa + (1 - kappa) / k) + p_m (1 - p_m) - 2 (both - p_h p_m), so the
    t-test's power is about Phi(d sqrt(n) / sd(D) - z): it falls as kappa rises, from 0.89
    at kappa 0.2 to 0.62 at kappa 0.9 (5 annotators, 204 images). The simulation follows
    within 0.03 (Monte Carlo SD 0.01 at 2,000 studies)."""
    n, k, both = 204, 5, 0.02
    powers = []
    for kappa in (0.2, 0.43, 0.6, 0.9):
        spread = math.sqrt(0.09 * (kappa + (1 - kappa) / k) + 0.05 * 0.95 - 2 * (both - 0.005))
        theory = norm.cdf(0.05 * math.sqrt(n) / spread - norm.isf(0.025))
        powers.append(simulated_power(n, k, 0.10, 0.05, discordance=0.11, n_sim=2000, seed=4, human_consistency=kappa))
        assert powers[-1] == pytest.approx(theory, abs=0.03)
    assert np.all(np.diff(powers) < -0.04)
    assert (
        simulated_power(n, k, 0.10, 0.05, discordance=0.11, n_sim=2000, seed=4) > powers[0] + 0.04
    )  # the old, optimistic default


def test_the_plan_needs_more_images_when_annotators_agree(capsys):
    optimistic = plan_study(0.10, 0.05, discordance=0.11, annotators=[1, 3], n_sim=500).table.set_index("annotators")
    realistic = plan_study(0.10, 0.05, discordance=0.11, annotators=[1, 3], n_sim=500, human_consistency=0.43)
    table = realistic.table.set_index("annotators")
    assert table.loc[1, "n_images"] == optimistic.loc[1, "n_images"]  # one annotator: exact McNemar, no consistency
    assert table.loc[3, "n_images"] > 1.3 * optimistic.loc[3, "n_images"] and table.loc[3, "power"] >= 0.8
    assert "error consistency 0.43" in table.loc[3, "method"] and "optimistic" not in table.loc[3, "method"]
    assert realistic.human_consistency == 0.43 and realistic.consistency_source == "requested"
    argv = [
        "plan",
        "--human-error",
        "0.1",
        "--model-error",
        "0.05",
        "--discordance",
        "0.11",
        "--annotators",
        "3",
        "--simulations",
        "500",
        "--human-consistency",
        "0.43",
        "--json",
    ]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["human_consistency"] == 0.43 and printed["table"][0]["n_images"] == table.loc[3, "n_images"]


def test_plan_json_keeps_every_digit_of_the_exact_power(capsys):
    exact = plan_study(0.051, 0.068, discordance=None, annotators=[1]).table.iloc[0]["power"]
    assert round(exact, 10) != exact  # a power with more than 10 decimals, which to_json would round
    assert main(["plan", "--human-error", "0.051", "--model-error", "0.068", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["table"][0]["power"] == exact
