"""Application code, a running thread's stack, exception fingerprints, full tracebacks and safe reprs (issue 9)."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
import threading
from pathlib import Path
from types import ModuleType

import flask
import pytest

import fmd.instrument.hooks
from fmd.instrument.tracebacks import AppCode, fingerprint, full_traceback, safe_repr, stack_of, summary

VIEWS = """
    import json


    def run(fn, *args):
        try:
            fn(*args)
        except Exception as exc:
            return exc


    def handler(message):
        raise ValueError(message)


    def other(message):
        raise ValueError(message)


    def typed(message):
        raise KeyError(message)


    def parse(text):
        return json.loads(text)


    def deep(n):
        if n == 0:
            raise RuntimeError("bottom")
        return deep(n - 1)


    def login(user):
        password = "hunter2"
        attempts = 3
        data = {"password": "s3cret", "n": list(range(1000))}
        return check(user, password)


    def check(user, password):
        try:
            int(user)
        except ValueError as err:
            raise LookupError("no such user " + user) from err


    def stuck_here(ready, release):
        ready.set()
        release.wait(10)


    def outer(ready, release):
        stuck_here(ready, release)
"""

counter = iter(range(10**6))


def load(directory: Path, source: str = VIEWS, name: str = "views") -> ModuleType:
    """Writes *source* to directory/name.py and imports it under a unique module name."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(f"fmd_tb_app_{next(counter)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def views(tmp_path, monkeypatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(tmp_path / "app"))
    return load(tmp_path / "app")


# --- AppCode --------------------------------------------------------------------------------------------------

def test_libraries_and_fmd_are_not_app_code_tmp_files_are(views):
    app = AppCode()
    assert not app.is_app(json.__file__)
    assert not app.is_app(flask.__file__)
    assert not app.is_app(fmd.instrument.hooks.__file__)
    assert not app.is_app(__file__.replace("tests/instrument", "fmd/instrument"))
    for pseudo in ("<frozen importlib._bootstrap>", "<string>", "<stdin>", ""):
        assert not app.is_app(pseudo)
    assert app.is_app(views.__file__)
    assert app.is_app(views.__file__)  # cached answer is the same


def test_a_site_packages_directory_anywhere_is_library_code(tmp_path):
    app = AppCode()
    assert not app.is_app(str(tmp_path / "venv/lib/python3.11/site-packages/lib/x.py"))
    assert not app.is_app(str(tmp_path / "usr/lib/python3/dist-packages/lib/x.py"))
    assert app.is_app(str(tmp_path / "project/site-packages-notes/x.py"))


def test_app_paths_restrict_to_the_given_paths(tmp_path):
    app = AppCode([str(tmp_path / "mine")])
    assert app.is_app(str(tmp_path / "mine/views.py"))
    assert app.is_app(str(tmp_path / "mine/sub/models.py"))
    assert not app.is_app(str(tmp_path / "theirs/views.py"))
    assert not app.is_app(str(tmp_path / "mine-too/views.py"))  # a prefix of the name is not "under"
    assert not app.is_app(json.__file__)


def test_app_paths_nearest_root_wins(tmp_path):
    # A project root given as APP_PATHS still leaves its virtualenv out...
    app = AppCode([str(tmp_path)])
    assert app.is_app(str(tmp_path / "views.py"))
    assert not app.is_app(str(tmp_path / ".venv/lib/python3.11/site-packages/flask/app.py"))
    # ...and an app installed into site-packages counts when named.
    installed = tmp_path / "venv/lib/python3.11/site-packages/myapp"
    app = AppCode([str(installed)])
    assert app.is_app(str(installed / "views.py"))
    assert not app.is_app(str(installed.parent / "flask/app.py"))


def test_relative_paths(tmp_path):
    app = AppCode([str(tmp_path / "root")])
    assert app.relative(str(tmp_path / "root/pkg/views.py")) == "pkg/views.py"
    assert app.relative(str(tmp_path / "elsewhere/models.py")) == "models.py"
    assert app.relative("<string>") == "<string>"


# --- stack_of --------------------------------------------------------------------------------------------------

@pytest.fixture
def blocked_thread(views):
    ready, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=views.outer, args=(ready, release), daemon=True)
    thread.start()
    assert ready.wait(5)
    yield thread
    release.set()
    thread.join(5)


