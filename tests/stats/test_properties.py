"""Properties that must hold for any data (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from study_app.errors import StudyError
from study_app.stats import (
    PLURALITY_VOTE,
    error_consistency,
    error_consistency_table,
    error_rates,
    label_kappa,
    mcnemar_test,
)
from study_app.stats.raters import as_categories
from tests.stats.builders import top1_table

LABELS = "abc-"
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def rater_tables(draw, min_raters=2):
    """2-4 annotators and 1-2 models answering 1-12 images (labels a, b, c or no answer)."""
    n_images = draw(st.integers(1, 12))
    truth = draw(st.text(alphabet="abc", min_size=n_images, max_size=n_images))
    n_people, n_models = draw(st.integers(min_raters, 4)), draw(st.integers(1, 2))
    names = [f"A{i}" for i in range(n_people)] + [f"m{i}" for i in range(n_models)]
    answers = {name: draw(st.text(alphabet=LABELS, min_size=n_images, max_size=n_images)) for name in names}
    table = top1_table(answers, truth, models=tuple(n for n in names if n.startswith("m")))
    # annotators may skip some images (not shown to them), but every image keeps one viewer
    skipped = draw(st.lists(st.booleans(), min_size=len(table), max_size=len(table)))
    keep = ~np.array(skipped) | (table["rater"] == names[0]).to_numpy() | (table["kind"] == "model").to_numpy()
    return as_categories(table[keep].reset_index(drop=True))


@SETTINGS
@given(rater_tables())
def test_rates_are_proportions_and_intervals_contain_them(table):
    rates = error_rates(table, n_boot=200)
    assert rates["error_rate"].between(0, 1).all()
    for low, high in (("wilson_low", "wilson_high"), ("cp_low", "cp_high"), ("boot_low", "boot_high")):
        shown = rates[rates[low].notna()]
        assert (shown[low] >= -1e-12).all() and (shown[high] <= 1 + 1e-12).all()
        assert (shown[low] <= shown["error_rate"] + 1e-9).all() and (shown["error_rate"] <= shown[high] + 1e-9).all()


@SETTINGS
@given(rater_tables(), st.data())
def test_swapping_raters_keeps_kappa_and_a_rater_agrees_with_itself(table, data):
    names = sorted(table["rater"].astype(str).unique())
    a, b = data.draw(st.sampled_from(names)), data.draw(st.sampled_from(names))
    images = table.groupby("rater", observed=True)["image_id"].agg(lambda ids: set(ids.astype(str)))
    assume(images[a] & images[b])  # raters with no image in common have no agreement (a clear error: see below)
    forward, backward = error_consistency(table, a, b), error_consistency(table, b, a)
    assert np.isclose(forward.kappa, backward.kappa, equal_nan=True) and np.isclose(
        forward.pvalue, backward.pvalue, equal_nan=True
    )
    assert (forward.kappa_min, forward.kappa_max) == (backward.kappa_min, backward.kappa_max)
    assert error_consistency(table, a, a).kappa == 1
    assert forward.kappa_min - 1e-9 <= forward.kappa <= forward.kappa_max + 1e-9 or np.isnan(forward.kappa)
    assert np.isclose(label_kappa(table, a, b).kappa, label_kappa(table, b, a).kappa, equal_nan=True)
    ab, ba = mcnemar_test(table, a, b), mcnemar_test(table, b, a)
    assert (ab.pvalue, ab.midp_pvalue, ab.only_a_right) == (ba.pvalue, ba.midp_pvalue, ba.only_b_right)


def test_raters_who_share_no_image_are_a_clear_error():
    table = top1_table({"A0": "ab", "A1": "ab"}, "ab")
    first = table["image_id"] == table["image_id"].iloc[0]
    keep = ((table["rater"] == "A0") & ~first) | ((table["rater"] == "A1") & first)  # one image each, not the same
    table = as_categories(table[keep].reset_index(drop=True))
    for measure in (error_consistency, label_kappa, mcnemar_test):
        with pytest.raises(StudyError, match="'A0' and 'A1' share no image"):
            measure(table, "A0", "A1")


@SETTINGS
@given(rater_tables(), st.randoms(use_true_random=False))
def test_relabelling_images_changes_nothing(table, random):
    """New image ids (a random bijection) leave every estimate and exact test unchanged.

    Bootstrap intervals are left out: they resample images in the order of their ids, so
    new ids give other (equally valid) replicates. So is the plurality vote: its random
    tie-break draws in the order of image ids too, so it may change on tied images only.
    """
    ids = sorted(table["image_id"].astype(str).unique())
    new = [f"x{random.randrange(10**9)}_{i}" for i in range(len(ids))]
    random.shuffle(new)
    renamed = as_categories(table.assign(image_id=table["image_id"].astype(str).map(dict(zip(ids, new)))))
    exact = ["rater", "n", "errors", "error_rate", "wilson_low", "wilson_high", "cp_low", "cp_high"]
    before, after = (error_rates(t, n_boot=100)[exact].set_index("rater") for t in (table, renamed))
    pd.testing.assert_frame_equal(before.drop(index=PLURALITY_VOTE), after.drop(index=PLURALITY_VOTE))
    answered = table[(table["kind"] == "human") & (table["label"].astype(str) != "")]
    votes = answered.groupby(["image_id", "label"], observed=True).size()
    tied = int((votes.groupby(level=0).apply(lambda v: (v == v.max()).sum()) > 1).sum())
    assert abs(before.at[PLURALITY_VOTE, "errors"] - after.at[PLURALITY_VOTE, "errors"]) <= tied
    pd.testing.assert_frame_equal(error_consistency_table(table, n_boot=0), error_consistency_table(renamed, n_boot=0))
