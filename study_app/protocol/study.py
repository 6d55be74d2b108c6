"""Loading and checking a study protocol folder (``protocols/<study>/study.toml``).

A protocol is checked completely before anything runs: every problem in study.toml, the
label set, the hierarchy, the manifest, the images and the prediction files is collected
and reported at once, each with its file, line or row and field, so a researcher fixes
them in one pass. A loaded :class:`Study` is frozen; its ``protocol_hash`` (study.toml,
label files, manifest, instructions and the SHA-256 of every image) identifies the exact
study that answers were given in.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from study_app.caches.validation import ValidationCache, regular_file_stat
from study_app.errors import Problem, ProtocolError, StudyNotFoundError, TransformError
from study_app.io.csvfiles import CsvRow, read_csv, split_list
from study_app.io.images import DEFAULT_MAX_PIXELS
from study_app.io.input_files import MAX_BYTES, UnusableInputError, read_input_bytes
from study_app.io.paths import PathEscapeError, resolve_inside
from study_app.io.ranges import EXAMPLES_PER_CLASS, SEED, TOP_K, Range
from study_app.io.store_url import is_server_url, printable_location, server_url, url_problem
from study_app.io.tidy_predictions import read_predictions
from study_app.io.toml_check import Field, TomlChecker
from study_app.io.toml_lines import Where, key_lines, line_of
from study_app.protocol.counterbalance import DEFAULT_SOURCE_COLUMN, Design, check_design, stimulus_groups
from study_app.protocol.image_checks import check_image_files
from study_app.protocol.image_table import ImageTable, PathTable
from study_app.protocol.keys import check_overrides, normalise_keys
from study_app.protocol.labels import Label, LabelSet, read_hierarchy, read_label_rows
from study_app.protocol.taxonomy import DEFAULT_TAXONOMY, Taxonomy, read_review_table

STUDY_FILE = "study.toml"
#: The manifest's fixed columns; any other column is kept as an attribute of each image.
MANIFEST_COLUMNS = ("image_id", "path", "labels", "split")
#: The optional manifest column of a stimulus's condition (the level of a degradation).
CONDITION = "condition"
FORMAT_VERSION = 1
MAX_STUDY_FILE_BYTES = MAX_BYTES["protocol"]
MAX_ANSWERS = TOP_K.high
#: Most images a phase may take (a sanity bound; the manifest's split sets the real one).
MAX_IMAGES = 10_000_000
MODES = ("ranked", "multi-label")
ORDERS = ("random", "fixed")
#: How a timed trial goes on after a pause that came once its image was shown: at the response
#: screen without showing the image again, or with a fresh exposure (the first one is marked).
AFTER_PAUSE = ("respond", "repeat")
#: Default of ``key_guard_ms``: longer than a key's travel between two screens (40 ms seen in a
#: scripted run), shorter than anyone reads a break screen in.
DEFAULT_KEY_GUARD_MS = 300
#: Where bundled studies live: ``study_app/protocols/``, shipped in the wheel as package data
#: so that a non-editable install finds them (a user's own studies live under ./protocols).
BUNDLED_PROTOCOLS = Path(__file__).resolve().parents[1] / "protocols"
#: A study's name is the name of its results folder (``results/<name>/``), never a path:
#: ASCII letters, digits, '-', '_' and '.', not starting with '.' (so not '.' or '..').
STUDY_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def study_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a study (None when it can): a study.toml travels between labs,
    and a name such as ``../../x`` or ``/srv/elsewhere`` would put its results elsewhere."""
    if STUDY_NAME.fullmatch(name):
        return None
    return (
        f"name {name!r} is not a plain name: use 1 to 128 letters, digits, '-', '_' or '.', not starting with '.' "
        "(it names the results folder results/<name>/)"
    )


