"""Commit sequence numbers: the order in which writer batches became visible, stored on every request row.

The problem: request ids are assigned at insert. With several writers (gunicorn workers, hosts) on PostgreSQL or
MariaDB, a transaction holding ids 100-199 can commit after one holding 200-299; a reader that saw 200-299 and
remembers "id > 299" never sees 100-199. Ids say in what order rows were *inserted*, not *made visible*.

The fix: each batch that stores request rows takes the next number of the ``request`` counter row (an UPDATE
``value = value + 1``, then reading it back) **after** its other work, and stores the number in ``commit_seq`` of
its request rows, which it inserts right after. The counter row's lock is held from that UPDATE until the
transaction ends, so:

1. Numbers are handed out in commit order: batch B can take number k+1 only after the holder of k ended its
   transaction. A batch that rolls back also rolls back its UPDATE, so its number is taken again by the next
   batch: committed numbers have no holes.
2. Hence when a reader's snapshot (one SELECT on PostgreSQL's READ COMMITTED, one transaction on MariaDB's
   REPEATABLE READ, the database lock on SQLite) contains any row of batch k, it contains every row of every batch
   j < k (they committed before batch k took its number) and every row of batch k (one transaction).
3. So reading in ``(commit_seq, id)`` order and remembering the last key read, "key > last" can never skip a row
   that commits later: a later commit has a larger commit_seq than anything already read. The key is unique,
   so nothing is read twice.

The cost: writers queue on the counter only from the UPDATE to their commit (the bulk insert of the request rows
and the commit itself); rollups, endpoints, outliers and profiles are written before it. Every writer takes the
counter last, after the endpoint and rollup rows, so it adds no lock cycle. Rows written before migration 0008
(or by an older fmd during a rolling upgrade) have no number: the API serves them first, by id.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from .models import Tables

#: The counter that numbers writer batches holding request rows.
REQUEST_COUNTER = "request"


def take_next(conn: Connection, t: Tables, name: str = REQUEST_COUNTER) -> int:
    """The next number of counter *name*, locked until the caller's transaction ends; call it last."""
    c = t.counter
    stmt = update(c).where(c.c.name == name).values(value=c.c.value + 1)
    if conn.execute(stmt).rowcount == 0:  # a table created without the migration's row (metadata.create_all)
        from .writes import insert_ignore

        insert_ignore(conn, c, [{"name": name, "value": 0}], ("name",))
        conn.execute(stmt)
    return int(conn.execute(select(c.c.value).where(c.c.name == name)).scalar_one())
