"""Instructions per request, writer thread included, counted by callgrind: repeatable on a noisy machine.

    python tests/benchmarks/instructions.py [--requests 500] [--level 1]

Runs the same script under ``valgrind --tool=callgrind`` twice, serving N and 6N hello-world requests (plus the
final ``fmd.flush()``, which writes them in one batch) at the given level, or bare Flask for level ``bare``; the
difference divided by 5N is what one request costs in instructions, writer included, start-up and import
excluded. Prints one JSON line with the figure for
bare Flask and for fmd at the level, and their ratio. Each run checks that every request was written (and, at
level 3, profiled). At level 3 the sampler thread's own passes depend on wall time, which valgrind stretches
~50x: a hello request then sees a sample or two that it would not natively, so that figure is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(os.environ.get('BENCH_ROOT') or Path(__file__).resolve().parents[2])

_SCRIPT = """
import sys, tempfile
sys.path.insert(0, {root!r})
from flask import Flask
app = Flask("bench")
@app.route("/")
def index():
    return "hello"
level = sys.argv[2]
if level != "bare":
    import fmd
    # The writer wakes only for the final flush: each run writes its records in one batch, so the figure is the
    # per-record cost (request path plus writer), not how valgrind's slow scheduling happened to cut batches.
    fmd.bind(app, database="sqlite:///" + sys.argv[3], monitor_level=int(level), flush_interval=60,
             batch_size=100_000)
client = app.test_client()
client.get("/")  # warm: the first request starts the writer and creates the schema
if level != "bare":
    fmd.flush(30)
for _ in range(int(sys.argv[1])):
    client.get("/")
if level != "bare":
    assert fmd.flush(60)
    stats = fmd.stats()
    assert stats["rows_written"] == int(sys.argv[1]) + 1, stats
    # Level 3: every request went through the profile path (the sampler woken, its tree stored).
    assert stats["profiles"] == (int(sys.argv[1]) + 1 if int(level) >= 3 else 0), stats
"""


def instructions(n: int, level: str) -> int:
    """Total instructions (all threads) of one run serving *n* requests."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "run.py"
        script.write_text(_SCRIPT.format(root=str(ROOT)))
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               sys.executable, str(script), str(n), level, str(Path(tmp) / "fmd.db")],
                              capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        match = re.search(r"Collected : (\d+)", done.stderr)
        if not match:
            raise SystemExit("callgrind printed no total:\n" + done.stderr[-2000:])
        return int(match.group(1))


def per_request(n: int, level: str) -> float:
    return (instructions(6 * n, level) - instructions(n, level)) / (5 * n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--level", default="1")
    args = parser.parse_args()
    bare = per_request(args.requests, "bare")
    monitored = per_request(args.requests, args.level)
    print(json.dumps({"benchmark": "instructions", "requests": [args.requests, 6 * args.requests],
                      "bare_per_request": round(bare), f"level{args.level}_per_request": round(monitored),
                      "ratio": round(monitored / bare, 4)}))


if __name__ == "__main__":
    main()