# The schema of study.toml. Every number has its documented range here (README, "Numbers in
# study.toml"): finite, and small enough for what uses it (a QTimer takes at most 2^31 - 1 ms,
# a timedelta or an SQLite integer overflow, a huge count exhausts memory).
_TOP = {
    "format": Field(int, True),
    "name": Field(str, True),
    "version": Field(str),
    "title": Field(str),
    "description": Field(str),
    "seed": Field(int, True, SEED),
    "instructions": Field(str),
    "labels": Field(dict, True),
    "images": Field(dict, True),
    "phases": Field(list, True),
    "models": Field(dict),
    "keys": Field(dict),
    "review": Field(dict),
    "counterbalance": Field(dict),
    "store": Field(str),
    "stimuli": Field(dict),
    "key_guard_ms": Field(int, range=Range(0, 5_000, "0: no guard")),
}
_LABELS = {
    "file": Field(str, True),
    "hierarchy": Field(str),
    "nodes": Field(str),
    "examples": Field(str),
    "examples_root": Field(str),
    "examples_per_class": Field(int, range=EXAMPLES_PER_CLASS),
}
_IMAGES = {
    "manifest": Field(str, True),
    "root": Field(str),
    "max_pixels": Field(int, range=Range(1, DEFAULT_MAX_PIXELS)),
}
_PHASE = {
    "name": Field(str, True),
    "split": Field(str, True),
    "n": Field(int, range=Range(1, MAX_IMAGES)),
    "feedback": Field(bool),
    "answers": Field(int, range=Range(1, MAX_ANSWERS)),
    "mode": Field(str),
    "order": Field(str),
    "break_every": Field(int, range=Range(0, 100_000, "0: no breaks")),
    "time_limit_s": Field((int, float), range=Range(0.1, 3600)),
    "countdown": Field(bool),
    "score_timeout_guesses": Field(bool),
    "allow_overlap": Field(bool),
    "presentation": Field(dict),
    "undo": Field(bool),
    "judgements_per_image": Field(int, range=Range(0, 1000, "0: every annotator answers every image")),
    "images_per_annotator": Field(int, range=Range(1, MAX_IMAGES)),
    "release_after_min": Field((int, float), range=Range(0.1, 10_080)),
}
_PRESENTATION = {
    "fixation_ms": Field(int, range=Range(0, 60_000)),
    "image_ms": Field(int, True, Range(1, 60_000)),
    "mask_ms": Field(int, range=Range(0, 60_000)),
    "after_pause": Field(str),
}
_MODELS = {"predictions": Field(list)}
#: Provenance of degraded stimuli (``new-study degrade`` writes it): checked, used by nothing else.
_STIMULI = {
    "transform": Field(str, True),
    "levels": Field(list, True),
    "seed": Field(int, True, SEED),
    "source": Field(str),
    "source_protocol_hash": Field(str),
}
_COUNTERBALANCE = {
    "phases": Field(list, True),
    "blocks": Field(str),
    "order": Field(str),
    "conditions": Field(str),
    "source": Field(str),
}


@dataclass(frozen=True)
class Presentation:
    """Psychophysics timing: fixation cross, image for a fixed time, then a noise mask."""

    image_ms: int
    fixation_ms: int = 300
    mask_ms: int = 200
    #: One of :data:`AFTER_PAUSE`: a pause must never show the image a second time unasked.
    after_pause: str = "respond"


@dataclass(frozen=True)
class Phase:
    """One phase of a session (e.g. training with feedback, then test)."""

    name: str
    split: str
    image_ids: tuple[str, ...]
    feedback: bool = False
    answers: int = 1
    mode: str = "ranked"
    order: str = "random"
    break_every: int = 0
    time_limit_s: float | None = None
    countdown: bool = True
    #: Whether the guesses chosen before a deadline ran out count as the answer (scored like
    #: an answer) or are only kept for the record (the default); protocol/correctness.py.
    score_timeout_guesses: bool = False
    presentation: Presentation | None = None
    #: The annotator may take back the last answer and revise it (see session.py).
    undo: bool = True
    #: Each image is answered by exactly this many annotators, who share the images out
    #: (0: every annotator answers every image); see study_app/store/allocation.py.
    judgements_per_image: int = 0
    #: With judgements_per_image: how many images one session takes from the pool.
    images_per_annotator: int = 0
    #: Minutes without an answer after which a session's unanswered images go back to the pool.
    release_after_min: float = 30.0

    @property
    def multi_label(self) -> bool:
        return self.mode == "multi-label"


def undo_blocked_by(feedback: bool, timed: bool) -> str | None:
    """Why a phase cannot have undo, or None: the one reason ``validate`` gives for ``undo = true``
    and the window gives for the undo key there."""
    if feedback:
        return "its feedback shows the right answer"
    return "it would show the timed image again" if timed else None


@dataclass(frozen=True)
class ImageRecord:
    """One image of the manifest with its ground truth and content hash."""

    image_id: str
    path: Path
    labels: tuple[str, ...]
    split: str
    sha256: str = ""
    #: Value in the manifest column that ``[counterbalance] blocks`` names ("" if none); in a
    #: design over manifest conditions, the group that shows this stimulus (counterbalance.py).
    block: str = ""
    #: The manifest's ``condition`` column as written ("" without one): the level of a
    #: degradation experiment. A stimulus is (source image, condition); each stimulus has an
    #: image id of its own (``<source>@<condition>`` from ``new-study degrade``).
    condition: str = ""
    #: Every other manifest column (not image_id, path, labels, split, condition) as
    #: (column, value) pairs in the manifest's order, e.g. ``source_image_id``; exported per
    #: trial in a study with conditions (store/results_store.py ``_image_snapshot`` says why).
    attributes: tuple[tuple[str, str], ...] = ()

    def attribute(self, column: str) -> str:
        """The value of an attribute column ("" if the manifest has no such column)."""
        return dict(self.attributes).get(column, "")


