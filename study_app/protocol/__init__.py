"""What a study is: the protocol folder (study.toml, labels, manifest, examples), its
phases and schedule, counterbalancing, responses, keys and the error taxonomy.

No Qt and no statistics here: every front end, the store and the analyses read a study
through :func:`study_app.protocol.study.load_study`.
"""
