"""``python main.py progress``: how far a study is, per annotator and per image, while it runs.

Read-only and cheap enough to run every few seconds against a server store (``--watch``)
while a lab session goes on; works on a results file just the same. Answers that a later
revision (undo) replaced are not counted. For phases whose images are shared out
(``judgements_per_image``), each image's slots are shown as answered, held (claimed by a
session that has not answered yet) or free, and images with more answers than asked for
(a late answer whose slot had gone to someone else; see store/allocation.py) are listed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from study_app.errors import StudyError
from study_app.store.metadata import snapshot as stored_snapshot, trial_order
from study_app.store.results_store import ResultsStore

_CURRENT = "NOT EXISTS (SELECT 1 FROM trials r WHERE r.supersedes = t.uuid)"


@dataclass(frozen=True)
class SessionProgress:
    annotator: str
    session: str
    started_at: str
    answered: int
    total: int
    last_answer: str | None
    ended: bool


@dataclass(frozen=True)
class PhaseProgress:
    """One phase's images: answers per image, and the allocation slots where the phase has them."""

    name: str
    wanted: int | None  # answers per image the protocol asks for (None: every annotator answers every image)
    answers: dict[str, int]  # image -> current answers (0 for images nobody answered yet)
    held: dict[str, int]  # image -> slots claimed but not answered yet

    def complete(self) -> list[str]:
        return [i for i, n in self.answers.items() if self.wanted is not None and n >= self.wanted]

    def over(self) -> list[str]:
        return sorted(i for i, n in self.answers.items() if self.wanted is not None and n > self.wanted)


@dataclass(frozen=True)
class StudyProgress:
    name: str
    protocol_hash: str
    sessions: list[SessionProgress]
    phases: list[PhaseProgress]


def study_progress(store: ResultsStore, study: str | None = None) -> list[StudyProgress]:
    """Progress of every study in the store (or the one named ``study``, which must be there)."""
    condition, params = ("WHERE name = ?", (study,)) if study else ("", ())
    studies = store.conn.execute(  # a snapshot holds every image's hash: read only the one asked for
        f"SELECT uuid, name, protocol_hash, snapshot FROM studies {condition} ORDER BY created_at, uuid", params
    ).fetchall()
    if study and not studies:
        known = ", ".join(sorted({row[0] for row in store.conn.execute("SELECT name FROM studies")})) or "none yet"
        raise StudyError(f"no study {study!r} in {store.path} (studies: {known})")
    return [_one_study(store, *row) for row in studies]


def _one_study(store: ResultsStore, study_uuid: str, name: str, protocol_hash: str, snapshot: str) -> StudyProgress:
    conn = store.conn
    sessions = [
        SessionProgress(
            annotator,
            uuid_,
            started,
            answered or 0,
            len(trial_order(order, uuid_, store.path)),
            last,
            ended is not None,
        )
        for annotator, uuid_, started, ended, order, answered, last in conn.execute(
            "SELECT s.annotator_id, s.uuid, s.started_at, s.ended_at, s.trial_order, a.answered, a.last "
            "FROM sessions s LEFT JOIN (SELECT session_uuid, COUNT(DISTINCT phase || ':' || trial_index) AS answered, "
            "MAX(answered_at) AS last FROM trials GROUP BY session_uuid) a ON a.session_uuid = s.uuid "
            "WHERE s.study_uuid = ? ORDER BY s.annotator_id, s.started_at, s.uuid",
            (study_uuid,),
        )
    ]
    answers: dict[str, Counter] = {}
    for phase, image_id, count in conn.execute(
        f"SELECT t.phase, t.image_id, COUNT(*) FROM trials t JOIN sessions s ON s.uuid = t.session_uuid "
        f"WHERE s.study_uuid = ? AND {_CURRENT} GROUP BY t.phase, t.image_id",
        (study_uuid,),
    ):
        answers.setdefault(phase, Counter())[image_id] = count
    slots: dict[str, int] = {}
    held: dict[str, Counter] = {}
    for phase, image_id, total, waiting in conn.execute(
        "SELECT phase, image_id, COUNT(*), SUM(CASE WHEN session_uuid IS NOT NULL AND trial_uuid "
        "IS NULL THEN 1 ELSE 0 END) FROM allocations WHERE study_uuid = ? GROUP BY phase, image_id",
        (study_uuid,),
    ):
        slots[phase] = max(slots.get(phase, 0), total)
        held.setdefault(phase, Counter())[image_id] = waiting
    phases = []
    for phase in stored_snapshot(snapshot, study_uuid, store.path)["phases"]:
        counts = answers.get(phase["name"], Counter())
        images = {image_id: counts.get(image_id, 0) for image_id in phase["image_ids"]}
        phases.append(PhaseProgress(phase["name"], slots.get(phase["name"]), images, dict(held.get(phase["name"], {}))))
    return StudyProgress(name, protocol_hash, sessions, phases)


def format_progress(progress: list[StudyProgress], images: bool = False) -> str:
    """The progress as text: one line per session, one summary per phase (and per image if asked)."""
    if not progress:
        return "no study in this store yet"
    lines: list[str] = []
    for study in progress:
        annotators = len({s.annotator for s in study.sessions})
        lines.append(
            f"study {study.name} (protocol {study.protocol_hash[:12]}): "
            f"{annotators} annotator(s), {len(study.sessions)} session(s)"
        )
        lines.append(f"  {'annotator':<16} {'session':<9} {'started':<17} {'answered':>15}  {'last answer':<17} state")
        for s in study.sessions:
            share = f"{s.answered}/{s.total} ({s.answered / s.total:.0%})" if s.total else "0/0"
            state = "finished" if s.ended else ("started" if not s.answered else "in progress")
            lines.append(
                f"  {s.annotator:<16} {s.session[:8]:<9} {_minute(s.started_at):<17} "
                f"{share:>15}  {_minute(s.last_answer):<17} {state}"
            )
        for phase in study.phases:
            lines.extend(_phase_lines(phase, images))
        lines.append("")
    return "\n".join(lines).rstrip()


def _phase_lines(phase: PhaseProgress, images: bool) -> list[str]:
    counts = phase.answers
    untouched = sum(1 for n in counts.values() if n == 0)
    if phase.wanted is None:
        spread = Counter(counts.values())
        summary = ", ".join(f"{n} answer(s): {k} image(s)" for n, k in sorted(spread.items()))
        lines = [f"  phase {phase.name}: {len(counts)} image(s), every annotator answers each; {summary}"]
    else:
        complete, over = phase.complete(), phase.over()
        started = sum(1 for n in counts.values() if 0 < n < phase.wanted)
        held = sum(phase.held.values())
        answered = sum(min(n, phase.wanted) for n in counts.values())
        free = len(counts) * phase.wanted - answered - held
        lines = [
            f"  phase {phase.name}: {len(counts)} image(s), {phase.wanted} answer(s) "
            f"each: {len(complete)} complete, {started} begun, {untouched} not begun; "
            f"slots: {answered} answered, {held} held by sessions, {max(free, 0)} free"
        ]
        if over:
            lines.append(
                f"    over-answered (a late answer after its slot was handed on): {', '.join(over[:20])}"
                + (f" and {len(over) - 20} more" if len(over) > 20 else "")
            )
    if images:
        lines.append(f"    {'image':<24} answers  held")
        lines.extend(
            f"    {image_id:<24} {n:>7}  {phase.held.get(image_id, 0):>4}" for image_id, n in sorted(counts.items())
        )
    return lines


def _minute(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "-"
