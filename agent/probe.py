"""Asking a server a small question over HTTP, the way ``doctor`` and onboarding do.

A redirect is never followed: a key must not travel to another server, and a probe of a
local port must not end up somewhere else. Answers are read up to a limit, so whatever
listens on a port cannot fill memory.
"""

from __future__ import annotations

import urllib.request

MAX_ANSWER = 1_000_000  # bytes; a model list is a few kilobytes


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is reported (as an HTTPError of its 3xx status), not followed."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def get(url: str, timeout: float, headers: dict[str, str] | None = None) -> bytes:
    """The body of a GET of ``url``, at most ``MAX_ANSWER`` bytes; raises OSError (URLError,
    HTTPError for a status other than 2xx, timeouts) or http.client.HTTPException."""
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.build_opener(NoRedirect).open(request, timeout=timeout) as answer:
        return answer.read(MAX_ANSWER)
