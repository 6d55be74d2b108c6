"""Review mode: sorting human and model errors into causes, as the ILSVRC paper did.

:mod:`.taxonomy` holds the causes (the paper's by default, or a protocol's ``[review]``
table), :mod:`.items` finds the errors to review, and :mod:`.controller` walks a reviewer
through them, writing each review to the results store; the PyQt5 window
(:mod:`study_app.gui.review_window`) is a view on the controller. No Qt here.
"""
