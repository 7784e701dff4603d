"""One URL, two renderings: the full page normally, only its fragment for an HTMX request.

A history restore (``HX-History-Restore-Request``) asks for the whole page even though it comes from
htmx, so the back button and a shared link always get a complete document. ``Vary: HX-Request`` keeps
caches from serving one rendering for the other.
"""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, request


def is_htmx() -> bool:
    """True when the request came from htmx (and is not a history restore)."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def page_or_fragment(page: str, fragment: str, **ctx: Any) -> Response:
    """Render *fragment* for an HTMX request, otherwise *page* (which should include the fragment)."""
    resp = make_response(render_template(fragment if is_htmx() else page, **ctx))
    resp.vary.add("HX-Request")
    return resp
