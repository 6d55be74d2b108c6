"""Pilot runs: scripted participants go through a study before any annotator arrives.

A simulated participant takes the same path as a person at the window: the
:class:`~study_app.session.controller.SessionController` walks it through the instructions, the
phases and the breaks, and every answer goes through the same store code. Whether an
answer is right follows a Rasch-style model of annotator ability and image difficulty
(:mod:`study_app.session.simulated_raters`), so that simulated annotators err on the same hard
images as real ones do (or the answers are copied from a model's predictions); response
times are drawn from a normal distribution and each trial is stamped as shown when the
previous one was answered, so a researcher can dry-run simulate -> compare -> report end
to end. Pilot sessions are marked and live in their own store
(``results/<study>/pilot.sqlite``), which refuses real sessions and vice versa.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from study_app.errors import Problem, StoreError, StudyError
from study_app.io.program import program
from study_app.io.store_url import printable_location
from study_app.io.tidy_predictions import read_predictions
from study_app.protocol.responses import Event, Response
from study_app.protocol.study import Study
from study_app.session.controller import SessionController
from study_app.session.simulated_raters import DEFAULT_ABILITY_SD, DEFAULT_DIFFICULTY_SD, RaschRaters
from study_app.store.answer_store import AnswerStore
from study_app.store.journal import JournaledStore, open_annotation_store
from study_app.store.results_store import study_results_dir

PILOT_FILE = "pilot.sqlite"
MIN_RT_MS = 150.0


def default_pilot_store(study: Study, results_dir: Path | None = None) -> Path:
    return study_results_dir(study.name, results_dir) / PILOT_FILE


@dataclass(frozen=True)
class PilotSummary:
    """What a pilot run did: sessions, trials, and the accuracy it produced per phase."""

    store: Path | str
    annotators: tuple[str, ...]
    trials: int
    correct: dict[str, tuple[int, int]]
    #: Answers left in the desktop's offline journal because the server was unreachable at the end.
    unsent: int = 0
    journal: Path | None = None
    #: How the answers were chosen (the answer model and its parameters, or the model copied).
    answers: str = ""

    def summary(self) -> str:
        lines = [
            f"pilot store {printable_location(self.store)}: "
            f"{len(self.annotators)} simulated annotator(s), {self.trials} trials"
        ]
        if self.answers:
            lines.append(f"  answers: {self.answers}")
        for phase, (right, answered) in self.correct.items():
            lines.append(
                f"  {phase}: {right} of {answered} correct ({right / answered:.1%})"
                if answered
                else f"  {phase}: no trials"
            )
        if self.unsent:
            lines.append(
                f"the server could not be reached at the end: {self.unsent} answer(s) "
                f"wait in the journal {self.journal}; send them with: {program()} "
                f"sync --store <server URL> --journal {self.journal} --pilot"
            )
        return "\n".join(lines)


class ScriptedParticipant:
    """Chooses answers and response times for one simulated annotator.

    Answers are right with the probability ``raters`` gives this annotator on each image
    (or copied from ``guesses``). The trials' stamps run on the participant's own clock: a
    trial is shown when the previous one was answered (or now, if later) and answered a
    response time after, so that stamps never overlap. Without ``real_time`` an answer takes
    no wall-clock time and the clock runs ahead of it, as the session of a person at these
    response times would. With ``interruptions`` the participant also pauses and takes back
    answers (:meth:`interrupts`), on a random stream of its own: the answers stay those of
    the same seed without them.
    """

    def __init__(
        self,
        study: Study,
        rng: random.Random,
        raters: RaschRaters | None,
        *,
        annotator: str,
        guesses: dict[str, tuple[str, ...]] | None,
        rt_ms: tuple[float, float],
        real_time: bool = False,
        interruptions: float = 0.0,
    ) -> None:
        self.study = study
        self.interruptions = interruptions
        self._interrupting = random.Random(f"{annotator}:interruptions")
        #: Take each response time for real before answering: a load test at people's pace.
        self.real_time = real_time
        self.rng = rng
        self.raters = raters
        self.annotator = annotator
        self.guesses = guesses
        self.rt_ms = rt_ms
        self.labels = [label.label_id for label in study.labels]
        self._last_answered: datetime | None = None
        # Key timing of its own, so that the answers of a seed stay what they were without it.
        self._keys_rng = random.Random(f"keys:{annotator}")

    def early_press_ms(self, guard_ms: int) -> float:
        """When this participant presses on a screen that has just appeared, too early: within
        the screen's key guard (up to 240 ms of the default 300), as a hurried person or a key
        meant for the screen before does. The window must ignore it (study.key_guard_ms)."""
        return self._keys_rng.uniform(0.0, 0.8 * guard_ms)

    @staticmethod
    def guess_times(rt_ms: float, guesses: int) -> list[float]:
        """Milliseconds after the image at which each guess is chosen: spread evenly over the
        response time, the answer submitted at ``rt_ms``; a deadline keeps those before it."""
        return [rt_ms * (rank + 1) / (guesses + 1) for rank in range(guesses)]

    def respond(self, image_id: str, answers: int, time_limit_s: float | None = None) -> Response:
        """This participant's answer to an image; past ``time_limit_s`` (the headless run's
        deadline; a window keeps its own) a ``timeout`` with the guesses chosen before it."""
        truth = set(self.study.truth(image_id))
        if self.guesses is not None:
            if image_id not in self.guesses:
                raise StudyError(f"the predictions used for the pilot have no guesses for image {image_id!r}")
            labels = self.guesses[image_id][:answers]
        else:
            assert self.raters is not None  # run_pilot gives raters whenever it gives no guesses
            wrong = [
                label
                for label in self.rng.sample(self.labels, min(len(self.labels), answers + len(truth)))
                if label not in truth
            ]
            if self.rng.random() < self.raters.chance_correct(self.annotator, image_id):
                labels = (self.rng.choice(sorted(truth)), *wrong[: answers - 1])
            else:
                labels = tuple(wrong[:answers])
        rt = max(MIN_RT_MS, self.rng.gauss(*self.rt_ms))
        outcome = "answer"
        if time_limit_s is not None and rt > time_limit_s * 1000:
            limit_ms = time_limit_s * 1000
            labels = tuple(label for label, at in zip(labels, self.guess_times(rt, len(labels))) if at < limit_ms)
            rt, outcome = limit_ms, "timeout"
        if self.real_time:
            time.sleep(rt / 1000)
            shown = datetime.now(UTC) - timedelta(milliseconds=rt)
        else:
            shown = datetime.now(UTC)
        if self._last_answered is not None:
            shown = max(shown, self._last_answered)
        answered = shown + timedelta(milliseconds=rt)
        self._last_answered = answered
        return Response(
            tuple(labels),
            rt,
            shown.isoformat(timespec="milliseconds"),
            answered.isoformat(timespec="milliseconds"),
            outcome=outcome,
        )

    def interrupts(self) -> tuple[bool, str | None]:
        """What the participant does once the first guess of a trial is chosen, each with chance
        ``interruptions``: pause (F9) and continue; take back the previous answer (Ctrl+Z) where
        that is allowed, then either ``cancel`` the revision (Esc) or ``resubmit`` it unchanged.
        Either way the chosen guess must still be there after."""
        if not self.interruptions:
            return False, None
        draws = [self._interrupting.random() for _ in range(3)]
        undo = ("cancel" if draws[2] < 0.5 else "resubmit") if draws[1] < self.interruptions else None
        return draws[0] < self.interruptions, undo


def _model_guesses(path: Path, study: Study, model: str | None) -> dict[str, tuple[str, ...]]:
    problems: list[Problem] = []
    frame = read_predictions(path, problems, path.name, study.images.keys(), study.labels.class_ids)
    if frame is None:
        raise StudyError("cannot use the predictions for the pilot:\n" + "\n".join(str(p) for p in problems))
    models = sorted(frame["model"].unique())
    chosen = model or models[0]
    if chosen not in models:
        raise StudyError(f"{path}: no model {chosen!r} (models: {', '.join(models)})")
    rows = frame[frame["model"] == chosen]
    guesses = {image_id: tuple(group.sort_values("rank")["label_id"]) for image_id, group in rows.groupby("image_id")}
    shown = sorted({image_id for phase in study.phases for image_id in phase.image_ids})
    missing = [image_id for image_id in shown if image_id not in guesses]
    if missing:  # refused here, before a session opens, rather than at the first image without guesses
        raise StudyError(
            f"{path}: model {chosen!r} has no guesses for {len(missing)} of the {len(shown)} images the study shows, "
            f"e.g. {missing[0]!r}; a pilot from predictions needs guesses for every image"
        )
    return guesses


#: Takes one simulated annotator through its session, start to end.
Driver = Callable[[SessionController, ScriptedParticipant], None]


def drive_headless(controller: SessionController, participant: ScriptedParticipant) -> None:
    """The session without a window: the controller straight from the script."""
    controller.log([Event("instructions_read", 0.0)])
    while not controller.complete:
        trial = controller.current()
        assert trial is not None  # not complete: there is a trial to answer
        phase = controller.study.phase(trial.phase)
        response = participant.respond(trial.image_id, phase.answers, phase.time_limit_s)
        events = [Event("search", response.rt_ms / 2, {"query": "pilot"})]
        pause, undo = participant.interrupts()
        if pause:
            paused = controller.pause_event(response.rt_ms / 2, seen=True)
            controller.log([paused, Event("resume", response.rt_ms / 2)])
            if paused.detail["then"] == "repeat":  # as the window notes the second exposure
                events.append(Event("exposure", response.rt_ms / 2, {"number": 2}))
        if undo and controller.can_undo():
            taken_back = controller.undo()
            if undo == "cancel":
                controller.cancel_revision()
            else:
                controller.submit(taken_back)
        controller.submit(response, events)
        if controller.break_due():
            controller.log([Event("break_start", 0.0), Event("break_end", 0.0)])
    controller.finish()


def _end_if_unanswered(store: AnswerStore, controller: SessionController) -> None:
    """After a run that failed before its first answer, end its session: an open session with
    no answer would show as in progress for ever (a pilot is never resumed) and hold its
    images' slots. A session with answers keeps them and stays as it is."""
    if controller.session.answered:
        return
    try:
        store.end_unanswered_session(controller.session)
    except StoreError:
        pass  # the store cannot be written: the failure being raised already says why


