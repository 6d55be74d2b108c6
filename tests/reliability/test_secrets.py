"""Secrets: a server password in a store URL is never printed nor written (issue #27, case 3).

The acceptance test plants a password in postgresql:// URLs (as ``user:SECRET@``, as
``?password=SECRET``, in malformed URLs, behind an unencoded ``/``, ``?`` or ``&``, in an
upper-case or blank-led scheme) and in texts that are no store location at all (a
``mysql://`` URL, a libpq ``key=value`` string), and runs every command that takes a
store as a real subprocess against a server that is not there (a closed port on
127.0.0.1: no PostgreSQL needed). It looks for the password in stdout, stderr and every
file (and file name) under the command's folder and the test's temporary folder, and
checks that each command got as far as the store (its message about the server or the
location; a window: the desktop's journal of the server). tests/postgres/test_secrets.py
does the same for the commands that only write their files when the server answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from study_app.errors import StoreError
from study_app.gui.crash import write_crash_log
from study_app.io.store_url import (
    HIDDEN,
    KEYWORDS_HIDDEN,
    LINE_HIDDEN,
    UNPARSABLE,
    printable_location,
    scrub_secrets,
    url_problem,
    without_secrets,
)
from study_app.protocol.study import load_study
from study_app.session.pilot import run_pilot
from study_app.store import ResultsStore, export_answers
from study_app.store.postgres import ServerAddress
from study_app.store.results_store import store_location
from tests.factory import make_study

ROOT = Path(__file__).resolve().parents[2]
SECRET = "S3cr3tPlanted"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def planted_urls(port: int) -> dict[str, str]:
    """The password in every form: see :data:`WELL_FORMED`, :data:`MALFORMED`, :data:`NOT_STORES`."""
    return {
        "userinfo": f"postgresql://study:{SECRET}@127.0.0.1:{port}/lab?connect_timeout=3",
        "query": f"postgresql://study@127.0.0.1:{port}/lab?connect_timeout=3&password={SECRET}",
        "upper-scheme": f"POSTGRESQL://study:{SECRET}@127.0.0.1:{port}/lab",
        "mixed-scheme": f"Postgresql://study:{SECRET}@127.0.0.1:{port}/lab",
        "leading-blank": f" postgresql://study:{SECRET}@127.0.0.1:{port}/lab",
        "ampersand-key": f"postgresql://study@127.0.0.1:{port}/lab?password=2024&{SECRET}=x",
        "bad-escape": f"postgresql://study:{SECRET}%zz@127.0.0.1:{port}/lab",
        "bracket-host": f"postgresql://study:{SECRET}@[127.0.0.1:{port}/lab",
        "bad-port": f"postgresql://study:{SECRET}@127.0.0.1:{SECRET}/lab",
        "slash": f"postgresql://study:2024/Winter-{SECRET}@127.0.0.1:{port}/lab",
        "question": f"postgresql://study:2024?{SECRET}@127.0.0.1:{port}/lab",
        "ampersand": f"postgresql://study@127.0.0.1:{port}/lab?password=SEC&{SECRET}",
        "other-scheme": f"mysql://study:{SECRET}@127.0.0.1:{port}/lab",
        "keywords": f"host=127.0.0.1 port={port} password={SECRET}",
    }


#: Server URLs that reach the (absent) server; the password must not show in its messages.
WELL_FORMED = ("userinfo", "query", "upper-scheme", "mixed-scheme", "leading-blank", "ampersand-key")
#: Refused before the driver reads them: "not a usable server URL".
MALFORMED = ("bad-escape", "bracket-host", "bad-port", "slash", "question", "ampersand")
#: Refused as no store location at all, before a file or folder of that name is made.
NOT_STORES = ("other-scheme", "keywords")


# -- the one redaction function ------------------------------------------------------------


@pytest.mark.parametrize(
    "location, shown",
    [
        ("postgresql://u:pw@db.lab:5432/study", f"postgresql://u:{HIDDEN}@db.lab:5432/study"),
        ("postgres://u:p%40ss:w@db/s", f"postgres://u:{HIDDEN}@db/s"),
        ("postgresql://u:a@b@db/s", f"postgresql://{UNPARSABLE}"),  # libpq reads up to the first '@'
        ("postgresql://u@db/s?password=pw&sslmode=require", f"postgresql://u@db/s?{HIDDEN}"),
        (
            "postgresql://u@db/s?sslmode=require&connect_timeout=3&password=pw&application_name=x",
            f"postgresql://u@db/s?sslmode=require&connect_timeout=3&{HIDDEN}",
        ),
        ("postgresql://db/s?sslpassword=x&passfile=/home/u/.pgpass&PASSWORD=y", f"postgresql://db/s?{HIDDEN}"),
        ("postgresql://db/s?client_secret=x&pass%77ord=y", f"postgresql://db/s?{HIDDEN}"),
        ("postgresql://db/s?options=-c%20x&sslmode=require", f"postgresql://db/s?{HIDDEN}"),  # not a known safe key
        ("postgresql://u@db/s?password=SEC&sslmode=RET", f"postgresql://u@db/s?{HIDDEN}"),  # an '&' in the password
        ("postgresql://u@db/s?password=SEC&RET=x", f"postgresql://u@db/s?{HIDDEN}"),
        ("postgresql://u@db/s?password=SEC&RET", f"postgresql://{UNPARSABLE}"),
        ("postgresql://study:2024/Winter-SECRET@127.0.0.1:1/lab", f"postgresql://{UNPARSABLE}"),
        ("postgresql://study:2024?SECRET@127.0.0.1:1/lab", f"postgresql://{UNPARSABLE}"),
        ("postgresql://u@db/s?x=1@2", f"postgresql://{UNPARSABLE}"),  # an '@' anywhere: user info up to it
        ("POSTGRESQL://u:SECRETA@127.0.0.1:1/db", f"POSTGRESQL://u:{HIDDEN}@127.0.0.1:1/db"),
        ("Postgresql://u:SECRETA@db/s", f"Postgresql://u:{HIDDEN}@db/s"),
        ("host=h password=SECRETJ", KEYWORDS_HIDDEN),
        ("dbname=lab user=u", KEYWORDS_HIDDEN),
        ("sslpassword=x", KEYWORDS_HIDDEN),
        (" mysql://u:pw@db/s", f"mysql://u:{HIDDEN}@db/s"),
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
        (" postgresql://u:pw@db/s\n", f"postgresql://u:{HIDDEN}@db/s"),  # blanks around a server URL are dropped
        (" mysql:/u:pw@db/s", f"mysql://{UNPARSABLE}"),
    ],
)
def test_printable_location_hides_every_password(location, shown):
    assert printable_location(location) == shown


def test_malformed_urls_say_what_is_wrong_without_quoting_it():
    urls = planted_urls(5432)
    for kind in WELL_FORMED + MALFORMED:
        problem = url_problem(urls[kind])
        assert (problem is None) == (kind in WELL_FORMED), kind
        if problem:
            assert SECRET not in problem and "zz" not in problem and "2024" not in problem


@pytest.mark.parametrize("kind", NOT_STORES)
def test_what_is_no_store_location_is_refused_before_a_file_is_made(kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    location = planted_urls(5432)[kind]
    for attempt in (
        lambda: store_location(location),
        lambda: ResultsStore(location),
        lambda: ResultsStore(Path(location)),
    ):
        with pytest.raises(StoreError, match="not a store location") as raised:
            attempt()
        assert SECRET not in str(raised.value) and "127.0.0.1" not in str(raised.value)
    with pytest.raises(StoreError, match="not a store location"):  # a URL made a path: '//' became '/'
        ResultsStore(Path(planted_urls(5432)["userinfo"]))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["upper-scheme", "mixed-scheme", "leading-blank"])
def test_a_server_url_is_one_in_any_case_and_with_blanks(kind):
    url = planted_urls(5432)[kind]
    assert store_location(url) == f"postgresql://study:{SECRET}@127.0.0.1:5432/lab"
    assert ServerAddress(url) == f"postgresql://study:{HIDDEN}@127.0.0.1:5432/lab"


def test_a_driver_message_loses_the_secrets_in_every_form():
    url = "postgresql://u:p%40ss@db/s?password=q%2Bw"
    message = f'bad: "p@ss" and "p%40ss", "q+w", "q%2Bw" in {url}'
    cleaned = without_secrets(message, url)
    assert "p@ss" not in cleaned and "q+w" not in cleaned and "%40" not in cleaned and "%2B" not in cleaned
    assert "postgresql://u:***@db/s?***" in cleaned
    assert SECRET not in without_secrets(f"token {SECRET}%zz", f"postgresql://u:{SECRET}%zz@db/s")
    # libpq reads '&RET=x' as a key and quotes it; 'password', the key before it, stays readable
    message = without_secrets(
        'password authentication failed; invalid URI query parameter: "RET"', "postgresql://u@db/s?password=SEC&RET=x"
    )
    assert message == f'password authentication failed; invalid URI query parameter: "{HIDDEN}"'


def test_free_text_loses_every_url_password_and_secret_assignment():
    text = (
        "Traceback (most recent call last):\n"
        '  File "app.py", line 3, in start\n'
        f'    connect(password="{SECRET} x", host="db")\n'
        f"StoreError: cannot reach 'postgresql://u:{SECRET} x@db/s' now\n"
        f"StoreError: postgresql://u:{HIDDEN}@db/s: the results server cannot be reached\n"
        f"see postgresql://u@db/s?password=SEC&{SECRET} and mysql://u:{SECRET}@db\n"
        f"connection string host=db password={SECRET}\r\n"
        "results/tiny/results.sqlite: no results store here\n"
    )
    scrubbed = scrub_secrets(text)
    assert SECRET not in scrubbed
    assert scrubbed.splitlines() == [
        "Traceback (most recent call last):",
        '  File "app.py", line 3, in start',
        f"    connect(password={HIDDEN} {LINE_HIDDEN}",
        f"StoreError: cannot reach 'postgresql://{UNPARSABLE} {LINE_HIDDEN}",
        f"StoreError: postgresql://u:{HIDDEN}@db/s: the results server cannot be reached",  # already redacted: kept
        f"see postgresql://{UNPARSABLE} {LINE_HIDDEN}",
        f"connection string host=db password={HIDDEN} {LINE_HIDDEN}",
        "results/tiny/results.sqlite: no results store here",
    ]


def test_a_crash_log_holds_no_password(tmp_path):
    try:
        raise StoreError(f"postgresql://study:{SECRET}@db.lab/s?password={SECRET}: the server went away")
    except StoreError as exc:
        log = write_crash_log(type(exc), exc, exc.__traceback__, tmp_path / "crashes")
    text = log.read_text(encoding="utf-8")
    assert SECRET not in text
    assert (
        f"postgresql://study:{HIDDEN}@db.lab/s?{HIDDEN} {LINE_HIDDEN}" in text
        and "test_a_crash_log_holds_no_password" in text
    )


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


#: Each form but the first two is run through a few of the entry points (a desktop's
#: journal, a reader, a writer, the protocol, the window): the code after the location's
#: check is the same for all of them.
RUNS = {
    "upper-scheme": ("annotate", "simulate", "export", "progress", "merge-from"),
    "mixed-scheme": ("import", "sync", "report", "review-export"),
    "leading-blank": ("simulate", "compare", "merge-into", "check-store"),
    "ampersand-key": ("annotate", "progress", "simulate", "export", "sync"),
    "bad-escape": ("annotate", "sync", "import", "validate-store-in-toml"),
    "bracket-host": ("simulate", "export", "compare", "validate-store-in-toml"),
    "bad-port": ("progress", "review-export", "check-store", "report-store-in-toml"),
    "slash": ("annotate", "simulate", "merge-into", "validate-store-in-toml"),
    "question": ("report", "compare-taxonomy", "review", "check-store"),
    "ampersand": ("progress", "simulate", "merge-from", "report-store-in-toml"),
    "other-scheme": ("annotate", "simulate", "export", "merge-into", "check-store", "validate-store-in-toml"),
    "keywords": ("annotate", "simulate", "export-default", "progress", "sync", "report-store-in-toml"),
}
#: A window (annotate) that reached the store waits for its user: it is stopped once the
#: desktop's journal of the server is there and it had a moment to print.
WINDOW_S = 240
WORKERS = 2  # the CI machine has 2 cores


def _journal(cwd: Path) -> Path:
    return cwd / "results" / "journal"


def _run(argv: list[str], cwd: Path) -> tuple[int | None, str, str]:
    """Exit status (None: a window stopped once it reached the store), stdout, stderr."""
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "out").mkdir(exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *argv],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    timeout = 300
    if argv[0] == "annotate":
        deadline = time.monotonic() + WINDOW_S
        while process.poll() is None and not any(_journal(cwd).glob("*.sqlite")) and time.monotonic() < deadline:
            time.sleep(0.5)
        timeout = 5
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # a window that reached its store: stopped, its output kept
        process.kill()
        out, err = process.communicate()
        return None, out, err
    return process.returncode, out, err


def _files_with(secret: str, folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if secret in path.name:
            found.append(str(path))
        elif path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if secret.encode() in data or secret.encode("utf-16-le") in data:
                found.append(str(path))
    return found


def _reached_the_store(kind: str, name: str, code: int | None, said: str, cwd: Path) -> bool:
    """Whether the command got as far as the store (and said so, on stdout or stderr, in its own words)."""
    if kind in NOT_STORES:
        words = {
            "check-store": "check-store checks a results file" if kind == "other-scheme" else "not a store location",
            "sync": "--store must be the postgresql:// URL",
            "validate-store-in-toml": "store must be a PostgreSQL server URL",
            "report-store-in-toml": "store must be a PostgreSQL server URL",
        }.get(name, "not a store location")
    elif name == "check-store":
        words = "check-store checks a results file"
    elif kind in MALFORMED:
        words = "not a usable server URL"
    elif name == "annotate":
        return code is None and any(_journal(cwd).glob("*.sqlite"))
    elif name == "review":
        words = "no results store there"
    elif name == "validate-store-in-toml":
        return code == 0
    else:
        words = "results server"
    return words in said


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
        toml.write_text(
            toml.read_text(encoding="utf-8").replace("seed = 7\n", f'seed = 7\nstore = "{url}"\n'), encoding="utf-8"
        )
        commands = _commands(tiny_study, toml_study, table, file_store)
        if kind in RUNS:
            commands = {name: commands[name] for name in RUNS[kind]}
        for name, argv in commands.items():
            runs.append(
                (kind, name, [url if word == "{url}" else word for word in argv], tmp_path / "runs" / kind / name)
            )

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda run: _run(run[2], run[3]), runs))

    leaks, tracebacks, silent, unreached = [], [], [], []
    for (kind, name, _, cwd), (code, out, err) in zip(runs, results):
        if SECRET in out or SECRET in err:
            leaks.append(f"{kind} {name}: printed it ({(out + err).strip()[-300:]})")
        leaks += [f"{kind} {name}: wrote it into {path}" for path in _files_with(SECRET, cwd)]
        if "Traceback" in err:
            tracebacks.append(f"{kind} {name}: {err.strip()[-400:]}")
        if code is not None and code == 0 and name not in ("validate-store-in-toml",):
            silent.append(f"{kind} {name}: exit 0 against a server that is not there")
        if not _reached_the_store(kind, name, code, out + err, cwd):
            unreached.append(f"{kind} {name}: exit {code}, {err.strip()[-300:]!r}")
    assert not leaks, "\n".join(leaks)
    assert not tracebacks, "\n".join(tracebacks)
    assert not silent, "\n".join(silent)
    assert not unreached, "\n".join(unreached)
    # the study folders, the caches, the journals: nothing anywhere but the study.toml files it was planted in
    written = [path for folder in (tmp_path, private_cache) for path in _files_with(SECRET, folder)]
    assert [path for path in written if not path.endswith("study.toml")] == []
    # no folder or file was made of a text that is no store location (simulate made folders of them)
    for kind in NOT_STORES + MALFORMED:
        assert {path.name for path in (tmp_path / "runs" / kind).rglob("*") if path.is_dir()} <= {"out", *RUNS[kind]}, (
            kind
        )
