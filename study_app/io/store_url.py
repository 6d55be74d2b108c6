"""Store locations as they may be shown: a server URL's secrets never reach a screen or a file.

A results store is a file or a PostgreSQL server URL, and a URL may carry a password
(``postgresql://user:PASSWORD@host/db`` or ``...?password=PASSWORD``). Every message, log
line, report field and exported table that names a store shows :func:`printable_location`
of it, the one function that decides what of a location may be printed:

- a file path is shown as it is;
- a URL is shown with the password of its user info replaced (``user:***@``) and its
  query shown only up to the first key that is not in :data:`SAFE_QUERY_KEYS`; from that
  key to the end of the query everything is ``***`` (``?sslmode=require&***``). A
  password written in the query may hold an unencoded ``&``, and then what follows it
  looks like further keys: only keys known to carry no secret, *before* any other key,
  cannot be part of one;
- a URL this module cannot take apart for sure (a bad ``%``-escape, a ``[`` host without
  its ``]``, a port that is not a number, a ``#`` fragment, an unencoded ``/``, ``?`` or
  ``@`` before the last ``@``, a query item without ``=``) is shown as
  ``scheme://<unparsable URL hidden>``: a malformed URL's tokens may be parts of a password
  in any place, so none of them is echoed; so is text that starts like a URL without
  being one (a URL that went through ``Path`` lost a ``/``);
- a libpq ``key=value`` connection string (``host=db password=...``) is shown as
  ``<connection string hidden>``.

The user info is everything before the *last* ``@`` (wherever it is: a password may hold
an unencoded ``/`` or ``?``, and libpq, which stops at the first ``@`` or ``/``, would then
read a part of it as the host or the database); a user info that holds a ``/``, ``?`` or
``@`` is refused as unparsable, with the advice to %-encode them.

A server URL is recognised whatever the case of its scheme and with blanks around it
(:func:`is_server_url`); :func:`server_url` gives the form the driver is handed.
:func:`location_problem` says why a text is not a store location at all (a URL of another
scheme, a ``key=value`` connection string), so that it is refused before a file of that
name is made.

:func:`url_problem` says what is wrong with such a URL (without quoting it), so that the
store refuses it with a clear message before the driver sees it, and
:func:`without_secrets` removes a URL's secrets from text written by others (the database
driver's error messages quote parts of the URL they could not use). :func:`scrub_secrets`
hides every URL's secrets and every ``password=`` in free text (a crash log's traceback).

No imports from the rest of the package: the protocol checks and the store both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import TypeGuard
from urllib.parse import unquote, unquote_plus

HIDDEN = "***"
UNPARSABLE = "<unparsable URL hidden>"
KEYWORDS_HIDDEN = "<connection string hidden>"
LINE_HIDDEN = "<rest of the line hidden>"
SERVER_SCHEMES = ("postgresql", "postgres")
#: Query keys shown with their value: libpq keywords that never carry a secret.
SAFE_QUERY_KEYS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "sslmode",
        "sslrootcert",
        "sslcert",
        "connect_timeout",
        "application_name",
        "fallback_application_name",
        "target_session_attrs",
        "load_balance_hosts",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "gssencmode",
        "channel_binding",
        "require_auth",
        "client_encoding",
    }
)
#: A ``key=`` in a connection string or free text whose value is hidden contains one of these.
SECRET_KEY_PARTS = ("pass", "secret", "token")

_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+)://(?P<rest>.*)", re.DOTALL)
#: What a URL becomes when it was made a path (``//`` folded into ``/``): not a URL, but as
#: likely to hold a password.
_URL_LIKE = re.compile(r"\s*(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):/")
#: A key that names a secret, followed by ``=``: in a libpq connection string or free text.
_SECRET_ASSIGNMENT = re.compile(rf"[\w-]*(?:{'|'.join(SECRET_KEY_PARTS)})[\w-]*\s*=", re.IGNORECASE)
#: Two ``key=`` with a blank between them: a libpq ``key=value`` connection string.
_KEYWORD_PAIRS = re.compile(r"\w+\s*=.*\s\w+\s*=", re.DOTALL)
#: A URL-looking token in free text (up to a blank, a quote or an angle bracket).
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:/[^\s'\"<>]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
#: One host of the URL's host list: a bracketed IPv6 address or a name without brackets,
#: each with an optional numeric port.
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.%]*\]|[^\[\]:]*)(?::[0-9]*)?")


class UnparsableUrl(ValueError):
    """A URL that cannot be taken apart for sure; the message quotes none of it."""


@dataclass(frozen=True)
class ServerUrl:
    """The parts of a URL as written (still %-encoded); ``password`` is None when absent."""

    scheme: str
    user: str
    password: str | None
    hosts: tuple[str, ...]
    path: str
    query: tuple[tuple[str, str], ...]

    def _safe_items(self) -> int:
        """How many query items, from the first, are shown: those before the first unsafe key."""
        return next((i for i, (key, _) in enumerate(self.query) if key not in SAFE_QUERY_KEYS), len(self.query))

    def secrets(self) -> list[str]:
        """Every text of the URL that may be (a part of) a secret, as written and decoded
        (longest first): the password, and after the first unsafe query key, the rest of the
        query and each of its values and later keys (an unencoded ``&`` makes a password's
        tail look like further keys). That first key itself is kept: it is a key
        (``password``), and the driver's messages need it."""
        hidden = self.query[self._safe_items() :]
        tail = "&".join(f"{key}={value}" for key, value in hidden).partition("=")[2]
        raw = [self.password or "", tail] + [value for _, value in hidden] + [key for key, _ in hidden[1:]]
        forms = {form for value in raw if value for form in (value, unquote(value), unquote_plus(value))}
        return sorted((form for form in forms if form), key=len, reverse=True)

    def printable(self) -> str:
        user = self.user + (f":{HIDDEN}" if self.password is not None else "")
        shown = self._safe_items()
        query = [f"{key}={value}" for key, value in self.query[:shown]] + ([HIDDEN] if shown < len(self.query) else [])
        return (
            f"{self.scheme}://{user + '@' if user or self.password is not None else ''}"
            f"{','.join(self.hosts)}{self.path}" + (f"?{'&'.join(query)}" if self.query else "")
        )