def run_pilot(
    study: Study,
    annotators: int,
    store_path: str | Path | None = None,
    *,
    accuracy: float | None = 0.8,
    ability_sd: float = DEFAULT_ABILITY_SD,
    difficulty_sd: float = DEFAULT_DIFFICULTY_SD,
    from_predictions: Path | None = None,
    model: str | None = None,
    rt_ms: tuple[float, float] = (2500.0, 800.0),
    seed: int = 0,
    drive: Driver = drive_headless,
    journal: Path | None = None,
    real_time: bool = False,
    interruptions: float = 0.0,
) -> PilotSummary:
    """Run ``annotators`` scripted sessions from start to end; returns what they did.

    ``drive`` runs one session; the default needs no screen, and
    :func:`study_app.gui.pilot_driver.drive_window` shows the real window instead. With a
    server store (a postgresql:// URL), answers go through the desktop's offline journal
    (``journal``; see :mod:`study_app.store.journal`), as a lab desktop's do. ``real_time``
    makes each scripted answer take its response time (the window's driver always does).
    Without predictions, ``accuracy`` is the mean accuracy of a Rasch model whose
    annotators' abilities and images' difficulties have the logit SDs ``ability_sd`` and
    ``difficulty_sd`` (both 0: independent answers, each right with probability ``accuracy``).
    ``interruptions``: the chance per trial of a pause, and of an undo
    (:meth:`ScriptedParticipant.interrupts`).
    """
    if from_predictions is None and (accuracy is None or not 0.0 <= accuracy <= 1.0):
        raise StudyError("--accuracy must be between 0 and 1")
    if annotators < 1:
        raise StudyError("--annotators must be at least 1")
    if not 0.0 <= interruptions <= 1.0:
        raise StudyError("--interruptions must be between 0 and 1")
    if from_predictions is not None:
        guesses, raters = _model_guesses(from_predictions, study, model), None
        answers = (
            f"copied from model {model!r} of {from_predictions.name}"
            if model
            else f"copied from the first model of {from_predictions.name}"
        )
    else:
        assert accuracy is not None  # checked above
        guesses, raters = None, RaschRaters(accuracy, ability_sd, difficulty_sd, seed)
        answers = raters.describe()
    path = store_path or default_pilot_store(study)
    correct: dict[str, list[int]] = {phase.name: [0, 0] for phase in study.phases}
    names = []
    trials = 0
    unsent, journal_path = 0, None
    with open_annotation_store(path, pilot=True, journal=journal) as store:
        for number in range(1, annotators + 1):
            annotator = f"pilot-{seed}-{number:03d}"
            names.append(annotator)
            participant = ScriptedParticipant(
                study,
                random.Random(f"{seed}:{annotator}"),
                raters,
                annotator=annotator,
                guesses=guesses,
                rt_ms=rt_ms,
                real_time=real_time,
                interruptions=interruptions,
            )
            controller = SessionController(study, store, annotator, force_new=True)
            try:
                drive(controller, participant)
            except BaseException:
                _end_if_unanswered(store, controller)
                raise
            trials += len(controller.session.answered)
            for phase in study.phases:
                right, answered = controller.phase_accuracy(phase.name)
                correct[phase.name][0] += right
                correct[phase.name][1] += answered
        if isinstance(store, JournaledStore):
            unsent, journal_path = store.sync(force=True).waiting, cast(Path, store.journal.path)  # a journal is a file
    return PilotSummary(
        path, tuple(names), trials, {k: (v[0], v[1]) for k, v in correct.items()}, unsent, journal_path, answers
    )
