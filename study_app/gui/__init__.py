"""The PyQt5 annotation app. GUI code only: no statistics and no SQL below here.

Windows and widgets read the study (protocol, labels, images) and talk to the session
through :class:`study_app.session.controller.SessionController`, which owns the results store.
"""