def is_url(text: object) -> bool:
    """``scheme://...`` (blanks around it allowed): a URL of any scheme (a mistyped one is
    still shown redacted)."""
    return isinstance(text, str) and _URL.match(text.strip()) is not None


def is_server_url(location: object) -> TypeGuard[str]:
    """A PostgreSQL server URL: ``postgresql://`` or ``postgres://`` in any case, blanks around it allowed."""
    match = _URL.match(location.strip()) if isinstance(location, str) else None
    return match is not None and match["scheme"].lower() in SERVER_SCHEMES


def server_url(text: str) -> str:
    """A server URL as the driver is given it: blanks around it dropped, its scheme in lower
    case (libpq recognises only ``postgresql://`` and ``postgres://`` as written)."""
    scheme, sep, rest = text.strip().partition("://")
    return scheme.lower() + sep + rest


def location_problem(location: str | PurePath) -> str | None:
    """Why ``location`` is not a store location at all (None when it may be one: a server
    URL, or a file path). The reason quotes none of it: such a text may hold a password."""
    text = str(location)
    if is_server_url(text):
        return None
    if _URL_LIKE.match(text):
        return (
            "it looks like a URL, and a store is a results file or a postgresql:// URL "
            "(postgresql://user@host:port/database)"
        )
    if _looks_like_keywords(text):
        return (
            "it looks like a PostgreSQL key=value connection string; give the server as a URL, "
            "postgresql://user@host:port/database (the password in ~/.pgpass, or %-encoded in the URL)"
        )
    return None


def _looks_like_keywords(text: str) -> bool:
    return bool(_SECRET_ASSIGNMENT.search(text) or _KEYWORD_PAIRS.search(text))


