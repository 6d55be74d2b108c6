"""The web server: the HTTP routes of the browser front end (Starlette, served by uvicorn).

Starlette rather than FastAPI: the API is a dozen routes whose bodies are checked by hand
(:mod:`study_app.web.payloads`, with messages that name the field), so FastAPI's pydantic
layer would add a dependency and a second way of validating without removing code; and
Starlette's test client lets every route be tested without a socket.

Security is by construction: the page gets only opaque per-session image URLs (never a
file name, which in ImageNet reveals the class), a participant can fetch only the images
issued to their own session, ground truth leaves the server only as training feedback
after an answer is stored, the session cookie is a random token (HttpOnly, SameSite=Strict,
Secure behind HTTPS), every body is size-limited and checked, and every participant is rate
limited. The researcher's progress page needs the token printed when the server starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import html
import ipaddress
import json
import logging
import mimetypes
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from study_app.errors import StoreError, StudyError
from study_app.protocol.responses import Event
from study_app.protocol.study import Study
from study_app.session.label_search import LabelSearchIndex
from study_app.store.postgres import ServerUnavailableError
from study_app.store.progress import format_progress, study_progress
from study_app.web import payloads
from study_app.web.panels import identify, is_preview
from study_app.web.participants import PAGE_RATE, RateBucket, Refused, Registry, WebSession
from study_app.web.payloads import BadRequest
from study_app.web.views import study_config
from study_app.web.workers import SERVER_WORKERS, StoreWorkers

STATIC = Path(__file__).parent / "static"
LOG = logging.getLogger("study_app.web")
#: Starts (and look-ups of tokens this process has not seen) per client address: a panel sends
#: many participants, a script more (the load test).
START_RATE = (200.0, 5.0)
#: Starts from all addresses together: a panel's launch, not a flood of made-up pseudonyms.
ALL_STARTS_RATE = (500.0, 20.0)
#: Addresses whose start rate is remembered (the oldest forgotten first).
MAX_ADDRESSES = 10_000
MAX_SEARCH_RESULTS = 200
#: The longest search a page may ask for: a class name is a few words (the desktop's box needs no more).
MAX_QUERY, MAX_QUERY_WORDS = 100, 8

_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the link's PROLIFIC_PID and the researcher token stay here
    (b"x-frame-options", b"DENY"),
]


@dataclass
class ServerConfig:
    """What ``serve`` runs: a study, its store, and where participants go when done."""

    study: Study
    store: str | Path
    pilot: bool = False
    completion_url: str | None = None
    researcher_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    #: Store worker threads; by default one for a SQLite file, several for PostgreSQL.
    workers: int | None = None
    #: Each participant's rate limit: (requests at once, requests per second after).
    page_rate: tuple[float, float] = PAGE_RATE

    def __post_init__(self) -> None:
        if self.completion_url is not None:
            parts = urlsplit(self.completion_url)
            if parts.scheme not in ("https", "http") or not parts.netloc:
                raise StudyError(
                    f"completion URL {self.completion_url!r} is not an http(s) address "
                    "(e.g. https://app.prolific.com/submissions/complete?cc=CODE)"
                )


class _SecurityHeaders:
    """Adds the security headers to every response, and ``no-store`` to the API's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + _HEADERS
                if api:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


