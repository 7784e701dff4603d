"""Synthetic demo traffic: realistic requests written as raw rows and rollups, so every page has data.

What the traffic looks like: a few endpoints from ~1 ms to ~1 s median (lognormal durations) with their own
error (500), not-found (404) and redirect (302) rates; three versions deployed one after another (the newest
in the last third of the period), each a bit faster or slower; tens of users (group_by values, plus
"anonymous") and hundreds of client IPs (IPv4 and some IPv6); a weekly rhythm (quiet weekends), an hourly one
(busy working hours, UTC) and a short incident where one endpoint slows down and fails.

Generation is vectorised with numpy; the rollups go through ``Fold``/``increment`` and the endpoints through
``ensure_endpoints``/``touch_endpoints``, the very code the writer thread uses, so rollups equal the raw rows.
Everything is written in one transaction: a seed is all or nothing. No Flask here: ``fmd.cli.demo`` wraps it.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

from sqlalchemy import select, text

from .rollups import Fold
from .sequence import take_next
from .writes import REQUEST_COLUMNS, ensure_endpoints, insert_tuples, touch_endpoints

if TYPE_CHECKING:
    import numpy as np

    from .engine import Store


@dataclass(frozen=True)
class EndpointProfile:
    """How one synthetic endpoint behaves at the first version."""

    name: str
    median: float  #: seconds
    sigma: float  #: lognormal shape: 0.3 is steady, 1.0 is all over the place
    share: float  #: relative amount of traffic
    errors: float = 0.0  #: fraction answered 500
    not_found: float = 0.0  #: fraction answered 404
    redirects: float = 0.0  #: fraction answered 302


#: Named after the demo host's views in wsgi.py, so seeded and live traffic land on the same endpoints.
DEMO_ENDPOINTS: tuple[EndpointProfile, ...] = (
    EndpointProfile("index", 0.0012, 0.45, 30),
    EndpointProfile("login", 0.015, 0.35, 5, redirects=0.55),
    EndpointProfile("notes", 0.028, 0.6, 14, errors=0.003, redirects=0.08),
    EndpointProfile("search", 0.065, 0.8, 12, errors=0.01),
    EndpointProfile("api.items", 0.007, 0.5, 18, errors=0.002),
    EndpointProfile("api.item", 0.004, 0.5, 12, errors=0.002, not_found=0.06),
    EndpointProfile("variable", 0.09, 1.0, 5, errors=0.01),
    EndpointProfile("slow", 0.21, 0.25, 3),
    EndpointProfile("report", 0.95, 0.35, 1, errors=0.03),
    EndpointProfile("fail", 0.003, 0.4, 0.5, errors=1.0),
)
#: Oldest first; the last one is what wsgi.py sets as APP_VERSION, so live traffic continues it.
DEMO_VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2")
#: Where each version after the first was deployed, as a fraction of the seeded period.
_DEPLOYS = (0.35, 0.7)
#: Overall speed of each version against the first: the second regressed, the third is the fastest.
_VERSION_SPEED = (1.0, 1.15, 0.85)
#: Relative traffic per UTC hour of the day (quiet nights, a lunch dip) and per weekday (Monday first).
_HOURLY = (3, 2, 2, 2, 2, 3, 6, 12, 22, 30, 33, 32, 26, 30, 33, 31, 27, 21, 15, 12, 10, 8, 6, 4)
_WEEKLY = (1.0, 1.05, 1.05, 1.0, 0.9, 0.35, 0.3)
_ANONYMOUS_SHARE = 0.3
_CHUNK = 50_000
_HOUR_US = 3600 * 10**6


class DatabaseNotEmpty(RuntimeError):
    """The database already holds recorded requests; seeding would mix demo and real data."""


@dataclass
class SeedResult:
    requests: int
    endpoints: int
    seconds: float
    first: datetime | None
    last: datetime | None


@dataclass
class Traffic:
    """Generated requests, sorted by time (parallel numpy arrays plus the labels they index)."""

    time_us: "np.ndarray"  #: epoch microseconds (int64)
    endpoint: "np.ndarray"  #: index into the profiles
    version: "np.ndarray"  #: index into the versions
    status: "np.ndarray"
    duration: "np.ndarray"  #: seconds
    group: "np.ndarray"  #: index into group_labels
    ip: "np.ndarray"  #: index into ip_labels
    group_labels: list[str]
    ip_labels: list[str]


def generate(requests: int, days: float, *, seed: int | None = None, now: float | None = None,
             endpoints: Sequence[EndpointProfile] = DEMO_ENDPOINTS, versions: Sequence[str] = DEMO_VERSIONS,
             users: int = 40, ips: int = 400) -> Traffic:
    """*requests* synthetic requests over the *days* before *now* (epoch seconds, default: the current time)."""
    import numpy as np

    if requests < 0 or days <= 0:
        raise ValueError("requests must be >= 0 and days > 0")
    rng = np.random.default_rng(seed)
    end_us = int((time.time() if now is None else now) * 1e6)
    start_us = end_us - int(days * 86400e6)
    time_us, busy = _times(rng, requests, start_us, end_us)
    shares = np.array([p.share for p in endpoints], float)
    endpoint = rng.choice(len(endpoints), size=requests, p=shares / shares.sum())
    cuts = [start_us + int(f * (end_us - start_us)) for f in _DEPLOYS[: len(versions) - 1]]
    version = np.searchsorted(np.array(cuts, np.int64), time_us, side="right")
    # An incident: for three hours mid-period, the slowest-but-one endpoint crawls and often fails.
    incident_start = start_us + (end_us - start_us) // 2
    victim = int(np.argsort([p.median for p in endpoints])[-2]) if len(endpoints) > 1 else 0
    incident = (endpoint == victim) & (time_us >= incident_start) & (time_us < incident_start + _HOUR_US * 3)
    status = _statuses(rng, endpoints, endpoint, incident)
    duration = _durations(rng, endpoints, len(versions), endpoint, version, status, busy, incident)
    group, ip, group_labels, ip_labels = _people(rng, time_us, users, ips)
    return Traffic(time_us, endpoint, version, status, duration, group, ip, group_labels, ip_labels)


def _times(rng: "np.random.Generator", requests: int, start_us: int, end_us: int) -> tuple["np.ndarray", ...]:
    """Sorted request times, and how busy (0..1) the app was at each.

    Hourly slots are weighted by weekday, hour of day, day-to-day noise and slow growth; times are uniform
    inside a slot (the first and last slots are partial hours).
    """
    import numpy as np

    edges = np.arange(start_us // _HOUR_US + 1, end_us // _HOUR_US + 1, dtype=np.int64) * _HOUR_US
    edges = np.concatenate(([start_us], edges[(edges > start_us) & (edges < end_us)], [end_us]))
    begins, widths = edges[:-1], np.diff(edges)
    hours = begins // _HOUR_US
    weekday = (hours // 24 + 3) % 7  # 1970-01-01 was a Thursday
    day_index = hours // 24 - hours[0] // 24
    day_noise = rng.lognormal(0.0, 0.12, int(day_index[-1]) + 1)[day_index]
    growth = 1 + 0.25 * (begins - start_us) / max(end_us - start_us, 1)
    load = np.array(_HOURLY, float)[hours % 24] * np.array(_WEEKLY)[weekday] * day_noise * growth
    weights = load * widths
    counts = rng.multinomial(requests, weights / weights.sum())
    slot = np.repeat(np.arange(len(widths)), counts)
    time_us = begins[slot] + (rng.random(requests) * widths[slot]).astype(np.int64)
    order = np.argsort(time_us, kind="stable")
    return time_us[order], load[slot[order]] / load.max()


def _statuses(rng: "np.random.Generator", endpoints: Sequence[EndpointProfile], endpoint: "np.ndarray",
              incident: "np.ndarray") -> "np.ndarray":
    """200, or 302/404/500 at each endpoint's rates (500 far more often during the incident)."""
    import numpy as np

    p500 = np.array([p.errors for p in endpoints])[endpoint]
    p500 = np.where(incident, np.maximum(p500, 0.35), p500)
    p404 = np.array([p.not_found for p in endpoints])[endpoint]
    p302 = np.array([p.redirects for p in endpoints])[endpoint]
    u = rng.random(len(endpoint))
    status = np.full(len(endpoint), 200, np.int32)
    status[u < p500 + p404 + p302] = 302
    status[u < p500 + p404] = 404
    status[u < p500] = 500
    return status


