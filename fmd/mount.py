"""Serve the dashboard at ``/<CUSTOM_LINK>`` in front of the host app, as an app of its own.

The dashboard is fmd's own small Flask app, dispatched to by path before the host app sees the request.
So the host's ``before_request`` hooks, CSRFProtect, login manager, session cookie and error handlers never
touch it, and it never touches theirs; its requests are not monitored. The app is built on the first
dashboard request, so binding fmd imports none of its views, forms or templates.

Because the mount wraps ``app.wsgi_app`` as it is at bind time, middleware the host applied before binding
(werkzeug's ``ProxyFix``) sits inside the mount and never sees dashboard requests. So with
TRUSTED_PROXIES = n > 0 the mount applies its own ``ProxyFix`` to dashboard requests (``X-Forwarded-For``,
``-Proto``, ``-Host``, ``-Port``, ``-Prefix``, n proxies each): the session cookie is ``Secure`` behind an
HTTPS proxy and URLs carry the client's scheme, host and prefix. Applying it twice (a host ProxyFix
outside the mount as well) changes nothing: each header is read from the same place both times.
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
        proxies = state.settings.trusted_proxies
        self._enter: Callable = self._dispatch
        if proxies:
            from werkzeug.middleware.proxy_fix import ProxyFix

            self._enter = ProxyFix(self._dispatch, x_for=proxies, x_proto=proxies, x_host=proxies,
                                   x_port=proxies, x_prefix=proxies)

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
            return self._enter(environ, start_response)
        return self.host_wsgi(environ, start_response)

    def _dispatch(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        # After ProxyFix, which may have replaced SCRIPT_NAME with X-Forwarded-Prefix: the prefix goes last.
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.prefix
        environ["PATH_INFO"] = environ.get("PATH_INFO", "")[len(self.prefix):]
        return self.app(environ, start_response)