@dataclass(frozen=True)
class Study:
    """A fully checked study protocol."""

    root: Path
    name: str
    version: str
    title: str
    description: str
    seed: int
    instructions: str
    labels: LabelSet
    images: Mapping[str, ImageRecord]
    phases: tuple[Phase, ...]
    prediction_files: tuple[Path, ...]
    protocol_hash: str
    examples_per_class: int = 13
    max_pixels: int = DEFAULT_MAX_PIXELS
    keys: Mapping[str, str] = field(default_factory=dict)
    #: Causes a reviewer sorts errors into (the protocol's ``[review]`` table, else the ILSVRC paper's).
    taxonomy: Taxonomy = DEFAULT_TAXONOMY
    counterbalance: Design | None = None
    #: Results store named by the protocol (a PostgreSQL server URL for a multi-seat lab), "" for the default file.
    store: str = ""
    #: Images only hashed so far (``load_study(..., for_session=True)``): they are
    #: decoded in the background while the session runs (study_cache.py).
    undecoded: frozenset[str] = frozenset()
    #: The ``[stimuli]`` table (how ``new-study degrade`` made the images), {} without one.
    stimuli: Mapping[str, Any] = field(default_factory=dict)
    #: Milliseconds after a break, phase-start or feedback screen is painted during which its
    #: keys are ignored: a key pressed for the screen before must not dismiss this one unseen.
    key_guard_ms: int = DEFAULT_KEY_GUARD_MS

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(name)

    def conditions(self) -> dict[str, str]:
        """image id -> condition, of every image that has one (without making a record per image)."""
        if isinstance(self.images, ImageTable):
            return self.images.conditions()
        return {i: r.condition for i, r in self.images.items() if r.condition}

    def truth(self, image_id: str) -> tuple[str, ...]:
        """Ground-truth label ids of an image (several for multi-label ground truth)."""
        return self.images[image_id].labels


def _is_number(text: str) -> bool:
    """A condition level that is a number (infinity included, NaN not: it names no level)."""
    try:
        return not math.isnan(float(text))
    except ValueError:
        return False


def _attribute_columns(rows: list[CsvRow] | None) -> list[str]:
    """The manifest's columns other than the fixed ones and ``condition``, in header order."""
    if not rows:
        return []
    return [c for c in rows[0].values if isinstance(c, str) and c not in MANIFEST_COLUMNS and c != CONDITION]


def _check_stimuli(cfg: dict[str, Any], images: Mapping[str, ImageRecord], check: TomlChecker) -> None:
    """The ``[stimuli]`` record names a known transform, and every condition of the manifest is one of its levels."""
    if "transform" in cfg:
        from study_app.stimuli.registry import get_transform

        try:
            get_transform(cfg["transform"])
        except TransformError as exc:
            check.add(str(exc), "stimuli", "transform")
    levels = cfg.get("levels")
    if levels is None:
        return
    if not levels or not all(isinstance(level, str) for level in levels):
        check.add('levels must be a non-empty list of the conditions as text, e.g. ["0", "0.35"]', "stimuli", "levels")
        return
    unknown = sorted({r.condition for r in images.values() if r.condition} - set(levels))
    if unknown:
        check.add(
            f"the manifest has condition(s) {', '.join(unknown)} that are not among the levels {', '.join(levels)}",
            "stimuli",
            "levels",
        )


def find_study(name_or_path: str | Path) -> Path:
    """The protocol folder for a study name (bundled or under ./protocols) or a path."""
    candidate = Path(name_or_path)
    options = [candidate, Path("protocols") / candidate, BUNDLED_PROTOCOLS / candidate]
    for option in options:
        if option.is_file() and option.name == STUDY_FILE:
            return option.parent.resolve()
        if (option / STUDY_FILE).is_file():
            return option.resolve()
    known = sorted(p.parent.name for p in BUNDLED_PROTOCOLS.glob(f"*/{STUDY_FILE}"))
    raise StudyNotFoundError(
        f"no study {str(name_or_path)!r}: expected a folder with a {STUDY_FILE} "
        f"(looked in {', '.join(str(o) for o in options)}); bundled studies: {', '.join(known) or 'none'}"
    )


def study_name(name_or_path: str | Path) -> str:
    """The ``name`` in a study's study.toml, read without checking the rest of the study."""
    root = find_study(name_or_path)
    try:  # the same file checks as load_study: a named pipe must not hang, 5,000 digits not overflow
        data = tomllib.loads(read_input_bytes(root / STUDY_FILE, "protocol").decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, UnusableInputError) as exc:
        raise ProtocolError([Problem(STUDY_FILE, f"cannot read: {exc}")], root) from None
    name = data.get("name")
    return name if isinstance(name, str) and name else root.name


