"""A server password never reaches a screen or a file, with a real server that asks for it
(issue #27, case 3): report, compare, export, progress, review, merge, import and sync as
real commands; their outputs (stdout, stderr, every file written) are searched for it.
tests/reliability/test_secrets.py covers every command against a server that is not there."""

from __future__ import annotations

import csv
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg

from study_app.protocol.study import load_study
from study_app.session.controller import SessionController
from study_app.store import ResultsStore
from tests.store.postgres.conftest import allocated_study, answer_all

ROOT = Path(__file__).resolve().parents[3]
#: The planted password; its first part appears in every form it could leak in (as typed, %-encoded).
PASSWORD = "S3cr3tPl4nted-/@:%x"
MARK = "S3cr3tPl4nted"


def main_py(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def password_role(pg_server, pg_url: str) -> str:
    """A superuser role that must give PASSWORD over TCP (scram-sha-256); returns its name."""
    role = f"secretive_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        hba = pg_server.data / "pg_hba.conf"
        hba.write_text(
            f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text(encoding="utf-8"), encoding="utf-8"
        )
        conn.execute("SELECT pg_reload_conf()")
    return role


def files_with(mark: str, folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and (mark.encode() in p.read_bytes() or mark in p.name)]


def test_commands_on_a_server_that_asks_for_a_password_never_show_it(tmp_path, pg_server, pg_url):
    role = password_role(pg_server, pg_url)
    host, database = pg_url.split("@", 1)[1].split("/", 1)
    in_userinfo = f"postgresql://{role}:{quote(PASSWORD, safe='')}@{host}/{database}"
    in_query = f"postgresql://{role}@{host}/{database}?password={quote(PASSWORD, safe='')}"
    wrong = f"postgresql://{role}:{MARK}-wrong@{host}/{database}"
    pilot = pg_server.create_database(f"pilot_{uuid.uuid4().hex[:8]}").replace(
        "postgres@", f"{role}:{quote(PASSWORD, safe='')}@"
    )

    folder = allocated_study(tmp_path / "s", per_class_test=2, r=2, share=4)
    study = load_study(folder, check_images=False)
    with ResultsStore(in_userinfo) as store:  # the password is needed: the role may not log in without it
        for annotator in ("A1", "A2"):
            controller = SessionController(study, store, annotator)
            answer_all(controller)
            controller.finish()

    work = tmp_path / "work"
    work.mkdir()
    s = str(folder)
    runs = {
        "report": ["report", "--study", s, "--store", in_userinfo, "--n-boot", "200", "--gallery-size", "2"],
        "compare": ["compare", "--study", s, "--store", in_query, "--n-boot", "200"],
        "export": ["export", "--study", s, "--store", in_query],
        "progress": ["progress", "--store", in_userinfo, "--study", s, "--images"],
        "review-export": ["review", "--study", s, "--store", in_query, "--export", "reviews.csv"],
        "merge": ["merge", "merged.sqlite", in_userinfo],
        "import": ["import", "results/tiny/export/answers.csv", "--store", in_query],
        "sync": ["sync", "--store", in_userinfo],
        "simulate": ["simulate", "--study", s, "--annotators", "1", "--store", pilot],
        "wrong-password": ["progress", "--store", wrong],
        # the scheme in capitals and a blank before it: still the server (the driver gets it in lower case)
        "upper-scheme": ["progress", "--store", " " + in_userinfo.replace("postgresql://", "POSTGRESQL://")],
    }
    results = {name: main_py(*argv, cwd=work) for name, argv in runs.items()}

    for name, result in results.items():
        assert MARK not in result.stdout + result.stderr, (name, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (name, result.stderr)
        assert (result.returncode == 0) == (name != "wrong-password"), (name, result.stderr)
    assert "password authentication failed" in results["wrong-password"].stderr
    assert results["simulate"].stdout.count(f"{role}:***@") == 2  # the summary and the next command
    assert files_with(MARK, work) == [] and files_with(MARK, tmp_path) == []

    report = work / "results" / "tiny" / "report"
    assert {"index.html", "report.md"} <= {p.name for p in report.iterdir()}
    with open(report / "tables" / "study.csv", encoding="utf-8", newline="") as table:
        facts = {row[0]: row[1] for row in csv.reader(table)}
    assert facts["source"] == f"results store postgresql://{role}:***@{host}/{database}"
    assert f"--store 'postgresql://{role}:***@{host}/{database}'" in facts["command"]
    assert f"postgresql://{role}:***@{host}/{database}" in (report / "index.html").read_text(encoding="utf-8")
