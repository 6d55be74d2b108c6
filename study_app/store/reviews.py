"""Reviews of errors in the results store: who reviewed what, with which causes, and when.

A review session is one sitting of one reviewer (blind or not, which raters, the
taxonomy in force). Each review of one error is one row; revising a review writes a new
row that ``supersedes`` the old one, so the earlier judgement stays for the audit trail.
A proposed ground truth is stored in the review row beside the ground truth that was
shown (``truth``), never in place of it. Rows have random UUIDs, so merging stores of
several reviewers is the same idempotent copy as for answers (:mod:`.merge`).

SQL here is deliberately plain (no SQLite-only syntax) and goes through
:mod:`.db`'s connection helpers, like the rest of the store.
"""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from study_app.errors import StoreError
from study_app.io.csv_safety import safe_csv_text
from study_app.io.output_guard import write_text
from study_app.protocol.responses import utc_now
from study_app.store.db import write
from study_app.store.results_store import ResultsStore, new_uuid
from study_app.version import __version__

#: Columns of :func:`reviews_frame` and of the reviews export, in order.
REVIEW_COLUMNS = [
    "review_uuid",
    "review_session",
    "reviewer",
    "blind",
    "item",
    "rater",
    "rater_kind",
    "phase",
    "image_id",
    "trial_uuid",
    "guesses",
    "truth",
    "causes",
    "note",
    "proposed_truth",
    "review_ms",
    "reviewed_at",
    "supersedes",
    "superseded",
]
_SELECT = """
SELECT r.uuid, r.review_session_uuid, r.reviewer_id, s.blind, r.item, r.rater, r.rater_kind, r.phase, r.image_id,
       r.trial_uuid, r.guesses, r.truth, r.causes, r.note, r.proposed_truth, r.review_ms, r.reviewed_at, r.supersedes
FROM reviews r JOIN review_sessions s ON s.uuid = r.review_session_uuid
"""


@dataclass(frozen=True)
class ErrorReview:
    """A reviewer's judgement of one error (the current one unless ``superseded``)."""

    uuid: str
    reviewer: str
    item: str
    causes: tuple[str, ...]
    note: str
    proposed_truth: tuple[str, ...] | None
    reviewed_at: str
    supersedes: str | None = None


@dataclass(frozen=True)
class ReviewTarget:
    """What was reviewed: the error as it was shown (guesses and ground truth at the time)."""

    item: str
    rater: str
    rater_kind: str
    phase: str
    image_id: str
    trial_uuid: str | None
    guesses: tuple[str, ...]
    truth: tuple[str, ...]


def _join(labels: Sequence[str] | None) -> str | None:
    return None if labels is None else ";".join(labels)


def _split(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(part for part in text.split(";") if part)


def open_review_session(
    store: ResultsStore,
    reviewer: str,
    *,
    study_name: str,
    protocol_hash: str,
    blind: bool,
    selection: dict,
    taxonomy: list[dict],
) -> str:
    """Start a sitting; returns its UUID. Earlier reviews of the reviewer carry over (see :func:`current_reviews`)."""
    session_uuid = new_uuid()
    with write(store.conn) as conn:
        conn.execute(
            "INSERT INTO review_sessions(uuid, reviewer_id, study_name, protocol_hash, blind, selection, taxonomy, "
            "app_version, machine, started_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                session_uuid,
                reviewer,
                study_name,
                protocol_hash,
                int(blind),
                json.dumps(selection, sort_keys=True),
                json.dumps(taxonomy),
                __version__,
                socket.gethostname(),
                utc_now(),
            ),
        )
    return session_uuid


def end_review_session(store: ResultsStore, session_uuid: str) -> None:
    with write(store.conn) as conn:
        conn.execute(
            "UPDATE review_sessions SET ended_at = ? WHERE uuid = ? AND ended_at IS NULL", (utc_now(), session_uuid)
        )


def save_review(
    store: ResultsStore,
    session_uuid: str,
    reviewer: str,
    target: ReviewTarget,
    *,
    causes: Sequence[str],
    note: str,
    proposed_truth: Sequence[str] | None,
    review_ms: float,
) -> ErrorReview:
    """Store one review durably (one transaction); a second review of the same error supersedes the first.

    Refuses a review without any cause: an error is reviewed when it has a cause
    ("other" with a note is always available).
    """
    if not causes:
        raise StoreError(f"review of {target.item}: choose at least one cause")
    if proposed_truth is not None and not proposed_truth:
        proposed_truth = None
    review = ErrorReview(
        new_uuid(),
        reviewer,
        target.item,
        tuple(causes),
        note,
        tuple(proposed_truth) if proposed_truth else None,
        utc_now(),
    )
    with write(store.conn) as conn:
        previous = _current_rows(conn, reviewer, target.item)
        supersedes = previous[0][0] if previous else None
        conn.execute(
            "INSERT INTO reviews(uuid, review_session_uuid, reviewer_id, item, rater, rater_kind, "
            "phase, image_id, trial_uuid, guesses, truth, causes, note, proposed_truth, "
            "review_ms, reviewed_at, supersedes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                review.uuid,
                session_uuid,
                reviewer,
                target.item,
                target.rater,
                target.rater_kind,
                target.phase,
                target.image_id,
                target.trial_uuid,
                json.dumps(list(target.guesses)),
                _join(target.truth),
                json.dumps(list(causes)),
                note,
                _join(review.proposed_truth),
                float(review_ms),
                review.reviewed_at,
                supersedes,
            ),
        )
    return ErrorReview(
        review.uuid, reviewer, target.item, review.causes, note, review.proposed_truth, review.reviewed_at, supersedes
    )