def test_stack_of_a_blocked_thread_names_its_functions_outermost_first(views, blocked_thread):
    frame = sys._current_frames()[blocked_thread.ident]
    stack = stack_of(frame, AppCode(), stop={threading.Thread.run.__code__})
    functions = [entry["function"] for entry in stack]
    assert functions[:2] == ["outer", "stuck_here"]
    assert "Event.wait" in functions  # the library frames below it, co_qualname
    assert not any("Thread" in function for function in functions)  # stopped at Thread.run, which is left out
    stuck = stack[1]
    assert stuck["file"] == views.__file__ and stuck["app"] is True
    assert stuck["code"] == "release.wait(10)"
    assert stuck["line"] == views.stuck_here.__code__.co_firstlineno + 2
    assert all(entry["app"] is False for entry in stack[2:])
    assert set(stack[0]) == {"file", "line", "function", "code", "app"}


def test_stack_of_without_stop_walks_to_the_threads_bottom(blocked_thread):
    frame = sys._current_frames()[blocked_thread.ident]
    functions = [entry["function"] for entry in stack_of(frame, AppCode())]
    assert functions[0] == "Thread._bootstrap"
    assert "Thread.run" in functions


def test_stack_of_limit_keeps_the_innermost_frames_behind_a_marker(blocked_thread):
    frame = sys._current_frames()[blocked_thread.ident]
    whole = stack_of(frame, AppCode())
    cut = stack_of(frame, AppCode(), limit=2)
    assert len(cut) == 3
    assert cut[1:] == whole[-2:]
    assert cut[0] == {"file": "", "line": 0, "function": f"… {len(whole) - 2} frames left out", "code": "",
                      "app": False}


def test_stack_of_never_raises():
    assert stack_of(None, AppCode()) == []
    assert stack_of(object(), AppCode()) == []  # type: ignore[arg-type]


# --- fingerprint and summary -----------------------------------------------------------------------------------

def test_fingerprint_ignores_message_and_line_numbers(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path / "v1"))
    monkeypatch.syspath_prepend(str(tmp_path / "v2"))
    first = load(tmp_path / "v1")
    second = load(tmp_path / "v2", VIEWS.replace("    def handler", "\n    def handler"))  # the raise moves down
    app = AppCode()
    a, b = first.run(first.handler, "user 1"), second.run(second.handler, "user 2 is gone")
    assert a.__traceback__.tb_next.tb_lineno != b.__traceback__.tb_next.tb_lineno
    assert fingerprint(a, app) == fingerprint(b, app)
    assert fingerprint(a, app)[1] == "views.py:handler"


def test_fingerprint_differs_by_type_and_by_raising_function(views):
    app = AppCode()
    key, location = fingerprint(views.run(views.handler, "x"), app)
    assert len(key) == 40 and int(key, 16) >= 0
    assert fingerprint(views.run(views.typed, "x"), app)[0] != key
    assert fingerprint(views.run(views.other, "x"), app) != (key, location)
    assert fingerprint(views.run(views.other, "x"), app)[1] == "views.py:other"


def test_fingerprint_location_is_the_innermost_app_frame(views):
    exc = views.run(views.parse, "{")
    assert fingerprint(exc, AppCode())[1] == "views.py:parse"


def test_fingerprint_of_a_recursion_does_not_depend_on_its_depth(views):
    app = AppCode()
    assert fingerprint(views.run(views.deep, 3), app) == fingerprint(views.run(views.deep, 30), app)
    assert fingerprint(views.run(views.deep, 3), app)[1] == "views.py:deep"


def test_fingerprint_without_app_frames_uses_the_innermost_frames(views, tmp_path):
    app = AppCode([str(tmp_path / "nothing-here")])
    key, location = fingerprint(views.run(views.parse, "{"), app)
    assert location.endswith("decoder.py:JSONDecoder.raw_decode")
    assert key != fingerprint(views.run(views.parse, "["), AppCode())[0]
    assert fingerprint(ValueError("never raised"), app) == fingerprint(ValueError("other"), app)
    assert fingerprint(ValueError("never raised"), app)[1] == ""


