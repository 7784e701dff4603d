"""Writing batches of records, and isolating the records a database refuses.

Contract: ``BatchWriter.write_pending()`` writes the batches it holds, oldest first, each in one transaction
(raw rows, rollups, endpoint times; see fmd.store.writes.write_batch). When a batch fails:

- for a *passing* reason (connection lost, server down, lock timeout, deadlock, schema not reachable) the
  exception propagates and the batch stays, with its id, for the writer's retry after a backoff;
- for a *data* reason (anything else: a value the database refuses, an encoding error, a bug in a record), the
  batch is split in two halves, each with a new id (the failed transaction stored nothing), until the records
  that cannot be stored are alone in a batch. Those are rejected: dropped, counted in ``rejected`` and logged,
  and every other record is written. A batch of N records with one bad record costs about 2 log2(N) extra
  transactions, once.

Text is made storable (fmd.instrument.storable) when a batch is taken, so splitting is the backstop for what
cleaning cannot foresee (say, a MySQL table left at a latin1 default), not the normal path.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .levels import EXCLUDED
from .records import EVENT
from .storable import all_plain as _all_plain
from .storable import storable, storable_record

if TYPE_CHECKING:
    from ..store.engine import Store
    from .guard import ErrorLog
    from .levels import Levels
    from .outliers import Baselines
    from .redact import Redactor

log = logging.getLogger("fmd.recorder")


@dataclass
class Batch:
    id: str
    records: list
    #: endpoint name -> epoch of its latest request (level-0 touches; the records' own times are added)
    last_seen: dict = field(default_factory=dict)
    #: every record is a plain 6-tuple (no level-2 attachments, no EVENT): the common case, no sorting needed
    plain: bool = False


@dataclass
class Tally:
    """What happened to the records the writer took (writer thread only: no lock needed)."""

    rows_written: int = 0  # raw request rows stored
    unrouted: int = 0  # requests that matched no route: counted per status in the rollups, no raw row
    skipped: int = 0  # made before this process knew their endpoint is at level 0: not stored
    rejected: int = 0  # refused by the database for their data: dropped and counted
    already_written: int = 0  # batches a lost commit acknowledgement had in fact stored
    lock_conflicts: int = 0
    failed_writes: int = 0
    last_error: str | None = None
    events: int = 0  # fmd.capture() outside a request: exception occurrences without a request
    outliers: int = 0  # outliers stored (with their requests, counted in rows_written)
    profiles: int = 0  # level-3 profiles stored (idem)
    exceptions: int = 0  # exception occurrences stored
    lost_attachments: int = 0  # outliers or tracebacks that could not be prepared (their requests are written)

    @property
    def done(self) -> int:
        return self.rows_written + self.unrouted + self.skipped + self.rejected + self.events


def is_passing(exc: BaseException) -> bool:
    """True when *exc* says the database could not be reached or used now, not that the data is bad."""
    from sqlalchemy import exc as sa_exc

    from ..options import ConfigError
    from ..store.schema import SchemaError

    if getattr(exc, "connection_invalidated", False):
        return True
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.ProgrammingError,
                            sa_exc.DisconnectionError, sa_exc.TimeoutError, sa_exc.ResourceClosedError,
                            OSError, SchemaError, ConfigError, MemoryError))


def is_lock_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure that rolled the whole transaction back (worth an immediate retry)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in ("40P01", "40001") or getattr(orig, "pgcode", None) in ("40P01", "40001"):
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in (1205, 1213)  # MySQL/MariaDB: lock wait timeout, deadlock


_QUOTED = re.compile(r"(?<![A-Za-z0-9])'[^']*'")  # a quote after a letter is an apostrophe (can't)


def short_error(exc: BaseException) -> str:
    """The error's class and the first line of its message, with quoted values blanked.

    SQLAlchemy appends the SQL and its parameters on later lines, and drivers quote the offending value
    ("Incorrect string value: '\\xF0...'"): both may be another visitor's data, which Health must not show.
    """
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    message = _QUOTED.sub("'…'", lines[0] if lines else "")
    return f"{type(orig).__name__}: {message}"[:300]


class BatchWriter:
    """Holds the batches taken from the hand-off and writes them (writer thread only)."""

    def __init__(self, store: "Store", levels: "Levels", version: str, errors: "ErrorLog",
                 baselines: "Baselines | None" = None, redactor: "Redactor | None" = None) -> None:
        self.store = store
        self.levels = levels
        self.baselines = baselines
        self.redactor = redactor
        self.version = storable(version, 100)  # models.VERSION_LEN (not imported: binding loads no SQLAlchemy)
        self.errors = errors
        self.tally = Tally()
        self.pending: deque[Batch] = deque()
        self._endpoint_ids: dict[str, int] = {}
        self._code_ids: dict[tuple, int] = {}  # (file, line, function) -> code_line id

    @property
    def held(self) -> int:
        return sum(len(b.records) for b in self.pending)

    def add(self, records: list, touched: dict) -> int:
        """Queue records taken from the hand-off as a new batch, their text made storable; how many were unusable."""
        from ..store.models import GROUP_LEN, IP_LEN, NAME_LEN
        from ..store.writes import new_batch_id

        if self.baselines is not None:
            self._observe(records)
        plain = _all_plain(records, NAME_LEN, GROUP_LEN, IP_LEN)
        if plain:
            clean = records  # the common case: one check over the whole batch, no per-record work
        else:
            clean = []
            for record in records:
                try:
                    record = storable_record(record, NAME_LEN, GROUP_LEN, IP_LEN)
                    if len(record) == 7:
                        record = record[:6] + (self._prepare(record[6], record[1]),)
                    clean.append(record)
                except Exception:  # not a record at all: nothing a database could store
                    self._reject(1, "a malformed record")
        last_seen = {storable(name, NAME_LEN): when for name, when in touched.items() if name is not None}
        if clean or last_seen:
            self.pending.append(Batch(new_batch_id(), clean, last_seen, plain))
        return len(records) - len(clean)

    def _observe(self, records: list) -> None:
        """Feed the durations of level-2+ endpoints to the outlier baselines (raw names: what the hook reads)."""
        table = self.levels.table
        if not any(level >= 2 for level in table.values()):
            return
        observe = self.baselines.observe
        for record in records:
            name = record[0]
            if name is not None and table.get(name, 0) >= 2 and record[3] != EVENT:
                observe(name, record[1])

    def _prepare(self, extras: tuple, duration: float) -> tuple:
        from .prepare import prepare

        rows: tuple = ()
        for item in extras:  # one at a time: an attachment that fails leaves the others
            try:
                rows += prepare((item,), self.redactor, duration)
            except Exception:
                self.tally.lost_attachments += 1
                self.errors.report("prepare", "fmd: could not prepare an outlier, a traceback or a profile; its "
                                   "request is recorded without it")
        return rows

    def write_pending(self, release: Callable[[int], None], most: int) -> None:
        """Write up to *most* pending batches; *release(n)* is told of every record done with."""
        from ..store.writes import new_batch_id

        for _ in range(most):
            if not self.pending:
                return
            batch = self.pending[0]
            try:
                self._write(batch)
            except Exception as exc:
                if is_passing(exc):
                    raise
                self.pending.popleft()
                self._endpoint_ids.clear()  # a merge may have removed an endpoint: look the ids up again
                if len(batch.records) > 1:
                    half = len(batch.records) // 2
                    self.pending.appendleft(Batch(new_batch_id(), batch.records[half:]))
                    self.pending.appendleft(Batch(new_batch_id(), batch.records[:half], batch.last_seen))
                    continue
                if batch.last_seen and batch.records:  # keep the endpoint times; give up the one record
                    self.pending.appendleft(Batch(new_batch_id(), [], batch.last_seen))
                self._reject(len(batch.records), short_error(exc))
                release(len(batch.records))
                continue
            self.pending.popleft()
            release(len(batch.records))

    def _reject(self, n: int, reason: str) -> None:
        if n:
            self.tally.rejected += n
            self.errors.report("rejected", "fmd: the database refused a record (%s); it was dropped, the others "
                               "are written", reason, exc_info=False)

    def _write(self, batch: Batch) -> None:
        from ..store import writes

        records = batch.records
        # Level-2 attachments or EVENT records among them (never in the common, plain batch)
        mixed = not batch.plain and any(len(r) != 6 for r in records)
        last_seen = dict(batch.last_seen)
        for record in records:  # before the filter below: a level-0 endpoint still gets its last-requested time
            name = record[0]
            if name is not None and record[2] > last_seen.get(name, 0.0) and (not mixed or record[3] != EVENT):
                last_seen[name] = record[2]
        table = self.levels.table
        synced_at = self.levels.synced_at or 0.0
        kept = records
        if records and any(r[2] < synced_at for r in records):
            # Made before this process knew the stored levels: honour a level 0 set in the dashboard.
            # (any(), not records[0]: a long request that started early can be queued after a later short one.)
            kept = [r for r in records if r[0] is None or r[2] >= synced_at or table.get(r[0], 1) > 0
                    or (mixed and r[3] == EVENT)]
        names = {name for name in last_seen if table.get(name, 0) != EXCLUDED}
        wanted = names | {r[0] for r in kept if r[0] is not None and r[3] == EVENT} if mixed else names
        unknown = [n for n in wanted if n not in self._endpoint_ids]
        if unknown:
            with self.store.write() as conn:
                self._endpoint_ids.update(writes.ensure_endpoints(conn, self.store.tables, unknown, table))
        try:
            with self.store.write() as conn:
                self._recreate_removed(conn, names)
                written = writes.write_batch(conn, self.store.tables, batch.id, self.version, kept,
                                             self._endpoint_ids, {n: last_seen[n] for n in names}, mixed,
                                             self._code_ids)
            if written.code_ids:  # (committed now: safe to remember; code lines are never deleted)
                if len(self._code_ids) > 100_000:
                    self._code_ids.clear()
                self._code_ids.update(written.code_ids)
        except writes.AlreadyWritten:
            events = sum(1 for r in kept if r[3] == EVENT) if mixed else 0
            written = writes.Written(sum(1 for r in kept if r[0] is not None and not (mixed and r[3] == EVENT)),
                                     events)
            if mixed:  # what the committed attempt stored with them
                kinds = [kind for r in kept if len(r) == 7 for kind, _ in r[6]]
                written.outliers, written.profiles = kinds.count("outlier"), kinds.count("profile")
                written.exceptions = kinds.count("exception")
            self.tally.already_written += 1
            log.info("fmd: batch %s was already stored by an earlier attempt", batch.id)
        unrouted = sum(1 for r in kept if r[0] is None and r[3] != EVENT)
        tally = self.tally
        tally.rows_written += written.rows
        tally.unrouted += unrouted
        tally.events += written.events
        tally.outliers += written.outliers
        tally.profiles += written.profiles
        tally.exceptions += written.exceptions
        tally.skipped += len(records) - written.rows - unrouted - written.events

    def _recreate_removed(self, conn, names: set) -> None:  # noqa: ANN001
        """Re-create endpoints a merge removed since their ids were cached (see fmd.store.purge)."""
        from ..store import writes
        from ..store.writes import missing_endpoints

        gone = missing_endpoints(conn, self.store.tables, {self._endpoint_ids[n] for n in names
                                                          if n in self._endpoint_ids})
        if gone:
            self._endpoint_ids = {n: i for n, i in self._endpoint_ids.items() if i not in gone}
            self._endpoint_ids.update(writes.ensure_endpoints(
                conn, self.store.tables, [n for n in names if n not in self._endpoint_ids], self.levels.table))

    def register(self, names: list[str]) -> None:
        """Store the endpoints of the app's URL map not stored yet (at their current level)."""
        from ..store import writes
        from ..store.models import NAME_LEN

        clean = [storable(n, NAME_LEN) for n in names]
        missing = [n for n in clean if n not in self._endpoint_ids]
        if missing:
            with self.store.write() as conn:
                self._endpoint_ids.update(writes.ensure_endpoints(conn, self.store.tables, missing,
                                                                  self.levels.table))
