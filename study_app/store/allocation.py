"""Sharing a phase's images out so that each image gets exactly r answers.

A phase with ``judgements_per_image = r`` (protocol.py) has r *slots* per image in the
``allocations`` table, created once per study. A new session *claims*
``images_per_annotator`` slots, at most one per image and never an image this annotator
has had before; its trial order for the phase is its own seeded order
(:func:`~study_app.protocol.schedule.phase_trials`) restricted to the claimed images, stored with
the session like any other order, so the GUI, breaks and resume work unchanged. An
answer *fills* its slot in the same transaction that stores it.

Many desktops start at once: claims of one study take turns (on PostgreSQL under a
transaction-scoped lock per study, on SQLite in the write transaction that holds the
file), so each claim sees every slot the earlier ones took. Row locks alone (``FOR UPDATE
SKIP LOCKED``) are not enough when the slots exactly fit the annotators: a claim skips a
row that a concurrent claim locked but then left (a second slot of an image it already
took), and the last annotators come up short. Answers filling slots still lock only their
rows (``SKIP LOCKED``), and never wait for a claim. The slots a session has not filled
return to the pool once the session shows no sign of life (``sessions.heartbeat_at``,
renewed by every answer) for the phase's ``release_after_min``, or once it ended.

A session that comes back after its slots were released takes them again if they are
still free (:func:`keep_claims`, on resume); the trials whose images went to someone else
leave its order. An answer whose slot was lost meanwhile (a desktop idle past the
timeout, or one that synced late from its offline journal) takes any free slot of its
image; if there is none, it is still stored -- an answer is never thrown away -- and
``progress`` shows that image as over-answered.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable

from study_app.errors import StoreError
from study_app.io.program import program
from study_app.protocol.schedule import Trial
from study_app.protocol.study import Phase, Study
from study_app.store.db import serialize

#: Release time assumed for a session whose study is not at hand (an old journal being synced).
DEFAULT_RELEASE_MIN = Phase.release_after_min


def allocated_phases(study: Study) -> dict[str, float]:
    """The study's allocated phases with their release times (minutes)."""
    return {phase.name: phase.release_after_min for phase in study.phases if phase.judgements_per_image}


def _lock_clause(conn: object) -> str:
    """Row locks that concurrent claims skip (PostgreSQL); SQLite's write lock covers the whole file."""
    return "" if isinstance(conn, sqlite3.Connection) else " FOR UPDATE OF a SKIP LOCKED"


def _cutoff(now: str, minutes: float) -> str:
    moment = dt.datetime.fromisoformat(now) - dt.timedelta(minutes=minutes)
    return moment.isoformat(timespec="milliseconds")


#: A slot nobody holds: never claimed, or its session ended or went quiet before the cutoff.
#: (A slot whose session row cannot be seen is *not* free: on PostgreSQL that is a session
#: committed by another desktop after this statement began, seen when re-checking a lock.)
_FREE = (
    "a.trial_uuid IS NULL AND (a.session_uuid IS NULL OR s.ended_at IS NOT NULL "
    "OR COALESCE(s.heartbeat_at, s.started_at) < ?)"
)


def _ensure_pool(conn, study_uuid: str, phase: Phase, slot_uuid) -> None:
    """Create the phase's r slots per image once (idempotent: concurrent creators add nothing twice)."""
    expected = len(phase.image_ids) * phase.judgements_per_image
    have = conn.execute(
        "SELECT COUNT(*) FROM allocations WHERE study_uuid = ? AND phase = ?", (study_uuid, phase.name)
    ).fetchone()[0]
    if have >= expected:
        return
    conn.executemany(
        "INSERT OR IGNORE INTO allocations(uuid, study_uuid, phase, image_id, slot) VALUES (?,?,?,?,?)",
        [
            (slot_uuid(f"{study_uuid}:{phase.name}:{image_id}:{slot}"), study_uuid, phase.name, image_id, slot)
            for image_id in phase.image_ids
            for slot in range(1, phase.judgements_per_image + 1)
        ],
    )


