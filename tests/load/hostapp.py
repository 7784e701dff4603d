"""The host app the load tests serve with gunicorn: a few endpoints, fmd bound.

fmd reads its settings from the environment (FMD_DATABASE, FMD_TABLE_PREFIX, FMD_FLUSH_INTERVAL,
FMD_SYNC_INTERVAL, ...), so the tests configure each gunicorn by its environment alone. ``group_by`` is the
worker's pid, so a test can tell from the stored rows which workers recorded.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request

import fmd

app = Flask("hostapp")


@app.route("/")
def index() -> str:
    return "hello"


@app.route("/items/<int:item_id>")
def item(item_id: int):  # noqa: ANN201
    return jsonify(id=item_id, name=f"item {item_id}")


@app.route("/search")
def search() -> str:
    return f"results for {request.args.get('q', '')!r}"


@app.route("/quiet")
def quiet() -> str:
    return "shh"


fmd.config.group_by = lambda: str(os.getpid())
fmd.bind(app)
