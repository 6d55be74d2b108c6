"""Degraded stimuli: the image transforms of degradation experiments and their reproducible application.

``transforms`` holds the pure image transforms on float arrays, ``registry`` names them with
their level ranges, ``source_images`` reads the images they start from and ``degrade``
writes every (image, level) stimulus as a PNG with its manifest row.
"""
