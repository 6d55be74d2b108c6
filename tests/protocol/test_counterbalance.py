"""Counterbalancing: Latin-square rotation of conditions and image blocks, stored per session."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from study_app.errors import ProtocolError
from study_app.protocol.counterbalance import Assignment, Design
from study_app.protocol.schedule import session_trials
from study_app.protocol.study import load_study
from study_app.session.pilot import run_pilot
from study_app.store import ResultsStore, answers_frame
from tests.factory import STUDY_TOML

TWO_CONDITIONS = """
[[phases]]
name = "short"
split = "test"
answers = 3
time_limit_s = 20

[[phases]]
name = "long"
split = "test"
answers = 3

[counterbalance]
phases = ["short", "long"]
blocks = "block"
"""


def write_blocks(study_dir, blocks_of) -> None:
    """Add a ``block`` column to the manifest: ``blocks_of(row_number, row)`` gives the value."""
    path = study_dir / "manifest.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if "block" not in rows[0]:
        rows[0].append("block")
        for row in rows[1:]:
            row.append("")
    column = rows[0].index("block")
    for number, row in enumerate(rows[1:]):
        row[column] = blocks_of(number, row)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def latin_square_study(study_dir, extra: str = TWO_CONDITIONS):
    toml = STUDY_TOML.split('[[phases]]\nname = "test"')[0] + extra.lstrip("\n")
    (study_dir / "study.toml").write_text(toml + '\n[models]\npredictions = ["predictions.csv"]\n', encoding="utf-8")
    write_blocks(study_dir, lambda number, row: "" if row[3] != "test" else ("A" if number % 2 else "B"))
    return load_study(study_dir)


def test_design_rows_are_latin_squares_and_williams_balances_carry_over():
    for m in range(2, 7):
        for order in ("latin-square", "williams"):
            design = Design(tuple(f"c{i}" for i in range(m)), order=order)
            rows = design.rows()
            assert len(rows) == design.groups
            for row in rows:
                assert sorted(row) == list(range(m))
            for column in range(m):  # each condition once in each position, per square of m rows
                assert sorted(r[column] for r in rows[:m]) == list(range(m))
            if order == "williams":
                follows = Counter((row[j], row[j + 1]) for row in rows for j in range(m - 1))
                assert len(set(follows.values())) == 1 and len(follows) == m * (m - 1)


def test_two_by_two_latin_square_rotation_and_judgement_counts(tmp_path, tiny_study):
    study = latin_square_study(tiny_study)
    design = study.counterbalance
    assert design.phases == ("short", "long") and design.blocks == ("A", "B") and design.groups == 2
    test_images = [i for i, r in study.images.items() if r.split == "test"]
    store_path = tmp_path / "pilot.sqlite"
    run_pilot(study, 4, store_path, accuracy=1.0, rt_ms=(400.0, 10.0), seed=3)

    with ResultsStore(store_path, readonly=True) as store:
        rows = store.conn.execute(
            "SELECT annotator_id, assignment, trial_order FROM sessions ORDER BY started_at"
        ).fetchall()
        answers = answers_frame(store)
    assignments = [Assignment.from_json(row[1]) for row in rows]
    assert [a.arrival for a in assignments] == [0, 1, 2, 3]
    assert [a.group for a in assignments] == [0, 1, 0, 1]  # in rotation as they arrive
    assert [a.phase_order for a in assignments] == [("short", "long"), ("long", "short")] * 2
    assert [a.blocks for a in assignments] == [{"short": "A", "long": "B"}, {"short": "B", "long": "A"}] * 2
    for assignment, (annotator, _, _) in zip(assignments, rows):
        mine = answers[(answers["annotator"] == annotator) & answers["phase"].isin(["short", "long"])]
        phases_in_order = list(dict.fromkeys(mine.sort_values("answered_at")["phase"]))
        assert phases_in_order == list(assignment.phase_order)
        for phase, block in assignment.blocks.items():
            seen = set(mine[mine["phase"] == phase]["image_id"])
            assert seen == {i for i in test_images if study.images[i].block == block}
        assert sorted(mine["image_id"].unique()) == sorted(test_images)  # every image once per annotator

    trials = answers.drop_duplicates("trial_uuid")
    counts = Counter(zip(trials["image_id"], trials["phase"]))
    tested = trials[trials["phase"].isin(["short", "long"])]
    assert Counter(tested["image_id"]).keys() == set(test_images)
    assert set(Counter(tested["image_id"]).values()) == {4}  # 4 judgements per image
    assert {counts[(i, p)] for i in test_images for p in ("short", "long")} == {2}  # 2 in each condition


def test_assignment_reproducible_and_kept_on_a_new_session(tmp_path, tiny_study):
    study = latin_square_study(tiny_study)
    with ResultsStore(tmp_path / "r.sqlite") as store:
        first = store.open_session(study, "P1")
        second = store.open_session(study, "P2")
        pinned = store.open_session(study, "P3", arrival=0)
        again = store.open_session(study, "P2", force_new=True)
    assert (first.assignment.group, second.assignment.group, pinned.assignment.group) == (0, 1, 0)
    assert again.assignment == second.assignment  # a second session keeps the annotator's place
    assert list(first.trials) == session_trials(study, "P1", study.counterbalance.assign(0))
    assert [t.phase for t in second.trials][4:6] == ["long", "long"]  # training first, then group 1's order
    with ResultsStore(tmp_path / "r.sqlite") as store:
        assert store.load_session(second.uuid).assignment == second.assignment


def test_subset_rotation_with_one_condition(tmp_path, tiny_study):
    toml = (tiny_study / "study.toml").read_text(encoding="utf-8")
    (tiny_study / "study.toml").write_text(
        toml + '\n[counterbalance]\nphases = ["test"]\nblocks = "block"\n', encoding="utf-8"
    )
    write_blocks(tiny_study, lambda number, row: "" if row[3] != "test" else "abc"[number % 3])
    study = load_study(tiny_study)
    assert study.counterbalance.groups == 3
    with ResultsStore(tmp_path / "r.sqlite") as store:
        sessions = [store.open_session(study, f"S{n}") for n in range(6)]
    seen = Counter(t.image_id for s in sessions for t in s.trials if t.phase == "test")
    assert set(seen.values()) == {2}  # 6 annotators over 3 subsets: each test image twice
    assert [len([t for t in s.trials if t.phase == "test"]) for s in sessions] == [4] * 6


@pytest.mark.parametrize(
    ("table", "column", "message"),
    [
        ('phases = ["short", "nope"]\nblocks = "block"', "block", "no phase named 'nope'"),
        ('phases = ["short", "long"]\nblocks = "block"\norder = "zigzag"', "block", "order must be one of"),
        ('phases = ["short", "long"]\nblocks = "missing"', "block", "missing column(s) missing"),
        ('phases = ["short"]', "block", "nothing to counterbalance"),
        ('phases = ["short", "long"]\nblocks = "block"', "three", "needs 2 blocks"),
    ],
)
def test_design_problems_are_reported_with_their_place(tiny_study, table, column, message):
    latin_square_study(tiny_study)
    toml = (tiny_study / "study.toml").read_text(encoding="utf-8")
    head = toml.split("[counterbalance]")[0]
    (tiny_study / "study.toml").write_text(head + "[counterbalance]\n" + table + "\n", encoding="utf-8")
    if column == "three":
        write_blocks(tiny_study, lambda number, row: "" if row[3] != "test" else "xyz"[number % 3])
    with pytest.raises(ProtocolError) as error:
        load_study(tiny_study)
    assert message in str(error.value)
    assert "counterbalance" in str(error.value) or "manifest.csv" in str(error.value)


def test_compare_scores_models_in_each_condition_of_a_shared_image(tmp_path, tiny_study, capsys):
    import json

    from study_app.cli.main import main

    study = latin_square_study(tiny_study)
    store_path = tmp_path / "pilot.sqlite"
    run_pilot(study, 2, store_path, accuracy=1.0, rt_ms=(400.0, 10.0))
    argv = [
        "compare",
        "--study",
        str(tiny_study),
        "--store",
        str(store_path),
        "--phase",
        "short",
        "--phase",
        "long",
        "--n-boot",
        "200",
        "--out",
        str(tmp_path / "out"),
        "--json",
    ]
    assert main(argv) == 0
    rates = json.loads(capsys.readouterr().out)["rates"]
    for scope in ("all", "shared"):
        model_rows = [
            r for r in rates if r["rater"] == "model-a" and r["phase"] in ("short", "long") and r["scope"] == scope
        ]
        assert sorted(r["phase"] for r in model_rows) == ["long", "short"]
        assert {r["n"] for r in model_rows} == {12}  # the model answered every test image, in both conditions


def test_export_names_each_answers_group_and_an_import_keeps_the_assignments(tmp_path, tiny_study):
    from study_app.store.export import export_answers, import_answers

    study = latin_square_study(tiny_study)
    store_path = tmp_path / "pilot.sqlite"
    run_pilot(study, 3, store_path, accuracy=1.0, rt_ms=(400.0, 10.0), seed=5)
    with ResultsStore(store_path, readonly=True) as store:
        frame = answers_frame(store)
        stored = dict(store.conn.execute("SELECT uuid, assignment FROM sessions").fetchall())
        table = export_answers(store, tmp_path / "out" / "answers.csv")
    groups = frame.drop_duplicates("session").set_index("session")["group"].to_dict()
    assert groups == {uuid: Assignment.from_json(text).group for uuid, text in stored.items()}
    assert sorted(groups.values()) == [0, 0, 1]
    with ResultsStore(tmp_path / "copy.sqlite") as copy:
        import_answers(copy, table)
        again = dict(copy.conn.execute("SELECT uuid, assignment FROM sessions").fetchall())
        assert {u: Assignment.from_json(t) for u, t in again.items()} == {
            u: Assignment.from_json(t) for u, t in stored.items()
        }
        assert answers_frame(copy)["group"].tolist() == frame["group"].tolist()
