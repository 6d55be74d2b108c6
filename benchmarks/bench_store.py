"""Results store benchmarks: durable commit latency, export of 1,000,000 answers, merge.

- Commit: p50/p99 of one durable ``ResultsStore.submit`` (target p99 < 10 ms), against the
  physical floor measured in the same run: write + fsync of a small file.
- Export: 1,000,000 answers to CSV and Parquet, against pandas writing the same table
  (the cost of our query, escaping and manifest on top of the file format itself).
- Merge: 100 stores of 10,000 answers each, against a hand-written
  ``ATTACH`` + ``INSERT OR IGNORE ... SELECT`` of the same rows.

``--quick`` shrinks every size (for CI: checks that the code runs, not the timings).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore, answers_frame, export_answers, merge_stores
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


def bench_export(work: Path, answers: int) -> list[Result]:
    trials = answers // 5
    path = work / "export.sqlite"
    fill_store(path, "bench", "h" * 64, 100, trials // 100, 5)
    results = []
    with ResultsStore(path, readonly=True) as store:
        for fmt in ("csv", "parquet"):
            start = time.perf_counter()
            export_answers(store, work / f"answers.{fmt}", fmt)
            ours = time.perf_counter() - start
            frame = answers_frame(store, include_superseded=True)
            start = time.perf_counter()
            frame.to_csv(work / "plain.csv", index=False) if fmt == "csv" else frame.to_parquet(
                work / "plain.parquet", index=False
            )
            plain = time.perf_counter() - start
            results.append(
                Result("store", f"export {answers:,} answers to {fmt}", ours, "s", "", plain, f"pandas to_{fmt} alone")
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
            "",
            plain,
            "raw ATTACH + INSERT SELECT",
        )
    ]


def run(quick: bool = False) -> list[Result]:
    """All store benchmarks; sizes shrink with ``quick``."""
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    work = Path(tempfile.mkdtemp(prefix="bench-store-", dir=base))
    try:
        results = bench_commit(work, 200 if quick else 2000)
        results += bench_export(work, 20_000 if quick else 1_000_000)
        results += bench_merge(work, 5 if quick else 100, 1_000 if quick else 10_000)
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    run_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    main()