def claim_trials(
    conn,
    study: Study,
    *,
    study_uuid: str,
    session_uuid: str,
    annotator: str,
    trials: Iterable[Trial],
    now: str,
    slot_uuid,
) -> tuple[Trial, ...]:
    """The session's trial order with each allocated phase cut down to the images it claimed.

    Runs inside the write transaction that creates the session. ``slot_uuid(key)`` makes a
    slot's deterministic UUID. Raises :class:`StoreError` when a phase has nothing left
    for this annotator.
    """
    claimed: dict[str, set[str]] = {}
    serialize(conn, f"claim:{study_uuid}")
    for phase in study.phases:
        if not phase.judgements_per_image:
            continue
        _ensure_pool(conn, study_uuid, phase, slot_uuid)
        images = _claim(conn, study_uuid, session_uuid, annotator, phase, now)
        if not images:
            raise StoreError(
                f"phase {phase.name!r}: no image is left for annotator {annotator}: every image has its "
                f"{phase.judgements_per_image} answer(s) or is held by a session active in the last "
                f"{phase.release_after_min:g} min (see: {program()} progress)"
            )
        claimed[phase.name] = images
    return _restrict(trials, claimed)


def _restrict(trials: Iterable[Trial], keep: dict[str, set[str]]) -> tuple[Trial, ...]:
    """``trials`` without the images of ``keep``'s phases that are not kept, renumbered per phase."""
    result: list[Trial] = []
    index: dict[str, int] = {}
    for trial in trials:
        if trial.phase in keep:
            if trial.image_id not in keep[trial.phase]:
                continue
            position = index.get(trial.phase, 0)
            index[trial.phase] = position + 1
            trial = Trial(trial.phase, position, trial.image_id)
        result.append(trial)
    return tuple(result)


def _claim(conn, study_uuid: str, session_uuid: str, annotator: str, phase: Phase, now: str) -> set[str]:
    """Take up to ``images_per_annotator`` free slots of the phase, one per image.

    Asks for just the slots still needed, lowest slot numbers first (so images fill up
    evenly), and again for the shortfall when two of them were of one image: locking more
    rows than it takes would hide them from the desktops claiming at the same moment. The
    images this annotator had before are looked up first and left out by value, which
    keeps the scan a plain index range whatever the planner knows about the tables.
    """
    excluded = {
        image_id
        for (image_id,) in conn.execute(
            "SELECT b.image_id FROM allocations b JOIN sessions sb ON sb.uuid = b.session_uuid "
            "WHERE sb.annotator_id = ? AND b.study_uuid = ? AND b.phase = ? "
            "UNION SELECT t.image_id FROM trials t JOIN sessions st ON st.uuid = t.session_uuid "
            "WHERE st.annotator_id = ? AND st.study_uuid = ? AND t.phase = ?",
            (annotator, study_uuid, phase.name, annotator, study_uuid, phase.name),
        )
    }
    chosen: set[str] = set()
    cutoff = _cutoff(now, phase.release_after_min)
    while len(chosen) < phase.images_per_annotator:
        skip = sorted(excluded | chosen)
        not_in = f" AND a.image_id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
        rows = conn.execute(
            f"SELECT a.uuid, a.image_id FROM allocations a LEFT JOIN sessions s ON s.uuid = a.session_uuid "
            f"WHERE a.study_uuid = ? AND a.phase = ? AND {_FREE}{not_in} "
            f"ORDER BY a.slot, a.uuid LIMIT ?{_lock_clause(conn)}",
            (study_uuid, phase.name, cutoff, *skip, phase.images_per_annotator - len(chosen)),
        ).fetchall()
        taken: dict[str, str] = {}
        for slot, image_id in rows:
            taken.setdefault(image_id, slot)
        if not taken:
            break
        conn.executemany(
            "UPDATE allocations SET session_uuid = ?, claimed_at = ? WHERE uuid = ?",
            [(session_uuid, now, slot) for slot in taken.values()],
        )
        chosen.update(taken)
    return chosen


def _take_free_slot(
    conn, session_uuid: str, phase: str, image_id: str, *, now: str, minutes: float, trial_uuid: str | None
) -> bool:
    """Give the session (and the answer ``trial_uuid``, if any) a free slot of this image."""
    row = conn.execute(
        f"SELECT a.uuid FROM allocations a LEFT JOIN sessions s ON s.uuid = a.session_uuid "
        f"WHERE a.study_uuid = (SELECT study_uuid FROM sessions WHERE uuid = ?) AND a.phase = ? AND a.image_id = ? "
        f"AND {_FREE} ORDER BY a.slot LIMIT 1{_lock_clause(conn)}",
        (session_uuid, phase, image_id, _cutoff(now, minutes)),
    ).fetchone()
    if row is None:
        return False
    conn.execute(
        "UPDATE allocations SET session_uuid = ?, claimed_at = ?, trial_uuid = ? WHERE uuid = ?",
        (session_uuid, now, trial_uuid, row[0]),
    )
    return True


