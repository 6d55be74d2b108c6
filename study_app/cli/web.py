"""The ``serve`` sub-command: the study in a web browser, for remote participants.

Handlers return the exit status and raise :class:`~study_app.errors.StudyError` for
anything the user can fix.
"""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

from study_app.cli.options import DEFAULT_STUDY, STORE_HELP, STUDY_HELP, add_command, store_path
from study_app.io.ranges import Range


def add_web_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``serve`` to an argparse sub-parsers object."""
    serve = add_command(
        sub, "serve", _cmd_serve, "the study in a web browser: a server for remote participants (online panels)"
    )
    serve.add_argument("--study", default=DEFAULT_STUDY, help=STUDY_HELP)
    serve.add_argument(
        "--store",
        help=f"{STORE_HELP}; a SQLite file for one server process, a postgresql:// URL for several",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: put a reverse proxy with HTTPS in front, see the README)",
    )
    serve.add_argument("--port", type=Range(1, 65535).option(int), default=8000, help="port (default 8000)")
    serve.add_argument(
        "--completion-url",
        help="where a participant goes once every answer is stored (e.g. Prolific's completion link with its code)",
    )
    serve.add_argument(
        "--pilot",
        action="store_true",
        help="a pilot server: sessions go to the pilot store (results/<study>/pilot.sqlite), never the real one",
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from study_app.io.output_guard import check_store_output
    from study_app.io.store_url import printable_location
    from study_app.protocol.study import load_study
    from study_app.session.pilot import default_pilot_store
    from study_app.web.server import ServerConfig, create_app

    study = load_study(args.study)
    store: str | Path
    if args.pilot and not args.store:
        store = default_pilot_store(study)
        store.parent.mkdir(parents=True, exist_ok=True)
    else:
        store = check_store_output(store_path(args))
    config = ServerConfig(study, store, pilot=args.pilot, completion_url=args.completion_url)
    app = create_app(config)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving study {study.name} on http://{host}:{args.port}/ (store {printable_location(store)})")
    print(f"researcher progress: http://{host}:{args.port}/researcher?token={config.researcher_token}")
    if not _loopback(args.host):
        print("this server speaks plain HTTP: participants must reach it through a reverse proxy with HTTPS")
    # No access log: the researcher's token is in its page's address.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, proxy_headers=True, log_level="warning")
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
