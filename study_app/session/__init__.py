"""The annotation core any front end drives: the session controller (schedule, scoring,
undo and flag rules), label search, the study snapshot for a fast start, and scripted
participants for pilot runs. Qt-free: the desktop window and scripted runs share it.
"""
