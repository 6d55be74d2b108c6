"""The ``compare`` and ``plan`` sub-commands (wired into :mod:`study_app.cli.main`).

``compare`` puts a study's stored answers (or an answers table) and its model
predictions into one rater table, runs :func:`study_app.stats.compare`, prints the
readable report (or JSON) and writes every table as a CSV file. ``plan`` says how many
test images (and annotators) a study needs. Handlers return the exit status and raise
:class:`~study_app.errors.StudyError` for anything the user can fix.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from study_app.analysis.condition_outputs import DIRECTION_OPTION
from study_app.errors import StudyError
from study_app.io.ranges import ALPHA, N_BOOT, RUN_SEED, TOP_K, Range

if TYPE_CHECKING:  # pandas loads on first use: every start of the app would pay for it
    import pandas as pd



#: ``--model-vs-human`` and ``--dataset``, declared once for ``compare`` and ``report``.
MODEL_VS_HUMAN_OPTIONS: tuple[tuple[str, dict], ...] = (
    ("--model-vs-human", {"metavar": "RAW_DIR", "help": "model-vs-human raw-data folder (Geirhos et al. 2021) instead of a study"}),
    ("--dataset", {"action": "append", "help": "model-vs-human data set to analyse (repeatable), e.g. uniform-noise"}),
)


class RaterInputs(NamedTuple):
    """What ``compare`` and ``report`` analyse, and what a reader must know about it."""

    raters: "pd.DataFrame"
    phases: list[str]
    rule: str
    name: str
    labels: object  # a LabelSet, or None for tidy files
    notes: list[str]
    pilot: bool  # simulated sessions only: a dry run, whose outputs must not replace the real ones

    def output_folder(self, kind: str) -> Path:
        """``results/<study>/<kind>/`` (``<kind>-pilot/`` for a pilot store's dry run)."""
        from study_app.store.results_store import study_results_dir

        return study_results_dir(self.name) / (f"{kind}-pilot" if self.pilot else kind)


#: How prediction files are read, declared once for ``compare`` and ``report``.
PREDICTION_OPTIONS: tuple[tuple[str, dict], ...] = (
    ("--unknown-images", {"choices": ["error", "skip"], "default": "error",
                          "help": "predictions of images without ground truth: an error (default), or skip them with a note giving the count"}),
    ("--image-list", {"metavar": "TXT", "help": ".npy predictions: the image ids of the array's rows, one per line"}),
    ("--class-list", {"metavar": "TXT", "help": ".npy predictions: the class ids of the indices, one per line (index 0 first)"}),
)


def read_predictions_option(args: argparse.Namespace, paths, image_ids, label_ids=None) -> tuple["pd.DataFrame", list[str]]:
    """The prediction files an option names, read as ``--unknown-images`` says; notes of what was left out."""
    from study_app.importers import read_prediction_files
    from study_app.importers.predictions import drop_unknown_images

    skip = getattr(args, "unknown_images", "error") == "skip"
    lists = {"image_list": getattr(args, "image_list", None), "class_list": getattr(args, "class_list", None)}
    predictions = read_prediction_files(paths, None if skip else image_ids, label_ids, **lists)
    if not skip:
        return predictions, []
    predictions, note = drop_unknown_images(predictions, image_ids)
    return predictions, [note] if note else []


def add_compare_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``compare`` and ``plan`` to an argparse sub-parsers object."""
    compare = sub.add_parser(
        "compare",
        help="compare annotators' and models' errors on the same images (rates, intervals, paired tests, agreement)",
        description="From a study's results store (--study [--store]), from tidy files "
        "(--answers --truth --predictions), or from predictions alone (--truth --predictions): error rates with intervals "
        "(each rater on all its trials, and on the images both sides saw), paired tests on shared images, "
        "error consistency, label agreement, per-class errors, trends and response times.",
    )
    source = compare.add_argument_group("inputs")
    source.add_argument("--study", help="study name (bundled or under ./protocols) or folder")
    source.add_argument("--store", help="results store (default results/<study>/results.sqlite)")
    source.add_argument("--answers", help="answers table (CSV or Parquet, e.g. from export) instead of a store")
    source.add_argument("--truth", help="manifest CSV image_id,path,labels,split (when there is no --study)")
    source.add_argument("--predictions", nargs="+", metavar="FILE", help="prediction files: tidy or wide CSV, or .npy class indices (default: the study's)")
    for option, settings in PREDICTION_OPTIONS:
        source.add_argument(option, **settings)
    for option, settings in MODEL_VS_HUMAN_OPTIONS:
        source.add_argument(option, **settings)
    compare.add_argument(
        "--k", type=TOP_K.option(int), help="guesses that count for top-k correctness (default: the answers per trial of the phases compared)"
    )
    compare.add_argument("--rule", choices=["top-k", "top-1", "all-valid"], help="correctness rule (default top-k; all-valid for multi-label phases)")
    compare.add_argument("--phase", action="append", help="phase to analyse (repeatable; default: the study's phases without "
                         "feedback; with --answers, every phase in the file)")
    compare.add_argument("--alpha", type=ALPHA.option(), default=0.05, help="1 - confidence level (default 0.05)")
    compare.add_argument("--n-boot", type=N_BOOT.option(int), default=10_000, help="bootstrap replicates (default 10000)")
    compare.add_argument("--seed", type=RUN_SEED.option(int), default=0, help="seed of the bootstrap (default 0)")
    compare.add_argument("--out", help="folder for the CSV tables (default results/<study>/compare/)")
    compare.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the report")
    compare.add_argument(
        "--exclude-interrupted", action="store_true", help="leave out trials during which the window lost focus or was minimised"
    )
    compare.add_argument(
        "--taxonomy", action="store_true", help="also the error taxonomy of the study's reviews (see review): causes, tests, "
        "reviewer agreement, error rates with the reviewed ground truth"
    )
    compare.add_argument(DIRECTION_OPTION[0], **DIRECTION_OPTION[1])
    compare.set_defaults(handler=cmd_compare)

    plan = sub.add_parser("plan", help="test images (and annotators) needed to detect an error difference")
    plan.add_argument("--human-error", type=Range(0, 1).option(), required=True, help="expected human top-k error, e.g. 0.051")
    plan.add_argument("--model-error", type=Range(0, 1).option(), required=True, help="expected model top-k error, e.g. 0.068")
    plan.add_argument("--discordance", type=Range(0, 1).option(), help="expected share of images where exactly one side errs (default: independent errors)")
    plan.add_argument("--annotators", type=Range(1, 1000).option(int), nargs="+", default=[1], help="numbers of annotators to plan for (default 1)")
    plan.add_argument(
        "--human-consistency", type=Range(0, 1).option(),
        help="expected error consistency (kappa) of two annotators, used for several annotators: a pilot's value, "
        "or about 0.4 for object recognition (default: only what the model implies, which is optimistic)",
    )
    plan.add_argument("--alpha", type=ALPHA.option(), default=0.05, help="two-sided significance level (default 0.05)")
    plan.add_argument("--power", type=Range(0.01, 0.999).option(), default=0.8, help="required power (default 0.8)")
    plan.add_argument("--simulations", type=Range(100, 1_000_000).option(int), default=2000, help="simulated studies per size, several annotators (default 2000)")
    plan.add_argument("--seed", type=RUN_SEED.option(int), default=0, help="seed of the simulation (default 0)")
    plan.add_argument("--json", action="store_true", help="print machine-readable JSON")
    plan.set_defaults(handler=cmd_plan)


def cmd_compare(args: argparse.Namespace) -> int:
    """Handler of ``compare``."""
    from study_app.analysis.condition_outputs import condition_table
    from study_app.io.output_guard import check_output_folder
    from study_app.stats import compare

    _check_settings(args)
    inputs = rater_inputs(args)
    every_trial, phases, rule, name, labels, notes, _ = inputs
    every_trial = analysed_trials(every_trial, phases)
    raters = benchmark_conditions(every_trial) if args.model_vs_human else every_trial
    report = compare(raters, alpha=args.alpha, rule=rule, k=args.k, n_boot=args.n_boot, seed=args.seed, labels=labels, notes=notes)
    conditions = compare_conditions(every_trial, inputs, args)
    out = check_output_folder(Path(args.out) if args.out else inputs.output_folder("compare"), command_inputs(args))
    written = {"raters": raters, **report.tables(), **(conditions.tables() if conditions else {})}
    _write_tables(written, out, command_inputs(args))
    taxonomy = None
    if getattr(args, "taxonomy", False):
        from study_app.analysis.taxonomy_inputs import compare_taxonomy

        taxonomy = compare_taxonomy(args, raters, rule, out)
    if args.json:
        extra = {"taxonomy": taxonomy.to_json() if taxonomy else None} if getattr(args, "taxonomy", False) else {}
        extra["conditions"] = conditions.to_json() if conditions else None
        print(json.dumps({"study": name, "phases": phases, "out": str(out), **report.to_json(), **extra}, indent=1))
    else:
        print(f"study {name}, phase(s) {', '.join(phases)}")
        print(report.summary())
        if conditions:
            print("\n" + condition_table(conditions))
        print(f"\nwrote {len(written)} tables to {out}/")
        if getattr(args, "taxonomy", False):
            print("\n" + (taxonomy.summary() if taxonomy else "error taxonomy: no reviews of this study yet (python main.py review)"))
    return 0


def rater_inputs(args: argparse.Namespace) -> RaterInputs:
    """The rater table of whichever source the options name (a study, tidy files, model-vs-human)."""
    if getattr(args, "model_vs_human", None):
        return model_vs_human_raters(args)
    return study_raters(args) if args.study else file_raters(args)


def compare_conditions(raters: "pd.DataFrame", inputs: RaterInputs, args: argparse.Namespace):
    """The per-condition analysis of every trial (``None`` when the data has no conditions).

    Every trial of each rater counts (scope ``all``), not only the images people saw: a
    model's accuracy curve is its own, and scope ``shared`` holds the common stimuli.
    Model-vs-human data keeps every level of its raw files here, including those its
    benchmark leaves out of the pooled numbers (the uncorrupted level, levels at chance)."""
    from study_app.analysis.condition_outputs import analyse_conditions
    from study_app.stats import RULES

    return analyse_conditions(raters, inputs.labels, correct=RULES[inputs.rule], direction=args.psychometric_direction,
                              alpha=args.alpha, n_boot=args.n_boot, seed=args.seed)


def check_model_vs_human(args: argparse.Namespace) -> None:
    """``--model-vs-human`` needs ``--dataset`` and takes no option of a study's own."""
    if not args.model_vs_human:
        return
    if not args.dataset:
        raise StudyError("--model-vs-human needs --dataset NAME (e.g. uniform-noise); one data set at a time keeps the output readable")
    if args.predictions or args.phase or args.rule:
        raise StudyError("model-vs-human data is top-1 with its models included: --predictions, --phase and --rule do not apply")


def model_vs_human_raters(args: argparse.Namespace) -> RaterInputs:
    """Every trial of the model-vs-human raw data (one phase per data set, top-1, conditions kept)."""
    from study_app.importers import read_model_vs_human

    datasets = sorted(set(args.dataset))
    raters = read_model_vs_human(Path(args.model_vs_human), datasets, benchmark_conditions_only=False)
    args.k = args.k or 1
    return RaterInputs(raters, datasets, "top-1", "model-vs-human-" + "-".join(datasets), None, [], False)


def benchmark_conditions(raters: "pd.DataFrame") -> "pd.DataFrame":
    """The rows at conditions the model-vs-human benchmark keeps (as ``report`` and the benchmark
    metrics read them); the per-condition tables keep every level of the raw files."""
    from study_app.importers.model_vs_human import EXCLUDED_CONDITIONS
    from study_app.stats.conditions import condition_level

    excluded = {(dataset, condition_level(level)) for dataset, levels in EXCLUDED_CONDITIONS.items() for level in levels}
    keep = [(phase, level) not in excluded for phase, level in zip(raters["phase"].astype(str), raters["condition"].astype(str))]
    return raters[keep].reset_index(drop=True)


def analysed_trials(raters: "pd.DataFrame", phases: list[str]) -> "pd.DataFrame":
    """The rows of the analysed phases, and the model rows of images that no phase shows
    (phase ""): they count in a model's error on all its images (scope ``all``)."""
    return raters[raters["phase"].isin([*phases, ""])].reset_index(drop=True)


def command_inputs(args: argparse.Namespace) -> list[str | None]:
    """The files ``compare`` and ``report`` read, which their outputs must never replace."""
    return [args.store, args.answers, args.truth, *(args.predictions or ()), getattr(args, "image_list", None), getattr(args, "class_list", None)]


def _check_settings(args: argparse.Namespace) -> None:
    if not 0 < args.alpha < 1:
        raise StudyError(f"--alpha must be between 0 and 1, not {args.alpha}")
    if args.k is not None and args.k < 1:
        raise StudyError(f"--k must be at least 1, not {args.k}")
    if args.n_boot < 100:
        raise StudyError(f"--n-boot must be at least 100, not {args.n_boot}")
    check_model_vs_human(args)
    if args.model_vs_human and (args.study or args.answers or args.truth or getattr(args, "taxonomy", False)):
        raise StudyError("give one source: --model-vs-human DIR with --dataset NAME, --study NAME, or --answers FILE with --truth MANIFEST")
    if args.model_vs_human:
        return
    if args.study and (args.answers or args.truth):
        raise StudyError("give either --study (answers from its store) or --answers with --truth, not both")
    if getattr(args, "taxonomy", False) and not args.study:
        raise StudyError("--taxonomy needs --study: the reviews are in the study's results store")
    if not args.study and not (args.truth and (args.answers or args.predictions)):
        raise StudyError("compare needs --study NAME, or --truth MANIFEST with --answers FILE and/or --predictions FILES")


def _attentive(answers, args: argparse.Namespace):
    """Without the trials interrupted by a loss of focus, when ``--exclude-interrupted``."""
    if getattr(args, "exclude_interrupted", False):
        return answers[~answers["interrupted"].astype(bool)]
    return answers


def study_raters(args: argparse.Namespace):
    from study_app.protocol.study import load_study
    from study_app.stats import image_phases, rater_table
    from study_app.store import ResultsStore, answers_frame, default_store_path
    from study_app.store.results_store import store_location
    from study_app.io.store_url import printable_location

    study = load_study(args.study, check_images=False)
    store_path = store_location(args.store) if args.store else default_store_path(study)
    with ResultsStore(store_path, readonly=True) as store:
        answers = answers_frame(store)
    answers = answers[answers["study"] == study.name] if "study" in answers.columns else answers
    answers = _attentive(answers, args)
    if answers.empty:
        raise StudyError(f"{printable_location(store_path)}: no answers for study {study.name!r} yet")
    paths = args.predictions or list(study.prediction_files)
    predictions, skipped = read_predictions_option(args, paths, set(study.images), study.labels.class_ids) if paths else (None, [])
    default = [p.name for p in study.phases if not p.feedback] or [p.name for p in study.phases]
    phases = _chosen_phases(args.phase, default, [p.name for p in study.phases])
    chosen = [study.phase(name) for name in phases]
    # Models are scored by the same rule as people: as many guesses as a person gave.
    people_k, pilot = max(p.answers for p in chosen), is_pilot(answers)
    notes = input_notes(answers[answers["phase"].isin(phases)], args.k, people_k, pilot) + skipped
    args.k = args.k or people_k
    raters = with_conditions(rater_table(answers, predictions, study, k=args.k, labels=study.labels, phase_of=image_phases(study)), study)
    rule = args.rule or ("all-valid" if all(p.multi_label for p in chosen) else "top-k")
    return RaterInputs(raters, phases, rule, study.name, study.labels, notes, pilot)


def with_conditions(raters: "pd.DataFrame", study) -> "pd.DataFrame":
    """The rater table with its ``condition`` column filled from the study's manifest, for
    people and models alike: a stimulus has an image id of its own, so a model's prediction
    for ``src@0.35`` belongs to condition 0.35 as a person's answer does ("" without conditions)."""
    condition_of = study.conditions()
    return raters.assign(condition=[condition_of.get(image_id, "") for image_id in raters["image_id"].astype(str)])


def file_raters(args: argparse.Namespace):
    """Answers and/or predictions from files, scored against a manifest's ground truth."""
    from study_app.importers import read_answers
    from study_app.stats import rater_table, truth_table
    from study_app.stats.rates import ALL_PHASES

    if not args.answers and args.phase:
        raise StudyError("--phase needs --answers: predictions alone have no phases")
    truth = truth_table(Path(args.truth))
    predictions, notes = read_predictions_option(args, args.predictions, set(truth["image_id"])) if args.predictions else (None, [])
    if not args.answers:  # predictions alone: models scored on every image they predicted
        args.k = args.k or int(predictions["rank"].max())
        raters = rater_table(None, predictions, truth, k=args.k)
        return RaterInputs(raters, [ALL_PHASES], args.rule or "top-k", Path(args.predictions[0]).stem, None, notes, False)
    answers = _attentive(read_answers(args.answers), args)
    if answers.empty:
        raise StudyError(f"{args.answers}: no answers")
    ranks = answers["rank"].dropna() if "rank" in answers.columns else []
    people_k, pilot = (int(max(ranks)) if len(ranks) else 1), is_pilot(answers)
    present = sorted(answers["phase"].astype(str).unique())
    phases = _chosen_phases(args.phase, present, present)
    notes = input_notes(answers[answers["phase"].astype(str).isin(phases)], args.k, people_k, pilot) + notes
    args.k = args.k or people_k
    raters = rater_table(answers, predictions, truth, k=args.k)
    studies = sorted(set(answers["study"].astype(str)) - {""})
    name = studies[0] if len(studies) == 1 else Path(args.answers).stem
    return RaterInputs(raters, phases, args.rule or "top-k", name, None, notes, pilot)


def is_pilot(answers: "pd.DataFrame") -> bool:
    return "pilot" in answers.columns and len(answers) > 0 and bool(answers["pilot"].astype(bool).all())


def input_notes(answers: "pd.DataFrame", asked_k: int | None, people_k: int, pilot: bool = False) -> list[str]:
    """What changes the reading of the numbers but is not in them: a pilot store's dry run,
    repeated trials left out, and models scored on more (or fewer) guesses than people could give."""
    from study_app.stats.raters import later_exposures

    notes = ["pilot (simulated) sessions only: a dry run of the analysis, not results"] if pilot else []
    repeats = later_exposures(answers) if "trial_uuid" in answers.columns else {}
    if repeats:
        shown = ", ".join(f"{name} {count}" for name, count in list(repeats.items())[:5]) + (", ..." if len(repeats) > 5 else "")
        notes.append(
            f"{sum(repeats.values())} repeated trial(s) of {len(repeats)} annotator(s) left out ({shown}): an image seen again "
            "in a phase already answered (a second session, or two desktops' stores merged) counts with its first answer only"
        )
    if asked_k is not None and asked_k != people_k:
        notes.append(f"--k {asked_k}: models are scored on their first {asked_k} guesses, while people could give {people_k}: "
                     "the two sides are not scored by the same rule")
    return notes


def _chosen_phases(asked: list[str] | None, default: list[str], known: list[str]) -> list[str]:
    unknown = [p for p in asked or [] if p not in known]
    if unknown:
        raise StudyError(f"no phase {unknown[0]!r}; phases: {', '.join(known)}")
    return list(asked) if asked else default


def _write_tables(tables: dict[str, "pd.DataFrame"], out: Path, inputs: list[str | None]) -> None:
    """One CSV per table, text cells made spreadsheet-safe, all replaced together.

    Each file is checked against the command's ``inputs`` first: ``--out`` may well be the
    folder that holds them, and a truth file named ``classes.csv`` must not become a table.
    """
    import pandas as pd

    from study_app.io.csv_safety import safe_csv_text
    from study_app.io.output_guard import check_output, write_files

    files = {}
    for name, table in tables.items():
        path = check_output(out / f"{name}.csv", inputs, "compare table")
        text = table.astype({c: str for c in table.columns if isinstance(table[c].dtype, pd.CategoricalDtype)})
        files[path] = safe_csv_text(text).encode("utf-8")
    write_files(files)


def cmd_plan(args: argparse.Namespace) -> int:
    """Handler of ``plan``."""
    from study_app.stats import plan_study
    from study_app.stats.results import json_records

    for option, value in (("--alpha", args.alpha), ("--power", args.power)):
        if not 0 < value < 1:
            raise StudyError(f"{option} must be between 0 and 1, not {value}")
    if args.simulations < 100:
        raise StudyError(f"--simulations must be at least 100, not {args.simulations}")
    plan = plan_study(
        args.human_error, args.model_error, discordance=args.discordance, annotators=args.annotators, alpha=args.alpha, power=args.power, n_sim=args.simulations, seed=args.seed,
        human_consistency=args.human_consistency,
    )
    if args.json:
        fields = {k: v for k, v in vars(plan).items() if k != "table"}
        print(json.dumps({**fields, "table": json_records(plan.table)}, indent=1))
    else:
        print(plan.summary())
        difference = abs(args.human_error - args.model_error)
        print(f"\n(difference to detect: {difference:g}; {args.power:.0%} power at alpha {args.alpha:g}, two-sided)")
    return 0