class Outer:
    class Failure(Exception):
        pass


def test_summary_names_the_type_and_guards_the_message():
    assert summary(ValueError("bad value")) == ("ValueError", "bad value")
    assert summary(Outer.Failure("x")) == (f"{__name__}.Outer.Failure", "x")

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    kind, message = summary(Unprintable())
    assert kind.endswith("Unprintable") and message.startswith("<unprintable")
    assert summary(ValueError("x" * 5000))[1] == "x" * 1000


# --- full_traceback --------------------------------------------------------------------------------------------

def redact(name: str, text: str) -> str:
    return "[R]" if "password" in name else text


def test_full_traceback_has_context_locals_redaction_and_the_cause(views):
    exc = views.run(views.login, "bob")
    tb = full_traceback(exc, AppCode(), redact)
    assert (tb["type"], tb["message"], tb["cut"]) == ("LookupError", "no such user bob", [])
    functions = [frame["function"] for frame in tb["frames"]]
    assert functions == ["run", "login", "check"]
    login, check = tb["frames"][1], tb["frames"][2]
    assert login["locals"]["password"] == "[R]"
    assert login["locals"]["attempts"] == "3"
    assert login["locals"]["user"] == "'bob'"
    assert "'password': [R]" in login["locals"]["data"] and "s3cret" not in login["locals"]["data"]
    assert len(login["locals"]["data"]) <= 300
    raise_line = check["line"]
    assert check["code"] == 'raise LookupError("no such user " + user) from err'
    assert [raise_line, '        raise LookupError("no such user " + user) from err'] in check["context"]
    assert [n for n, _ in check["context"]] == list(range(raise_line - 2, raise_line + 3))
    assert check["locals"]["password"] == "[R]"
    assert "err" not in check["locals"]  # the except clause unbinds it as the exception leaves
    cause = tb["cause"]
    assert cause["type"] == "ValueError" and "invalid literal" in cause["message"]
    assert cause["frames"][0]["function"] == "check" and cause["frames"][0]["code"] == "int(user)"
    assert cause["cause"] is None
    json.dumps(tb)  # all of it JSON-ready


def test_full_traceback_keeps_the_innermost_frames(views):
    tb = full_traceback(views.run(views.deep, 100), AppCode(), redact, max_frames=10)
    assert len(tb["frames"]) == 11
    assert tb["frames"][0]["function"] == "… 92 frames left out" and tb["frames"][0]["locals"] == {}
    assert [frame["locals"]["n"] for frame in tb["frames"][1:]] == [str(n) for n in range(9, -1, -1)]
    assert tb["cut"] == ["frames: 10 of 102 kept"]


def test_full_traceback_leaves_out_library_locals_and_context(views, tmp_path):
    tb = full_traceback(views.run(views.parse, "{"), AppCode([str(tmp_path / "nothing-here")]), redact)
    assert tb["frames"][-1]["function"] == "JSONDecoder.raw_decode"
    assert all(frame["locals"] == {} and frame["context"] == [] and not frame["app"] for frame in tb["frames"])
    assert tb["frames"][-1]["code"]  # the line itself is still shown


def test_full_traceback_caps_locals_chain_and_budget(views):
    exc = views.run(views.login, "bob")
    tb = full_traceback(exc, AppCode(), redact, max_locals=2, chain=0)
    assert tb["cause"] is None
    assert "cause: chain of exceptions cut here" in tb["cut"]
    assert "locals of views.py:login: 2 of 4 kept" in tb["cut"]
    assert list(tb["frames"][1]["locals"]) == ["user", "password"]
    tb = full_traceback(exc, AppCode(), redact, locals_budget=10)
    run, login, check = [frame["locals"] for frame in tb["frames"]]
    assert len(check) == 2 and len(login) < 4 and run == {}  # the innermost frame is served first
    assert any("character budget spent" in note for note in tb["cut"])


def test_full_traceback_fails_closed_when_redaction_fails(views):
    def broken(name: str, text: str) -> str:
        raise RuntimeError("no")

    tb = full_traceback(views.run(views.login, "bob"), AppCode(), broken)
    assert set(tb["frames"][1]["locals"].values()) == {"[redaction failed]"}


