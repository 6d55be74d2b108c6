"""Conditions in the protocol: the manifest's condition and attribute columns, their checks, the
Latin square over levels x source images, the export and the study's rater table."""

from __future__ import annotations

import csv
import pickle
import re
import shutil
from collections import Counter

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from study_app.analysis.raters import Reading, study_raters
from study_app.errors import ProtocolError
from study_app.protocol.counterbalance import Design, level_order, stimulus_groups
from study_app.protocol.schedule import session_trials
from study_app.protocol.study import load_study
from study_app.protocol.summary import describe_study
from study_app.report.inputs import from_study_store
from study_app.session.pilot import run_pilot
from study_app.store import ResultsStore, answers_frame, export_answers, read_export
from tests.factory import STUDY_TOML
from tests.protocol.test_counterbalance import latin_square_study

LEVELS = ("0", "0.5", "1")
CONDITION_DESIGN = '\n[counterbalance]\nphases = ["test"]\nconditions = "manifest"\nsource = "source_image_id"\n'


def condition_study(root, levels=LEVELS, design: str = CONDITION_DESIGN, drop=None):
    """The tiny study with every test image at every level (``<id>@<level>``, one file shared by
    the levels), training images at the first level, ``source_image_id`` and a ``group`` attribute
    (named like an export column); ``drop`` (image id) leaves one stimulus out."""
    path = root / "manifest.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        for level in levels if row["split"] == "test" else levels[:1]:
            image_id = f"{row['image_id']}@{level}"
            if image_id != drop:
                out.append(
                    {
                        **row,
                        "image_id": image_id,
                        "condition": level,
                        "source_image_id": row["image_id"],
                        "group": "g" + row["labels"],
                    }
                )
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            ["image_id", "path", "labels", "split", "condition", "source_image_id", "group"],
            lineterminator="\n",
            extrasaction="ignore",
        )
        writer.writeheader()
        writer.writerows(out)
    (root / "study.toml").write_text(STUDY_TOML.split("[models]")[0] + design, encoding="utf-8")
    return root


def simulated_and_exported(study, tmp_path, annotators: int) -> pd.DataFrame:
    """Simulated sessions' answers frame; the store's export is written to tmp_path/answers.csv."""
    store_path = tmp_path / "pilot.sqlite"
    run_pilot(study, annotators, store_path, accuracy=1.0, rt_ms=(400.0, 10.0), seed=3)
    with ResultsStore(store_path, readonly=True) as store:
        export_answers(store, tmp_path / "answers.csv")
        return answers_frame(store)


def test_condition_and_attribute_columns_are_kept_on_the_records_and_survive_pickling(tiny_study):
    study = load_study(condition_study(tiny_study))
    record = study.images["img-005@0.5"]
    assert record.condition == "0.5" and record.attribute("source_image_id") == "img-005"
    assert record.attributes == (("source_image_id", "img-005"), ("group", "gcat"))
    assert study.conditions()["img-005@1"] == "1"
    again = pickle.loads(pickle.dumps(study))  # the study cache keeps studies as pickles
    assert again.images["img-005@0.5"] == record


def test_a_manifest_without_conditions_is_unchanged(tiny_study):
    study = load_study(tiny_study)
    assert study.conditions() == {} and all(r.condition == "" and r.attributes == () for r in study.images.values())
    assert "trials per condition" not in describe_study(study)


@pytest.mark.parametrize("odd", ["O.5", "high"])
def test_a_condition_column_mixing_numbers_and_words_is_refused_with_its_line(tiny_study, odd):
    condition_study(tiny_study)
    path = tiny_study / "manifest.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].replace(",0.5,", f",{odd},")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ProtocolError) as caught:
        load_study(tiny_study)
    text = str(caught.value)
    assert re.search(r"manifest\.csv:7 \[condition\]: the condition column mixes numbers", text), text
    assert repr(odd) in text


def test_validate_prints_trials_per_condition_and_per_group(tiny_study):
    text = describe_study(load_study(condition_study(tiny_study)))
    assert "trials per condition: 0: 12, 0.5: 12, 1: 12" in text  # the test phase
    assert "trials per condition: 0: 4" in text  # training, at the first level
    assert "Latin square over conditions 0, 0.5, 1" in text
    assert "group 0, test: trials per condition 0: 4, 0.5: 4, 1: 4" in text


def test_an_incomplete_source_and_a_single_level_are_refused(tiny_study):
    condition_study(tiny_study, drop="img-005@0.5")
    with pytest.raises(ProtocolError) as caught:
        load_study(tiny_study)
    assert "source image 'img-005' of phase 'test' has no stimulus at level(s) 0.5" in str(caught.value)


def test_blocks_and_source_keys_do_not_mix_with_the_wrong_design(tiny_study):
    condition_study(tiny_study, design=CONDITION_DESIGN + 'blocks = "group"\n')
    with pytest.raises(ProtocolError, match="blocks does not apply with conditions"):
        load_study(tiny_study)