def _durations(rng: "np.random.Generator", endpoints: Sequence[EndpointProfile], versions: int,
               endpoint: "np.ndarray", version: "np.ndarray", status: "np.ndarray", busy: "np.ndarray",
               incident: "np.ndarray") -> "np.ndarray":
    """Lognormal around each endpoint's median, scaled per version, by load and by outcome (seconds)."""
    import numpy as np

    median = np.array([p.median for p in endpoints])
    sigma = np.array([p.sigma for p in endpoints])
    speed = rng.lognormal(0.0, 0.12, (len(endpoints), versions))  # each endpoint changes a bit per release
    speed[:, 0] = 1.0
    speed *= np.array([_VERSION_SPEED[i] if i < len(_VERSION_SPEED) else 1.0 for i in range(versions)])
    spread = np.exp(sigma[endpoint] * rng.standard_normal(len(endpoint)))
    duration = median[endpoint] * speed[endpoint, version] * spread
    duration *= 1 + 0.3 * busy
    duration[incident] *= 4
    duration[(status == 404) | (status == 302)] *= 0.4  # answered early
    return np.clip(duration, 0.0002, 60.0)


def _people(rng: "np.random.Generator", time_us: "np.ndarray", users: int,
            ips: int) -> tuple["np.ndarray", "np.ndarray", list[str], list[str]]:
    """group_by and IP per request: users (some far busier) with a home and a work IP, anonymous visitors."""
    import numpy as np

    requests = len(time_us)
    group_labels = [str(i) for i in range(1, users + 1)] + ["anonymous"]
    user_weights = 1 / np.arange(1, users + 1) ** 0.8
    group = rng.choice(users, size=requests, p=user_weights / user_weights.sum())
    anonymous = rng.random(requests) < _ANONYMOUS_SHARE
    group[anonymous] = users
    ip_labels = _ip_addresses(rng, max(ips, 2 * users + 10))
    hour_of_day = (time_us // _HOUR_US) % 24
    at_work = (rng.random(requests) < 0.7) & (hour_of_day >= 8) & (hour_of_day < 18)
    ip = 2 * group + at_work  # user u's addresses are 2u (home) and 2u + 1 (work)
    visitors = len(ip_labels) - 2 * users
    weights = 1 / np.arange(1, visitors + 1) ** 0.7
    ip[anonymous] = 2 * users + rng.choice(visitors, size=int(anonymous.sum()), p=weights / weights.sum())
    return group, ip, group_labels, ip_labels


def _ip_addresses(rng: "np.random.Generator", n: int) -> list[str]:
    """*n* distinct public-looking addresses, about one in ten IPv6."""
    first_octets = (31, 37, 46, 62, 77, 81, 84, 86, 88, 91, 92, 94, 95, 109, 145, 151, 176, 178, 185, 188, 193,
                    195, 212, 213, 217, 24, 50, 66, 73, 98, 104, 142, 172, 203)
    found: dict[str, None] = {}
    while len(found) < n:
        if rng.random() < 0.1:
            words = rng.integers(0, 0x10000, 4)
            address = f"2a0{rng.integers(1, 10)}:{words[0]:x}:{words[1]:x}:{words[2]:x}::{words[3]:x}"
        else:
            b, c, d = rng.integers(0, 256), rng.integers(0, 256), rng.integers(1, 255)
            address = f"{first_octets[rng.integers(len(first_octets))]}.{b}.{c}.{d}"
        found[address] = None
    return list(found)


def seed_demo(store: "Store", requests: int, days: float, *, seed: int | None = None, force: bool = False,
              now: float | None = None, endpoints: Sequence[EndpointProfile] = DEMO_ENDPOINTS,
              versions: Sequence[str] = DEMO_VERSIONS, level_of: Mapping[str, int] | None = None,
              progress: Callable[[int], None] | None = None) -> SeedResult:
    """Write *requests* synthetic requests (raw rows and rollups) over the last *days* into *store*.

    Raises DatabaseNotEmpty when requests are already recorded, unless *force*. *progress* is called with
    the number of requests written since its previous call. Concurrent seeders (workers starting together)
    are serialised, and all but the first find the database no longer empty.
    """
    started = time.perf_counter()
    traffic = generate(requests, days, seed=seed, now=now, endpoints=endpoints, versions=versions)
    store.ensure_schema()
    t = store.tables
    with _exclusive(store), store.write() as conn:
        if not force and conn.execute(select(t.request.c.id).limit(1)).first() is not None:
            raise DatabaseNotEmpty(f"{t.request.name} already holds recorded requests; refusing to mix demo "
                                   "traffic into them (use --force to add it anyway)")
        names = [p.name for p in endpoints]
        ids = ensure_endpoints(conn, t, names, level_of or {})
        _write_rows(conn, t, traffic, [ids[n] for n in names], versions, progress)
        _touch(conn, t, traffic, [ids[n] for n in names])
    first, last = (None, None) if not requests else (
        _utc(int(traffic.time_us[0])), _utc(int(traffic.time_us[-1])))
    return SeedResult(requests, len(set(traffic.endpoint.tolist())), time.perf_counter() - started, first, last)


def _write_rows(conn, t, traffic: Traffic, endpoint_ids: list[int], versions: Sequence[str],  # noqa: ANN001
                progress: Callable[[int], None] | None) -> None:
    """Insert the raw rows chunk by chunk, folding each chunk into the rollups as the writer does."""
    import numpy as np

    ids = np.array(endpoint_ids, dtype=np.int64)
    version_of = np.array(versions, dtype=object)
    group_of = np.array(traffic.group_labels, dtype=object)
    ip_of = np.array(traffic.ip_labels, dtype=object)
    as_text = conn.dialect.name == "sqlite"  # insert_tuples wants SQLite datetimes as SQLAlchemy's text form
    for part in _day_aligned_chunks(traffic.time_us):
        time_us = traffic.time_us[part]
        eids = ids[traffic.endpoint[part]].tolist()
        durations = traffic.duration[part].tolist()
        vers = version_of[traffic.version[part]].tolist()
        statuses = traffic.status[part].tolist()
        groups = group_of[traffic.group[part]].tolist()
        ips = ip_of[traffic.ip[part]].tolist()
        # Whole microseconds, so the datetime stored and the epoch the fold buckets by name the same instant.
        stamps = time_us.astype("datetime64[us]")
        times = np.char.replace(stamps.astype(str), "T", " ").tolist() if as_text else stamps.tolist()
        # Numbered like a writer's batch (fmd.store.sequence), so the export API pages through them too.
        seq = take_next(conn, t)
        insert_tuples(conn, t.request, REQUEST_COLUMNS + ("commit_seq",),
                      list(zip(eids, durations, times, vers, groups, ips, statuses, [seq] * len(eids))))
        fold = Fold()
        add = fold.add
        for row in zip(eids, (time_us / 1e6).tolist(), durations, vers, statuses, groups, ips):
            add(*row)
        fold.apply(conn, t)
        if progress is not None:
            progress(len(eids))


def _day_aligned_chunks(time_us: "np.ndarray") -> Iterator[slice]:
    """Slices of about _CHUNK requests that end at UTC midnight: no rollup key spans two chunks."""
    import numpy as np

    day = time_us // (86400 * 10**6)
    day_ends = np.flatnonzero(np.diff(day)) + 1  # index of the first request of each new day
    start = 0
    for end in [*day_ends.tolist(), len(time_us)]:
        if end - start >= _CHUNK or end == len(time_us):
            if end > start:
                yield slice(start, end)
            start = end


def _touch(conn, t, traffic: Traffic, endpoint_ids: list[int]) -> None:  # noqa: ANN001
    """Set each endpoint's first and last request times from the seeded rows."""
    import numpy as np

    if not len(traffic.time_us):
        return
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for index, eid in enumerate(endpoint_ids):
        times = traffic.time_us[traffic.endpoint == index]
        if len(times):
            first[eid], last[eid] = float(np.min(times)) / 1e6, float(np.max(times)) / 1e6
    touch_endpoints(conn, t, last, first)


@contextlib.contextmanager
def _exclusive(store: "Store") -> Iterator[None]:
    """Serialise seeders across processes until the seeding transaction has committed.

    SQLite needs nothing: the write transaction starts with BEGIN IMMEDIATE. PostgreSQL and MySQL get a
    lock held on a connection of its own, released only after the seeding transaction committed, so a
    second seeder's emptiness check sees the first one's rows.
    """
    backend = store.backend
    if backend not in ("postgresql", "mysql", "mariadb"):
        yield
        return
    name = f"fmd_seed_{store.prefix}"
    with store.engine.connect() as conn:
        if backend == "postgresql":
            key = zlib.crc32(name.encode())
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        else:
            if conn.execute(text("SELECT GET_LOCK(:n, 300)"), {"n": name}).scalar() != 1:
                raise RuntimeError(f"could not take the lock {name!r} within 300 s")
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
                conn.commit()


def _utc(epoch_us: int) -> datetime:
    return datetime.fromtimestamp(epoch_us // 10**6, timezone.utc).replace(
        tzinfo=None, microsecond=epoch_us % 10**6)
