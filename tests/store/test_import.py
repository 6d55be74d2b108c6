"""import checks the whole export before it writes, and keeps pilot data out of real stores
(issue #27, cases 5 and 7). Real stores made by ``simulate`` and the store API, the command
run as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from study_app.errors import StoreError
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, export_answers, import_answers
from tests.cli.test_cli import ROOT, run
from tests.store.test_merge import answer_all, rows, snapshot


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """An export of a simulated (pilot) run and one of a real session, with their stores."""
    from tests.factory import make_study

    folder = tmp_path_factory.mktemp("exports")
    study_folder = make_study(folder / "tiny")
    assert (
        run(
            "simulate", "--study", str(study_folder), "--annotators", "2", "--store", str(folder / "pilot.sqlite")
        ).returncode
        == 0
    )
    assert (
        run(
            "export", "--store", str(folder / "pilot.sqlite"), "--out", str(folder / "pilot" / "answers.csv")
        ).returncode
        == 0
    )
    with ResultsStore(folder / "real.sqlite") as store:
        answer_all(SessionController(load_study(study_folder), store, "A01"))
        export_answers(store, folder / "real" / "answers.csv")
    return {
        "study": study_folder,
        "pilot": folder / "pilot" / "answers.csv",
        "pilot store": folder / "pilot.sqlite",
        "real": folder / "real" / "answers.csv",
        "real store": folder / "real.sqlite",
    }


def test_pilot_answers_never_enter_a_real_store(tmp_path, exports):
    store = snapshot(exports["real store"], tmp_path / "results.sqlite")
    before = rows(store)
    result = run("import", str(exports["pilot"]), "--store", str(store))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        "cannot import pilot (simulated) sessions with real ones" in result.stderr
        and "answers.csv: pilot" in result.stderr
    )
    assert rows(store) == before
    with ResultsStore(store) as kept:  # real sessions can still be started
        SessionController(load_study(exports["study"]), kept, "A02")
    # real answers do not enter a pilot store either
    pilot_store = snapshot(exports["pilot store"], tmp_path / "pilot.sqlite")
    with ResultsStore(pilot_store) as target, pytest.raises(StoreError, match="cannot import pilot"):
        import_answers(target, exports["real"])
    # pilot answers go into a pilot store, or a new store that thereby becomes one
    for target in (pilot_store, tmp_path / "new" / "pilot.sqlite"):
        result = run("import", str(exports["pilot"]), "--store", str(target))
        assert result.returncode == 0, result.stderr
    with ResultsStore(tmp_path / "new" / "pilot.sqlite", readonly=True) as new:
        assert new.conn.execute("SELECT DISTINCT pilot FROM sessions").fetchall() == [(1,)]


def edited(exports: dict, tmp_path: Path, cells: dict[tuple[int, str], str] | None = None, manifest=None) -> Path:
    """A copy of the real export with some cells (data row, column) replaced and the manifest edited."""
    lines = exports["real"].read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    for (row, column), value in (cells or {}).items():
        fields = lines[row + 1].split(",")
        fields[header.index(column)] = value
        lines[row + 1] = ",".join(fields)
    table = tmp_path / "edited.csv"
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    content = json.loads(exports["real"].with_name("answers.manifest.json").read_text(encoding="utf-8"))
    if manifest:
        manifest(content)
    table.with_name("edited.manifest.json").write_text(json.dumps(content), encoding="utf-8")
    return table


BAD_EXPORTS = {
    "no trial order": (
        {},
        lambda m: m["sessions"][0].pop("trial_order"),
        "edited.manifest.json [sessions[0].trial_order]: missing",
    ),
    "bad trial uuid": (
        {(3, "trial_uuid"): "not-a-uuid"},
        None,
        "edited.csv:5 [trial_uuid]: 'not-a-uuid' is not a UUID",
    ),
    "rank 0": ({(2, "rank"): "0"}, None, "edited.csv:4 [rank]: 0 is not a rank (1 or more)"),
    "unknown outcome": ({(1, "outcome"): "maybe"}, None, "edited.csv:3 [outcome]: 'maybe' is not one of answer"),
    "negative rt": ({(0, "rt_ms"): "-5"}, None, "edited.csv:2 [rt_ms]: -5.0 is not a time in ms (0 or more)"),
    "bad time": ({(4, "shown_at"): "yesterday"}, None, "edited.csv:6 [shown_at]: 'yesterday' is not an ISO 8601 time"),
    "other session": (
        {(5, "session"): "0b5a2a2e-6f3e-4f1e-9d63-2b1f5d2f1e11"},
        None,
        "edited.csv:7 [session]: session 0b5a2a2e",
    ),
}


@pytest.mark.parametrize("name", BAD_EXPORTS)
def test_a_bad_export_is_refused_whole_and_leaves_no_store(tmp_path, exports, name):
    cells, manifest, message = BAD_EXPORTS[name]
    table = edited(exports, tmp_path, cells, manifest)
    result = run("import", str(table), "--store", str(tmp_path / "new.sqlite"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr and "nothing was written" in result.stderr
    assert not list(tmp_path.glob("new.sqlite*"))


def test_every_problem_is_listed_at_once(tmp_path, exports):
    table = edited(
        exports, tmp_path, {(0, "rt_ms"): "-1", (2, "rank"): "0", (6, "outcome"): "maybe", (7, "trial_uuid"): "x"}
    )
    store = snapshot(exports["real store"], tmp_path / "results.sqlite")
    before = rows(store)
    result = run("import", str(table), "--store", str(store))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for where in ("edited.csv:2 [rt_ms]", "edited.csv:4 [rank]", "edited.csv:8 [outcome]", "edited.csv:9 [trial_uuid]"):
        assert where in result.stderr
    assert rows(store) == before


def test_a_store_made_by_an_import_that_fails_while_writing_is_removed(tmp_path, exports):
    """The file cannot grow past a limit (RLIMIT_FSIZE): the import fails after the store was created."""
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (260_000, resource.RLIM_INFINITY))\n"
        "from study_app.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    import subprocess

    big = tmp_path / "big.sqlite"
    with ResultsStore(big) as store:
        study = load_study(exports["study"])
        for annotator in ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08"):
            answer_all(SessionController(study, store, annotator))
        export_answers(store, tmp_path / "big" / "answers.csv")
    target = tmp_path / "new.sqlite"
    done = subprocess.run(
        [sys.executable, "-c", script, "import", str(tmp_path / "big" / "answers.csv"), "--store", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr and "disk" in done.stderr, done.stderr
    assert not list(tmp_path.glob("new.sqlite*"))


def test_manifest_and_trial_consistency_problems_are_all_named(tmp_path, exports):
    def break_manifest(manifest: dict) -> None:
        session = manifest["sessions"][0]
        session.update(uuid="nope", pilot=2, ended_at="soon")
        manifest["sessions"].append({**session, "study_uuid": "4b0e8a36-0000-4000-8000-000000000000"})

    table = edited(exports, tmp_path, {(1, "rank"): "2"}, break_manifest)
    with ResultsStore(tmp_path / "a.sqlite") as store, pytest.raises(StoreError) as refused:
        import_answers(store, table)
    for text in (
        "[sessions[0].uuid]: 'nope' is not a UUID",
        "[sessions[0].pilot]: 2 is not 0 or 1",
        "[sessions[0].ended_at]: 'soon' is not an ISO 8601 time",
        "[sessions[1].study_uuid]: '4b0e8a36",
        "[sessions[1].uuid]: session nope is listed twice",
    ):
        assert text in str(refused.value)
    # the manifest whole, the rows are checked against it: a rank gap and a trial answered twice
    lines = exports["real"].read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    copy = lines[1].split(",")
    copy[header.index("trial_uuid")] = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    table = edited(exports, tmp_path, {(1, "rank"): "2"})
    table.write_text(table.read_text(encoding="utf-8") + ",".join(copy) + "\n", encoding="utf-8")
    with ResultsStore(tmp_path / "b.sqlite") as store, pytest.raises(StoreError) as refused:
        import_answers(store, table)
    assert "edited.csv:3 [rank]: trial " in str(refused.value) and "has ranks [2], not 1, 2, ... without gaps" in str(
        refused.value
    )
    assert f"edited.csv:{len(lines) + 1} [trial_uuid]: trial 1 of phase training is answered twice" in str(
        refused.value
    )


def _write_export(tmp_path: Path, source: Path, manifest_text: str, table_text: str | None = None) -> Path:
    """A copy of the export ``source`` under ``tmp_path`` with the manifest's text (and the table's) replaced."""
    table = tmp_path / "copy.csv"
    table.write_text(source.read_text(encoding="utf-8") if table_text is None else table_text, encoding="utf-8")
    table.with_name("copy.manifest.json").write_text(manifest_text, encoding="utf-8")
    return table


#: Manifest values Python's json reads but this program never writes (review of #27, finding 7):
#: an assignment with 1e999 (infinity), NaN, and a trial order nested 100,000 levels deep.
STRANGE_MANIFESTS = {
    "infinite": (
        lambda s: s.update(assignment={"group": "@", "arrival": 0, "phase_order": [], "blocks": {}}),
        "1e999",
        "1e999 is out of range",
    ),
    "nan": (
        lambda s: s.update(assignment={"group": 0, "arrival": "@", "phase_order": [], "blocks": {}}),
        "NaN",
        "NaN is not a number this program writes",
    ),
    "deep": (
        lambda s: s.update(trial_order="@"),
        "[" * 100_000 + "]" * 100_000,
        "lists and objects nested more than 18 level(s) deep",
    ),
}


@pytest.mark.parametrize("kind", STRANGE_MANIFESTS)
def test_a_manifest_with_an_infinite_or_too_deep_value_is_refused_without_a_traceback(tmp_path, exports, kind):
    edit, value, message = STRANGE_MANIFESTS[kind]
    manifest = json.loads(exports["real"].with_name("answers.manifest.json").read_text(encoding="utf-8"))
    edit(manifest["sessions"][0])
    table = _write_export(tmp_path, exports["real"], json.dumps(manifest).replace('"@"', value))
    result = run("import", str(table), "--store", str(tmp_path / "new.sqlite"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"copy.manifest.json: cannot read the run manifest of this export ({message}" in result.stderr, result.stderr
    assert not list(tmp_path.glob("new.sqlite*"))


def _without_pilot_column(table: Path) -> str:
    rows = list(csv.reader(table.read_text(encoding="utf-8").splitlines()))
    drop = rows[0].index("pilot")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([r[:drop] + r[drop + 1 :] for r in rows])
    return out.getvalue()


def _manifest_without_pilot(table: Path) -> str:
    manifest = json.loads(table.with_name("answers.manifest.json").read_text(encoding="utf-8"))
    for session in manifest["sessions"]:
        del session["pilot"]
    return json.dumps(manifest)


def test_an_export_that_does_not_say_which_sessions_are_pilot_ones_is_refused(tmp_path, exports):
    """Simulated sessions with the pilot column and the manifest's pilot key removed were imported
    as real answers (review of #27, finding 13). Where the manifest or the table says it, that is used."""
    pilot = exports["pilot"]
    (tmp_path / "neither").mkdir()
    table = _write_export(tmp_path / "neither", pilot, _manifest_without_pilot(pilot), _without_pilot_column(pilot))
    result = run("import", str(table), "--store", str(tmp_path / "new.sqlite"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert (
        "copy.manifest.json [sessions[0].pilot]: missing, and no pilot column of the table says it either"
        in result.stderr
    )
    assert 'add "pilot": 1 (pilot) or "pilot": 0 (real)' in result.stderr and "nothing was written" in result.stderr
    assert not list(tmp_path.glob("new.sqlite*"))
    # either place alone is enough: the sessions are pilot ones, so they go only into a pilot store
    for case, manifest, content in (
        ("table says", _manifest_without_pilot(pilot), None),
        (
            "manifest says",
            pilot.with_name("answers.manifest.json").read_text(encoding="utf-8"),
            _without_pilot_column(pilot),
        ),
    ):
        folder = tmp_path / case.replace(" ", "-")
        folder.mkdir()
        with ResultsStore(folder / "pilot.sqlite") as store:
            import_answers(store, _write_export(folder, pilot, manifest, content))
            assert store.conn.execute("SELECT DISTINCT pilot FROM sessions").fetchall() == [(1,)], case
        with (
            ResultsStore(snapshot(exports["real store"], folder / "real.sqlite")) as store,
            pytest.raises(StoreError, match="cannot import pilot"),
        ):
            import_answers(store, _write_export(folder, pilot, manifest, content))