def test_levels_sort_as_numbers_when_all_are_numbers():
    assert level_order(["0.6", "0.1", "inf", "0", "0.35", "0.1"]) == ["0", "0.1", "0.35", "0.6", "inf"]
    assert level_order(["c5", "c10", "c05"]) == ["c05", "c10", "c5"]


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 6), sources=st.integers(1, 30))
def test_latin_square_over_levels_and_source_blocks(m, sources):
    """For 2m annotators in arrival order: each sees every source image exactly once (so never at
    two levels), every level on a number of sources that differs by at most one between levels
    (equal when m divides the number of sources), and every (source, level) stimulus is seen by
    exactly 2 annotators (once in each run of m)."""
    levels = tuple(str(n) for n in range(m))
    stimuli = {f"s{s}@{lv}": (f"s{s}", lv) for s in range(sources) for lv in levels}
    group_of = stimulus_groups(stimuli, levels)
    design = Design(("test",), levels=levels, source="source_image_id")
    seen: Counter = Counter()
    for arrival in range(2 * m):
        block = design.assign(arrival).blocks["test"]
        mine = [stimuli[i] for i, g in group_of.items() if g == block]
        assert sorted(s for s, _ in mine) == sorted(f"s{s}" for s in range(sources))
        per_level = Counter(lv for _, lv in mine)
        counts = [per_level[lv] for lv in levels]
        assert max(counts) - min(counts) <= 1
        if sources % m == 0:
            assert set(counts) == {sources // m}
        seen.update(mine)
    assert set(seen.values()) == {2} and len(seen) == sources * m


def test_sessions_follow_the_square_and_the_export_carries_the_condition(tmp_path, tiny_study):
    study = load_study(condition_study(tiny_study))
    assert study.counterbalance.groups == 3
    for arrival in range(3):
        trials = session_trials(study, f"a{arrival}", study.counterbalance.assign(arrival))
        tested = [study.images[t.image_id] for t in trials if t.phase == "test"]
        assert Counter(r.attribute("source_image_id") for r in tested).most_common(1)[0][1] == 1
        assert len(tested) == 12 and Counter(r.condition for r in tested) == dict.fromkeys(LEVELS, 4)
    frame = simulated_and_exported(study, tmp_path, 3)
    assert frame["condition"].eq(frame["image_id"].str.split("@").str[1]).all()
    assert frame["source_image_id"].eq(frame["image_id"].str.split("@").str[0]).all()
    assert set(frame["manifest_group"]) == {"gcat", "gdog", "gcar", "gbus"}  # renamed: group is an export column
    assert frame["group"].notna().all()  # the counterbalancing group is still there
    tests = frame[frame["phase"] == "test"].drop_duplicates("trial_uuid")
    assert set(Counter(zip(tests["source_image_id"], tests["condition"])).values()) == {1}
    written = pd.read_csv(tmp_path / "answers.csv", dtype=str, keep_default_na=False)
    columns = list(written.columns)
    assert columns[columns.index("group") + 1 :] == ["condition", "front_end", "source_image_id", "manifest_group"]
    assert (written["condition"] == frame["condition"]).all()
    assert (read_export(tmp_path / "answers.csv")["condition"] == frame["condition"]).all()


def test_a_store_and_an_export_from_before_conditions_read_as_no_condition(tmp_path, tiny_study):
    frame = simulated_and_exported(load_study(tiny_study), tmp_path, 1)
    assert (frame["condition"] == "").all() and "source_image_id" not in frame.columns
    old = pd.read_csv(tmp_path / "answers.csv", dtype=str, keep_default_na=False).drop(columns=["condition"])
    old.to_csv(tmp_path / "older.csv", index=False)
    shutil.copyfile(tmp_path / "answers.manifest.json", tmp_path / "older.manifest.json")
    assert (read_export(tmp_path / "older.csv")["condition"] == "").all()


def test_the_rater_table_has_the_condition_of_people_and_of_models(tmp_path, tiny_study):
    condition_study(tiny_study)
    predictions = [["model-a", f"img-{n:03d}@{lv}", "1", "cat", "0.9"] for n in (4, 5, 6) for lv in LEVELS]
    with (tiny_study / "predictions.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(
            [["model", "image_id", "rank", "label_id", "score"], *predictions]
        )
    study = load_study(tiny_study)
    store_path = tmp_path / "pilot.sqlite"
    run_pilot(study, 3, store_path, accuracy=0.7, rt_ms=(400.0, 10.0), seed=2)
    raters = study_raters(study, store=store_path, reading=Reading(predictions=[tiny_study / "predictions.csv"])).raters
    expected = raters["image_id"].astype(str).str.split("@").str[1]
    assert (raters["condition"] == expected).all()
    model = raters[raters["kind"] == "model"]
    assert sorted(set(model["condition"])) == list(LEVELS) and len(model) >= 9
    facts = dict(from_study_store(raters, "top-k", 3, study, store_path, "report").facts)  # the report's provenance
    assert facts["images per condition (protocol)"] == "0: 16, 0.5: 12, 1: 12"


def test_a_study_without_conditions_keeps_its_snapshot_even_with_other_manifest_columns(tiny_study):
    """A merge compares snapshots: stores of a blocked study made before conditions existed
    must still merge with new ones, so extra columns enter the snapshot only with conditions."""
    from study_app.store.results_store import study_snapshot

    study = latin_square_study(tiny_study)  # a ``block`` column
    assert any(r.attributes for r in study.images.values())
    assert {key for entry in study_snapshot(study)["images"].values() for key in entry} == {"sha256", "labels"}
    conditioned = study_snapshot(load_study(condition_study(tiny_study)))["images"]["img-005@0.5"]
    assert conditioned["condition"] == "0.5" and conditioned["attributes"]["source_image_id"] == "img-005"
