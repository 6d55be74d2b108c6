"""Start-up benchmark: process start to the first trial painted, on the full-size study.

Workload: ``benchmarks.make_fixture`` at full size (1000 classes x 13 examples, 50,000
test and 500 training images, 3 models' predictions) in ``$BENCH_DIR/fullsize``. Each run
is a real ``annotate`` process (:mod:`benchmarks.startup_probe`: the session's protocol
check, store, window; see :mod:`study_app.session.study_cache`) timed from just before
the process is spawned to the first paint of a trial image, on the X display in
``DISPLAY``, else under an Xvfb on display ``:103`` started here, else (no Xvfb, the
display taken, or ``QT_QPA_PLATFORM=offscreen`` set, as in CI) on Qt's offscreen
platform; the rows say which. The OS page cache is warmed first by reading every file of
the study, so all runs read from memory and differ only in the application's own caches:

- baseline: no caches at all (``STUDY_APP_NO_CACHE=1``), i.e. the start-up before caches:
  every image decoded and hashed before the window opens;
- cold caches: an empty cache folder (the first start after installing): every image
  hashed, decoding left to the background; target < 20 s;
- warm caches: the same folder afterwards (every later start); target < 1.5 s, median
  of 3 runs.

The cold and warm runs share one results file, as the starts of one lab desktop do (the
first registers the study in it); the baseline has its own.

Wall-clock times depend on how busy the machine is; the CPU time the process used up to
the first paint (all its threads) is reported beside them as the load-independent cost.

Each run then shows the examples of the first 20 classes; the example-pane row compares
the first view of a class with its thumbnails on disk (warm) against decoding them
(baseline). The last warm run goes on through the examples of every class and reports
the process's resident memory after that (target < 500 MB).

Run: ``python -m benchmarks.bench_startup`` (``--quick``: a tiny study, for CI).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import Result, percentiles, run_main
from .make_fixture import make_fixture

DISPLAY = ":103"
WARM_RUNS = 3
BROWSE_CLASSES = 20
PROBE_TIMEOUT_S = 900


def fixture(base: Path, quick: bool) -> Path:
    """The full-size study (made once, about 20 minutes), or a tiny one for ``--quick``."""
    if quick:
        return make_fixture(base / "startup-quick", classes=20, examples_per_class=2, test_images=30, train_images=2)
    folder = base / "fullsize"
    if not (folder / "study.toml").exists():
        make_fixture(folder)
    return folder


def warm_page_cache(folder: Path) -> None:
    """Read every file once so that no run pays for the disk and the next does not."""
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                while handle.read(1 << 20):
                    pass


class Screen:
    """Where the windows go: the caller's display, our own Xvfb, or offscreen."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.env: dict[str, str] = {"QT_QPA_PLATFORM": "offscreen"}
        if os.environ.get("DISPLAY"):
            self.env = {}
            self.name = f"X display {os.environ['DISPLAY']}"
        elif os.environ.get("QT_QPA_PLATFORM") == "offscreen":
            self.name = "offscreen, as QT_QPA_PLATFORM asks"
        elif not shutil.which("Xvfb"):
            self.name = "offscreen: no X display and no Xvfb"
        elif self._start_xvfb():
            self.env = {"DISPLAY": DISPLAY, "QT_QPA_PLATFORM": "xcb"}
            self.name = f"Xvfb {DISPLAY}"
        else:
            self.name = f"offscreen: Xvfb {DISPLAY} did not start"

    def _start_xvfb(self) -> bool:
        self.process = subprocess.Popen(
            ["Xvfb", DISPLAY, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        socket = Path(f"/tmp/.X11-unix/X{DISPLAY[1:]}")
        deadline = time.monotonic() + 10
        while self.process.poll() is None and time.monotonic() < deadline:
            if socket.exists():
                return True
            time.sleep(0.05)
        self.close()
        return False

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def start_once(study: Path, work: Path, name: str, env: dict[str, str], browse: int) -> dict:
    """One annotate process; its result plus ``seconds`` from spawn to the first trial painted."""
    out = work / f"{name}.json"
    store = work / (
        "no-caches.sqlite" if name == "no-caches" else "desk.sqlite"
    )  # later starts: the desk's results file
    command = [
        sys.executable,
        "-m",
        "benchmarks.startup_probe",
        str(study),
        str(store),
        str(out),
        "--browse",
        str(browse),
    ]
    started = time.monotonic()
    finished = subprocess.run(
        command, env=env, cwd=Path(__file__).parent.parent, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
    )
    if finished.returncode != 0 or not out.exists():
        raise RuntimeError(f"start-up run {name!r} failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    result = json.loads(out.read_text(encoding="utf-8"))
    result["seconds"] = result["painted"] - started
    print(f"{name}: first trial painted after {result['seconds']:.2f} s", file=sys.stderr, flush=True)
    return result


def run(quick: bool = False) -> list[Result]:
    base = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    study = fixture(base, quick)
    warm_page_cache(study)
    work = Path(tempfile.mkdtemp(prefix="bench-startup-", dir=base))
    screen = Screen()
    try:
        env = {
            **os.environ,
            **screen.env,
            "XDG_CONFIG_HOME": str(work / "config"),
            "XDG_CACHE_HOME": str(work / "cache"),
        }
        env.pop("STUDY_APP_NO_CACHE", None)
        browse = 3 if quick else BROWSE_CLASSES
        baseline = start_once(study, work, "no-caches", {**env, "STUDY_APP_NO_CACHE": "1"}, browse)
        cold = start_once(study, work, "cold-caches", env, browse)
        warm = [start_once(study, work, f"warm-caches-{i}", env, browse) for i in range(1 if quick else WARM_RUNS - 1)]
        # The last warm start goes on to browse every class (memory after all examples were seen).
        warm.append(start_once(study, work, f"warm-caches-{len(warm)}", env, 10_000))
    finally:
        screen.close()
        shutil.rmtree(work, ignore_errors=True)
    warm_s = statistics.median(r["seconds"] for r in warm)
    size = "tiny study" if quick else "1000 classes, 50,500 images"
    where = screen.name
    pane_warm, _ = percentiles([ms for r in warm for ms in r["browse_ms"][:browse]])
    pane_cold, _ = percentiles(baseline["browse_ms"])
    classes = len(warm[-1]["browse_ms"])
    rss = warm[-1]["rss_mb_after_browse"]
    return [
        Result(
            "startup",
            f"start to first trial painted, warm caches, median of {len(warm)} ({size}; {where})",
            warm_s,
            "s",
            "< 1.5 s",
            baseline["seconds"],
            "no caches",
            warm_s < 1.5,
        ),
        Result(
            "startup",
            f"start to first trial painted, cold caches ({size}; {where})",
            cold["seconds"],
            "s",
            "< 20 s",
            baseline["seconds"],
            "no caches",
            cold["seconds"] < 20,
        ),
        Result(
            "startup",
            "CPU time of the process to the first trial painted, warm caches",
            statistics.median(r["cpu_s_at_paint"] for r in warm),
            "s",
            "",
            baseline["cpu_s_at_paint"],
            "no caches",
        ),
        Result(
            "startup",
            "CPU time of the process to the first trial painted, cold caches",
            cold["cpu_s_at_paint"],
            "s",
            "",
            baseline["cpu_s_at_paint"],
            "no caches",
        ),
        Result(
            "startup",
            f"example pane, first view of a class p50 ({browse} classes, thumbnails on disk)",
            pane_warm,
            "ms",
            "< 50 ms",
            pane_cold,
            "decoded, no caches",
            pane_warm < 50,
        ),
        Result(
            "startup",
            "RSS at the first trial painted, warm caches",
            statistics.median(r["rss_mb_at_paint"] for r in warm),
            "MB",
            "",
        ),
        Result(
            "startup", f"RSS after browsing the examples of all {classes} classes", rss, "MB", "< 500 MB", met=rss < 500
        ),
    ]


def main() -> None:
    run_main(__doc__.splitlines()[0], run)


if __name__ == "__main__":
    main()
