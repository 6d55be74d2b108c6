"""From a study (or files) to what the analyses share: the rater table, input notes,
per-condition outputs and the inputs of the error taxonomy. Used by ``compare``,
``report`` and ``review`` alike, so that all three read the same data the same way.

:mod:`.raters` turns a study's store, tidy files or model-vs-human data into a frozen
:class:`~study_app.analysis.raters.RaterInputs` (keyword-only options, nothing changed in
place); :mod:`.sources` reads answers and predictions, :mod:`.phases` chooses the phases,
:mod:`.notes` says what a reader must know, :mod:`.tables` writes tables as CSV files,
:mod:`.condition_outputs` and :mod:`.taxonomy_inputs` run the per-condition and
error-taxonomy analyses on a rater table. No argparse here: the command line only maps
its options onto these functions' keywords.
"""