#: A route of a participant's page: the request and the participant's session.
_Handler = Callable[[Request, WebSession], Awaitable[Response]]


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def _json_body(request: Request) -> Any:
    """The request's JSON body, read up to :data:`payloads.MAX_BODY` bytes (413 past it). Only
    ``application/json``: a cross-site form cannot send that type without the browser asking first."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise Refused(415, "the body must be JSON, sent as Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > payloads.MAX_BODY):
        raise Refused(413, f"the request body is larger than {payloads.MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > payloads.MAX_BODY:
            raise Refused(413, f"the request body is larger than {payloads.MAX_BODY} bytes")
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the body is not JSON (or nested too deeply, or with NaN or Infinity)") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def create_app(config: ServerConfig) -> Starlette:
    """The ASGI application serving ``config.study`` (its store opened on first use)."""
    study = config.study
    count = config.workers or (SERVER_WORKERS if isinstance(config.store, str) else 1)
    workers = StoreWorkers(config.store, pilot=config.pilot, count=count)
    registry = Registry(study, workers, config.page_rate, pilot=config.pilot)
    search_index = LabelSearchIndex.for_label_set(study.labels)
    while not search_index.build_step(1000):
        pass
    served_config = study_config(study)
    served_config["study"]["pilot"] = config.pilot  # simulate --url drives pilot servers only
    config_json = json.dumps(served_config, ensure_ascii=False).encode("utf-8")
    config_gzip = gzip.compress(config_json, mtime=0)  # 1000 classes with their hierarchy: 370 KB, 4x less zipped
    start_buckets: dict[str, RateBucket] = {}
    # what every answer is checked against, worked out once
    class_ids, most_answers = study.labels.class_ids, max(phase.answers for phase in study.phases)
    all_starts = RateBucket(*ALL_STARTS_RATE)
    searcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search")
    cookie = cookie_name(study)

    def page(handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
        """A route of a participant's page: the session from the cookie (401 without one), the
        participant's rate limit (429), and the refusals and bad requests as JSON errors."""

        async def route(request: Request) -> Response:
            token = request.cookies.get(cookie, "")
            if not registry.knows(token):  # a look-up in the store: limited per address, as starts are
                wait = address_bucket(request).take()
                if wait:
                    return _retry(wait)
            try:
                web = await registry.find(token)
            except StudyError as trouble:
                return _unavailable(trouble)
            if web is None:
                return _error(401, "no session: open the study's link again to start or resume")
            wait = web.bucket.take()
            if wait:
                return _retry(wait)
            try:
                return await handler(request, web)
            except Refused as refused:
                extra = {} if refused.state is None else {"state": refused.state}
                return _error(refused.status, str(refused), **extra)
            except BadRequest as bad:
                return _error(400, str(bad))
            except StudyError as trouble:  # the store cannot be used now: the page keeps its answers and retries
                return _unavailable(trouble)

        return route

    def run(web: WebSession, call: Callable[[Any], Any]) -> Awaitable[Any]:
        return workers.run(web.worker, call)

    async def start_page(request: Request) -> Response:
        template = (STATIC / "start.html").read_text(encoding="utf-8")
        paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in study.instructions.split("\n\n") if p.strip())
        filled = template.replace("{{title}}", html.escape(study.title or study.name)).replace(
            "{{instructions_html}}", paragraphs
        )
        return HTMLResponse(filled)

    def static_page(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def serve_page(request: Request) -> Response:
            return FileResponse(STATIC / name, media_type="text/html")

        return serve_page

    def address_bucket(request: Request) -> RateBucket:
        """The start bucket of the request's address (an IPv6 address by its /64: one host has many)."""
        key = _address_key(request.client.host if request.client else "")
        if key not in start_buckets and len(start_buckets) >= MAX_ADDRESSES:
            del start_buckets[next(iter(start_buckets))]  # the oldest: memory stays bounded
        return start_buckets.setdefault(key, RateBucket(*START_RATE))

    async def start(request: Request) -> Response:
        wait = address_bucket(request).take() or all_starts.take()
        if wait:
            return _retry(wait, _error(429, "too many starts from this address; try again shortly"))
        try:
            params, typed, client = payloads.start(await _json_body(request))
            if is_preview(params):
                raise BadRequest("this is a preview of the task: accept it on MTurk to begin")
            participant = identify(params, typed)
        except BadRequest as bad:
            return _error(400, str(bad))
        except Refused as refused:
            return _error(refused.status, str(refused))
        except StudyError as exc:  # the id
            return _error(400, str(exc))
        details = [Event("web_start", 0.0, {**client, "panel": participant.panel})]
        if participant.parameters:
            details.append(Event("panel", 0.0, dict(participant.parameters)))
        try:
            token, web = await registry.start(participant, details)
        except ServerUnavailableError as trouble:
            return _unavailable(trouble)
        except StoreError as exc:  # finished already, or begun under another version of the protocol
            return _error(409, str(exc))
        state = await run(web, lambda store: web.state(config.completion_url))
        response = JSONResponse({"state": state})
        response.set_cookie(
            cookie,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    async def config_route(request: Request) -> Response:
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(
                config_gzip,
                media_type="application/json",
                headers={"content-encoding": "gzip", "vary": "Accept-Encoding"},
            )
        return Response(config_json, media_type="application/json")

    async def state(request: Request, web: WebSession) -> Response:
        return JSONResponse(await run(web, lambda store: web.state(config.completion_url)))

    async def search(request: Request, web: WebSession) -> Response:
        query = request.query_params.get("q", "")
        if len(query) > MAX_QUERY or len(query.split()) > MAX_QUERY_WORDS:
            raise BadRequest(f"q: longer than {MAX_QUERY} characters or {MAX_QUERY_WORDS} words")
        limit_text = request.query_params.get("limit", "50")
        if not re.fullmatch("[0-9]{1,4}", limit_text) or not 1 <= int(limit_text) <= MAX_SEARCH_RESULTS:
            raise BadRequest(f"limit: {limit_text[:20]!r} is not a whole number from 1 to {MAX_SEARCH_RESULTS}")
        # off the event loop (one thread: the index is built once and only read), so that one
        # page's searches never hold up another page's answer
        hits = await asyncio.get_running_loop().run_in_executor(
            searcher, lambda: search_index.search(query, int(limit_text))
        )
        return JSONResponse(
            {
                "hits": [
                    {
                        "id": hit.label_id,
                        "name": study.labels[hit.label_id].name,
                        "matched": hit.matched,
                        "is_group": hit.is_group,
                        "is_kind": hit.is_kind,
                    }
                    for hit in hits
                ]
            }
        )

    async def examples(request: Request, web: WebSession) -> Response:
        label_id = request.path_params["label_id"]
        if label_id not in study.labels:
            return _error(404, f"no class {label_id[:80]!r} in this study")
        return JSONResponse({"images": web.example_urls(label_id)})

    async def image(request: Request, web: WebSession) -> Response:
        path = web.image_file(request.path_params["token"])
        if path is None:  # another page's token, an expired one (a restart), or made up: all alike
            return _error(404, "no such image for this session")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # Read at once: a study image is small and in the page cache, and one read costs less than
        # the four trips to a thread pool of a streamed file response.
        return Response(path.read_bytes(), media_type=media_type, headers={"cache-control": "private, max-age=86400"})

    async def answer(request: Request, web: WebSession) -> Response:
        sent = payloads.answer(await _json_body(request), class_ids, most_answers)
        return JSONResponse(await run(web, lambda store: web.answer(store, sent, config.completion_url)))

    async def undo(request: Request, web: WebSession) -> Response:
        return JSONResponse(await run(web, lambda store: web.undo()))

    async def cancel_revision(request: Request, web: WebSession) -> Response:
        return JSONResponse(await run(web, lambda store: web.cancel_revision()))

    async def pause(request: Request, web: WebSession) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("seen"), bool):
            raise BadRequest("seen: missing, or not true or false")
        t_ms = payloads.number(body, "t_ms") or 0.0
        return JSONResponse(await run(web, lambda store: web.pause(t_ms, body["seen"])))

    async def resume(request: Request, web: WebSession) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("the body is not a JSON object")
        t_ms = payloads.number(body, "t_ms") or 0.0
        await run(web, lambda store: web.log([Event("resume", t_ms)]))
        return JSONResponse({"state": await run(web, lambda store: web.state(config.completion_url))})

    async def events(request: Request, web: WebSession) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise BadRequest("the body is not a JSON object")
        parsed = payloads.events(body.get("events"))
        return JSONResponse(await run(web, lambda store: web.log(parsed)))

    def researcher_allowed(request: Request) -> bool:
        given = request.query_params.get("token", "") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        return secrets.compare_digest(given.encode("utf-8"), config.researcher_token.encode("utf-8"))

    async def progress_text(images: bool) -> str:
        return await workers.read(
            lambda store: format_progress(study_progress(store, study.name), images=images) or "no sessions yet"
        )

    async def researcher(request: Request) -> Response:
        if not researcher_allowed(request):
            return HTMLResponse("<p>Wrong or missing researcher token (printed when the server started).</p>", 403)
        text = await progress_text(images=True)
        title = html.escape(study.title or study.name)
        return HTMLResponse(
            f"<!doctype html><html><head><meta charset='utf-8'><title>Progress: {title}</title>"
            f"<link rel='stylesheet' href='/static/style.css'></head><body class='researcher'>"
            f"<h1>Progress: {title}</h1><p>The same numbers as <code>python main.py progress --images</code>; "
            f"reload to refresh.</p><pre>{html.escape(text)}</pre></body></html>",
            headers={"cache-control": "no-store"},  # its address holds the token: kept out of caches
        )

    async def researcher_json(request: Request) -> Response:
        if not researcher_allowed(request):
            return _error(403, "wrong or missing researcher token (printed when the server started)")
        return JSONResponse({"progress": await progress_text(images=True)})

    routes = [
        Route("/", start_page),
        Route("/trial", static_page("trial.html")),
        Route("/end", static_page("end.html")),
        Route("/researcher", researcher),
        Route("/api/researcher/progress", researcher_json),
        Route("/api/start", start, methods=["POST"]),
        Route("/api/config", config_route),
        Route("/api/state", page(state)),
        Route("/api/search", page(search)),
        Route("/api/examples/{label_id:str}", page(examples)),
        Route("/img/{token:str}", page(image)),
        Route("/api/answer", page(answer), methods=["POST"]),
        Route("/api/undo", page(undo), methods=["POST"]),
        Route("/api/cancel-revision", page(cancel_revision), methods=["POST"]),
        Route("/api/pause", page(pause), methods=["POST"]),
        Route("/api/resume", page(resume), methods=["POST"]),
        Route("/api/events", page(events), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        workers.close()
        searcher.shutdown(wait=True)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(_SecurityHeaders)
    app.state.config = config
    return app


def _unavailable(trouble: StudyError) -> JSONResponse:
    """503 for a store that cannot be used now; why goes to the server's log, not to the page
    (it may name the database server)."""
    LOG.warning("answering 503: %s", trouble)
    return _retry(5.0, _error(503, "the results store cannot be reached just now; this page tries again"))


def _retry(wait: float, response: JSONResponse | None = None) -> JSONResponse:
    response = response or _error(429, "too many requests; slow down")
    response.headers["retry-after"] = str(max(1, round(wait + 0.5)))
    return response


def _address_key(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return host


def cookie_name(study: Study) -> str:
    """The session cookie's name: one per study, so that two studies served from one host (cookies
    do not tell ports apart) never take each other's token."""
    return f"sa_{study.name}"
