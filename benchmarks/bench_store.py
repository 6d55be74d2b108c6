"""Results store benchmarks: durable commit latency, submit in a long session, export of 1,000,000 answers, merge.

- Commit: p50/p99 of one durable ``ResultsStore.submit`` (target p99 < 10 ms), against the
  physical floor measured in the same run: write + fsync of a small file.
- Submit in a long session: one session of 50,500 trials (the ILSVRC validation set plus
  training), ``ResultsStore.submit`` p99 over trials 50,001-50,500 against its p99 over
  trials 1-500 of the same session (issue #25: within 1.2x, i.e. O(1) in the session's length).
- Export: 1,000,000 answers to CSV and Parquet, against pyarrow writing the already-built
  Arrow table (the cost of reading the store, escaping and the manifest on top of the file
  format itself; issue #25: Parquet within 1.5x, CSV within 1.2x).
- Merge: 100 stores of 10,000 answers each, against a hand-written
  ``ATTACH`` + ``INSERT OR IGNORE ... SELECT`` of the same rows (issue #25: within 1.2x).

``--quick`` shrinks every size (for CI: checks that the code runs, not the timings).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import ImageRecord, Phase, load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, export_answers, merge_stores
from study_app.store.answer_store import TrialAnswer
from study_app.store.export import answers_table
from study_app.store.results_store import child_uuid, key_uuid, new_uuid
from study_app.store.schema import TABLES
from tests.factory import make_study

from .common import Result, percentiles, run_main


def bench_commit(work: Path, n: int) -> list[Result]:
    study = load_study(make_study(work / "study", per_class_train=1, per_class_test=max(3, n // 4)))
    fsync_ms = []
    with open(work / "floor.bin", "wb") as handle:
        for _ in range(n):
            start = time.perf_counter()
            handle.write(b"x" * 200)
            handle.flush()
            os.fsync(handle.fileno())
            fsync_ms.append((time.perf_counter() - start) * 1000)
    commit_ms = []
    with ResultsStore(work / "commit.sqlite") as store:
        controller = SessionController(study, store, "bench")
        while not controller.complete and len(commit_ms) < n:
            now = utc_now()
            response = Response(("cat", "dog"), 500.0, now, now)
            start = time.perf_counter()
            controller.submit(response)
            commit_ms.append((time.perf_counter() - start) * 1000)
    p50, p99 = percentiles(commit_ms)
    f50, f99 = percentiles(fsync_ms)
    return [
        Result("store", f"durable commit p50 ({len(commit_ms)} answers)", p50, "ms", "", f50, "write+fsync p50"),
        Result(
            "store",
            f"durable commit p99 ({len(commit_ms)} answers)",
            p99,
            "ms",
            "< 10 ms",
            f99,
            "write+fsync p99",
            p99 < 10,
        ),
    ]


def fill_store(path: Path, study_name: str, protocol_hash: str, annotators: int, trials: int, ranks: int) -> None:
    """A store with ``annotators x trials x ranks`` answers, written in bulk (columns named, so
    that columns added by later schema versions keep their defaults)."""
    with ResultsStore(path) as store:
        conn = store.conn
        conn.execute("BEGIN")
        study_uuid = key_uuid("study", protocol_hash)
        conn.execute(
            "INSERT OR IGNORE INTO studies (uuid, name, version, "
            "protocol_hash, snapshot, created_at) VALUES (?,?,?,?,?,?)",
            (study_uuid, study_name, "1", protocol_hash, '{"phases": []}', utc_now()),  # the smallest valid snapshot
        )
        for a in range(annotators):
            annotator = f"{path.stem}-A{a:04d}"
            session = new_uuid()
            now = utc_now()
            conn.execute(
                "INSERT INTO annotators (uuid, annotator_id, created_at) VALUES (?,?,?)",
                (key_uuid("annotator", annotator), annotator, now),
            )
            conn.execute(
                "INSERT INTO sessions (uuid, study_uuid, annotator_id, protocol_hash, app_version, "
                "machine, started_at, ended_at, trial_order, pilot) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (session, study_uuid, annotator, protocol_hash, "bench", "bench", now, None, "[]", 0),
            )
            trial_rows, answer_rows = [], []
            for t in range(trials):
                trial = new_uuid()
                trial_rows.append(
                    (trial, session, "test", t, f"img-{t:06d}", "0" * 64, "answer", now, now, 812.5, None, None)
                )
                answer_rows.extend(
                    (child_uuid(trial, f"rank{r}"), trial, r, f"n{(t * 7 + r) % 1000:08d}") for r in range(1, ranks + 1)
                )
            conn.executemany(
                "INSERT INTO trials (uuid, session_uuid, phase, trial_index, image_id, image_sha256, outcome, shown_at,"
                " answered_at, rt_ms, presented_ms, supersedes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                trial_rows,
            )
            conn.executemany("INSERT INTO answers (uuid, trial_uuid, rank, label_id) VALUES (?,?,?,?)", answer_rows)
        conn.execute("COMMIT")


#: Issue #25's bounds: export and merge as a multiple of their same-run baselines, submit late vs early.
EXPORT_WITHIN = {"parquet": 1.5, "csv": 1.2}
MERGE_WITHIN = 1.2
SUBMIT_WITHIN = 1.2


def bench_submit(work: Path, trials: int, window: int) -> list[Result]:
    """``ResultsStore.submit`` at the start and at the end of one session of ``trials`` trials."""
    base = load_study(make_study(work / "long-study"))
    shown = next(iter(base.images.values()))
    images = {
        f"x{i:06d}": ImageRecord(f"x{i:06d}", shown.path, shown.labels, "test", shown.sha256) for i in range(trials)
    }
    study = dataclasses.replace(base, images=images, phases=(Phase("test", "test", tuple(images), answers=2),))
    samples = []
    with ResultsStore(work / "long.sqlite") as store:
        session = store.open_session(study, "bench")
        for trial in session.trials:
            now = utc_now()
            answer = TrialAnswer(trial, shown.sha256, Response(("cat", "dog"), 500.0, now, now))
            start = time.perf_counter()
            store.submit(session, answer)
            samples.append((time.perf_counter() - start) * 1000)
    _, early = percentiles(samples[:window])
    _, late = percentiles(samples[-window:])
    return [
        Result(
            "store",
            f"submit p99 at trials {trials - window + 1:,}-{trials:,} of one session",
            late,
            "ms",
            f"< {SUBMIT_WITHIN:g}x trials 1-{window}",
            early,
            f"p99 at trials 1-{window}",
            late <= SUBMIT_WITHIN * early,
        )
    ]


def bench_export(work: Path, answers: int) -> list[Result]:
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    trials = answers // 5
    path = work / "export.sqlite"
    fill_store(path, "bench", "h" * 64, 100, trials // 100, 5)
    results = []
    with ResultsStore(path, readonly=True) as store:
        for fmt in ("csv", "parquet"):
            start = time.perf_counter()
            export_answers(store, work / f"answers.{fmt}", fmt)
            ours = time.perf_counter() - start
            table = answers_table(store)
            start = time.perf_counter()
            if fmt == "csv":
                pa_csv.write_csv(table, work / "plain.csv")
            else:
                pq.write_table(table, work / "plain.parquet")
            plain = time.perf_counter() - start
            results.append(
                Result(
                    "store",
                    f"export {answers:,} answers to {fmt}",
                    ours,
                    "s",
                    f"< {EXPORT_WITHIN[fmt]:g}x baseline",
                    plain,
                    f"pyarrow writing the built table to {fmt}",
                    ours <= EXPORT_WITHIN[fmt] * plain,
                )
            )
    return results


def bench_merge(work: Path, stores: int, answers_each: int) -> list[Result]:
    inputs = []
    for i in range(stores):
        path = work / f"desk{i:03d}.sqlite"
        fill_store(path, "bench", "m" * 64, 1, answers_each // 5, 5)
        inputs.append(path)
    start = time.perf_counter()
    report = merge_stores(work / "merged.sqlite", inputs)
    ours = time.perf_counter() - start
    assert report.added["answers"] == stores * answers_each, report.added

    shutil.copyfile(inputs[0], work / "raw.sqlite")
    raw = sqlite3.connect(work / "raw.sqlite", isolation_level=None)
    start = time.perf_counter()
    for path in inputs[1:]:
        raw.execute(f"ATTACH DATABASE '{path}' AS src")
        raw.execute("BEGIN")
        for table in TABLES:
            raw.execute(f"INSERT OR IGNORE INTO {table} SELECT * FROM src.{table}")
        raw.execute("COMMIT")
        raw.execute("DETACH DATABASE src")
    plain = time.perf_counter() - start
    raw.close()
    return [
        Result(
            "store",
            f"merge {stores} stores x {answers_each:,} answers",
            ours,
            "s",
            f"< {MERGE_WITHIN:g}x baseline",
            plain,
            "raw ATTACH + INSERT SELECT",
            ours <= MERGE_WITHIN * plain,
        )
    ]


def run(quick: bool = False) -> list[Result]:
    """All store benchmarks; sizes shrink with ``quick``."""
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    work = Path(tempfile.mkdtemp(prefix="bench-store-", dir=base))
    try:
        results = bench_commit(work, 200 if quick else 2000)
        results += bench_submit(work, 1_500 if quick else 50_500, 200 if quick else 500)
        results += bench_export(work, 20_000 if quick else 1_000_000)
        results += bench_merge(work, 5 if quick else 100, 1_000 if quick else 10_000)
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    run_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    main()
