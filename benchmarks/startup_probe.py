"""Child process of ``bench_startup``: the real ``annotate`` start-up, timed to the first trial painted.

``python -m benchmarks.startup_probe STUDY STORE OUT.json [--browse N]`` runs
:func:`study_app.gui.app.run_annotation` exactly as ``python main.py annotate --study
STUDY --annotator bench --store STORE --force-new`` does (protocol check, store, start
dialog check, window). A timer finds the window once it exists and continues through
the pages before the first trial at once (an annotator who clicks instantly; a real one
reads the instructions while the first images decode, so this is the pessimistic case).
At the first paint of a trial image it writes the monotonic time of that paint (Linux's
monotonic clock is shared by all processes, so the parent subtracts its own start time).
With ``--browse N`` it then shows the examples of the first N classes one after another
and records how long each class took until all its thumbnails were on screen.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication

from study_app.gui.app import application, run_annotation
from study_app.gui.main_window import AnnotationWindow

from .common import rss_mb


class Probe:
    def __init__(self, out: Path, browse: int) -> None:
        self.app = application()
        self.out = out
        self.browse = browse
        self.window: AnnotationWindow | None = None
        self.result: dict = {}
        self.timer = QTimer()
        self.timer.timeout.connect(self.poll)
        self.timer.start(1)

    def poll(self) -> None:
        """Find the window, then press on through every page before the first trial."""
        if self.window is None:
            self.window = next((w for w in self.app.topLevelWidgets() if isinstance(w, AnnotationWindow)), None)
            if self.window is None:
                return
            self.result["window_found"] = time.monotonic()
            self.window.trial.view.painted.connect(self.painted)
        page = self.window.pages.currentWidget()
        loading = page is self.window.message and "Loading" in self.window.message.message.text()
        if page is not self.window.trial and not loading:
            page.continued.emit()

    def painted(self, mode: str, when: float) -> None:
        if mode != "image" or "painted" in self.result:
            return
        self.timer.stop()
        self.result["painted"] = when
        self.result["cpu_s_at_paint"] = time.process_time()  # all threads: the work done, whatever the machine's load
        self.result["rss_mb_at_paint"] = rss_mb()
        QTimer.singleShot(0, self.browse_examples)

    def browse_examples(self) -> None:
        window = self.window
        pane = window.trial.picker.examples
        seconds = []
        for label in list(window.study.labels.classes)[: self.browse]:
            start = time.perf_counter()
            pane.show_class(label.label_id)
            while pane.loaded_count() < pane.count():
                QApplication.processEvents()
            seconds.append(time.perf_counter() - start)
        self.result["browse_ms"] = [s * 1000 for s in seconds]
        self.result["rss_mb_after_browse"] = rss_mb()
        self.out.write_text(json.dumps(self.result), encoding="utf-8")
        window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("store")
    parser.add_argument("out", type=Path)
    parser.add_argument("--browse", type=int, default=0, help="classes whose examples to show after the first paint")
    args = parser.parse_args()
    probe = Probe(args.out, args.browse)
    status = run_annotation(args.study, "bench", args.store, force_new=True)
    if "painted" not in probe.result:
        raise SystemExit("the window closed before a trial was painted")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
