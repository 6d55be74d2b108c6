"""Files in and out: CSV and TOML reading with line numbers, images, paths kept inside a
folder, number ranges, store locations, and the output guard that never lets a command
overwrite what it did not write. The lowest layer: imports nothing of ours but
:mod:`study_app.errors`.
"""
