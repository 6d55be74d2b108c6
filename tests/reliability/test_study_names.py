"""Study names are names (issue #27, case 2): a study.toml cannot put results outside results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from study_app.errors import StudyError
from study_app.io.results_folder import RESULTS_DIR
from study_app.protocol.study import BUNDLED_PROTOCOLS, load_study, study_name_problem
from study_app.store.results_store import study_results_dir
from tests.reliability.helpers import edit_toml, line_number, only, problems_of

ROOT = Path(__file__).resolve().parents[2]
ESCAPING = ["/srv/elsewhere", "../../x", "a/b", "..", ".", "", "a\\b", ".hidden", "tiny\x00", "a b", "x" * 129]


def main_py(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("name", ["/srv/elsewhere", "../../x", "a/b", ".."])
def test_validate_refuses_a_name_that_is_a_path(tiny_study, name):
    edit_toml(tiny_study, 'name = "tiny"', f"name = {name!r}".replace("'", '"'))
    problem = only(problems_of(tiny_study, check_images=False), "is not a plain name")
    assert (problem.file, problem.line, problem.field) == (
        "study.toml",
        line_number(tiny_study, "study.toml", "\nname = "),
        "name",
    )
    assert "letters, digits, '-', '_' or '.'" in problem.message


def test_validate_command_names_the_line_and_the_rule(tiny_study, tmp_path):
    edit_toml(tiny_study, 'name = "tiny"', 'name = "/srv/elsewhere"')
    result = main_py("validate", "--study", str(tiny_study), "--quick", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "study.toml:2 [name]: name '/srv/elsewhere' is not a plain name" in result.stderr


@pytest.mark.parametrize("name", ESCAPING)
def test_the_name_rule_refuses_separators_dots_and_odd_characters(name):
    assert study_name_problem(name) is not None


def test_every_bundled_study_and_the_test_factory_have_plain_names(tiny_study):
    names = [load_study(folder.parent, check_images=False).name for folder in BUNDLED_PROTOCOLS.glob("*/study.toml")]
    assert names and all(
        study_name_problem(name) is None for name in [*names, load_study(tiny_study, check_images=False).name]
    )


@pytest.mark.parametrize("name", ["/srv/elsewhere", "../../x", "a/b", "..", ".", ""])
def test_the_results_folder_is_never_outside_results(name):
    """Names that never went through validate (an answers table's study column, an unvalidated
    study.toml read for its name) are refused where the folder is derived."""
    with pytest.raises(StudyError, match="would put its results outside"):
        study_results_dir(name)


def test_export_of_an_unvalidated_study_refuses_a_name_that_leaves_results(tiny_study, tmp_path):
    """export reads only the name of the study (not a validated protocol) for its default paths."""
    edit_toml(tiny_study, 'name = "tiny"', 'name = "../../escaped"')
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    result = main_py("export", "--study", str(tiny_study), cwd=work)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "study name '../../escaped' would put its results outside results/" in result.stderr
    assert not (tmp_path / "escaped").exists()


def test_a_plain_name_works_end_to_end_under_results(tiny_study, tmp_path):
    edit_toml(tiny_study, 'name = "tiny"', 'name = "tiny-2.v1_a"')
    work = tmp_path / "work"
    work.mkdir()
    simulated = main_py("simulate", "--study", str(tiny_study), "--annotators", "2", cwd=work)
    assert simulated.returncode == 0, simulated.stderr
    pilot = RESULTS_DIR / "tiny-2.v1_a" / "pilot.sqlite"
    assert (work / pilot).is_file()
    exported = main_py("export", "--study", str(tiny_study), "--store", str(pilot), cwd=work)
    assert exported.returncode == 0, exported.stderr
    assert (work / "results" / "tiny-2.v1_a" / "export" / "answers.csv").is_file()
    compared = main_py("compare", "--study", str(tiny_study), "--store", str(pilot), "--n-boot", "200", cwd=work)
    assert compared.returncode == 0, compared.stderr
    assert (work / "results" / "tiny-2.v1_a" / "compare-pilot").is_dir()
    assert {path.relative_to(work).parts[0] for path in work.rglob("*")} == {"results"}
