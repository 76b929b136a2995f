"""Run every oracle program under real PySpark and write its golden output.

    python3 tests/oracle/regenerate.py                  # all programs, local[1] and local[2]
    python3 tests/oracle/regenerate.py glom window      # only these programs
    python3 tests/oracle/regenerate.py --jobs 1         # one JVM at a time on a busy machine

PySpark lives in its own virtual environment (``--venv``, default ``/work/pyspark-venv``, created
with ``pyspark==PYSPARK_VERSION`` when missing); dstreams never needs it. Java 17 must be on the
PATH. Programs run in worker processes of that venv (one JVM per worker), each program as
``__main__`` with ``sys.argv == [program, master]`` and ``TZ=UTC``, on the wall clock (1-second
batches: a program takes a few seconds), and its output is stored in the canonical form of
``oracle_output.py`` as ``goldens/<name>.<master>.txt``. A program that raises writes no golden:
the script says which and exits 1. ``python <venv>/bin/python programs/<name>.py local[2]`` runs
one program alone and shows its raw output.

Standard library only, so it runs with any Python 3.11+.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from oracle_output import is_ordered, normalize  # noqa: E402

PYSPARK_VERSION = "4.3.0"
MASTERS = ("local[1]", "local[2]")
PROGRAMS = HERE / "programs"
GOLDENS = HERE / "goldens"


def programs() -> list[str]:
    return sorted(p.stem for p in PROGRAMS.glob("*.py") if not p.name.startswith("_"))


def ensure_venv(venv: Path) -> Path:
    """The venv's python, with PySpark installed (created on first use)."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run(
        [str(python), "-c", "import pyspark; print(pyspark.__version__)"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"pyspark=={PYSPARK_VERSION}"], check=True)
        probe = subprocess.run(
            [str(python), "-c", "import pyspark; print(pyspark.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        )
    version = probe.stdout.strip()
    if version != PYSPARK_VERSION:
        print(f"note: {venv} has PySpark {version}; the goldens were made with {PYSPARK_VERSION}")
    return python


def run_worker(python: Path, master: str, names: list[str], timeout: float) -> list[tuple[str, str | None]]:
    """Run ``names`` on ``master`` in one PySpark process (one JVM); ``(name, error)`` for each."""
    env = {
        **os.environ,
        "TZ": "UTC",
        "PYTHONHASHSEED": "0",
        "PYTHONWARNINGS": "ignore",
        "PYSPARK_SUBMIT_ARGS": (
            "--conf spark.ui.enabled=false --conf spark.ui.showConsoleProgress=false pyspark-shell"
        ),
    }
    try:
        proc = subprocess.run(
            [str(python), str(Path(__file__).resolve()), "--worker", master, *names],
            cwd=PROGRAMS,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout * len(names),
        )
    except subprocess.TimeoutExpired:
        return [(name, "the worker timed out") for name in names]
    results = dict.fromkeys(
        names, f"no result from the worker (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    )
    for line in proc.stdout.splitlines():
        if line.startswith(WORKER_RESULT):
            name, _, error = line[len(WORKER_RESULT) :].partition(" ")
            results[name] = error.encode().decode("unicode_escape") or None
    return list(results.items())


WORKER_RESULT = "[oracle-worker] "


def worker(master: str, names: list[str]) -> None:
    """Inside the PySpark venv: run each program in this process and write its golden.

    One JVM serves all the programs (a new SparkContext after the last one stopped starts in a
    second), so a full regeneration takes minutes instead of a JVM start per program.
    """
    import contextlib
    import io
    import runpy
    import traceback

    from pyspark import SparkContext
    from pyspark.sql import SparkSession
    from pyspark.streaming import StreamingContext

    sys.path.insert(0, str(PROGRAMS))
    real_stdout = sys.stdout
    for name in names:
        path = PROGRAMS / f"{name}.py"
        captured = io.StringIO()
        error = ""
        old_argv, sys.argv = sys.argv, [str(path), master]
        try:
            with contextlib.redirect_stdout(captured):
                runpy.run_path(str(path), run_name="__main__")
        except BaseException:
            error = traceback.format_exc()
        finally:
            sys.argv = old_argv
            active = StreamingContext.getActive()
            if active is not None:
                active.stop(stopSparkContext=True, stopGraceFully=False)
            session = SparkSession.getActiveSession()
            if session is not None:
                session.stop()
            if SparkContext._active_spark_context is not None:
                SparkContext._active_spark_context.stop()
        if not error:
            ordered = is_ordered(path.read_text(encoding="utf-8"), master)
            (GOLDENS / f"{name}.{master}.txt").write_text(
                normalize(captured.getvalue(), ordered), encoding="utf-8"
            )
        escaped = error.encode("unicode_escape").decode()
        print(f"{WORKER_RESULT}{name} {escaped}", file=real_stdout, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="programs to run (default: all)")
    parser.add_argument("--venv", type=Path, default=Path("/work/pyspark-venv"))
    parser.add_argument("--jobs", type=int, default=2, help="programs run at the same time (default 2)")
    parser.add_argument("--masters", nargs="+", default=list(MASTERS))
    parser.add_argument("--timeout", type=float, default=120, help="seconds per program")
    parser.add_argument("--worker", metavar="MASTER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.names)
        return 0
    names = args.names or programs()
    unknown = sorted(set(names) - set(programs()))
    if unknown:
        parser.error(f"no such program(s): {', '.join(unknown)} (see {PROGRAMS})")
    python = ensure_venv(args.venv)
    GOLDENS.mkdir(exist_ok=True)
    # --jobs workers, each a PySpark process running a share of the programs of one master
    shares = max(1, args.jobs // len(args.masters))
    work = [(master, names[i::shares]) for master in args.masters for i in range(shares) if names[i::shares]]
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            pool.submit(run_worker, python, master, share, args.timeout): master for master, share in work
        }
        for future in concurrent.futures.as_completed(futures):
            master = futures[future]
            for name, error in future.result():
                print(f"{'FAILED' if error else 'ok':6} {name} {master}", flush=True)
                if error:
                    failures.append((name, master, error))
    total = len(names) * len(args.masters)
    for name, master, error in failures:
        print(f"\n--- {name} {master}: {error}")
    print(f"\n{total - len(failures)} of {total} goldens written to {GOLDENS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
