"""fmd's tables, as SQLAlchemy Core ``Table`` objects named with TABLE_PREFIX.

The names depend on a runtime setting, so tables are built per prefix by ``tables_for(prefix)`` (cached)
instead of being declared once at import. The Alembic scripts in ``migrations/`` create the same shapes;
``tests/store/test_migrations.py`` proves they agree.

Times are naive UTC ``DateTime`` values (SQLite has no time zones); durations are seconds as doubles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import (DATETIME, BigInteger, Boolean, Column, DateTime, Double, ForeignKey, Index, Integer,
                        MetaData, String, Table, Text, UniqueConstraint, event)


class _DateTime6(DATETIME):
    """DATETIME(6) on MySQL/MariaDB, whose type compiler reads ``fsp``; the generic type, so every worker does
    not import the MySQL dialect (~0.8 MB per worker; issue 8 item 5) to declare one variant."""

    fsp = 6


class _MediumText(Text):
    """MEDIUMTEXT on MySQL/MariaDB (16 MB; TEXT holds only 64 KB), without importing the MySQL dialect."""

    __visit_name__ = "MEDIUMTEXT"


#: JSON documents that may pass 64 KB (an outlier's values, a traceback): MEDIUMTEXT on MySQL/MariaDB.
LongText = Text().with_variant(_MediumText(), "mysql", "mariadb")
#: Microsecond DATETIME on MySQL/MariaDB (its default drops fractions of a second).
UtcDateTime = DateTime().with_variant(_DateTime6(), "mysql", "mariadb")
#: A 64-bit autoincrementing key; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")
#: Lengths chosen so unique indexes fit MySQL's 3072-byte limit in utf8mb4.
NAME_LEN = 250
VERSION_LEN = 100
GROUP_LEN = 250
IP_LEN = 45
#: Every fmd table on MySQL/MariaDB, whatever the server's or database's default: utf8mb4 stores any text (a
#: latin1 default cannot store an emoji group_by), and a binary collation keeps keys apart that a _ci or _ai
#: collation merges (endpoints 'user'/'User', group_by 'José'/'Jose', versions 'v1'/'V1'; issue 7). Columns
#: inherit it, so comparisons are case- and accent-sensitive there as on SQLite and PostgreSQL: user names too
#: ('Admin' and 'admin' are two users on every database; the login throttle folds case itself). Migration 0002
#: converts older tables; a revision that creates a table passes these options to ``op.create_table``.
MYSQL_TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def _mysql_options(table: Table, connection, **_kw) -> None:  # noqa: ANN001
    """``before_create``: give *table* MYSQL_TABLE_OPTIONS when it is created on MySQL/MariaDB."""
    if connection.dialect.name in ("mysql", "mariadb"):
        table.dialect_kwargs.update(MYSQL_TABLE_OPTIONS)


@dataclass(frozen=True)
class Tables:
    """Every fmd table for one prefix."""

    metadata: MetaData
    prefix: str
    endpoint: Table
    request: Table
    rollup_hour: Table
    rollup_day: Table
    histogram_hour: Table
    histogram_day: Table
    unrouted_hour: Table
    rollup_group_day: Table
    histogram_group_day: Table
    rollup_ip_day: Table
    meta: Table
    batch: Table
    process: Table
    outlier: Table
    stack_line: Table
    code_line: Table
    profile: Table
    exception_group: Table
    exception_day: Table
    custom_graph: Table
    custom_graph_value: Table
    user: Table
    login_attempt: Table
    login_session: Table
    counter: Table

    @property
    def version_table(self) -> str:
        return f"{self.prefix}alembic_version"


@lru_cache(maxsize=None)
def tables_for(prefix: str) -> Tables:
    """Build (once per prefix) the MetaData holding every fmd table."""
    md = MetaData()
    p = prefix

    def fk(table: str) -> ForeignKey:
        return ForeignKey(f"{p}{table}.id", ondelete="CASCADE")

    endpoint = Table(
        f"{p}endpoint", md,
        Column("id", Integer, primary_key=True),
        Column("name", String(NAME_LEN), nullable=False, unique=True),
        Column("monitor_level", Integer, nullable=False, default=1),
        Column("time_added", UtcDateTime, nullable=False),
        Column("first_requested", UtcDateTime),
        Column("last_requested", UtcDateTime),
    )
    request = Table(
        f"{p}request", md,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("endpoint_id", Integer, fk("endpoint"), nullable=False),
        Column("duration", Double, nullable=False),
        Column("time_requested", UtcDateTime, nullable=False),
        Column("version_requested", String(VERSION_LEN), nullable=False, default=""),
        Column("group_by", String(GROUP_LEN), nullable=False, default=""),
        Column("ip", String(IP_LEN), nullable=False, default=""),
        Column("status_code", Integer, nullable=False),
        # The commit sequence of the writer batch that stored the row (fmd.store.sequence): the export API
        # pages by (commit_seq, id), which no late commit can fall behind. NULL for rows written before 0008.
        Column("commit_seq", BigInteger),
        Index(f"ix_{p}request_endpoint_time", "endpoint_id", "time_requested"),
        Index(f"ix_{p}request_time", "time_requested"),
        Index(f"ix_{p}request_commit_seq", "commit_seq", "id"),
    )
    # Hourly counters per (endpoint, hour, version, status): what every aggregate page reads.
    rollup_hour = Table(
        f"{p}rollup_hour", md,
        Column("endpoint_id", Integer, fk("endpoint"), primary_key=True),
        Column("hour", UtcDateTime, primary_key=True),
        Column("version", String(VERSION_LEN), primary_key=True),
        Column("status_code", Integer, primary_key=True),
        Column("count", BigInteger, nullable=False),
        Column("duration_sum", Double, nullable=False),
        Index(f"ix_{p}rollup_hour_hour", "hour"),
    )
    # The same counters per UTC day: ranges of months and "all time" read ~24x fewer rows (see
    # fmd.queries._counters); hourly rows only serve the partial days at a range's edges.
    rollup_day = Table(
        f"{p}rollup_day", md,
        Column("endpoint_id", Integer, fk("endpoint"), primary_key=True),
        Column("day", UtcDateTime, primary_key=True),
        Column("version", String(VERSION_LEN), primary_key=True),
        Column("status_code", Integer, primary_key=True),
        Column("count", BigInteger, nullable=False),
        Column("duration_sum", Double, nullable=False),
        Index(f"ix_{p}rollup_day_day", "day"),
    )
    # Duration histograms (see fmd.store.histogram) at two grains: hourly for narrow ranges and range
    # edges, daily so that a month's percentiles read a few thousand rows instead of a million.
    histogram_hour = Table(
        f"{p}histogram_hour", md,
        Column("endpoint_id", Integer, fk("endpoint"), primary_key=True),
        Column("hour", UtcDateTime, primary_key=True),
        Column("version", String(VERSION_LEN), primary_key=True),
        Column("status_code", Integer, primary_key=True),
        Column("bucket", Integer, primary_key=True),
        Column("count", BigInteger, nullable=False),
    )
    histogram_day = Table(
        f"{p}histogram_day", md,
        Column("endpoint_id", Integer, fk("endpoint"), primary_key=True),
        Column("day", UtcDateTime, primary_key=True),
        Column("version", String(VERSION_LEN), primary_key=True),
        Column("status_code", Integer, primary_key=True),
        Column("bucket", Integer, primary_key=True),
        Column("count", BigInteger, nullable=False),
    )
    # Per-user (group_by) and per-IP daily rollups for the endpoint pages: counts and sums per version (the
    # circle plots), and duration histograms per user (the per-user box plot). Per IP there is no
    # histogram: with hundreds of IPs it would outgrow the raw rows it summarises.
    rollup_group_day = Table(
        f"{p}rollup_group_day", md,
        Column("endpoint_id", Integer, fk("endpoint"), primary_key=True),
        Column("day", UtcDateTime, primary_key=True),
        Column("version", String(VERSION_LEN), primary_key=True),
        Column("group_by", String(GROUP_LEN), primary_key=True),
        Column("count", BigInteger, nullable=False),
        Column("duration_sum", Double, nullable=False),
    )
    histogram_group_day = Table(
        f"{p}histogram_group_day", md,
        Column("endpoint_id", Integer, fk("endpoint"), primary_key=True),
        Column("day", UtcDateTime, primary_key=True),
        Column("group_by", String(GROUP_LEN), primary_key=True),
        Column("bucket", Integer, primary_key=True),
        Column("count", BigInteger, nullable=False),
    )
    rollup_ip_day = Table(
        f"{p}rollup_ip_day", md,
        Column("endpoint_id", Integer, fk("endpoint"), primary_key=True),
        Column("day", UtcDateTime, primary_key=True),
        Column("version", String(VERSION_LEN), primary_key=True),
        Column("ip", String(IP_LEN), primary_key=True),
        Column("count", BigInteger, nullable=False),
        Column("duration_sum", Double, nullable=False),
    )
    # Requests that matched no route (404/405...): counted per status, never turned into endpoints.
    unrouted_hour = Table(
        f"{p}unrouted_hour", md,
        Column("hour", UtcDateTime, primary_key=True),
        Column("status_code", Integer, primary_key=True),
        Column("count", BigInteger, nullable=False),
    )
    # Small shared key/value state: the settings version every worker polls, the dashboard secret.
    meta = Table(
        f"{p}meta", md,
        Column("key", String(100), primary_key=True),
        Column("value", Text, nullable=False),
    )
    # One row per committed writer batch: a retried batch whose first commit did succeed is recognised
    # by its id and not written twice (exactly-once recording across ambiguous commit failures).
    batch = Table(
        f"{p}batch", md,
        Column("id", String(32), primary_key=True),
        Column("written_at", UtcDateTime, nullable=False, index=True),
    )
    # Recording health per process, upserted by each writer thread.
    process = Table(
        f"{p}process", md,
        Column("id", String(120), primary_key=True),
        Column("host", String(100), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("started_at", UtcDateTime, nullable=False),
        Column("last_seen", UtcDateTime, nullable=False),
        Column("queue_length", Integer, nullable=False, default=0),
        Column("rows_written", BigInteger, nullable=False, default=0),
        Column("dropped", BigInteger, nullable=False, default=0),
        Column("failed_writes", BigInteger, nullable=False, default=0),
        Column("internal_errors", BigInteger, nullable=False, default=0),
        # Where every submitted record went (see fmd.instrument.accounting): written rows plus these
        # plus dropped and queued add up to submitted.
        Column("submitted", BigInteger, nullable=False, default=0, server_default="0"),
        Column("unrouted", BigInteger, nullable=False, default=0, server_default="0"),
        Column("skipped", BigInteger, nullable=False, default=0, server_default="0"),
        Column("rejected", BigInteger, nullable=False, default=0, server_default="0"),
        # fmd.capture() calls outside any request: stored as exception occurrences, not as requests
        Column("events", BigInteger, nullable=False, default=0, server_default="0"),
        Column("last_error", Text),
        Column("version", String(VERSION_LEN)),
        # fmd's own mean cost per request since the process started, in µs (None before any request).
        Column("request_cost_us", Double),  # on the request path
        Column("writer_cost_us", Double),  # CPU in the writer thread
    )
    # Level-2 outliers (fmd.instrument.outliers): one row per outlier request, pointing at its raw request row
    # (retention keeps that row while the outlier stays). Endpoint, time and duration are repeated here so the
    # Outliers tab pages through one index. Text columns hold JSON, already redacted and size-capped
    # (fmd.instrument.redact); ``cut`` lists what was shortened.
    outlier = Table(
        f"{p}outlier", md,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("request_id", BigInteger, nullable=False, index=True),
        Column("endpoint_id", Integer, fk("endpoint"), nullable=False),
        Column("time_requested", UtcDateTime, nullable=False),
        Column("duration", Double, nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("version", String(VERSION_LEN), nullable=False, default=""),
        #: the endpoint's mean duration (s) when the request was judged: the tab shows duration / average
        Column("average", Double, nullable=False),
        Column("method", String(16), nullable=False, default=""),
        Column("url", Text, nullable=False),
        Column("request_values", LongText),  # JSON {"query": [[k, v]...], "form": [[k, v]...], "json": any}
        Column("request_headers", LongText),  # JSON [[name, value]...]
        Column("request_environment", LongText),  # JSON {key: value}
        #: JSON [{"file", "line", "function", "code", "app"}...], outermost first, from the view function down
        Column("stacktrace", LongText),
        Column("stack_at", Double),  # seconds into the request when the stack was taken; NULL: not taken
        Column("cpu_percent", Text),  # JSON [percent per core]
        Column("memory", Text),  # JSON {"rss": bytes, "system_percent": %, "system_available": bytes}
        Column("cut", Text),  # JSON ["headers.User-Agent: 4096 of 9000 characters kept", ...]
        Index(f"ix_{p}outlier_endpoint_time", "endpoint_id", "time_requested"),
        Index(f"ix_{p}outlier_time", "time_requested"),
    )
    # Level 3 (fmd.instrument.profiler): one row per profiled request, its tree in stack_line (pre-order, one row
    # per node: the code line, its depth and its estimated time) and the code lines stored once in code_line.
    profile = Table(
        f"{p}profile", md,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("request_id", BigInteger, nullable=False, unique=True),
        Column("endpoint_id", Integer, fk("endpoint"), nullable=False),
        Column("time_requested", UtcDateTime, nullable=False),
        Column("duration", Double, nullable=False),
        Column("version", String(VERSION_LEN), nullable=False, default=""),
        Column("samples", Integer, nullable=False),  # stacks sampled while it ran
        Column("interval_ms", Double),  # the achieved mean sampling interval; NULL without samples
        Column("cut", Text),  # what was left out (too many distinct stacks, too deep), or NULL
        Index(f"ix_{p}profile_endpoint_time", "endpoint_id", "time_requested"),
        Index(f"ix_{p}profile_time", "time_requested"),
    )
    code_line = Table(
        f"{p}code_line", md,
        Column("id", Integer, primary_key=True),
        Column("filename", String(250), nullable=False),
        Column("line_number", Integer, nullable=False),
        Column("function_name", String(250), nullable=False),
        Column("code", String(250), nullable=False),
        UniqueConstraint("filename", "line_number", "function_name", name=f"uq_{p}code_line"),
    )
    stack_line = Table(
        f"{p}stack_line", md,
        Column("request_id", BigInteger, primary_key=True),
        Column("position", Integer, primary_key=True),
        Column("code_id", Integer, fk("code_line"), nullable=False),
        Column("indent", Integer, nullable=False),
        Column("duration", Double, nullable=False),
        Column("samples", Integer, nullable=False, default=0, server_default="0"),
    )
    # Unhandled (and fmd.capture'd) exceptions, grouped app-wide by fingerprint: the type plus the application
    # frames that raised it, line numbers left out (fmd.instrument.tracebacks). Counts and times add up over
    # every occurrence; ``traceback`` is the latest full one (JSON: frames, source, locals; redacted, capped),
    # refreshed at most once a minute per group and process and pruned with the outliers' age.
    exception_group = Table(
        f"{p}exception_group", md,
        Column("id", Integer, primary_key=True),
        Column("fingerprint", String(64), nullable=False, unique=True),
        Column("exception_type", String(250), nullable=False),
        Column("location", String(500), nullable=False, default=""),  # "file:function" of the raising app frame
        Column("message", Text),  # the latest occurrence's, capped
        Column("count", BigInteger, nullable=False, default=0),
        Column("first_seen", UtcDateTime, nullable=False),
        Column("last_seen", UtcDateTime, nullable=False),
        Column("last_version", String(VERSION_LEN), nullable=False, default=""),
        #: set by an admin; cleared by an occurrence in a version not in ``resolved_versions``
        Column("resolved_at", UtcDateTime),
        Column("resolved_versions", Text),  # JSON [version...] the group had been seen in when resolved
        Column("traceback", LongText),
        Column("traceback_at", UtcDateTime),
        Index(f"ix_{p}exception_group_last_seen", "last_seen"),
    )
    # Occurrences per group, UTC day, endpoint and version: the sparkline, the endpoints and versions affected,
    # the filters. endpoint_id 0: captured outside any request (fmd.capture in a job); no foreign key for that.
    exception_day = Table(
        f"{p}exception_day", md,
        Column("group_id", Integer, fk("exception_group"), primary_key=True),
        Column("day", UtcDateTime, primary_key=True),
        Column("endpoint_id", Integer, primary_key=True, autoincrement=False),
        Column("version", String(VERSION_LEN), primary_key=True),
        Column("count", BigInteger, nullable=False),
        Index(f"ix_{p}exception_day_endpoint", "endpoint_id", "day"),
    )
    # Custom graphs (fmd.graphs): one row per graph title, with what its page shows first (kept here so the
    # list never scans the values), and one row per tick. The tick row is also the tick's claim: the process
    # whose insert of (graph_id, tick) lands runs the function, and then fills in the outcome (see
    # fmd.store.custom_graphs); a claim and its value cannot drift apart, and retention prunes one table.
    custom_graph = Table(
        f"{p}custom_graph", md,
        Column("id", Integer, primary_key=True),
        Column("title", String(250), nullable=False, unique=True),
        Column("schedule", String(250), nullable=False, default=""),  # human readable, as last registered
        Column("time_added", UtcDateTime, nullable=False),
        Column("runs", BigInteger, nullable=False, default=0, server_default="0"),  # ticks that stored a value
        Column("failures", BigInteger, nullable=False, default=0, server_default="0"),  # raised, bad, skipped
        Column("last_value", Double),
        Column("last_value_at", UtcDateTime),  # the tick of the last value
        Column("last_error", Text),
        Column("last_error_at", UtcDateTime),
    )
    custom_graph_value = Table(
        f"{p}custom_graph_value", md,
        Column("graph_id", Integer, fk("custom_graph"), primary_key=True),
        Column("tick", UtcDateTime, primary_key=True),  # the scheduled instant (naive UTC), not the run's end
        Column("outcome", String(10), nullable=False),  # running, ok, error, skipped
        Column("value", Double),  # set when outcome is ok
        Column("error", Text),  # why not, when outcome is error or skipped
        Column("duration", Double),  # seconds the function ran
        Column("claimed_by", String(120), nullable=False),  # host:pid:nonce of the process that ran it
        Column("claimed_at", UtcDateTime, nullable=False),
    )
    user = Table(
        f"{p}user", md,
        Column("id", Integer, primary_key=True),
        Column("username", String(150), nullable=False, unique=True),
        Column("password_hash", String(300), nullable=False),
        Column("is_admin", Boolean, nullable=False, default=False),
        Column("from_config", Boolean, nullable=False, default=False),
        Column("created_at", UtcDateTime, nullable=False),
    )
    login_attempt = Table(
        f"{p}login_attempt", md,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("key", String(64), nullable=False),
        Column("time", UtcDateTime, nullable=False),
        Index(f"ix_{p}login_attempt_key_time", "key", "time"),
    )
    # One row per dashboard login (fmd.auth.sessions). The id is the SHA-256 of the token in the session
    # cookie, so the table alone opens no session; revoking a session deletes its row.
    login_session = Table(
        f"{p}login_session", md,
        Column("id", String(64), primary_key=True),
        Column("user_id", Integer, fk("user"), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("last_seen", UtcDateTime, nullable=False),
        Index(f"ix_{p}login_session_user", "user_id"),
        Index(f"ix_{p}login_session_last_seen", "last_seen"),
    )
    # Named counters taken as the last step of a transaction (fmd.store.sequence): "request" numbers the writer
    # batches in commit order.
    counter = Table(
        f"{p}counter", md,
        Column("name", String(50), primary_key=True),
        Column("value", BigInteger, nullable=False),
    )
    for table in md.tables.values():
        # Declared when a table is created on MySQL/MariaDB, not here: naming a dialect's options on a Table
        # makes SQLAlchemy import that dialect to check them, in every worker (issue 8 item 5).
        event.listen(table, "before_create", _mysql_options)
    return Tables(md, p, endpoint, request, rollup_hour, rollup_day, histogram_hour, histogram_day,
                  unrouted_hour, rollup_group_day, histogram_group_day, rollup_ip_day, meta,
                  batch, process, outlier, stack_line, code_line, profile, exception_group, exception_day, custom_graph,
                  custom_graph_value, user, login_attempt, login_session, counter)
