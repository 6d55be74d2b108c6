"""The course of one annotator's session, independent of any window.

:class:`SessionController` knows where the annotator is (which phase, which trial, when a
break is due, when the session ends), writes every response through its store (any
:class:`~study_app.store.answer_store.AnswerStore`: a results file, or a server behind the
offline journal) before moving on, and works out training feedback. The PyQt5 window is a
view on it, and scripted participants (pilot runs, crash tests) drive the very same
object, so what is tested headless is what annotators use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from study_app.protocol.correctness import answers_correct, scored_guesses
from study_app.protocol.responses import Event, Response
from study_app.protocol.schedule import Trial
from study_app.protocol.study import Phase, Study
from study_app.store.answer_store import AnswerStore, StoredAnswer, TrialAnswer
from study_app.store.results_store import Session


@dataclass(frozen=True)
class Feedback:
    """What a training phase shows after an answer."""

    correct: bool
    truth: tuple[str, ...]
    given: tuple[str, ...]
    phase_correct: int
    phase_answered: int
    outcome: str = "answer"  # or not_sure, none_of_these, timeout: why ``given`` is empty
    #: Whether ``given`` was judged: False for the guesses a timeout kept in a phase that does
    #: not score them (``score_timeout_guesses``), which the feedback shows as not counted.
    scored: bool = True

    @property
    def running_accuracy(self) -> float:
        return self.phase_correct / self.phase_answered if self.phase_answered else 0.0


class SessionController:
    """Walks an annotator through the phases of a study, one durable answer at a time."""

    def __init__(
        self, study: Study, store: AnswerStore, annotator: str, force_new: bool = False, arrival: int | None = None
    ) -> None:
        self.study = study
        self.store = store
        self.session: Session = store.open_session(study, annotator, force_new=force_new, arrival=arrival)
        self._phase_scores: dict[str, list[bool]] = {}
        self._phase_sizes = Counter(trial.phase for trial in self.session.trials)
        # The last answer of this sitting, as (trial, its row's uuid, response), while it
        # may still be taken back; after an undo, the same triple for the trial being revised.
        self._last: tuple[Trial, str, Response] | None = None
        self._revising: tuple[Trial, str, Response] | None = None
        self._restore_scores()

    @property
    def annotator(self) -> str:
        return self.session.annotator

    @property
    def resumed(self) -> bool:
        return self.session.resumed

    @property
    def total(self) -> int:
        return len(self.session.trials)

    @property
    def position(self) -> int:
        """0-based position of the current trial in the whole session."""
        next_position = self.session.next_position
        return next_position - 1 if self._revising else next_position

    @property
    def complete(self) -> bool:
        return self._revising is None and self.session.complete

    def current(self) -> Trial | None:
        if self._revising:
            return self._revising[0]
        position = self.position
        return self.session.trials[position] if position < self.total else None

    def current_phase(self) -> Phase | None:
        trial = self.current()
        return self.study.phase(trial.phase) if trial else None

    def phase_size(self, phase: str) -> int:
        """Trials of ``phase`` in this session (a counterbalanced block may be a subset)."""
        return self._phase_sizes.get(phase, 0)

    def starts_phase(self) -> bool:
        """True when the current trial is the first unanswered one of its phase."""
        trial = self.current()
        return trial is not None and not any(
            (trial.phase, i) in self.session.answered for i in range(self.phase_size(trial.phase))
        )

    def submit(
        self, response: Response, events: Iterable[Event] = (), client_uuid: str | None = None
    ) -> Feedback | None:
        """Store the response to the current trial (durably) and return training feedback.

        A response must say when its image was shown (``shown_at``; only a skipped image that
        could not be loaded has none): an answer is never stored against an image the
        annotator was not shown. A front end sets ``shown_at`` when the image is on screen
        (the window: when it is painted) and never before. ``client_uuid``: the front end's own
        UUID for this answer (a browser's), which makes sending it twice store it once.
        """
        trial = self.current()
        if trial is None:
            raise RuntimeError("the session has no trial left to answer")
        if not response.shown_at and response.outcome != "skip":
            raise RuntimeError(f"an answer to image {trial.image_id!r} that was never shown is refused")
        phase = self.study.phase(trial.phase)
        record = self.study.images[trial.image_id]
        supersedes = self._revising[1] if self._revising else None
        trial_uuid = self.store.submit(
            self.session, TrialAnswer(trial, record.sha256, response, tuple(events), supersedes, client_uuid)
        )
        judged = scored_guesses(response.labels, response.outcome, phase)
        correct = bool(answers_correct([judged], [record.labels], phase)[0])
        scores = self._phase_scores.setdefault(phase.name, [])
        if self._revising:
            scores.pop()  # only the revision counts
            self._revising = None
        scores.append(correct)
        self._last = (trial, trial_uuid, response)
        if not phase.feedback:
            return None
        return Feedback(
            correct,
            record.labels,
            response.labels,
            sum(scores),
            len(scores),
            response.outcome,
            scored=bool(judged) or not response.labels,
        )

    def break_due(self) -> bool:
        """A break screen is due now: ``break_every`` answers of this phase just completed."""
        if self.complete or self.position == 0 or self._revising:
            return False
        previous = self.session.trials[self.position - 1]
        phase = self.study.phase(previous.phase)
        done = previous.index + 1
        return bool(phase.break_every) and done % phase.break_every == 0 and done < self.phase_size(phase.name)

    def can_undo(self) -> bool:
        """The last answer of this sitting may be taken back now.

        Only within its phase (the next trial is of the same phase), never across a break
        or after the session ended, never for a timeout or a skipped broken image, and
        only where the protocol allows undo in that phase (it never does with feedback).
        """
        if self._last is None or self._revising is not None or self.complete:
            return False
        trial, _uuid, response = self._last
        following = self.current()
        return (
            self.study.phase(trial.phase).undo
            and response.outcome not in ("timeout", "skip")
            and following is not None
            and following.phase == trial.phase
            and self.session.trials[self.session.next_position - 1] == trial
            and not self.break_due()
        )

    def undo(self) -> Response:
        """Take back the last answer: its trial becomes current again; returns the answer
        taken back (to show it for revision). The stored row stays as the audit trail; the
        revision, once submitted, supersedes it."""
        last = self._last
        if last is None or not self.can_undo():
            raise RuntimeError("there is no answer that can be taken back now")
        trial, trial_uuid, response = last
        self.store.log_events(self.session, [Event("undo", 0.0, {"supersedes": trial_uuid})], trial)
        self._revising = last
        self._last = None
        return response

    def cancel_revision(self) -> None:
        """Give up the revision an undo began: the stored answer stands as it was (an event
        says so beside the undo's), and it may be taken back again."""
        revising = self._revising
        if revising is None:
            raise RuntimeError("no answer is being revised")
        trial, trial_uuid, _response = revising
        self.store.log_events(self.session, [Event("revision_cancelled", 0.0, {"kept": trial_uuid})], trial)
        self._last = revising
        self._revising = None

    def after_pause(self, seen: bool) -> str:
        """How the current trial goes on after a pause (``seen``: its image had been painted).

        ``respond``: a timed image already shown is not shown again; the trial goes on at its
        response screen. ``repeat``: the study asks for a fresh exposure (``after_pause`` of its
        presentation); the pause event marks the first. ``continue``: an untimed trial, or a
        timed one paused before its image, goes on as it was.
        """
        phase = self.current_phase()
        presentation = phase.presentation if phase else None
        return presentation.after_pause if presentation is not None and seen else "continue"

    def pause_event(self, t_ms: float, seen: bool) -> Event:
        """The event that notes a pause of the current trial, with what the annotator had seen
        and how the trial goes on (:meth:`after_pause`)."""
        trial = self.current()
        if trial is None:
            raise RuntimeError("the session has no trial to pause")
        return Event("pause", t_ms, {"image_id": trial.image_id, "seen": seen, "then": self.after_pause(seen)})

    @property
    def revising(self) -> bool:
        return self._revising is not None

    @property
    def answer_under_revision(self) -> Response | None:
        """The answer an undo took back, while its trial is being revised (to show it again)."""
        return self._revising[2] if self._revising else None

    def block_score(self) -> tuple[int, int]:
        """(correct, answered) over the last block of the current phase, for the break screen."""
        if self.position == 0:
            return (0, 0)
        previous = self.session.trials[self.position - 1]
        phase = self.study.phase(previous.phase)
        scores = self._phase_scores.get(phase.name, [])
        block = scores[-phase.break_every :] if phase.break_every else scores
        return (sum(block), len(block))

    def log(self, events: Iterable[Event]) -> None:
        """Events outside a submitted answer (pause, quit, focus loss between trials)."""
        self.store.log_events(self.session, events, self.current())

    def phase_accuracy(self, phase: str) -> tuple[int, int]:
        scores = self._phase_scores.get(phase, [])
        return (sum(scores), len(scores))

    def finish(self) -> None:
        if self.session.ended_at is None:
            self.store.finish_session(self.session)

    def _restore_scores(self) -> None:
        """Running scores of a resumed session, recomputed from what the store holds (by the
        same rule as every answer: :mod:`study_app.protocol.correctness`)."""
        if not self.session.answered:
            return
        by_phase: dict[str, list[StoredAnswer]] = {}
        for answer in self.store.session_answers(self.session):  # in answer order
            by_phase.setdefault(answer.phase, []).append(answer)
        for name, answers in by_phase.items():
            phase = self.study.phase(name)
            scored = answers_correct(
                [scored_guesses(a.labels, a.outcome, phase) for a in answers],
                [self.study.truth(a.image_id) for a in answers],
                phase,
            )
            self._phase_scores.setdefault(phase.name, []).extend(bool(correct) for correct in scored)
