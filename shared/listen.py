"""Which TwiML URLs a listen route may hand a call to: the allow-list (docs/listen-in.md, "Safe by
configuration", has the reasons).

A listen route's URL must be named twice, in the route and in this allow-list (`LISTEN_ALLOWED_URLS`,
context `listenAllowedUrls`); both places check it when they load, never at a call. An entry is an
exact URL or a prefix ending in `*` that names the whole host and the start of a path; matching is
on the text as written. https only (http for loopback hosts, only where the caller says so; never at
synth); no credentials, no `.`/`..` segments.
A change must keep: no allow-list allows nothing; a refusal names the route, the URL and the setting.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

PREFIX_MARK = "*"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def url_problem(url: str, *, loopback_http: bool) -> str | None:
    """Why `url` cannot be a listen route's TwiML URL (or an allow-list entry's base); None if it can."""
    if not url or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return f"{url!r} is not a URL (empty, or it holds spaces or control characters)"
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if not parts.netloc or not hostname:
        return f"{url!r} is not an absolute URL (https://host/path)"
    if parts.username is not None or parts.password is not None:
        return (
            f"{_shown(url)} carries credentials: they would sit in clear in the configuration; "
            "have the app check X-Twilio-Signature instead"
        )
    if parts.scheme != "https":
        loopback = parts.scheme == "http" and hostname in LOOPBACK_HOSTS
        if not (loopback and loopback_http):
            return f"{url!r} is not https:// (Twilio fetches TwiML only over the internet; use https)"
    segments = unquote(parts.path).split("/")
    if "." in segments or ".." in segments:
        return f"{url!r} has a '.' or '..' path segment"
    return None


def _shown(url: str) -> str:
    """`url` with its credentials masked, for a message or a log line."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"***@{host}").geturl()


def parse_allowed_urls(value: object, *, loopback_http: bool) -> tuple[str, ...]:
    """The allow-list from comma-separated text (the variable) or a list (cdk.json); blank is empty.
    ValueError names every entry that is not an https URL or a whole-host prefix."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("must be comma-separated https:// URLs or prefixes ending in *")  # noqa: TRY004
    entries = tuple(item.strip() if isinstance(item, str) else item for item in items)
    entries = tuple(entry for entry in entries if entry != "")
    problems = [
        problem
        for entry in entries
        if (problem := _entry_problem(entry, loopback_http=loopback_http)) is not None
    ]
    if problems:
        raise ValueError("; ".join(problems))
    return entries


def _entry_problem(entry: object, *, loopback_http: bool) -> str | None:
    if not isinstance(entry, str):
        return f"{entry!r} is not text"
    base = entry.removesuffix(PREFIX_MARK)
    if PREFIX_MARK in base:
        return f"{entry!r}: '*' may only end a prefix"
    problem = url_problem(base, loopback_http=loopback_http)
    if problem is not None:
        return problem
    if entry.endswith(PREFIX_MARK) and not urlsplit(base).path.startswith("/"):
        return f"{entry!r}: a prefix must name the whole host and a path, e.g. https://host/twiml/*"
    return None


def allows(allowed: Iterable[str], url: str) -> bool:
    """True when an entry is `url` exactly, or a prefix (`…*`) that `url` starts with."""
    for entry in allowed:
        if entry.endswith(PREFIX_MARK):
            if url.startswith(entry.removesuffix(PREFIX_MARK)):
                return True
        elif url == entry:
            return True
    return False


def check_targets(
    targets: Iterable[tuple[str, str]],
    allowed: tuple[str, ...],
    *,
    loopback_http: bool,
    routes_name: str,
    allowed_name: str,
) -> None:
    """ValueError naming each (route key, TwiML URL) the allow-list does not cover, or that is not a
    URL a listen route may use; `routes_name` and `allowed_name` are the settings' names as the
    operator knows them (variables or context keys)."""
    problems: list[str] = []
    for key, url in targets:
        problem = url_problem(url, loopback_http=loopback_http)
        if problem is not None:
            problems.append(f"{routes_name} route {key!r}: {problem}")
        elif not allows(allowed, url):
            listed = ", ".join(allowed) if allowed else "none"
            problems.append(
                f"{routes_name} route {key!r} hands calls to {url}, which {allowed_name} does not allow "
                f"(allowed: {listed}); add the URL (or a prefix of it ending in *) to {allowed_name}"
            )
    if problems:
        raise ValueError("; ".join(problems))


def is_under(url: str, base: str) -> bool:
    """True when `url` is `base` or below it (same scheme and host, case-insensitively; path under
    the base's): a listen route pointing back at our own API would start the call over and over."""
    target, ours = urlsplit(url), urlsplit(base)
    if (target.scheme.lower(), target.netloc.lower()) != (ours.scheme.lower(), ours.netloc.lower()):
        return False
    root = ours.path.rstrip("/")
    return target.path == root or target.path.startswith(root + "/")