class _Loader:
    """Collects problems while reading each part of a protocol folder."""

    def __init__(self, root: Path, check_images: bool, rehash: bool = False, for_session: bool = False) -> None:
        self.root = root
        self.cache = ValidationCache(root, rehash)
        #: Decode every image never decoded before: now, or (a session) in the background,
        #: which needs the validation cache to keep what it finds for the next start.
        self.defer_decoding = check_images and for_session and self.cache.enabled
        self.decode = check_images and not self.defer_decoding
        self.for_session = for_session
        self.problems: list[Problem] = []
        self.hashed: list[tuple[str, bytes]] = []
        #: Every file the study was read from (not the images), for study_cache.py to watch.
        self.inputs: list[Path] = []
        self.undecoded: set[str] = set()
        # Every image id named by the manifest, usable or not, so that one bad row does not
        # also make every prediction of that image a problem.
        self.manifest_ids: set[str] = set()

    def ref(
        self, base: Path, reference: str, display_field: str, line: int | None = None, file: str = STUDY_FILE
    ) -> Path | None:
        """Resolve a file reference inside ``base``; report and return None if unsafe."""
        try:
            return resolve_inside(base, reference)
        except PathEscapeError as exc:
            self.problems.append(Problem(file, str(exc), line=line, field=display_field))
            return None

    def remember(self, display: str, path: Path | None) -> None:
        """Add a CSV file's bytes to the protocol hash (when it could be read: its reader said why not)."""
        if path is None:
            return
        try:
            self.hashed.append((display, read_input_bytes(path, "CSV file")))
        except (OSError, UnusableInputError):
            return
        self.inputs.append(path)

    def load(self) -> Study:
        study_path = self.root / STUDY_FILE
        data, lines = self._parse(study_path)
        check = TomlChecker(STUDY_FILE, lines, self.problems)
        top = check.table(data, _TOP, ())
        if "name" in top and (problem := study_name_problem(top["name"])):
            check.add(problem, "name")
        if top.get("format", FORMAT_VERSION) != FORMAT_VERSION:
            check.add(f"format {top['format']} is not supported (this program reads format {FORMAT_VERSION})", "format")
        labels_cfg = check.table(top.get("labels", {}), _LABELS, ("labels",))
        images_cfg = check.table(top.get("images", {}), _IMAGES, ("images",))
        models_cfg = check.table(top.get("models", {}), _MODELS, ("models",))
        balance_cfg = (
            check.table(top["counterbalance"], _COUNTERBALANCE, ("counterbalance",))
            if "counterbalance" in top
            else None
        )
        phase_cfgs = []
        for index, raw in enumerate(top.get("phases", [])):
            if not isinstance(raw, dict):
                check.add("each [[phases]] entry must be a table", "phases", index)
                continue
            phase_cfgs.append((index, check.table(raw, _PHASE, ("phases", index))))

        label_set = self._labels(labels_cfg, lines)
        max_pixels = images_cfg.get("max_pixels", DEFAULT_MAX_PIXELS)
        block_column = balance_cfg.get("blocks") if balance_cfg else None
        design_columns: tuple[str | None, ...] = (block_column,)
        if balance_cfg and "conditions" in balance_cfg:
            design_columns = (CONDITION, balance_cfg.get("source", DEFAULT_SOURCE_COLUMN))
        images = self._manifest(images_cfg, label_set, lines, max_pixels, block_column, design_columns)
        shared = set(balance_cfg.get("phases", [])) if balance_cfg and block_column else set()
        phases = self._phases(phase_cfgs, images, int(top.get("seed", 0)), check, shared)
        design = self._counterbalance(balance_cfg, phases, images, check) if balance_cfg else None
        stimuli = check.table(top["stimuli"], _STIMULI, ("stimuli",)) if "stimuli" in top else {}
        if stimuli:
            _check_stimuli(stimuli, images, check)
        self._check_examples_unused(label_set, images, phases)
        predictions = self._predictions(models_cfg, label_set, lines)
        if self.for_session:
            self.cache.keep_predictions()
        instructions = self._instructions(top, lines)
        keys = top.get("keys", {})
        store = top.get("store", "")
        if store and not is_server_url(store):
            check.add(
                "store must be a PostgreSQL server URL "
                f"(postgresql://user@host/database), not {printable_location(store)!r}",
                "store",
            )
        elif store and (problem := url_problem(server_url(store))):
            check.add(f"store {printable_location(store)} is not a usable server URL: {problem}", "store")
        taxonomy = read_review_table(top["review"], check) if "review" in top else DEFAULT_TAXONOMY
        for command, message in check_overrides(keys):
            check.add(message, "keys", command)

        self.cache.save()
        if self.problems:
            raise ProtocolError(self.problems, self.root)
        return Study(
            root=self.root,
            name=top["name"],
            version=top.get("version", ""),
            title=top.get("title", top["name"]),
            description=top.get("description", "").strip(),
            seed=top["seed"],
            instructions=instructions,
            labels=replace(label_set, examples=PathTable.from_paths(label_set.examples)),
            images=ImageTable.from_records(images.values()),
            phases=tuple(phases),
            prediction_files=tuple(predictions),
            protocol_hash=self._hash(images),
            examples_per_class=labels_cfg.get("examples_per_class", 13),
            max_pixels=max_pixels,
            keys={command: cast(str, normalise_keys(text)) for command, text in keys.items()},  # all checked above
            taxonomy=taxonomy,
            counterbalance=design,
            store=store,
            stimuli=stimuli,
            undecoded=frozenset(self.undecoded),
            key_guard_ms=top.get("key_guard_ms", DEFAULT_KEY_GUARD_MS),
        )

    def _parse(self, study_path: Path) -> tuple[dict[str, Any], dict[Where, int]]:
        try:
            raw = read_input_bytes(study_path, "protocol")
        except UnusableInputError as exc:
            raise ProtocolError([Problem(STUDY_FILE, str(exc))], self.root) from None
        except OSError as exc:
            raise ProtocolError([Problem(STUDY_FILE, f"cannot read: {exc.strerror or exc}")], self.root) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise ProtocolError(
                [Problem(STUDY_FILE, "not UTF-8 text; save the file as UTF-8", line=line)], self.root
            ) from None
        try:
            data = tomllib.loads(text)
        except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4,300 digits
            raise ProtocolError([Problem(STUDY_FILE, f"not valid TOML: {exc}")], self.root) from None
        self.hashed.append((STUDY_FILE, raw))
        self.inputs.append(study_path)
        return data, key_lines(text)

    def _labels(self, cfg: dict[str, Any], lines: dict[Where, int]) -> LabelSet:
        classes: list[Label] = []
        nodes: list[Label] = []
        parent_of: dict[str, str] = {}
        if "file" in cfg:
            path = self.ref(self.root, cfg["file"], "labels.file", line_of(lines, "labels", "file"))
            if path is not None:
                classes = read_label_rows(path, cfg["file"], True, self.problems)
                self.remember(cfg["file"], path)
                if not classes and path.is_file():
                    self.problems.append(Problem(cfg["file"], "the label set has no classes"))
        if "nodes" in cfg:
            path = self.ref(self.root, cfg["nodes"], "labels.nodes", line_of(lines, "labels", "nodes"))
            if path is not None:
                class_ids = {c.label_id for c in classes}
                for node in read_label_rows(path, cfg["nodes"], False, self.problems):
                    if node.label_id in class_ids:
                        self.problems.append(
                            Problem(
                                cfg["nodes"],
                                f"{node.label_id!r} is already a class in {cfg.get('file')}",
                                field="label_id",
                            )
                        )
                    else:
                        nodes.append(node)
                self.remember(cfg["nodes"], path)
        if "hierarchy" in cfg:
            path = self.ref(self.root, cfg["hierarchy"], "labels.hierarchy", line_of(lines, "labels", "hierarchy"))
            if path is not None:
                known = {label.label_id for label in (*classes, *nodes)}
                parent_of = read_hierarchy(path, cfg["hierarchy"], known, self.problems)
                self.remember(cfg["hierarchy"], path)
        examples = self._examples(cfg, {c.label_id for c in classes}, lines)
        return LabelSet(tuple(classes), tuple(nodes), parent_of, examples)

    def _examples(
        self, cfg: dict[str, Any], class_ids: set[str], lines: dict[Where, int]
    ) -> dict[str, tuple[Path, ...]]:
        if "examples" not in cfg:
            return {}
        display = cfg["examples"]
        path = self.ref(self.root, display, "labels.examples", line_of(lines, "labels", "examples"))
        base = self._root_dir(
            cfg.get("examples_root"), "labels.examples_root", line_of(lines, "labels", "examples_root")
        )
        if path is None or base is None:
            return {}
        rows = read_csv(path, ("label_id", "path"), self.problems, display)
        self.remember(display, path)
        found: dict[str, list[Path]] = {}
        for row in rows or []:
            label_id = row.get("label_id")
            if label_id not in class_ids:
                self.problems.append(
                    Problem(display, f"unknown label_id {label_id!r}", line=row.line, field="label_id")
                )
                continue
            known = self.cache.known_file(base, row.get("path"), need_hash=False)
            image_path = known[0] if known else self.ref(base, row.get("path"), "path", row.line, display)
            if image_path is None:
                continue
            before = None if known else regular_file_stat(image_path)
            if not known and before is None:
                self.problems.append(
                    Problem(display, f"example image not found: {row.get('path')}", line=row.line, field="path")
                )
                continue
            if before is not None:
                self.cache.remember(image_path, before, "", False)
            found.setdefault(label_id, []).append(image_path)
        return {label_id: tuple(paths) for label_id, paths in found.items()}

    def _root_dir(self, configured: str | None, field_name: str, line: int | None) -> Path | None:
        """A data root declared by the researcher (may be outside the study folder)."""
        if configured is None:
            return self.root
        root = Path(configured).expanduser()
        root = root if root.is_absolute() else self.root / root
        if not root.is_dir():
            self.problems.append(Problem(STUDY_FILE, f"folder not found: {root}", line=line, field=field_name))
            return None
        return root.resolve()

    def _manifest(
        self,
        cfg: dict[str, Any],
        labels: LabelSet,
        lines: dict[Where, int],
        max_pixels: int,
        block_column: str | None,
        design_columns: tuple[str | None, ...] = (),
    ) -> dict[str, ImageRecord]:
        if "manifest" not in cfg:
            return {}
        display = cfg["manifest"]
        path = self.ref(self.root, display, "images.manifest", line_of(lines, "images", "manifest"))
        if path is None:
            return {}
        root = self._root_dir(cfg.get("root"), "images.root", line_of(lines, "images", "root"))
        if root is None:
            return {}
        if cfg.get("root") is None:
            root = path.parent
        columns = (*MANIFEST_COLUMNS, *(c for c in design_columns if c))
        rows = read_csv(path, columns, self.problems, display)
        extra = _attribute_columns(rows)
        self._check_condition_kinds(rows or [], display)
        self.remember(display, path)
        records: dict[str, ImageRecord] = {}
        first_line: dict[str, int] = {}
        unchecked: list[tuple[str, int, str]] = []  # (image_id, line, reference) the cache cannot vouch for
        for row in rows or []:
            image_id = row.get("image_id")
            if not image_id:
                self.problems.append(Problem(display, "empty image_id", line=row.line, field="image_id"))
                continue
            if image_id in records:
                self.problems.append(
                    Problem(
                        display,
                        f"duplicate image_id {image_id!r} (first on line {first_line[image_id]})",
                        line=row.line,
                        field="image_id",
                    )
                )
                continue
            truth = tuple(split_list(row.get("labels")))
            if not truth:
                self.problems.append(
                    Problem(display, f"image {image_id!r} has no ground-truth label", line=row.line, field="labels")
                )
            for label_id in truth:
                if label_id not in labels:
                    self.problems.append(
                        Problem(
                            display, f"unknown label {label_id!r} for image {image_id!r}", line=row.line, field="labels"
                        )
                    )
            self.manifest_ids.add(image_id)
            split = row.get("split")
            if not split:
                self.problems.append(Problem(display, f"image {image_id!r} has no split", line=row.line, field="split"))
            known = self.cache.known_file(root, row.get("path"), need_hash=True)
            if known and isinstance(known[2], str):  # found by the background decoding of an earlier session
                self.problems.append(Problem(display, f"{row.get('path')}: {known[2]}", line=row.line, field="path"))
                continue
            if known and not known[2] and self.decode:
                known = None  # hashed before, but never decoded: check it now
            image_path, digest = (
                known[:2] if known else (self.ref(root, row.get("path"), "path", row.line, display), "")
            )
            if image_path is None:
                continue
            if not known:
                unchecked.append((image_id, row.line, row.get("path")))
            elif not known[2] and self.defer_decoding:
                self.undecoded.add(image_id)
            first_line[image_id] = row.line
            block = row.get(block_column) if block_column else ""
            attributes = tuple((column, row.get(column)) for column in extra)
            records[image_id] = ImageRecord(
                image_id, image_path, truth, split, digest, block, row.get(CONDITION), attributes
            )
        self._check_images(records, unchecked, display, max_pixels)
        if rows is not None and not records and not self.problems:
            self.problems.append(Problem(display, "the manifest lists no images"))
        return records

    def _check_condition_kinds(self, rows: list[CsvRow], display: str) -> None:
        """A condition column holds levels that are all numbers or all words: mixed, it is
        almost surely a typo ("O.35" for "0.35"), and the levels would have no order."""
        kinds = [(row.line, value, _is_number(value)) for row in rows if (value := row.get(CONDITION))]
        numbers = sum(kind for _, _, kind in kinds)
        if not kinds or numbers in (0, len(kinds)):
            return
        odd_is_word = numbers >= len(kinds) - numbers
        line, value, _ = next(k for k in kinds if k[2] != odd_is_word)
        self.problems.append(
            Problem(
                display,
                f"the condition column mixes numbers ({numbers} rows) and words ({len(kinds) - numbers} "
                f"rows), e.g. {value!r}; write every level as a number (0.35) or every level as a word (c05)",
                line=line,
                field=CONDITION,
            )
        )

    def _check_images(
        self, records: dict[str, ImageRecord], unchecked: list[tuple[str, int, str]], display: str, max_pixels: int
    ) -> None:
        """Hash and (if asked) decode the images the cache cannot vouch for; report in manifest order.

        The checks are those of image_checks.py.
        """
        checks = check_image_files([records[image_id].path for image_id, _, _ in unchecked], self.decode, max_pixels)
        for (image_id, line, reference), check in zip(unchecked, checks):
            if check.before is None:
                self.problems.append(Problem(display, f"image file not found: {reference}", line=line, field="path"))
            elif check.error:
                self.problems.append(Problem(display, f"{reference}: {check.error}", line=line, field="path"))
            else:
                self.cache.remember(records[image_id].path, check.before, check.sha256, self.decode)
                records[image_id] = replace(records[image_id], sha256=check.sha256)
                if self.defer_decoding:
                    self.undecoded.add(image_id)

    def _phases(
        self,
        cfgs: list[tuple[int, dict[str, Any]]],
        images: dict[str, ImageRecord],
        seed: int,
        check: TomlChecker,
        shared_by_design: set[str],
    ) -> list[Phase]:
        """The phases; those that a counterbalancing design splits into blocks may share images."""
        if not cfgs and not any(p.field and p.field.startswith("phases") for p in self.problems):
            check.add("a study needs at least one [[phases]] table", "phases")
        by_split: dict[str, list[str]] = {}
        for record in images.values():
            by_split.setdefault(record.split, []).append(record.image_id)
        phases: list[Phase] = []
        owner: dict[str, str] = {}
        names: set[str] = set()
        for index, cfg in cfgs:
            where = ("phases", index)
            name = cfg.get("name", f"phase {index + 1}")
            if name in names:
                check.add(f"two phases are named {name!r}", *where, "name")
            names.add(name)
            phase = self._phase(cfg, where, name, by_split, seed, check)
            if phase is None:
                continue
            if not cfg.get("allow_overlap", False):
                shared = [i for i in phase.image_ids if i in owner and not {name, owner[i]} <= shared_by_design]
                if shared:
                    check.add(
                        f"phase {name!r} shares {len(shared)} image(s) with phase {owner[shared[0]]!r} "
                        f"(e.g. {shared[0]!r}); phases must not overlap unless allow_overlap = true",
                        *where,
                        "split",
                    )
            for image_id in phase.image_ids:
                owner.setdefault(image_id, name)
            phases.append(phase)
        return phases

    def _phase(
        self,
        cfg: dict[str, Any],
        where: tuple[str, int],
        name: str,
        by_split: dict[str, list[str]],
        seed: int,
        check: TomlChecker,
    ) -> Phase | None:
        ok = True
        mode = cfg.get("mode", "ranked")
        if mode not in MODES:
            check.add(f"mode must be one of {', '.join(MODES)}, not {mode!r}", *where, "mode")
            ok = False
        order = cfg.get("order", "random")
        if order not in ORDERS:
            check.add(f"order must be one of {', '.join(ORDERS)}, not {order!r}", *where, "order")
            ok = False
        answers = cfg.get("answers", 1)
        break_every = cfg.get("break_every", 0)
        limit = cfg.get("time_limit_s")
        presentation = None
        if "presentation" in cfg:
            pres = check.table(cfg["presentation"], _PRESENTATION, (*where, "presentation"))
            if pres.get("after_pause", AFTER_PAUSE[0]) not in AFTER_PAUSE:
                check.add(
                    f"after_pause must be one of {', '.join(AFTER_PAUSE)}, not {pres['after_pause']!r}",
                    *where,
                    "presentation",
                    "after_pause",
                )
                ok = False
            if "image_ms" in pres:
                presentation = Presentation(**pres)
        feedback = cfg.get("feedback", False)
        undo = cfg.get("undo", not feedback and presentation is None)
        if undo and (feedback or presentation is not None):
            check.add(
                f"undo cannot be on in phase {name!r}: {undo_blocked_by(feedback, presentation is not None)}",
                *where,
                "undo",
            )
            ok = False
        if cfg.get("score_timeout_guesses") and limit is None:
            check.add(
                f"score_timeout_guesses is on in phase {name!r} but the phase has no time_limit_s to run out",
                *where,
                "score_timeout_guesses",
            )
            ok = False
        split = cfg.get("split")
        if split is None:
            return None
        available = by_split.get(split, [])
        if not available and by_split:
            check.add(
                f"no image in the manifest has split {split!r} (splits: {', '.join(sorted(by_split))})", *where, "split"
            )
            return None
        chosen = list(available)
        if "n" in cfg:
            n = cfg["n"]
            if not 1 <= n <= len(available):
                check.add(
                    f"n = {n} but split {split!r} has {len(available)} image(s); n must be 1..{len(available)}",
                    *where,
                    "n",
                )
                return None
            picked = set(random.Random(f"{seed}:{name}").sample(available, n))
            chosen = [i for i in available if i in picked]
        allocation = self._allocation(cfg, where, len(chosen), check)
        if not ok or allocation is None:
            return None
        return Phase(
            **allocation,
            name=name,
            split=split,
            image_ids=tuple(chosen),
            feedback=feedback,
            answers=answers,
            mode=mode,
            order=order,
            break_every=break_every,
            time_limit_s=float(limit) if limit is not None else None,
            countdown=cfg.get("countdown", True),
            score_timeout_guesses=cfg.get("score_timeout_guesses", False),
            presentation=presentation,
            undo=undo,
        )

    @staticmethod
    def _allocation(
        cfg: dict[str, Any], where: tuple[str, int], images: int, check: TomlChecker
    ) -> dict[str, Any] | None:
        """The phase's allocation keys (judgements_per_image and friends), or None if they are wrong."""
        judgements = cfg.get("judgements_per_image", 0)
        share = cfg.get("images_per_annotator", 0)
        release = cfg.get("release_after_min", 30.0)
        problems = []
        if judgements > 0 and "images_per_annotator" not in cfg:
            problems.append(
                (
                    "judgements_per_image",
                    "judgements_per_image needs images_per_annotator (how many images one session takes)",
                )
            )
        if "images_per_annotator" in cfg and judgements <= 0:
            problems.append(("images_per_annotator", "images_per_annotator only applies with judgements_per_image"))
        if "images_per_annotator" in cfg and not 1 <= share <= images:
            problems.append(
                (
                    "images_per_annotator",
                    f"images_per_annotator = {share} but the phase has {images} image(s); it must be 1..{images}",
                )
            )
        if "release_after_min" in cfg and judgements <= 0:
            problems.append(("release_after_min", "release_after_min only applies with judgements_per_image"))
        for key, message in problems:
            check.add(message, *where, key)
        if problems:
            return None
        return {"judgements_per_image": judgements, "images_per_annotator": share, "release_after_min": float(release)}

    def _counterbalance(
        self, cfg: dict[str, Any], phases: list[Phase], images: dict[str, ImageRecord], check: TomlChecker
    ) -> Design | None:
        block_of = {phase.name: {i: images[i].block for i in phase.image_ids} for phase in phases}
        source = cfg.get("source", DEFAULT_SOURCE_COLUMN)
        stimuli = {
            phase.name: {i: (images[i].attribute(source), images[i].condition) for i in phase.image_ids}
            for phase in phases
        }
        design, problems = check_design(cfg, [phase.name for phase in phases], block_of, stimuli)
        for key, message in problems:
            check.add(message, "counterbalance", key)
        if design is not None and design.levels:  # each stimulus's block: the group that shows it
            for phase in design.phases:
                for image_id, group in stimulus_groups(stimuli[phase], design.levels).items():
                    images[image_id] = replace(images[image_id], block=group)
        return design

    def _check_examples_unused(self, labels: LabelSet, images: dict[str, ImageRecord], phases: list[Phase]) -> None:
        """An example image that is also a trial would show annotators the answer."""
        by_path = {images[i].path: (phase.name, i) for phase in phases for i in phase.image_ids}
        for label_id, paths in labels.examples.items():
            for path in paths:
                if path in by_path:
                    phase_name, image_id = by_path[path]
                    self.problems.append(
                        Problem(
                            "examples",
                            f"example image of {label_id!r} is trial image {image_id!r} "
                            f"of phase {phase_name!r}; it would reveal the answer",
                            field="path",
                        )
                    )

    def _predictions(self, cfg: dict[str, Any], labels: LabelSet, lines: dict[Where, int]) -> list[Path]:
        paths = []
        for index, reference in enumerate(cfg.get("predictions", [])):
            line = line_of(lines, "models", "predictions")
            if not isinstance(reference, str):
                self.problems.append(
                    Problem(
                        STUDY_FILE,
                        f"predictions entry {index + 1} must be a string path",
                        line=line,
                        field="models.predictions",
                    )
                )
                continue
            path = self.ref(self.root, reference, "models.predictions", line)
            if path is None:
                continue
            self.inputs.append(path)
            if self.for_session:  # annotators never see model predictions: compare and report check them
                if regular_file_stat(path) is None:
                    self.problems.append(
                        Problem(
                            STUDY_FILE,
                            f"predictions file not found: {reference}",
                            line=line,
                            field="models.predictions",
                        )
                    )
                else:
                    paths.append(path)
                continue
            if self.cache.predictions_checked(path, self._text_digest()):
                paths.append(path)
                continue
            before, problems_before = regular_file_stat(path), len(self.problems)
            if read_predictions(path, self.problems, reference, self.manifest_ids, labels.class_ids) is not None:
                paths.append(path)
                if before is not None and len(self.problems) == problems_before:
                    self.cache.remember_predictions(path, before, self._text_digest())
        return paths

    def _text_digest(self) -> str:
        """Digest of the study's text files read so far (what a predictions check depends on)."""
        digest = hashlib.sha256()
        for display, content in self.hashed:
            digest.update(f"{display}\0{len(content)}\0".encode())
            digest.update(content)
        return digest.hexdigest()

    def _instructions(self, top: dict[str, Any], lines: dict[Where, int]) -> str:
        if "instructions" not in top:
            return ""
        path = self.ref(self.root, top["instructions"], "instructions", line_of(lines, "instructions"))
        if path is None:
            return ""
        try:
            raw = read_input_bytes(path, "instructions file")
            text = raw.decode("utf-8-sig")
        except FileNotFoundError:
            self.problems.append(
                Problem(
                    STUDY_FILE,
                    f"instructions file not found: {top['instructions']}",
                    line=line_of(lines, "instructions"),
                    field="instructions",
                )
            )
            return ""
        except UnusableInputError as exc:
            self.problems.append(Problem(top["instructions"], str(exc)))
            return ""
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(Problem(top["instructions"], f"cannot read as UTF-8 text: {exc}"))
            return ""
        self.hashed.append((top["instructions"], raw))
        self.inputs.append(path)
        return text

    def _hash(self, images: Mapping[str, ImageRecord]) -> str:
        digest = hashlib.sha256()
        for display, content in self.hashed:
            digest.update(f"{display}\0{len(content)}\0".encode())
            digest.update(content)
        for image_id in sorted(images):
            digest.update(f"{image_id}\0{images[image_id].sha256}\n".encode())
        return digest.hexdigest()


