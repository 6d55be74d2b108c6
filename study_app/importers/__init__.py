"""Bringing outside data into the rater table: model-vs-human raw data, prediction CSVs, answers CSVs."""

from study_app.importers.answers import read_answers
from study_app.importers.model_vs_human import EXCLUDED_CONDITIONS, read_model_vs_human
from study_app.importers.predictions import read_prediction_file, read_prediction_files

__all__ = [
    "EXCLUDED_CONDITIONS",
    "read_answers",
    "read_model_vs_human",
    "read_prediction_file",
    "read_prediction_files",
]
