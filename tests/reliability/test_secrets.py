"""Secrets: a server password in a store URL is never printed nor written (issue #27, case 3).

The acceptance test plants a password in postgresql:// URLs (as ``user:SECRET@``, as
``?password=SECRET`` and in a malformed URL) and runs every command that takes a store
as a real subprocess against a server that is not there (a closed port on 127.0.0.1: no
PostgreSQL needed), then looks for the password in stdout, stderr and every file under
the command's folder and the test's temporary folder. tests/postgres/test_secrets.py does
the same for the commands that only write their files when the server answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from study_app.errors import StoreError
from study_app.pilot import run_pilot
from study_app.protocol import load_study
from study_app.store import ResultsStore, export_answers
from study_app.store.postgres import ServerAddress
from ..factory import make_study
from study_app.store_url import HIDDEN, UNPARSABLE, printable_location, url_problem, without_secrets

ROOT = Path(__file__).resolve().parents[2]
SECRET = "S3cr3tPlanted"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def planted_urls(port: int) -> dict[str, str]:
    """The password in the user info, in the query, and in URLs that cannot be taken apart."""
    return {
        "userinfo": f"postgresql://study:{SECRET}@127.0.0.1:{port}/lab?connect_timeout=3",
        "query": f"postgresql://study@127.0.0.1:{port}/lab?connect_timeout=3&password={SECRET}",
        "bad-escape": f"postgresql://study:{SECRET}%zz@127.0.0.1:{port}/lab",
        "bracket-host": f"postgresql://study:{SECRET}@[127.0.0.1:{port}/lab",
        "bad-port": f"postgresql://study:{SECRET}@127.0.0.1:{SECRET}/lab",
    }


# -- the one redaction function ------------------------------------------------------------


@pytest.mark.parametrize(
    "location, shown",
    [
        ("postgresql://u:pw@db.lab:5432/study", f"postgresql://u:{HIDDEN}@db.lab:5432/study"),
        ("postgres://u:p%40ss:w@db/s", f"postgres://u:{HIDDEN}@db/s"),
        ("postgresql://u:a@b@db/s", f"postgresql://u:{HIDDEN}@db/s"),
        ("postgresql://u@db/s?password=pw&sslmode=require", f"postgresql://u@db/s?password={HIDDEN}&sslmode=require"),
        ("postgresql://db/s?sslpassword=x&passfile=/home/u/.pgpass&PASSWORD=y", f"postgresql://db/s?sslpassword={HIDDEN}&passfile={HIDDEN}&PASSWORD={HIDDEN}"),
        ("postgresql://db/s?client_secret=x&pass%77ord=y", f"postgresql://db/s?client_secret={HIDDEN}&pass%77ord={HIDDEN}"),
        ("postgresql://u:@db/s", f"postgresql://u:{HIDDEN}@db/s"),
        ("postgresql://u@[::1]:5433,db2:5434/s", "postgresql://u@[::1]:5433,db2:5434/s"),
        ("postgresql:///s", "postgresql:///s"),
        ("mysql://u:pw@db/s", f"mysql://u:{HIDDEN}@db/s"),  # a mistyped scheme is still a URL with a password
        ("results/tiny/results.sqlite", "results/tiny/results.sqlite"),
        (Path("/data/r.sqlite"), "/data/r.sqlite"),
        ("postgresql://u:pw%zz@db/s", f"postgresql://{UNPARSABLE}"),
        ("postgresql://u:pw%4@db/s", f"postgresql://{UNPARSABLE}"),
        ("postgresql://u:pw@[db/s", f"postgresql://{UNPARSABLE}"),
        ("postgresql://u:pw@db]/s", f"postgresql://{UNPARSABLE}"),
        ("postgresql://u:pw@db:54x2/s", f"postgresql://{UNPARSABLE}"),
        ("postgresql://u:p/w@db/s", f"postgresql://{UNPARSABLE}"),  # an unescaped '/' cuts the password
        ("postgresql://u:p#w@db/s", f"postgresql://{UNPARSABLE}"),
        (Path("postgresql://u:pw@db/s"), f"postgresql://{UNPARSABLE}"),  # a URL made a path: '//' became '/'
        (" postgresql://u:pw@db/s", f"postgresql://{UNPARSABLE}"),
    ],
)
def test_printable_location_hides_every_password(location, shown):
    assert printable_location(location) == shown


def test_malformed_urls_say_what_is_wrong_without_quoting_it():
    for url in planted_urls(5432).values():
        problem = url_problem(url)
        assert (problem is None) == (url.count(SECRET) == 1 and "%zz" not in url and "[" not in url)
        if problem:
            assert SECRET not in problem and "zz" not in problem


def test_a_driver_message_loses_the_secrets_in_every_form():
    url = "postgresql://u:p%40ss@db/s?password=q%2Bw"
    message = f'bad: "p@ss" and "p%40ss", "q+w", "q%2Bw" in {url}'
    cleaned = without_secrets(message, url)
    assert "p@ss" not in cleaned and "q+w" not in cleaned and "%40" not in cleaned and "%2B" not in cleaned
    assert "postgresql://u:***@db/s?password=***" in cleaned
    assert SECRET not in without_secrets(f"token {SECRET}%zz", f"postgresql://u:{SECRET}%zz@db/s")


@pytest.mark.parametrize("kind", ["bad-escape", "bracket-host", "bad-port"])
def test_a_malformed_server_url_is_a_clear_store_error(kind):
    with pytest.raises(StoreError, match="not a usable server URL") as raised:
        ServerAddress(planted_urls(5432)[kind])
    assert SECRET not in str(raised.value)


# -- every command, as a user runs it ---------------------------------------------------------


def _commands(study: Path, toml_store_study: Path, table: Path, file_store: Path) -> dict[str, list[str]]:
    """Every command that reads or writes a store; ``{url}`` is the planted URL."""
    s = str(study)
    return {
        "annotate": ["annotate", "--study", s, "--annotator", "A01", "--store", "{url}"],
        "simulate": ["simulate", "--study", s, "--annotators", "1", "--store", "{url}"],
        "export": ["export", "--study", s, "--store", "{url}", "--out", "out/answers.csv"],
        "export-default": ["export", "--study", s, "--store", "{url}"],
        "import": ["import", str(table), "--store", "{url}"],
        "progress": ["progress", "--store", "{url}", "--study", s, "--images"],
        "sync": ["sync", "--store", "{url}"],
        "sync-pilot": ["sync", "--store", "{url}", "--pilot"],
        "compare": ["compare", "--study", s, "--store", "{url}"],
        "compare-taxonomy": ["compare", "--study", s, "--store", "{url}", "--taxonomy"],
        "report": ["report", "--study", s, "--store", "{url}"],
        "review": ["review", "--study", s, "--store", "{url}", "--reviewer", "R1"],
        "review-export": ["review", "--study", s, "--store", "{url}", "--export", "out/reviews.csv"],
        "check-store": ["check-store", "{url}"],
        "merge-into": ["merge", "{url}", str(file_store)],
        "merge-from": ["merge", "out/merged.sqlite", "{url}"],
        "validate-store-in-toml": ["validate", "--study", str(toml_store_study)],
        "report-store-in-toml": ["report", "--study", str(toml_store_study)],
    }


#: Malformed URLs go into the same code (ServerAddress) from every command: each form is
#: run through a few entry points (a desktop's journal, a reader, a writer, the protocol).
MALFORMED_RUNS = {
    "bad-escape": ("annotate", "simulate", "progress", "sync", "import", "report", "merge-into", "validate-store-in-toml"),
    "bracket-host": ("simulate", "export", "compare", "validate-store-in-toml"),
    "bad-port": ("progress", "review-export", "check-store", "report-store-in-toml"),
}
#: A window (annotate, review) waits for its user: it is stopped after this long.
WINDOW_S = 25


def _run(argv: list[str], cwd: Path) -> tuple[int | None, str, str]:
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "out").mkdir(exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), *argv], cwd=cwd, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=WINDOW_S if argv[0] in ("annotate", "review") else 300)
    except subprocess.TimeoutExpired:  # a window that reached its dialog: stopped, its output kept
        process.kill()
        out, err = process.communicate()
        return None, out, err
    return process.returncode, out, err


def _files_with(secret: str, folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if secret.encode() in data or secret.encode("utf-16-le") in data or secret in path.name:
                found.append(str(path))
    return found


@pytest.fixture
def planted(tmp_path, tiny_study):
    """The study, a study whose toml names the store, an export table and a file store."""
    study = load_study(tiny_study)
    file_store = tmp_path / "pilot.sqlite"
    run_pilot(study, 1, file_store)
    with ResultsStore(file_store, readonly=True) as store:
        table = export_answers(store, tmp_path / "export" / "answers.csv")
    return study, file_store, table


def test_no_command_prints_or_writes_a_planted_password(tmp_path, tiny_study, planted, private_cache):
    _, file_store, table = planted
    port = closed_port()
    runs = []
    for kind, url in planted_urls(port).items():
        toml_study = make_study(tmp_path / f"toml-store-{kind}")
        toml = toml_study / "study.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace('seed = 7\n', f'seed = 7\nstore = "{url}"\n'), encoding="utf-8")
        commands = _commands(tiny_study, toml_study, table, file_store)
        if kind not in ("userinfo", "query"):  # malformed: one command per way a URL reaches the store
            commands = {name: commands[name] for name in MALFORMED_RUNS[kind]}
        for name, argv in commands.items():
            runs.append((kind, name, [url if word == "{url}" else word for word in argv], tmp_path / "runs" / kind / name))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda run: _run(run[2], run[3]), runs))

    leaks, tracebacks, silent = [], [], []
    for (kind, name, argv, cwd), (code, out, err) in zip(runs, results):
        if SECRET in out or SECRET in err:
            leaks.append(f"{kind} {name}: printed it ({(out + err).strip()[-300:]})")
        leaks += [f"{kind} {name}: wrote it into {path}" for path in _files_with(SECRET, cwd)]
        if "Traceback" in err:
            tracebacks.append(f"{kind} {name}: {err.strip()[-400:]}")
        if code is not None and code == 0 and name not in ("validate-store-in-toml",):
            silent.append(f"{kind} {name}: exit 0 against a server that is not there")
        if kind not in ("userinfo", "query") and name not in ("annotate", "check-store"):
            assert "not a usable server URL" in err, (kind, name, err)
    assert not leaks, "\n".join(leaks)
    assert not tracebacks, "\n".join(tracebacks)
    assert not silent, "\n".join(silent)
    # the study folders, the caches, the journals: nothing anywhere but the study.toml files it was planted in
    written = [path for folder in (tmp_path, private_cache) for path in _files_with(SECRET, folder)]
    assert [path for path in written if not path.endswith("study.toml")] == []
    # the commands did reach the store: the desktop's journal of the unreachable server was made
    assert (tmp_path / "runs" / "userinfo" / "simulate" / "results" / "journal").is_dir()