def load_study(
    name_or_path: str | Path, *, check_images: bool = True, rehash: bool = False, for_session: bool = False
) -> Study:
    """Find, read and check a study; raise :class:`ProtocolError` listing every problem.

    ``check_images=False`` skips decoding every image (files must still exist and are
    still hashed); use it only where the study was validated before. Files unchanged
    since an earlier check are not decoded and hashed again (see
    :mod:`~study_app.caches.validation`); ``rehash=True`` checks and hashes every file.
    ``for_session=True`` checks what an annotation session needs, quickly: it hashes
    images never decoded before without decoding them and lists them in
    ``Study.undecoded``, for the session to decode in the background (:mod:`~study_app.session.study_cache`), and it
    does not read model predictions (annotators never see them; ``validate``,
    ``compare`` and ``report`` check them).
    """
    return load_study_with_inputs(name_or_path, check_images=check_images, rehash=rehash, for_session=for_session)[0]


def load_study_with_inputs(
    name_or_path: str | Path, *, check_images: bool = True, rehash: bool = False, for_session: bool = False
) -> tuple[Study, tuple[Path, ...]]:
    """:func:`load_study`, and every file (other than images) the study was read from."""
    loader = _Loader(find_study(name_or_path), check_images, rehash, for_session)
    return loader.load(), tuple(loader.inputs)
