"""The demo: a small host application with fmd bound, and an example to copy.

    python wsgi.py          # http://127.0.0.1:5000, dashboard at http://127.0.0.1:5000/dashboard (admin / admin)
    python wsgi.py --port 8000   # another port (or PORT=8000; the flag wins); --host 0.0.0.0 listens on all
    gunicorn wsgi:app       # the same under gunicorn

Like real hosts, the app has its own Flask-SQLAlchemy database (users and notes, ``instance/host.db``) and its
own Flask-Login login (``demo`` / ``demo``, user id 1). fmd needs none of that: it keeps its own engine, tables
(``instance/fmd.db``) and dashboard login next to them, and records every request of the app, telling users
apart by the host's logged-in user id.

On an empty fmd database the demo first seeds a month of synthetic traffic, so every dashboard page has data.
(A ``flask`` command other than ``flask run`` does not seed: ``flask --app wsgi fmd seed-demo`` can fill the
database itself.)

Environment: ``DEMO_INSTANCE_PATH`` (where both databases live; default ``./instance``), ``DEMO_SEED_REQUESTS``
(default 50000; 0 seeds nothing), ``SECRET_KEY`` (the host's session secret), ``PORT`` (``python wsgi.py``'s port).
"""

from __future__ import annotations

import argparse
import math
import os
import posixpath
import random
import sys
import time
from typing import Mapping, Sequence
from urllib.parse import unquote, urlsplit

from flask import Blueprint, Flask, abort, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_sqlalchemy import SQLAlchemy
from jinja2 import DictLoader
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.security import check_password_hash, generate_password_hash

import fmd

DEFAULT_PORT = 5000


def _port(text: str) -> int:
    """A TCP port number, 1 to 65535 (argparse reports anything else as a usage error naming the value)."""
    port = int(text) if text.strip().isascii() and text.strip().isdigit() else -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 65535, not {text!r}")
    return port


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """``python wsgi.py``'s options: ``--port`` (default: ``PORT`` from *environ*, else 5000) and ``--host``.

    A bad value exits with status 2 and a message naming it (argparse's usage error), before anything starts.
    """
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python wsgi.py", description="Serve the fmd demo app.")
    parser.add_argument("--port", type=_port, default=None,
                        help=f"port to listen on (default: the PORT environment variable, else {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    args = parser.parse_args(argv)
    if args.port is None:
        env_port = environ.get("PORT", "").strip()
        try:
            args.port = _port(env_port) if env_port else DEFAULT_PORT
        except argparse.ArgumentTypeError as exc:
            parser.error(f"the PORT environment variable {exc}")
    return args


# Read the command line first: a bad --port is reported at once, not after seeding a month of traffic.
CLI = parse_args() if __name__ == "__main__" else None

app = Flask(__name__, instance_path=os.path.abspath(os.environ.get("DEMO_INSTANCE_PATH") or "instance"))
os.makedirs(app.instance_path, exist_ok=True)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "demo-only: set SECRET_KEY in production")
app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{os.path.join(app.instance_path, 'host.db')}"

# ------------------------------------------------------------------------------------- the host's own data

db = SQLAlchemy(app)
login_manager = LoginManager(app)
login_manager.login_view = "login"


class User(UserMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(80), unique=True, nullable=False)
    password_hash = db.Column(db.String(200), nullable=False)


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey(User.id), nullable=False)
    text = db.Column(db.String(500), nullable=False)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


with app.app_context():
    try:
        db.create_all()
        if db.session.get(User, 1) is None:
            db.session.add(User(id=1, name="demo", password_hash=generate_password_hash("demo")))
            db.session.commit()
    except (IntegrityError, OperationalError):  # another gunicorn worker got there first
        db.session.rollback()

#: Things to search and list: 240 products, the same in every process.
PRODUCTS = [f"{colour} {thing}" for colour in ("red", "blue", "green", "black", "white", "yellow", "grey", "pink")
            for thing in ("mug", "lamp", "chair", "desk", "shelf", "clock", "vase", "rug", "bowl", "plate",
                          "pillow", "frame", "mirror", "stool", "basket", "candle", "jar", "tray", "box", "bench",
                          "kettle", "teapot", "blanket", "curtain", "hook", "knife", "spoon", "glass", "bottle",
                          "table")]


