"""The export API's token (SECURITY_TOKEN): checked once at bind, compared in constant time on every call.

At bind: unset leaves the API off; a token shorter than ``MIN_LENGTH`` characters is a ConfigError naming the key
and where it came from; a token printed as an example (fmd's README, Flask-MonitoringDashboard's manual and
default config) leaves the API off with a warning, since anyone who read those documents knows it. Standard
library only: fmd.bind imports this.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from .options import ConfigError

log = logging.getLogger("fmd")

#: Shortest accepted token: 16 characters (a 32-hex-digit token from ``secrets.token_hex(16)`` is the suggestion).
MIN_LENGTH = 16
#: Tokens printed in documentation: Flask-MonitoringDashboard's default and manual example, fmd's README example.
EXAMPLE_TOKENS = frozenset({"cc83733cb0af8b884ff6577086b87909", "a-long-random-token"})


def api_token(token: str | None, source: str) -> str | None:
    """The token the API accepts, or None when the API is off; raises ConfigError for a short token."""
    if token is None:
        return None
    if len(token) < MIN_LENGTH:
        raise ConfigError(f"{source}: [authentication] SECURITY_TOKEN is {len(token)} characters long: expected at "
                          f"least {MIN_LENGTH} (e.g. python -c \"import secrets; print(secrets.token_hex(16))\")")
    if not token.isascii() or not token.isprintable() or token != token.strip():
        raise ConfigError(f"{source}: [authentication] SECURITY_TOKEN must be printable ASCII without spaces at its "
                          "ends: an HTTP header carries nothing else intact")
    if token.lower() in EXAMPLE_TOKENS:
        log.warning("fmd: SECURITY_TOKEN (from %s) is the example token printed in the documentation; the export "
                    "API stays OFF until you set a token of your own", source)
        return None
    return token


def token_matches(expected: str, header: str | None) -> bool:
    """True when the ``Authorization`` header is ``Bearer <expected>``; constant time in the token's content."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Digests first: compare_digest leaks the length of its arguments, a digest's length is fixed.
    return hmac.compare_digest(hashlib.sha256(given.strip().encode("utf-8", "surrogateescape")).digest(),
                               hashlib.sha256(expected.encode("utf-8")).digest())


def is_example(token: str | None) -> bool:
    """True when *token* is one of the documented examples (the API is then off)."""
    return token is not None and token.lower() in EXAMPLE_TOKENS
