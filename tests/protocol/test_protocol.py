"""Protocol loading: bundled studies, all problems reported at once, the protocol hash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from study_app.errors import ProtocolError, StudyNotFoundError
from study_app.protocol.keys import COMMANDS, KEYS, REVIEW_COMMANDS, REVIEW_KEYS, normalise_keys
from study_app.protocol.study import load_study
from tests.factory import write_csv


def problems_of(root: Path) -> list:
    with pytest.raises(ProtocolError) as caught:
        load_study(root)
    return caught.value.problems


def test_demo_imagenet_counts():
    study = load_study("demo-imagenet")
    assert len(study.labels) == 1000
    assert len(study.images) == 20
    assert [p.name for p in study.phases] == ["training", "test"]
    assert study.phase("test").answers == 5 and not study.phase("test").feedback
    assert study.phase("training").feedback
    assert len(study.phase("training").image_ids) + len(study.phase("test").image_ids) == 20
    assert study.labels.depth("n02123045") > 5
    assert study.labels.path_to_root("n02123045")[-1] == "n00001740"


def test_demo_digits_counts():
    study = load_study("demo-digits")
    assert len(study.labels) == 10
    assert len(study.images) == 1797
    assert sum(len(p) for p in study.labels.examples.values()) == 130
    assert all(len(p) == 13 for p in study.labels.examples.values())
    assert len(study.phase("test").image_ids) == 200
    assert len(study.prediction_files) == 1


def test_tiny_study_loads(tiny_study):
    study = load_study(tiny_study)
    assert study.truth("img-003") == ("cat",)
    assert study.labels.lowest_common_ancestor("cat", "dog") == "animal"
    assert study.labels.lowest_common_ancestor("cat", "car") is None
    assert study.labels.class_count_below["animal"] == 2
    assert len(study.labels.examples["bus"]) == 2


def test_five_mistakes_are_all_reported_with_locations(tiny_study):
    """Unknown label, missing image, '../' path, duplicate label id, bad phase size."""
    rows = (tiny_study / "manifest.csv").read_text().splitlines()
    rows[1] = rows[1].replace(",cat,", ",lion,")  # unknown label, line 2
    rows[2] = rows[2].replace("images/img-", "images/missing-")  # missing image, line 3
    rows[3] = rows[3].replace("images/", "../outside/")  # escaping path, line 4
    (tiny_study / "manifest.csv").write_text("\n".join(rows) + "\n")
    with open(tiny_study / "labels.csv", "a") as handle:
        handle.write("dog,second dog,,\n")  # duplicate id, line 6
    toml = (tiny_study / "study.toml").read_text().replace('split = "test"\n', 'split = "test"\nn = 99\n')
    (tiny_study / "study.toml").write_text(toml)
    before = sorted(p.name for p in tiny_study.rglob("*"))

    problems = problems_of(tiny_study)

    text = [str(p) for p in problems]
    assert any(p.file == "manifest.csv" and p.line == 2 and "unknown label 'lion'" in p.message for p in problems), text
    assert any(p.file == "manifest.csv" and p.line == 3 and "not found" in p.message for p in problems), text
    assert any(p.file == "manifest.csv" and p.line == 4 and "'..'" in p.message for p in problems), text
    assert any(p.file == "labels.csv" and p.line == 6 and "duplicate label_id 'dog'" in p.message for p in problems), (
        text
    )
    assert any(p.file == "study.toml" and p.field == "phases.1.n" and p.line == 28 for p in problems), text
    assert sorted(p.name for p in tiny_study.rglob("*")) == before  # nothing written


def test_toml_syntax_error_is_located(tiny_study):
    (tiny_study / "study.toml").write_text('format = 1\nname = "x\n')
    (problem,) = problems_of(tiny_study)
    assert "not valid TOML" in problem.message and "line 2" in problem.message


def test_unknown_key_suggests_the_right_one(tiny_study):
    toml = (tiny_study / "study.toml").read_text().replace("feedback = true", "feedbak = true")
    (tiny_study / "study.toml").write_text(toml)
    (problem,) = problems_of(tiny_study)
    assert "did you mean 'feedback'" in problem.message
    assert problem.line == 22 and problem.field == "phases.0.feedbak"


def test_wrong_types_and_missing_keys(tiny_study):
    toml = (tiny_study / "study.toml").read_text()
    toml = (
        toml.replace("seed = 7", 'seed = "seven"')
        .replace("answers = 3", "answers = true")
        .replace('name = "tiny"\n', "")
    )
    (tiny_study / "study.toml").write_text(toml)
    messages = [str(p) for p in problems_of(tiny_study)]
    assert any("seed must be an integer" in m for m in messages), messages
    assert any("answers must be an integer" in m for m in messages), messages
    assert any("missing required key 'name'" in m for m in messages), messages


def test_overlapping_phases_are_refused(tiny_study):
    toml = (tiny_study / "study.toml").read_text().replace('split = "train"', 'split = "test"')
    (tiny_study / "study.toml").write_text(toml)
    messages = [str(p) for p in problems_of(tiny_study)]
    assert any("shares 12 image(s) with phase 'training'" in m for m in messages), messages


def test_example_image_used_as_trial_is_refused(tiny_study):
    with open(tiny_study / "manifest.csv", "a") as handle:
        handle.write("leak,images/img-001.png,cat,test\n")
    messages = [str(p) for p in problems_of(tiny_study)]
    assert any("would reveal the answer" in m for m in messages), messages


def test_corrupt_image_and_bad_predictions(tiny_study):
    (tiny_study / "images" / "img-004.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    write_csv(
        tiny_study / "predictions.csv",
        ["model", "image_id", "rank", "label_id", "score"],
        [["m", "img-003", "1", "cat", "0.5"], ["m", "nope", "1", "cat", "0.5"], ["m", "img-004", "1", "zebra", "nan"]],
    )
    problems = problems_of(tiny_study)
    text = [str(p) for p in problems]
    assert any(p.file == "manifest.csv" and p.line == 3 and "img-004.png" in p.message for p in problems), text
    assert any(p.file == "predictions.csv" and p.line == 3 and p.field == "image_id" for p in problems), text
    assert any(p.file == "predictions.csv" and p.line == 4 and p.field == "label_id" for p in problems), text
    assert any(p.file == "predictions.csv" and p.line == 4 and p.field == "score" for p in problems), text


def test_symlink_leaving_the_folder_is_refused(tiny_study, tmp_path):
    outside = tmp_path / "outside.png"
    Image.new("RGB", (8, 8)).save(outside)
    (tiny_study / "images" / "link.png").symlink_to(outside)
    with open(tiny_study / "manifest.csv", "a") as handle:
        handle.write("linked,images/link.png,cat,test\n")
    messages = [str(p) for p in problems_of(tiny_study)]
    assert any("outside" in m and "symbolic link" in m for m in messages), messages


def test_protocol_hash_identifies_the_exact_study(tiny_study, tmp_path):
    first = load_study(tiny_study).protocol_hash
    copy = tmp_path / "copy"
    shutil.copytree(tiny_study, copy)
    assert load_study(copy).protocol_hash == first  # location does not matter
    Image.new("RGB", (48, 32), (1, 2, 3)).save(copy / "images" / "img-010.png")
    assert load_study(copy).protocol_hash != first  # one image's pixels do


def test_unknown_study_name():
    with pytest.raises(StudyNotFoundError, match="bundled studies: demo-digits, demo-imagenet"):
        load_study("no-such-study")


def test_key_overrides_are_checked(tiny_study):
    toml = (tiny_study / "study.toml").read_text()
    (tiny_study / "study.toml").write_text(toml + '\n[keys]\nsubmit = "F5"\nflag = "x"\nsubmt = "F11"\n')
    problems = problems_of(tiny_study)
    text = [str(p) for p in problems]
    assert any("F5 is bound to both" in m and "'not_sure'" in m and "'submit'" in m for m in text), text
    assert any("would type into the search box" in m for m in text), text
    assert any("did you mean 'submit'" in m and p.line == 38 for p, m in zip(problems, text)), text


def test_valid_key_override(tiny_study):
    toml = (tiny_study / "study.toml").read_text()
    (tiny_study / "study.toml").write_text(toml + '\n[keys]\nsubmit = "f12"\nflag = "ctrl+shift+f"\n')
    assert dict(load_study(tiny_study).keys) == {"submit": "F12", "flag": "Ctrl+Shift+F"}


def test_each_window_gives_each_key_to_one_command():
    """The one command table holds both windows' commands; within a window no key is taken twice."""
    for commands in (COMMANDS, REVIEW_COMMANDS):
        keys = [normalise_keys(command.keys) for command in commands]
        assert len(keys) == len(set(keys)), [command.name for command in commands]
    shared = KEYS.keys() & REVIEW_KEYS.keys()
    assert shared == {"help", "zoom_in", "zoom_out", "zoom_fit", "pan_left", "pan_right", "pan_up", "pan_down", "quit"}
    assert {name: KEYS[name] for name in shared} == {name: REVIEW_KEYS[name] for name in shared}