def busy(seconds: float) -> int:
    """Burn CPU for *seconds* (the stand-in for real work: rendering, computing, serialising)."""
    deadline, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline:
        n += 1
    return n


# ------------------------------------------------------------------------------------------- the views

@app.route("/")
def index() -> str:
    """Fast: a page with a link to everything."""
    return render_template("index.html")


def local_path(target: str) -> str | None:
    """*target* when it is a path on this site, normalised; None for anything a browser could take elsewhere."""
    parts = urlsplit(target)
    path = unquote(parts.path)
    # Browsers read a backslash as "/" (so "/<backslash>evil.example" is another host) and resolve "..",
    # "%2e%2e" and "//" in paths: refuse the first, check the path they would go to.
    if (parts.scheme or parts.netloc or not target.startswith("/") or "\\" in target or "\\" in path
            or not target.isprintable() or not path.isprintable()):
        return None
    normal = posixpath.normpath(path)
    if normal.startswith("//"):
        return None
    if normal == path or normal + "/" == path:
        return target
    return normal + (f"?{parts.query}" if parts.query else "")


@app.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    error = None
    if request.method == "POST":
        user = db.session.execute(db.select(User).filter_by(name=request.form.get("name", ""))).scalar()
        if user and check_password_hash(user.password_hash, request.form.get("password", "")):
            login_user(user)
            return redirect(local_path(request.args.get("next", "")) or url_for("notes"))
        error = "Wrong name or password."
    return render_template("login.html", error=error)


@app.route("/logout", methods=["POST"])
def logout():  # noqa: ANN201
    logout_user()
    return redirect(url_for("index"))


@app.route("/notes", methods=["GET", "POST"])
@login_required
def notes():  # noqa: ANN201
    """The logged-in user's notes, in the host's own database."""
    if request.method == "POST" and request.form.get("text", "").strip():
        db.session.add(Note(user_id=int(current_user.get_id()), text=request.form["text"].strip()[:500]))
        db.session.commit()
        return redirect(url_for("notes"))
    mine = db.session.execute(db.select(Note).filter_by(user_id=int(current_user.get_id()))
                              .order_by(Note.id.desc())).scalars().all()
    return render_template("notes.html", notes=mine)


@app.route("/search")
def search():  # noqa: ANN201
    """Query arguments: /search?q=blue&limit=5."""
    query = request.args.get("q", "").lower()
    limit = request.args.get("limit", 20, type=int)
    busy(0.02 + 0.0004 * len(PRODUCTS))  # a pretend full-text index
    return jsonify(query=query, results=[p for p in PRODUCTS if query in p][: max(limit, 0)])


@app.route("/slow")
def slow() -> str:
    """Slow: about 200 ms of CPU work."""
    busy(0.2)
    return render_template("message.html", message="That took a while (about 200 ms of work).")


@app.route("/variable")
def variable() -> str:
    """Variable: anywhere from a few ms to about a second."""
    seconds = min(random.lognormvariate(math.log(0.05), 0.9), 1.0)
    busy(seconds)
    return render_template("message.html", message=f"This one took {seconds * 1000:.0f} ms.")


@app.route("/report")
def report() -> str:
    """Very slow: waits about a second on a (pretend) reporting backend."""
    time.sleep(0.9)
    return render_template("message.html", message="Your monthly report is ready.")


@app.route("/fail")
def fail() -> str:
    """Always raises: the client gets a 500, fmd records it."""
    raise RuntimeError("the demo's failing endpoint failed, as it always does")


api = Blueprint("api", __name__, url_prefix="/api")


@api.route("/items")
def items():  # noqa: ANN201
    page = request.args.get("page", 1, type=int)
    return jsonify(page=page, items=PRODUCTS[(page - 1) * 20: page * 20])


@api.route("/items/<int:item_id>")
def item(item_id: int):  # noqa: ANN201
    if not 0 <= item_id < len(PRODUCTS):
        abort(404)
    return jsonify(id=item_id, name=PRODUCTS[item_id])


