"""The browser front end: a web server over the same session core and results store.

Remote participants (lab networks, online panels) annotate in a browser page that the
server in this package serves; every answer goes through the same
:class:`~study_app.session.controller.SessionController` and store as the desktop
window's, so one study may mix desks and browsers and every analysis works unchanged.
No statistics and no SQL here (the store and the session core do those).
"""
