"""A real annotation process for crash and concurrency tests: answers as fast as it can.

Usage: python -m tests.scripted_annotator STUDY_DIR STORE ANNOTATOR
Prints ``START <position>`` once the session is open, ``ACK <phase> <index>`` after each
answer is durably committed, and ``DONE`` at the end.
"""

from __future__ import annotations

import sys

from study_app.protocol.responses import Response, utc_now
from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore


def main() -> None:
    study_dir, store_path, annotator = sys.argv[1:4]
    study = load_study(study_dir, check_images=False)
    labels = [label.label_id for label in study.labels]
    with ResultsStore(store_path) as store:
        controller = SessionController(study, store, annotator)
        print(f"START {controller.position}", flush=True)
        while not controller.complete:
            trial = controller.current()
            guess = labels[(trial.index * 7) % len(labels)]
            now = utc_now()
            controller.submit(Response((guess,), 100.0 + trial.index, now, now))
            print(f"ACK {trial.phase} {trial.index}", flush=True)
        controller.finish()
        print("DONE", flush=True)


if __name__ == "__main__":
    main()
