"""Store locations as they may be shown: a server URL's secrets never reach a screen or a file.

A results store is a file or a PostgreSQL server URL, and a URL may carry a password
(``postgresql://user:PASSWORD@host/db`` or ``...?password=PASSWORD``). Every message, log
line, report field and exported table that names a store shows :func:`printable_location`
of it, the one function that decides what of a location may be printed:

- a file path is shown as it is;
- a URL is shown with the password of its user info replaced (``user:***@``) and the
  value of every query key that names a secret (``password``, ``passfile``,
  ``sslpassword``, any key containing ``pass``, ``secret`` or ``token``) replaced;
- a URL this module cannot take apart for sure (a bad ``%``-escape, a ``[`` host without
  its ``]``, a port that is not a number, a ``#`` fragment) is shown as
  ``scheme://<unparsable URL hidden>``: a malformed URL's tokens may be parts of a password
  in any place, so none of them is echoed; so is text that starts like a URL without
  being one (a URL that went through ``Path`` lost a ``/``).

:func:`url_problem` says what is wrong with such a URL (without quoting it), so that the
store refuses it with a clear message before the driver sees it, and
:func:`without_secrets` removes a URL's secrets from text written by others (the database
driver's error messages quote parts of the URL they could not use).

No imports from the rest of the package: the protocol checks and the store both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from urllib.parse import unquote, unquote_plus

HIDDEN = "***"
UNPARSABLE = "<unparsable URL hidden>"
#: A query key whose value is a secret contains one of these (lower case).
SECRET_KEY_PARTS = ("pass", "secret", "token")

_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+)://(?P<rest>.*)", re.DOTALL)
#: What a URL becomes when it was made a path (``//`` folded into ``/``) or typed with a
#: leading blank: not a URL, but as likely to hold a password.
_URL_LIKE = re.compile(r"\s*(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):/")
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
    query: tuple[tuple[str, str | None], ...]

    def secrets(self) -> list[str]:
        """Every secret value of the URL, as written and decoded (longest first)."""
        raw = [self.password or ""] + [value or "" for key, value in self.query if _is_secret_key(key)]
        forms = {form for value in raw if value for form in (value, unquote(value), unquote_plus(value))}
        return sorted((form for form in forms if form), key=len, reverse=True)

    def printable(self) -> str:
        user = self.user + (f":{HIDDEN}" if self.password is not None else "")
        query = "&".join(
            key if value is None else f"{key}={HIDDEN if _is_secret_key(key) else value}" for key, value in self.query
        )
        return f"{self.scheme}://{user + '@' if user or self.password is not None else ''}{','.join(self.hosts)}{self.path}" + (
            f"?{query}" if self.query else ""
        )


def _is_secret_key(key: str) -> bool:
    name = unquote_plus(key).lower()
    return any(part in name for part in SECRET_KEY_PARTS)


def is_url(text: object) -> bool:
    """``scheme://...``: a URL of any scheme (a mistyped one is still shown redacted)."""
    return isinstance(text, str) and _URL.match(text) is not None


def parse_url(text: str) -> ServerUrl:
    """The parts of ``text`` (``scheme://[user[:password]@]host[:port][,host...][/path][?query]``).

    Raises :class:`UnparsableUrl` for anything else: the driver might read it differently
    from this function, and then what this function took for the password could be shown.
    """
    match = _URL.fullmatch(text)
    if match is None:
        raise UnparsableUrl("it does not start with scheme://")
    if _BAD_ESCAPE.search(text):
        raise UnparsableUrl("a '%' is not followed by two hexadecimal digits; write a '%' in the password as %25")
    if "#" in text:
        raise UnparsableUrl("it has a '#' (a '#' in the password is written %23)")
    rest = match["rest"]
    netloc_end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    userinfo, at, hostlist = netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    hosts = tuple(hostlist.split(","))
    for host in hosts:
        if _HOST.fullmatch(host) is None:
            if "[" in host or "]" in host:
                raise UnparsableUrl("its host has a '[' without a matching ']' (an IPv6 address is written [::1])")
            raise UnparsableUrl("its port is not a number (a '/', '?' or ':' in the password is written %2F, %3F or %3A)")
    path, _, query_text = tail.partition("?")
    query = tuple(
        (key, value if sep else None) for key, sep, value in (item.partition("=") for item in query_text.split("&") if item)
    )
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
        return f"{like['scheme']}://{UNPARSABLE}" if like else text
    try:
        return parse_url(text).printable()
    except UnparsableUrl:
        return f"{_URL.match(text)['scheme']}://{UNPARSABLE}"


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
