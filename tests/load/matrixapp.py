"""hostapp plus what the server matrix needs: a ``/_stats`` route outside Flask and an optional warm-up request.

``/_stats`` answers ``fmd.stats()`` of the worker that serves it, as JSON, from a WSGI wrapper in front of the
app, so it is never recorded and the request table holds exactly the load's requests. With
``FMD_TEST_WARM=1`` the app serves one request to ``/warm`` while it is imported, as apps that warm a cache
at import do: under uWSGI without --lazy-apps that import happens in the master, before the fork.
"""

from __future__ import annotations

import json
import os

import fmd
from hostapp import app


@app.route("/warm")
def warm() -> str:
    return "warm"


_inner = app.wsgi_app


def _with_stats(environ, start_response):  # noqa: ANN001, ANN202
    if environ.get("PATH_INFO") == "/_stats":
        body = json.dumps({"pid": os.getpid(), **fmd.stats(app)}, default=str).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    return _inner(environ, start_response)


app.wsgi_app = _with_stats  # type: ignore[method-assign]

if os.environ.get("FMD_TEST_WARM") == "1":
    assert app.test_client().get("/warm").status_code == 200

application = app  # uWSGI's default callable name
