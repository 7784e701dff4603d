"""The data table behind each chart: the same rows, as plain HTML for readers without JavaScript or a screen.

Every chart on the dashboard has a ``<details>`` table below it (``fmd/macros/_chart.html``), built here from the
rows the chart was drawn from. A table shows only columns a person reads (endpoint, day, requests, durations),
chosen per chart kind, never the fields that only steer drawing (``rank``, ``order``, ``other``, ids, links), and
every cell is formatted on the server (thousands separators, milliseconds with sensible decimals, percentages), so
the template only lays it out. Long tables stop at ``LIMIT`` rows; the CSV download has them all.

No Flask and no database here: rows in, a ``Table`` out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

#: At most this many rows are rendered; the caption's note points to the CSV for the rest.
LIMIT = 500


def count(value: Any) -> str:
    """1234567 -> "1,234,567"."""
    return f"{int(value):,}"


def ms(value: Any) -> str:
    """Milliseconds with the decimals that matter at their size: "0.42", "8.25", "83.2", "1,234"."""
    v = float(value)
    if abs(round(v, 1)) >= 100:
        return f"{v:,.0f}"
    if abs(round(v, 2)) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def short_duration(value_ms: Any) -> str:
    """A duration in ms as a short label with its unit: "0.42 ms", "8.3 ms", "83 ms", "1.2 s", "75 s"."""
    v = float(value_ms)
    # Thresholds on the rounded value, so 9.96 reads "10 ms", not "10.0 ms", and 999.6 reads "1.0 s".
    if round(v, 2) < 1:
        return f"{v:.2f} ms"
    if round(v, 1) < 10:
        return f"{v:.1f} ms"
    if round(v) < 1000:
        return f"{v:.0f} ms"
    seconds = v / 1000
    return f"{seconds:.1f} s" if round(seconds, 1) < 10 else f"{seconds:,.0f} s"


def percent(share: Any) -> str:
    """0.1234 -> "12.3 %"."""
    return f"{float(share) * 100:.1f} %"


def number(value: Any) -> str:
    """Any measured value, six significant digits: "1,234.57", "0.000123"."""
    return f"{float(value):,.6g}"


def one_decimal(value: Any) -> str:
    return f"{float(value):,.1f}"


def hour(value: Any) -> str:
    """An hour of the day, 7 -> "07:00" (text stays as it is)."""
    return f"{int(value):02d}:00" if isinstance(value, int) else str(value)


def text(value: Any) -> str:
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column: where its value comes from, its heading, how a cell is written, whether it is a number."""

    key: str
    label: str
    fmt: Callable[[Any], str] = text
    numeric: bool = False
    #: Where the value comes from when it is not ``row[key]`` (e.g. a UTC time shown in the time zone).
    get: Callable[[Mapping], Any] | None = None

    def cell(self, row: Mapping) -> str:
        value = self.get(row) if self.get else row.get(self.key)
        return "–" if value is None else self.fmt(value)


def _num(key: str, label: str, fmt: Callable[[Any], str] = count) -> Column:
    return Column(key, label, fmt, numeric=True)


@dataclass(frozen=True)
class Table:
    """A chart's data table: every cell already a string; ``total`` counts the rows before the cap."""

    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


def build(rows: Iterable[Mapping], columns: Sequence[Column], caption: str, limit: int | None = None,
          keep: Callable[[Mapping], bool] | None = None) -> Table:
    """A table of *rows* (those *keep* accepts) with the *columns* the rows have, at most *limit* (LIMIT) rows.

    A column is kept when the first row has its key (or it computes its value): chart rows gain fields over time,
    and a table should show what is there rather than fail.
    """
    kept = [row for row in rows if keep is None or keep(row)]
    first = kept[0] if kept else {}
    shown = tuple(c for c in columns if c.get is not None or c.key in first) if kept else tuple(columns)
    body = tuple(tuple(c.cell(row) for c in shown) for row in kept[:LIMIT if limit is None else limit])
    return Table(caption, shown, body, len(kept))


_BOX = (_num("p5", "p5 (ms)", ms), _num("q1", "p25 (ms)", ms), _num("median", "Median (ms)", ms),
        _num("q3", "p75 (ms)", ms), _num("p95", "p95 (ms)", ms))
_REQUESTS = _num("hits", "Requests")
_ENDPOINT = Column("endpoint", "Endpoint")
_DAY = Column("day", "Day")
_TIME = Column("time", "Time")
#: Charts over time name their bucket "day" ("2024-03-05") or "hour" ("2024-03-05 14:00"; the heatmap's hour of
#: day, 14, shows as "14:00"), whichever the range's resolution is; a table shows the one its rows have.
_HOUR = Column("hour", "Hour", hour)
_HOURLY = (_DAY, _HOUR, _TIME, _REQUESTS)


def _nonzero(row: Mapping) -> bool:
    return bool(row.get("hits"))


