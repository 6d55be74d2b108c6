"""Hostile study.toml files: every one is refused with a clear error naming file, line and field."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from study_app.protocol.study import _IMAGES, _LABELS, _PHASE, _TOP, MAX_STUDY_FILE_BYTES, load_study
from tests.reliability.helpers import edit_toml, line_number, only, problems_of


def test_malformed_toml_names_the_line(tiny_study):
    edit_toml(tiny_study, 'title = "Tiny test study"', 'title = "Tiny test study')
    problem = only(problems_of(tiny_study), "not valid TOML")
    assert problem.file == "study.toml" and "line 4" in problem.message


@pytest.mark.parametrize(
    "old, new, field, expected",
    [
        ("seed = 7", 'seed = "seven"', "seed", "an integer"),
        (
            'name = "test"\nsplit = "test"\nfeedback = false',
            'name = "test"\nsplit = "test"\nfeedback = "no"',
            "phases.1.feedback",
            "true/false",
        ),
        ("answers = 3", "answers = 2.5", "phases.1.answers", "an integer"),
        ('predictions = ["predictions.csv"]', 'predictions = "predictions.csv"', "models.predictions", "an array"),
        ('file = "labels.csv"', "file = 3", "labels.file", "a string"),
        ("break_every = 4", "break_every = true", "phases.1.break_every", "an integer"),
    ],
    ids=["int-as-string", "bool-as-string", "float-for-int", "string-for-array", "int-for-path", "bool-for-int"],
)
def test_wrong_types_name_line_field_and_expected_type(tiny_study, old, new, field, expected):
    edit_toml(tiny_study, old, new)
    problem = only(problems_of(tiny_study), f"must be {expected}")
    assert problem.field == field
    assert problem.line == line_number(tiny_study, "study.toml", new.splitlines()[-1])


@pytest.mark.parametrize("key", ["name", "seed", "format"])
def test_missing_required_keys(tiny_study, key):
    lines = (tiny_study / "study.toml").read_text().splitlines()
    lines.remove(next(line for line in lines if line.startswith(f"{key} =")))  # the top-level one
    (tiny_study / "study.toml").write_text("\n".join(lines) + "\n")
    problem = only(problems_of(tiny_study), f"missing required key {key!r}")
    assert problem.file == "study.toml" and problem.field is None


def test_missing_table_and_phases(tiny_study):
    text = (tiny_study / "study.toml").read_text()
    (tiny_study / "study.toml").write_text(text[: text.index("[[phases]]")])
    problem = only(problems_of(tiny_study), "at least one [[phases]]")
    assert problem.field == "phases"


KNOWN_TABLES = {(): _TOP, ("labels",): _LABELS, ("images",): _IMAGES, ("phases", 0): _PHASE}


def _typo(key: str, data) -> str:
    """One plausible slip of the keyboard: a swapped, dropped, doubled or replaced letter."""
    kind = data.draw(st.sampled_from(["swap", "drop", "double", "replace"]))
    i = data.draw(st.integers(0, len(key) - 2))
    if kind == "swap":
        return key[:i] + key[i + 1] + key[i] + key[i + 2 :]
    if kind == "drop":
        return key[:i] + key[i + 1 :]
    if kind == "double":
        return key[:i] + key[i] + key[i:]
    return key[:i] + data.draw(st.sampled_from(string.ascii_lowercase)) + key[i + 1 :]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_typo_in_any_key_is_refused_and_the_key_suggested(tiny_study, data):
    """Property: a misspelt key anywhere is reported with its line, and the intended key is named
    (unless the typo is itself another known key or too far from any)."""
    where = data.draw(st.sampled_from(sorted(KNOWN_TABLES, key=str)))
    schema = KNOWN_TABLES[where]
    key = data.draw(st.sampled_from(sorted(k for k in schema if len(k) >= 4 and schema[k].kind in (str, int, bool))))
    typo = _typo(key, data)
    if typo in schema or typo == key:
        return
    header = {(): None, ("labels",): "[labels]", ("images",): "[images]", ("phases", 0): "[[phases]]"}[where]
    original = (tiny_study / "study.toml").read_text()
    value = {str: '"x"', int: "1", bool: "true"}[schema[key].kind]
    text = (
        f"{typo} = {value}\n" + original
        if header is None
        else original.replace(header + "\n", f"{header}\n{typo} = {value}\n", 1)
    )
    (tiny_study / "study.toml").write_text(text)
    try:
        problem = only(problems_of(tiny_study, check_images=False), f"unknown key {typo!r}")
        assert problem.line == line_number(tiny_study, "study.toml", f"\n{typo} = ")
        assert problem.field.endswith(typo)
        assert "did you mean" in problem.message or "known keys" in problem.message
        if "did you mean" in problem.message:
            suggested = problem.message.split("did you mean ")[1].strip("'?")
            assert suggested in schema
    finally:
        (tiny_study / "study.toml").write_text(original)


def test_typo_suggestion_names_the_intended_key(tiny_study):
    edit_toml(tiny_study, "break_every = 4", "brake_every = 4")
    problem = only(problems_of(tiny_study), "unknown key 'brake_every'")
    assert "did you mean 'break_every'?" in problem.message and problem.field == "phases.1.brake_every"


def test_huge_protocol_file_is_refused_before_parsing(tiny_study):
    with open(tiny_study / "study.toml", "a", encoding="utf-8") as handle:
        handle.write("# padding\n" * (MAX_STUDY_FILE_BYTES // 10 + 1))
    problem = only(problems_of(tiny_study), "a protocol is at most")
    assert problem.file == "study.toml"


def test_huge_but_legal_values_are_refused_by_range(tiny_study):
    edit_toml(tiny_study, "answers = 3", "answers = 99999999999999999")
    edit_toml(tiny_study, "break_every = 4", "break_every = -9223372036854775808")
    problems = problems_of(tiny_study)
    assert only(problems, "answers must be between 1 and 10").field == "phases.1.answers"
    assert only(problems, "break_every must be between 0 and 100,000 (0: no breaks)").field == "phases.1.break_every"


def test_not_utf8_names_the_line(tiny_study):
    raw = (tiny_study / "study.toml").read_bytes().replace(b"Four classes", b"Vier Kl\xe4sse")
    (tiny_study / "study.toml").write_bytes(raw)
    problem = only(problems_of(tiny_study), "not UTF-8")
    assert problem.line == 5


def test_utf16_file_is_refused_as_not_utf8(tiny_study):
    text = (tiny_study / "study.toml").read_text()
    (tiny_study / "study.toml").write_bytes(text.encode("utf-16"))
    assert only(problems_of(tiny_study), "not UTF-8").file == "study.toml"


def test_byte_order_mark_is_accepted_in_toml_and_csv(tiny_study):
    for name in ("study.toml", "labels.csv", "manifest.csv", "predictions.csv", "instructions.md"):
        path = tiny_study / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    study = load_study(tiny_study)
    assert study.name == "tiny" and len(study.labels) == 4 and study.labels.classes[0].label_id == "cat"
    assert not study.instructions.startswith("\ufeff")


def test_nul_and_control_characters_in_paths_are_refused(tiny_study):
    edit_toml(tiny_study, 'file = "labels.csv"', 'file = "labels\\u0000.csv"')
    problem = only(problems_of(tiny_study), "NUL")
    assert problem.field == "labels.file"


def test_unsupported_format_version(tiny_study):
    edit_toml(tiny_study, "format = 1", "format = 2")
    assert only(problems_of(tiny_study), "format 2 is not supported").field == "format"


def test_every_problem_is_reported_at_once(tiny_study):
    edit_toml(tiny_study, "seed = 7", 'seed = "x"')
    edit_toml(tiny_study, "answers = 3", "answers = 0")
    edit_toml(tiny_study, 'manifest = "manifest.csv"', 'manifest = "manifest.csv"\nroot_dir = "x"')
    messages = [p.message for p in problems_of(tiny_study)]
    assert any("seed must be" in m for m in messages)
    assert any("answers must be between" in m for m in messages)
    assert any("unknown key 'root_dir'" in m for m in messages)


def test_a_table_where_a_value_belongs_and_the_reverse(tiny_study):
    edit_toml(tiny_study, 'title = "Tiny test study"', 'title = { text = "x" }')
    edit_toml(tiny_study, "[images]\nmanifest", "images_extra = 1\n[images]\nmanifest")
    problems = problems_of(tiny_study)
    assert only(problems, "title must be a string").line == 4
    assert "unknown key 'images_extra'" in only(problems, "images_extra").message
