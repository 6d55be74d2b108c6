"""The program's version, written into every store, export, report and crash log.

A module of its own at the bottom of the layers: the store, the session cache and the
model runner name it without importing ``study_app`` itself, whose public API sits above
every layer (importing it from below would make each of them depend on all the others).
"""

__version__ = "0.1.0"