#: Per chart kind: (caption, where ``{tz}`` is the time zone; columns; which rows). Hourly load lists only the hours
#: with requests: a 7-day grid is 168 rows of mostly zeros, and 24 hour columns do not fit a phone.
KINDS: dict[str, tuple[str, tuple[Column, ...], Callable[[Mapping], bool] | None]] = {
    "hourly": ("Requests per day and hour ({tz}), the hours with requests", _HOURLY, _nonzero),
    "versions": ("Requests per endpoint and version", (_ENDPOINT, Column("version", "Version"), _REQUESTS,
                                                      _num("share", "Share of the endpoint", percent)), None),
    "daily": ("Requests per endpoint over time ({tz})", (_DAY, _HOUR, _TIME, _ENDPOINT, _REQUESTS), None),
    "performance": ("Durations per endpoint", (_ENDPOINT, _REQUESTS, *_BOX), None),
    "status_codes": ("Responses per endpoint and status code over time ({tz})",
                     (_ENDPOINT, _DAY, _HOUR, _TIME, Column("status", "Status"), _REQUESTS), None),
    "users": ("Mean duration per user and version", (Column("user", "User"), Column("version", "Version"),
                                                    _REQUESTS, _num("mean_ms", "Mean (ms)", ms)), None),
    "ips": ("Mean duration per IP address and version", (Column("ip", "IP address"), Column("version", "Version"),
                                                        _REQUESTS, _num("mean_ms", "Mean (ms)", ms)), None),
    "version_performance": ("Durations per version", (Column("version", "Version"), _REQUESTS, *_BOX), None),
    "user_performance": ("Durations per user", (Column("user", "User"), _REQUESTS, *_BOX), None),
    "endpoint_status": ("Responses per status code over time ({tz})", (_TIME, Column("status", "Status"), _REQUESTS),
                        None),
}


def for_kind(kind: str, rows: Sequence[Mapping], tz: str, about: str = "") -> Table:
    """The table of one chart kind (a key of KINDS) from its chart rows; *about* (e.g. an endpoint) leads the
    caption."""
    caption, columns, keep = KINDS[kind]
    caption = caption.format(tz=tz)
    if about:
        caption = f"{about}: {caption[0].lower()}{caption[1:]}"
    return build(rows, columns, caption, keep=keep)


def for_app_chart(name: str, rows: Sequence[Mapping], tz: str) -> Table:
    """The table of an application-wide chart page (hourly, versions, daily, performance, status_codes)."""
    return for_kind(name, rows, tz)


#: Endpoint tabs whose table kind differs from the tab's name.
_ENDPOINT_KINDS = {"status_codes": "endpoint_status"}


def for_endpoint_tab(name: str, rows: Sequence[Mapping], endpoint: str, tz: str) -> Table | None:
    """The table of one endpoint tab's chart, its caption naming the endpoint; None for a tab without one."""
    kind = _ENDPOINT_KINDS.get(name, name)
    if kind not in KINDS:
        return None
    return for_kind(kind, rows, tz, about=endpoint)


def _local(key: str, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> Callable[[Mapping], str | None]:
    zone = ZoneInfo(tz)

    def get(row: Mapping) -> str | None:
        moment = row.get(key)
        if moment is None:
            return None
        if isinstance(moment, str):  # some drivers hand MIN() of a DATETIME back as text
            moment = datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(zone).strftime(fmt)

    return get


def for_custom_graph(title: str, rows: Sequence[Mapping], tz: str, bucketed: bool) -> Table:
    """A custom graph's values (``queries.custom_graphs.values`` rows, naive UTC ``time``), local times."""
    when = Column("time", f"From ({tz})" if bucketed else f"Time ({tz})", get=_local("time", tz))
    if bucketed:
        columns = (when, _num("value", "Mean", number), _num("low", "Min", number), _num("high", "Max", number),
                   _num("count", "Values"))
    else:
        columns = (when, _num("value", "Value", number))
    return build(rows, columns, f"{title}: values over time")


def for_outliers_cpu(rows: Sequence[Mapping]) -> Table:
    """CPU use per core (``queries.outliers.cpu_boxes`` rows) when the outliers were captured."""
    pct = (("min", "Min (%)"), ("q1", "p25 (%)"), ("median", "Median (%)"), ("q3", "p75 (%)"), ("max", "Max (%)"),
           ("mean", "Mean (%)"))
    columns = (Column("core", "CPU core"), _num("outliers", "Outliers"), *(_num(k, label, one_decimal)
                                                                          for k, label in pct))
    return build(rows, columns, "CPU use per core when the outliers were captured")


def for_outliers_memory(rows: Sequence[Mapping], tz: str) -> Table:
    """Process RSS and system memory per outlier (``queries.outliers.memory_points`` rows)."""
    columns = (Column("time_requested", f"Time ({tz})", get=_local("time_requested", tz)),
               _num("rss_mb", "Process RSS (MB)", one_decimal), _num("system_percent", "System memory used (%)",
                                                                     one_decimal))
    return build(rows, columns, "Memory when the outliers were captured")


def for_profile_diff(rows: Sequence[Mapping]) -> Table:
    """Every frame of a profile comparison (``fmd.trees.diff`` rows, depth first): time and share before/after."""
    def indented(row: Mapping) -> str:  # no-break spaces: HTML would fold plain ones
        return "\u00a0\u00a0" * int(row.get("depth") or 0) + str(row["label"])

    columns = (Column("label", "Frame", get=indented), _num("depth", "Depth"),
               _num("base_mean", "Before (ms per request)", ms), _num("other_mean", "After (ms per request)", ms),
               _num("change_s", "Change (ms)", ms), _num("base_share", "Share before", percent),
               _num("other_share", "Share after", percent))
    seconds = ("base_mean", "other_mean", "change_s")
    in_ms = [{**row, **{k: row[k] * 1000 for k in seconds if row.get(k) is not None}} for row in rows]
    return build(in_ms, columns, "Frames before and after, depth first")