def parse_url(text: str) -> ServerUrl:
    """The parts of ``text`` (``scheme://[user[:password]@]host[:port][,host...][/path][?query]``).

    Raises :class:`UnparsableUrl` for anything else: the driver might read it differently
    from this function, and then what this function took for the password could be shown.
    """
    match = _URL.fullmatch(text.strip())
    if match is None:
        raise UnparsableUrl("it does not start with scheme://")
    if _BAD_ESCAPE.search(text):
        raise UnparsableUrl("a '%' is not followed by two hexadecimal digits; write a '%' in the password as %25")
    if "#" in text:
        raise UnparsableUrl("it has a '#' (a '#' in the password is written %23)")
    userinfo, _, rest = match["rest"].rpartition("@")
    if any(char in userinfo for char in "/?@"):
        raise UnparsableUrl(
            "an unencoded '/', '?' or '@' comes before the last '@' (the user name or password): "
            "write them %-encoded as %2F, %3F and %40"
        )
    netloc_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    hostlist, tail = rest[:netloc_end], rest[netloc_end:]
    user, colon, password = userinfo.partition(":")
    hosts = tuple(hostlist.split(","))
    for host in hosts:
        if _HOST.fullmatch(host) is None:
            if "[" in host or "]" in host:
                raise UnparsableUrl("its host has a '[' without a matching ']' (an IPv6 address is written [::1])")
            raise UnparsableUrl(
                "its port is not a number (a '/', '?' or ':' in the password is written %2F, %3F or %3A)"
            )
    path, _, query_text = tail.partition("?")
    items = [item.partition("=") for item in query_text.split("&") if item]
    if any(not sep for _, sep, _ in items):
        raise UnparsableUrl("a query item has no '=' (an '&' in a password is written %26)")
    query = tuple((key, value) for key, _, value in items)
    return ServerUrl(match["scheme"], user, password if colon else None, hosts, path, query)


def url_problem(text: str) -> str | None:
    """Why ``text`` is not a URL that can be used and shown safely (None when it is)."""
    try:
        parse_url(text)
    except UnparsableUrl as exc:
        return str(exc)
    return None


def printable_location(location: str | PurePath) -> str:
    """A store location as it may be printed (see the module docstring): the one redaction."""
    text = str(location)
    if not is_url(text):
        like = _URL_LIKE.match(text)
        if like:
            return f"{like['scheme']}://{UNPARSABLE}"
        return KEYWORDS_HIDDEN if _looks_like_keywords(text) else text
    try:
        return parse_url(text).printable()
    except UnparsableUrl:
        return f"{text.strip().partition('://')[0]}://{UNPARSABLE}"  # a URL: its scheme ends at the first ://


def without_secrets(text: str, location: str | PurePath) -> str:
    """``text`` (e.g. a driver's error message) with every secret of ``location`` hidden,
    in any form it was quoted (as written or decoded), and the URL itself shown redacted."""
    url = str(location)
    if not is_url(url):
        return text
    try:
        secrets = parse_url(url).secrets()
    except UnparsableUrl:  # no token of it can be told apart from a password
        return f"(the message is not shown: it may quote the unparsable URL {printable_location(url)})"
    text = text.replace(url, printable_location(url))
    for secret in secrets:
        text = text.replace(secret, HIDDEN)
    return text


def scrub_secrets(text: str) -> str:
    """Free text (a traceback) with every URL in it shown as :func:`printable_location`
    shows it, and every ``secret=`` hidden.

    A URL in free text has no sure end (a password may hold a blank or a quote): where the
    shown form differs from the token as written, or at a ``password=``-like key, the rest
    of that line is hidden as well."""
    return "".join(_scrub_line(line) for line in text.splitlines(keepends=True))


def _scrub_line(line: str) -> str:
    body = line.rstrip("\r\n")
    end = line[len(body) :]
    kept, position = [], 0
    for match in re.finditer(f"{_URL_IN_TEXT.pattern}|{_SECRET_ASSIGNMENT.pattern}", body, re.IGNORECASE):
        kept.append(body[position : match.start()])
        position = match.end()
        token = match[0]
        if not _URL_IN_TEXT.fullmatch(token):  # key=: its value, to the line's end
            return "".join(kept) + f"{token}{HIDDEN} {LINE_HIDDEN}{end}"
        shown = printable_location(token)
        kept.append(shown)
        if shown != token:
            return "".join(kept) + f" {LINE_HIDDEN}{end}"
    return "".join(kept) + body[position:] + end