# --- safe_repr -------------------------------------------------------------------------------------------------

class Raising:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_safe_repr_survives_a_raising_repr():
    assert safe_repr(Raising()) == "<unrepresentable Raising>"
    assert safe_repr([1, Raising()]) == "[1, <unrepresentable Raising>]"


@pytest.mark.parametrize("value", [list(range(10**6)), "x" * 10**6, {i: str(i) for i in range(10**5)},
                                   set(range(10**5)), b"y" * 10**6, 10**5000, [["z" * 1000] * 100] * 100],
                         ids=["list", "str", "dict", "set", "bytes", "int", "nested"])
def test_safe_repr_caps_big_values(value):
    text = safe_repr(value, limit=200)
    assert 0 < len(text) <= 200


def test_safe_repr_of_self_referencing_containers():
    items: list = [1]
    items.append(items)
    mapping: dict = {}
    mapping["me"] = mapping
    assert safe_repr(items) == "[1, [...]]"
    assert safe_repr(mapping) == "{'me': [...]}"


def test_safe_repr_keeps_ordinary_values_readable():
    assert safe_repr(None) == "None"
    assert safe_repr(3.5) == "3.5"
    assert safe_repr((1,)) == "(1,)"
    assert safe_repr({"a": [1, 2]}) == "{'a': [1, 2]}"
    assert safe_repr("it's") == '"it\'s"'


def test_safe_repr_redacts_nested_keys():
    from collections import namedtuple
    Login = namedtuple("Login", "user password")
    assert safe_repr({"password": "s3cret", "user": "bob"}, redact=redact) == "{'password': [R], 'user': 'bob'}"
    assert safe_repr(Login("bob", "s3cret"), redact=redact) == "Login(user='bob', password=[R])"


@pytest.fixture
def orm():
    import sqlalchemy  # (a dependency of fmd: always there)
    from sqlalchemy import Column, ForeignKey, Integer, String, event
    from sqlalchemy.orm import DeclarativeBase, Session, relationship

    class Base(DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user"
        id = Column(Integer, primary_key=True)
        name = Column(String)
        posts = relationship("Post", lazy="select", back_populates="user")

        def __repr__(self) -> str:  # the usual model repr, reaching a lazy relationship
            return f"<User {self.name} {self.posts}>"

    class Post(Base):
        __tablename__ = "post"
        id = Column(Integer, primary_key=True)
        user_id = Column(Integer, ForeignKey("user.id"))
        user = relationship(User, back_populates="posts")

    engine = sqlalchemy.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(User(id=1, name="bob", posts=[Post(id=1)]))
        session.commit()
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: statements.append(statement))
    with Session(engine) as session:
        user = session.get(User, 1)
        statements.clear()
        yield sqlalchemy, session, user, statements


def test_safe_repr_of_a_mapped_instance_loads_nothing(orm):
    sqlalchemy, session, user, statements = orm
    assert safe_repr(user) == "<User identity=(1,)>"
    assert safe_repr([user, {"owner": user}]) == "[<User identity=(1,)>, {'owner': <User identity=(1,)>}]"
    session.expire(user)
    assert safe_repr(user) == "<User identity=(1,)>"  # an expired instance is not refreshed either
    assert safe_repr(session.query(type(user))) == "<Query>"
    assert statements == []
    assert "posts" in sqlalchemy.inspect(user).unloaded
    repr(user)  # the control: the model's own repr does issue SQL
    assert statements


def test_full_traceback_with_a_model_local_loads_nothing(orm, views):
    sqlalchemy, session, user, statements = orm
    exc = views.run(views.login, user)  # int(user) raises TypeError
    tb = full_traceback(exc, AppCode(), redact)
    assert tb["type"] == "TypeError"
    assert tb["frames"][-1]["locals"] == {"user": "<User identity=(1,)>", "password": "[R]"}
    assert tb["frames"][-2]["locals"]["user"] == "<User identity=(1,)>"
    assert statements == [] and "posts" in sqlalchemy.inspect(user).unloaded
