"""Human-vs-machine accuracy studies on image classification.

Sub-packages: ``store`` (results store), ``stats`` (statistics), ``gui`` (PyQt5 app).
The modules at this level (protocol, labels, images, schedule) are shared by all of them
and never import Qt.
"""

from study_app.version import __version__ as __version__
