"""From a study (or files) to what the analyses share: the rater table, input notes,
per-condition outputs and the inputs of the error taxonomy. Used by ``compare``,
``report`` and ``review`` alike, so that all three read the same data the same way.
"""
