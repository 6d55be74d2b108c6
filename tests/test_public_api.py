"""The public Python API (``import study_app as sa``): cheap to import, visible to type
checkers, and the README's notebook example gives the numbers of ``compare --json``.

The example is read from README.md between ``<!-- python-api -->`` and
``<!-- /python-api -->``, so the text a researcher copies is the text tested; it runs in a
folder where ``python main.py simulate`` (a real subprocess) made the pilot store it reads.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import study_app

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """The Python block between the README's markers (a README without them fails the test)."""
    found = re.search(
        r"<!-- python-api -->\s*```python\n(.*?)```\s*<!-- /python-api -->",
        (ROOT / "README.md").read_text(encoding="utf-8"),
        re.DOTALL,
    )
    assert found, "README.md has no Python block between <!-- python-api --> and <!-- /python-api -->"
    return found.group(1)


def run_main(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_package_loads_no_pandas_scipy_or_qt():
    heavy = ("pandas", "scipy", "numpy", "matplotlib", "PyQt5")
    probe = (
        "import sys, study_app as sa\n"
        "sa.load_study, sa.Study, sa.StudyError\n"  # what an annotation session needs stays light too
        f"print([name for name in {heavy!r} if name in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_public_name_loads_and_type_checkers_see_the_same_names():
    tree = ast.parse(Path(study_app.__file__).read_text(encoding="utf-8"))
    checked = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    seen = {
        alias.asname or alias.name for node in checked.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert seen == set(study_app.__all__) - {"__version__"}
    for name in study_app.__all__:
        assert getattr(study_app, name) is not None
    assert set(dir(study_app)) >= set(study_app.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        study_app.nothing_here  # noqa: B018


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        study_app.load_raters("demo-digits", None)  # type: ignore[misc]
    with pytest.raises(TypeError):
        study_app.compare(pd.DataFrame(), 0.05)  # type: ignore[misc]


def test_the_readme_example_gives_the_numbers_of_compare_json(tmp_path, monkeypatch, capsys):
    run_main(
        "simulate",
        "--study",
        "demo-digits",
        "--annotators",
        "2",
        "--store",
        "results/demo-digits/pilot.sqlite",
        cwd=tmp_path,
    )
    cli = json.loads(
        run_main(
            "compare",
            "--study",
            "demo-digits",
            "--store",
            "results/demo-digits/pilot.sqlite",
            "--phase",
            "test",
            "--n-boot",
            "2000",
            "--json",
            "--out",
            str(tmp_path / "compare"),
            cwd=tmp_path,
        )
    )
    monkeypatch.chdir(tmp_path)
    names: dict[str, object] = {}
    exec(compile(readme_example(), "README.md (python-api)", "exec"), names)  # the README's own text
    result = names["result"]
    assert isinstance(result, study_app.Comparison)
    numbers = json.loads(json.dumps(result.to_json()))  # tuples to lists, as the command's JSON has them
    assert numbers.keys() <= cli.keys() and len(numbers) >= 15
    for name, value in numbers.items():
        assert value == cli[name], name  # every setting, note and table row, to the last digit
    assert cli["paired"] and names["paired"].equals(result.paired)
    assert "Paired comparisons on shared images" in capsys.readouterr().out
    assert (tmp_path / "report" / "index.html").is_file()
    with pytest.raises(study_app.StudyError, match="scored with k = 1; load_raters"):
        study_app.compare(names["data"], k=3)  # k is the table's: scored when it was loaded
    with pytest.raises(study_app.StudyError, match="alpha must be between 0.0001 and 0.5, not 0.9"):
        study_app.compare(names["data"], alpha=0.9)


def test_load_raters_says_which_inputs_go_together(tmp_path):
    with pytest.raises(study_app.StudyError, match="not both"):
        study_app.load_raters("demo-digits", truth=tmp_path / "manifest.csv")
    with pytest.raises(study_app.StudyError, match="needs a study, or truth="):
        study_app.load_raters()
    with pytest.raises(study_app.StudyError, match="give the study too"):
        study_app.load_raters(store=tmp_path / "results.sqlite")
