"""The export builds the answers table in Arrow (answers_table) and writes CSV/Parquet from it:
the same rows and values as the pandas answers table (answers_frame), and files that read back
exactly as the files written from that frame did (issue #25)."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from study_app.io.csv_safety import safe_csv_text
from study_app.protocol.responses import Event, Response, utc_now
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.session.pilot import run_pilot
from study_app.store import ResultsStore, answers_frame, export_answers, read_export
from study_app.store.export import answers_table
from tests.protocol.test_conditions_protocol import condition_study

pa = pytest.importorskip("pyarrow")

RISKY_NOTES = ("=1+1", "'quoted", "\r=cr", "-minus, with a comma", 'a "quote"\nand a line')


def respond(labels, outcome="answer", flag=None, note=""):
    now = utc_now()
    return Response(tuple(labels), 250.0, now, now, outcome=outcome, flag=flag, flag_note=note)


def varied_store(study, path):
    """A real session with every kind of row: ranked labels, a revision (undo), flags with notes
    that a spreadsheet would run, a timeout and a skip without labels, pauses, repeated exposures
    and attention lost; then a second annotator's complete session."""
    with ResultsStore(path) as store:
        controller = SessionController(study, store, "A01")
        while True:  # through the training phase (with feedback: no undo) to the first answer that can be taken back
            truth = study.truth(controller.current().image_id)
            controller.submit(respond([*truth, "dog" if truth[0] != "dog" else "cat"]))
            if controller.can_undo():
                break
        controller.undo()
        controller.submit(respond(truth), events=[Event("focus_lost", 10.0), Event("exposure", 20.0)])
        for note in RISKY_NOTES:
            controller.submit(respond(["car"], flag="ambiguous", note=note), events=[Event("pause", 5.0)])
        controller.submit(respond([], outcome="timeout"))
        controller.submit(respond([], outcome="skip"))
        while not controller.complete:
            controller.submit(respond(["bus", "car"]))
        controller.finish()
        other = SessionController(study, store, "A02")
        while not other.complete:
            other.submit(respond(study.truth(other.current().image_id)))
    return path


@pytest.fixture
def stores(tiny_study, tmp_path):
    """A store of the tiny study with every kind of row, and a pilot store of a study with
    conditions, manifest attributes (one named like an export column) and counterbalancing groups."""
    varied = varied_store(load_study(tiny_study), tmp_path / "varied.sqlite")
    conditioned = load_study(condition_study(tiny_study))
    run_pilot(conditioned, 4, tmp_path / "pilot.sqlite", accuracy=0.7, rt_ms=(400.0, 10.0), seed=5)
    return [varied, tmp_path / "pilot.sqlite"]


def test_the_arrow_table_has_the_rows_and_values_of_the_pandas_table(stores):
    for path in stores:
        with ResultsStore(path, readonly=True) as store:
            frame = answers_frame(store, include_superseded=True)
            table = answers_table(store).to_pandas()
        assert list(table.columns) == list(frame.columns) and len(frame) > 20
        for column in frame.columns:
            assert [None if pd.isna(v) else v for v in table[column]] == [
                None if pd.isna(v) else v for v in frame[column]
            ], column
    assert "manifest_group" in frame.columns and set(frame["condition"]) == {"0", "0.5", "1"}
    assert frame["group"].notna().all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_reads_back_as_the_export_written_from_the_pandas_table(stores, tmp_path, fmt):
    """The frame equality that matters to every reader of an export: read_export (what import
    reads) gives the same frame, dtypes included, as it gives for the file pandas wrote before."""
    for path in stores:
        with ResultsStore(path, readonly=True) as store:
            written = export_answers(store, tmp_path / path.stem / f"answers.{fmt}", fmt)
            frame = answers_frame(store, include_superseded=True)
        before = tmp_path / path.stem / f"before.{fmt}"
        if fmt == "csv":
            before.write_text(safe_csv_text(frame), encoding="utf-8", newline="")
        else:
            frame.to_parquet(before, index=False)
        pd.testing.assert_frame_equal(read_export(written), read_export(before))
        if fmt == "parquet":  # pandas itself reads the file with the frame's dtypes (the rank a nullable integer)
            assert pd.read_parquet(written).dtypes.to_dict() == pd.read_parquet(before).dtypes.to_dict() | {
                "presented_ms": "float64"
            }


def test_the_csv_export_is_spreadsheet_safe(stores, tmp_path):
    with ResultsStore(stores[0], readonly=True) as store:
        written = export_answers(store, tmp_path / "answers.csv")
    with written.open(encoding="utf-8", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert {"'=1+1", "''quoted", "'\r=cr", "'-minus, with a comma"} <= set(cells)
    assert set(read_export(written)["flag_note"]) >= set(RISKY_NOTES)
    assert {"True", "False"} >= {cell for cell in cells if cell.lower() in ("true", "false")}
