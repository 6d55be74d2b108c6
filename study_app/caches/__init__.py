"""Start-up caches in the user's cache folder: validated image hashes, example thumbnails.

They hold nothing that cannot be recomputed; :mod:`.files` says where they live and how
they are read and written safely.
"""