def _not_superseded(rows: list[tuple]) -> list[tuple]:
    """The rows (uuid first, supersedes last) that no other row of ``rows`` replaces.

    A revision always replaces a review of the same reviewer and error (``check-store``
    verifies it), so the rows of one reviewer hold every row that could replace one of
    them. Done here rather than with ``NOT EXISTS`` in SQL: without an index on
    ``supersedes`` that subquery scans the table once per row.
    """
    replaced = {row[-1] for row in rows if row[-1] is not None}
    return [row for row in rows if row[0] not in replaced]


def _current_rows(conn, reviewer: str, item: str) -> list[tuple]:
    """The reviewer's current (not superseded) rows for one error, latest first."""
    rows = conn.execute(
        "SELECT uuid, reviewed_at, supersedes FROM reviews WHERE "
        "reviewer_id = ? AND item = ? ORDER BY reviewed_at DESC, uuid DESC",
        (reviewer, item),
    ).fetchall()
    return _not_superseded(rows)


def current_reviews(store: ResultsStore, reviewer: str) -> dict[str, ErrorReview]:
    """Item -> the reviewer's current review of it, over all their sittings.

    Two current rows for one item happen only when one reviewer reviewed the same error
    on two machines whose stores were merged; the later one counts (see :func:`review_conflicts`).
    """
    rows = _not_superseded(
        store.conn.execute(
            "SELECT uuid, item, causes, note, proposed_truth, reviewed_at, supersedes "
            "FROM reviews WHERE reviewer_id = ? ORDER BY reviewed_at, uuid",
            (reviewer,),
        ).fetchall()
    )
    return {
        item: ErrorReview(uuid, reviewer, item, tuple(json.loads(causes)), note, _split(proposed), at, supersedes)
        for uuid, item, causes, note, proposed, at, supersedes in rows
    }


def review_conflicts(store: ResultsStore) -> list[tuple[str, str, int]]:
    """(reviewer, item, count) where one reviewer has several current reviews of one error.

    Such duplicates come from merging two machines' stores.
    """
    rows = _not_superseded(store.conn.execute("SELECT uuid, reviewer_id, item, supersedes FROM reviews").fetchall())
    counts = Counter((reviewer, item) for _, reviewer, item, _ in rows)
    return sorted((reviewer, item, count) for (reviewer, item), count in counts.items() if count > 1)


def reviews_frame(store: ResultsStore, include_superseded: bool = False, study_name: str | None = None) -> pd.DataFrame:
    """Every review as a table (columns :data:`REVIEW_COLUMNS`); ``causes`` and label lists joined by ``;``.

    Without ``include_superseded``, only current reviews: for each reviewer and error the
    latest review that no other replaces.
    """
    query = (
        _SELECT + (" WHERE s.study_name = ?" if study_name else "") + " ORDER BY r.reviewer_id, r.reviewed_at, r.uuid"
    )
    rows = store.conn.execute(query, (study_name,) if study_name else ()).fetchall()
    frame = pd.DataFrame(rows, columns=REVIEW_COLUMNS[:-1])
    replaced = set(frame["supersedes"].dropna())
    frame["superseded"] = frame["review_uuid"].isin(replaced)
    # Within one millisecond the clock cannot order a review and its revision: the chain can.
    frame = frame.iloc[_chain_order(frame)]
    frame["blind"] = frame["blind"].astype(bool)
    frame["guesses"] = frame["guesses"].map(lambda text: ";".join(json.loads(text)))
    frame["causes"] = frame["causes"].map(lambda text: ";".join(json.loads(text)))
    for column in ("trial_uuid", "proposed_truth", "supersedes"):
        frame[column] = frame[column].fillna("")
    if not include_superseded:
        frame = frame[~frame["superseded"]]
        # one reviewer's two current reviews of an error (merged from two machines): the later counts
        frame = frame.drop_duplicates(["reviewer", "item"], keep="last")
    return frame.reset_index(drop=True)[REVIEW_COLUMNS]


def _chain_order(frame: pd.DataFrame) -> list[int]:
    """Row positions sorted by reviewer, time and then revision depth (a review before its revision)."""
    parent = dict(zip(frame["review_uuid"], frame["supersedes"]))

    def depth(uuid: str) -> int:
        earlier = parent.get(uuid)
        return 1 + depth(earlier) if isinstance(earlier, str) and earlier in parent else 0

    keys = [
        (reviewer, at, depth(uuid))
        for reviewer, at, uuid in zip(frame["reviewer"], frame["reviewed_at"], frame["review_uuid"])
    ]
    return sorted(range(len(keys)), key=keys.__getitem__)


def export_reviews(store: ResultsStore, out: Path, study_name: str | None = None) -> Path:
    """Write every review (revisions included, marked ``superseded``) as a spreadsheet-safe CSV."""
    frame = reviews_frame(store, include_superseded=True, study_name=study_name)
    write_text(out, safe_csv_text(frame))
    return out