def fill_slot(
    conn,
    session_uuid: str,
    trial_uuid: str,
    *,
    phase: str,
    image_id: str,
    supersedes: str | None,
    now: str,
    minutes: float,
) -> bool:
    """Record an answer in its slot (in the answer's transaction) and renew the session's lease.

    A revision (``supersedes``) takes over the slot of the answer it replaces. Returns
    False when no slot could be had (the answer is then over the image's r).
    """
    conn.execute("UPDATE sessions SET heartbeat_at = ? WHERE uuid = ?", (now, session_uuid))
    if (
        supersedes
        and conn.execute(
            "UPDATE allocations SET trial_uuid = ? WHERE trial_uuid = ?", (trial_uuid, supersedes)
        ).rowcount
    ):
        return True
    filled = conn.execute(
        "UPDATE allocations SET trial_uuid = ? WHERE session_uuid = "
        "? AND phase = ? AND image_id = ? AND trial_uuid IS NULL",
        (trial_uuid, session_uuid, phase, image_id),
    ).rowcount
    return bool(filled) or _take_free_slot(
        conn, session_uuid, phase, image_id, now=now, minutes=minutes, trial_uuid=trial_uuid
    )


def answer_placed(conn, trial_uuid: str) -> bool:
    """True when the answer holds a slot, or a revision of it took its slot over: nothing to
    fill. (False too for an answer in a phase without slots, where filling finds none.)"""
    return (
        conn.execute(
            "SELECT 1 FROM allocations WHERE trial_uuid = ? UNION ALL "
            "SELECT 1 FROM trials WHERE supersedes = ? LIMIT 1",
            (trial_uuid, trial_uuid),
        ).fetchone()
        is not None
    )


def place_answers(conn, trials: Iterable[tuple[str, str, str, str, str | None]], now: str) -> int:
    """Give answers that reached the store without their desktop (a merge into the server) the
    slots their desktop would have filled; ``trials`` are (uuid, session_uuid, phase, image_id,
    supersedes) in the order given. Only phases that share images out; returns how many were placed."""
    allocated = {tuple(row) for row in conn.execute("SELECT DISTINCT study_uuid, phase FROM allocations")}
    if not allocated:
        return 0
    study_of = dict(conn.execute("SELECT uuid, study_uuid FROM sessions").fetchall())
    placed = 0
    for uuid_, session_uuid, phase, image_id, supersedes in trials:
        if (study_of.get(session_uuid), phase) in allocated and not answer_placed(conn, uuid_):
            placed += fill_slot(
                conn,
                session_uuid,
                uuid_,
                phase=phase,
                image_id=image_id,
                supersedes=supersedes,
                now=now,
                minutes=DEFAULT_RELEASE_MIN,
            )
    return placed


def keep_claims(
    conn, study: Study, session_uuid: str, trials: tuple[Trial, ...], answered: set[tuple[str, int]], now: str
) -> tuple[Trial, ...]:
    """On resume: the session's order, keeping only unanswered allocated trials whose slot it (still or again) holds.

    Renews the lease; rewrites the stored order if trials had to go. Answers are a
    prefix of each phase, so only unanswered trials are renumbered.
    """
    conn.execute("UPDATE sessions SET heartbeat_at = ? WHERE uuid = ?", (now, session_uuid))
    held = {
        (phase, image_id)
        for phase, image_id in conn.execute(
            "SELECT phase, image_id FROM allocations WHERE session_uuid = ? AND trial_uuid IS NULL", (session_uuid,)
        )
    }
    keep: dict[str, set[str]] = {}
    for trial in trials:
        phase = study.phase(trial.phase)
        if not phase.judgements_per_image:
            continue
        images = keep.setdefault(trial.phase, set())
        if (trial.phase, trial.index) in answered or (trial.phase, trial.image_id) in held:
            images.add(trial.image_id)
        elif _take_free_slot(
            conn, session_uuid, phase.name, trial.image_id, now=now, minutes=phase.release_after_min, trial_uuid=None
        ):
            images.add(trial.image_id)
    kept = _restrict(trials, keep)
    if kept != trials:
        order = json.dumps([[t.phase, t.index, t.image_id] for t in kept])
        conn.execute("UPDATE sessions SET trial_order = ? WHERE uuid = ?", (order, session_uuid))
    return kept
