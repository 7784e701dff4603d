"""Password hashes with werkzeug (scrypt), and a constant-cost check for unknown users."""

from __future__ import annotations

from functools import lru_cache

from werkzeug.security import check_password_hash, generate_password_hash

#: werkzeug's scrypt (n=2**15, r=8, p=1): about 50 ms a hash here, memory-hard.
METHOD = "scrypt"
#: Shortest password the Users page and the CLI accept (the configured admin's is not checked).
MIN_LENGTH = 8


def hash_password(password: str) -> str:
    """A salted hash of *password*."""
    return generate_password_hash(password, method=METHOD)


def check_password(password_hash: str | None, password: str) -> bool:
    """True when *password* matches; for an unknown user (None) spend the same time and say no."""
    if password_hash is None:
        check_password_hash(_dummy_hash(), password)  # same cost as a real check: no user enumeration by timing
        return False
    return check_password_hash(password_hash, password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("fmd-no-such-user")


def password_problem(password: str) -> str | None:
    """Why *password* is not acceptable for a new or changed password, or None."""
    if len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters."
    if password.strip() != password:
        return "A password may not begin or end with spaces."
    return None
