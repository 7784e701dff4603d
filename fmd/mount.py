"""Serve the dashboard at ``/<CUSTOM_LINK>`` in front of the host app, as an app of its own.

The dashboard is fmd's own small Flask app, dispatched to by path before the host app sees the request.
So the host's ``before_request`` hooks, CSRFProtect, login manager, session cookie and error handlers never
touch it, and it never touches theirs; its requests are not monitored. The app is built on the first
dashboard request, so binding fmd imports none of its views, forms or templates.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from .state import State


class DashboardMount:
    def __init__(self, host_wsgi: Callable, state: "State", prefix: str) -> None:
        self.host_wsgi = host_wsgi
        self.state = state
        self.prefix = prefix
        self._app: Any = None
        self._lock = threading.Lock()

    @property
    def app(self) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from .blueprints import create_dashboard_app

                    self._app = create_dashboard_app(self.state)
        return self._app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        prefix = self.prefix
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[len(prefix):]
            return self.app(environ, start_response)
        return self.host_wsgi(environ, start_response)