app.register_blueprint(api)

app.jinja_loader = DictLoader({  # single-file demo: the templates live here instead of in templates/
    "layout.html": """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fmd demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}</style></head>
<body><nav><a href="{{ url_for('index') }}">Home</a> ·
{% if current_user.is_authenticated %}signed in as {{ current_user.name }}
<form method="post" action="{{ url_for('logout') }}" style="display:inline"><button>Log out</button></form>
{% else %}<a href="{{ url_for('login') }}">Log in</a>{% endif %} · <a href="/dashboard/">Dashboard</a></nav>
<main>{% block main %}{% endblock %}</main></body></html>""",
    "index.html": """{% extends "layout.html" %}{% block main %}<h1>fmd demo</h1>
<p>Every request to this app is recorded by fmd. Click around, then open the <a href="/dashboard/">dashboard</a>
(admin / admin).</p><ul>
<li><a href="{{ url_for('notes') }}">Your notes</a> (log in as demo / demo)</li>
<li><a href="{{ url_for('search', q='blue', limit=5) }}">Search</a> (query arguments)</li>
<li><a href="{{ url_for('api.items', page=2) }}">API: items</a> and
    <a href="{{ url_for('api.item', item_id=7) }}">one item</a> (a blueprint)</li>
<li><a href="{{ url_for('slow') }}">Slow</a>, <a href="{{ url_for('variable') }}">variable</a>,
    <a href="{{ url_for('report') }}">very slow</a></li>
<li><a href="{{ url_for('fail') }}">Failing</a> (a 500)</li></ul>{% endblock %}""",
    "login.html": """{% extends "layout.html" %}{% block main %}<h1>Log in to the demo app</h1>
{% if error %}<p role="alert">{{ error }}</p>{% endif %}
<form method="post"><label>Name <input name="name" value="demo"></label>
<label>Password <input name="password" type="password"></label> <button>Log in</button></form>{% endblock %}""",
    "notes.html": """{% extends "layout.html" %}{% block main %}<h1>Your notes</h1>
<form method="post"><input name="text" maxlength="500" required> <button>Add</button></form>
<ul>{% for note in notes %}<li>{{ note.text }}</li>{% else %}<li>No notes yet.</li>{% endfor %}</ul>{% endblock %}""",
    "message.html": """{% extends "layout.html" %}{% block main %}<p>{{ message }}</p>{% endblock %}""",
})

# ----------------------------------------------------------------------------------------- fmd, bound


def current_user_id() -> str:
    """Who made the request, for the dashboard's per-user views: the host's own logged-in user."""
    return current_user.get_id() if current_user.is_authenticated else "anonymous"


fmd.config.group_by = current_user_id
fmd.config.app_version = "1.2"  # the seeded traffic ran versions 1.0, 1.1 and 1.2: live traffic continues it
fmd_state = fmd.bind(app)  # database: sqlite:///<instance>/fmd.db


def seed_demo_traffic(requests: int, days: int = 30) -> None:
    """Fill an empty fmd database with synthetic traffic, so every dashboard page has data at once."""
    from fmd.store.seed import DatabaseNotEmpty, seed_demo

    try:
        result = seed_demo(fmd_state.store, requests, days, level_of=fmd_state.levels.table)
    except DatabaseNotEmpty:
        return  # seeded before, or real traffic recorded: leave it alone
    print(f"fmd demo: seeded {result.requests:,} requests over {days} days in {result.seconds:.1f} s",
          file=sys.stderr)


# Seed when serving (python wsgi.py, gunicorn wsgi:app, flask run), not when another `flask` command imports
# this module: `flask --app wsgi fmd seed-demo` must find the database empty.
SEED_REQUESTS = int(os.environ.get("DEMO_SEED_REQUESTS", "50000"))
if SEED_REQUESTS > 0 and (os.environ.get("FLASK_RUN_FROM_CLI") != "true" or "run" in sys.argv[1:]):
    seed_demo_traffic(SEED_REQUESTS)

if CLI is not None:
    app.run(host=CLI.host, port=CLI.port)
