"""The client's address: REMOTE_ADDR, or X-Forwarded-For behind a configured number of trusted proxies."""

from __future__ import annotations

from typing import Callable, Mapping

MAX_LENGTH = 45


def client_ip_reader(trusted_proxies: int) -> Callable[[Mapping[str, str]], str]:
    """A function environ -> IP, specialised at bind time so a request pays for only what is configured."""
    if trusted_proxies <= 0:
        def remote_addr(environ: Mapping[str, str]) -> str:
            return environ.get("REMOTE_ADDR") or ""
        return remote_addr

    def forwarded(environ: Mapping[str, str]) -> str:
        header = environ.get("HTTP_X_FORWARDED_FOR")
        if header:
            hops = [h.strip() for h in header.split(",")]
            # Each trusted proxy appended one address; the one the nearest-to-us untrusted hop sent is
            # the client. With fewer entries than proxies the header is not trustworthy.
            if len(hops) >= trusted_proxies and hops[-trusted_proxies]:
                return hops[-trusted_proxies][:MAX_LENGTH]
        return environ.get("REMOTE_ADDR") or ""
    return forwarded
