"""The recorded IP: REMOTE_ADDR, or X-Forwarded-For only behind TRUSTED_PROXIES proxies."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fmd.instrument.clientip import MAX_LENGTH, client_ip_reader

PROXY = "10.0.0.2"


def environ(forwarded: str | None, remote: str = PROXY) -> dict[str, str]:
    env = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        env["HTTP_X_FORWARDED_FOR"] = forwarded
    return env


@pytest.mark.parametrize(("trusted", "forwarded", "expected"), [
    (0, None, PROXY),
    (0, "203.0.113.9", PROXY),  # no trusted proxy: the header is anyone's to write
    (1, "203.0.113.9", "203.0.113.9"),
    (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client's own (spoofed) entries come first: ignored
    (1, "6.6.6.6,203.0.113.9", "203.0.113.9"),
    (2, "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),  # n-th from the right
    (2, "203.0.113.9, 10.0.0.1", "203.0.113.9"),
    (3, "203.0.113.9, 10.0.0.1", PROXY),  # fewer entries than proxies: not trustworthy
    (1, "", PROXY),
    (1, "203.0.113.9, ", PROXY),  # the trusted proxy's entry is empty
    (1, "2001:db8::1", "2001:db8::1"),
    (1, None, PROXY),
])
def test_client_ip(trusted: int, forwarded: str | None, expected: str) -> None:
    assert client_ip_reader(trusted)(environ(forwarded)) == expected


def test_no_remote_addr_is_empty() -> None:
    assert client_ip_reader(0)({}) == ""
    assert client_ip_reader(1)({}) == ""


def test_overlong_entry_is_cut_to_the_column() -> None:
    assert client_ip_reader(1)(environ("x" * 500)) == "x" * MAX_LENGTH


def recorded_ips(app) -> list[str]:  # noqa: ANN001
    state = app.extensions["fmd"]
    assert state.flush(10)
    t = state.store.tables
    with state.store.read() as conn:
        return list(conn.execute(select(t.request.c.ip).order_by(t.request.c.id)).scalars())


@pytest.mark.parametrize(("trusted", "expected"), [
    (0, ["10.0.0.2", "10.0.0.2"]),
    (1, ["203.0.113.9", "10.0.0.2"]),
    (2, ["6.6.6.6", "10.0.0.2"]),
])
def test_recorded_ip(trusted: int, expected: list[str], sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, trusted_proxies=trusted)
    client = app.test_client()
    base = {"REMOTE_ADDR": PROXY}
    client.get("/", environ_base=base, headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    client.get("/", environ_base=base)
    assert recorded_ips(app) == expected


def test_trusted_proxies_from_app_config(sqlite_url: str, make_app, new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    app.config["FMD_TRUSTED_PROXIES"] = 1
    make_app(sqlite_url, app=app)
    app.test_client().get("/", environ_base={"REMOTE_ADDR": PROXY}, headers={"X-Forwarded-For": "198.51.100.7"})
    assert recorded_ips(app) == ["198.51.100.7"]
