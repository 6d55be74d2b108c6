"""The web server's participant tokens, as the store keeps them.

A browser page holds a random token (in an HttpOnly cookie); the store keeps only its
SHA-256 digest beside the session it opens, so that a server restarted after a crash still
knows every page it had served (the pages re-send their unacknowledged answers and go on),
while a copy of the store gives no one a working token.
"""

from __future__ import annotations

import hashlib

from study_app.protocol.responses import utc_now
from study_app.store.db import write
from study_app.store.results_store import ResultsStore, Session


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bind_token(store: ResultsStore, session: Session, token: str) -> None:
    """Let ``token`` open ``session`` from now on (a session may have several: one per browser)."""
    with write(store.conn) as conn:
        conn.execute(
            "INSERT INTO web_tokens(token_digest, session_uuid, created_at) VALUES (?,?,?)",
            (token_digest(token), session.uuid, utc_now()),
        )


def session_of_token(store: ResultsStore, token: str, study: str) -> tuple[str, str, bool] | None:
    """(session uuid, annotator id, whether it has ended) that ``token`` opens in study ``study``,
    if any: a token of another study sharing the store opens nothing here."""
    row = store.conn.execute(
        "SELECT s.uuid, s.annotator_id, s.ended_at IS NOT NULL FROM web_tokens w "
        "JOIN sessions s ON s.uuid = w.session_uuid JOIN studies st ON st.uuid = s.study_uuid "
        "WHERE w.token_digest = ? AND st.name = ?",
        (token_digest(token), study),
    ).fetchone()
    return (row[0], row[1], bool(row[2])) if row else None
