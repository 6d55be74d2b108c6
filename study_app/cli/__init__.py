"""The command line: one entry point (:func:`study_app.cli.main.main`), one module per
command group. Parsing and printing only; the work is done by the layers below.
"""
