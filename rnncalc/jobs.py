"""Many configs in one call: ``rnncalc run`` (and, from :mod:`rnncalc.sources`, the reading and
checking that is all of ``rnncalc validate``).

A class's configs are read, checked, computed and rendered one after another in one process (or in
``jobs`` worker processes), each dispatched by its own ``cell``. A bad config gives an error
:class:`Outcome` and the rest go on. Reading and checking never import torch (except to load a
config's ``weights_file``); neither does this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rnncalc.errors import ConfigError, ExitCode, RnncalcError
from rnncalc.sources import expand, read, read_stdin, validate

if TYPE_CHECKING:
    from rnncalc.sources import Stdin
    from rnncalc.trace import Trace

__all__ = ["Job", "Outcome", "choose_jobs", "expand", "outcomes", "read", "read_stdin",
           "validate"]


@dataclass(frozen=True)
class Outcome:
    """One config's result: ``text`` to print, or ``error`` (one line) and its exit code."""

    source: str
    text: str = ""
    error: str | None = None
    exit_code: int = ExitCode.OK


def error_record(source: str, exc: BaseException, code: int) -> dict[str, Any]:
    """The jsonl record of a config that failed: its path, the one-line message, where."""
    record: dict[str, Any] = {"path": source, "error": str(exc), "exit_code": code}
    if isinstance(exc, ConfigError):
        record.update(line=exc.line, field=exc.path or None)
    return record


@dataclass(frozen=True)
class Job:
    """How to turn one config into text; picklable, so that worker processes can run it.

    ``render`` is ``"jsonl"`` (one JSON object, ``{"path": ..., **trace}``) or ``"table"``.
    """

    render: str = "jsonl"
    dtype: str | None = None
    step_by_step: bool = False
    precision: int = 4
    steps: str | None = None
    width: int = 80
    color: bool = False
    stdin: Stdin = None
    grad: bool = False  # also backpropagate a config that has a loss (rnncalc run --grad)

    @property
    def per_byte(self) -> float:
        """Seconds of work per byte of config, for :func:`choose_jobs`."""
        return SECONDS_PER_BYTE * (TABLE_FACTOR if self.render == "table" else 1)

    def __call__(self, source: str) -> Outcome:
        from rnncalc.engine import compute

        try:
            trace = compute(read(source, self.stdin, self.dtype))  # numpy when small
            return Outcome(source, self._text(source, trace))
        except RnncalcError as exc:
            return self._failed(source, exc, int(exc.exit_code))
        except Exception as exc:  # a bug: reported for this config, the others go on
            message = (f"internal error: {type(exc).__name__}: {exc} (a bug in rnncalc: rerun "
                       f"this config alone with --traceback and report it)")
            return self._failed(source, RnncalcError(message), int(ExitCode.INTERNAL))

    def _failed(self, source: str, exc: BaseException, code: int) -> Outcome:
        from rnncalc.render.json import dumps

        text = dumps(error_record(source, exc, code), indent=False) + "\n" \
            if self.render == "jsonl" else ""
        return Outcome(source, text, str(exc), code)

    def _text(self, source: str, trace: Trace) -> str:
        grad = None
        if self.grad and trace.exercise.loss is not None:
            from rnncalc.bptt import backprop

            grad = backprop(trace)  # on the trace's arrays (numpy for a small exercise)
        if self.render == "jsonl":
            from rnncalc.render.json import dumps

            doc = {"path": source, **trace.to_dict()}
            if grad is not None:
                doc["grad"] = grad.to_dict()
            return dumps(doc, indent=False) + "\n"
        from rnncalc.render.table import render as render_table
        from rnncalc.render.table import to_text

        if grad is not None:
            from rnncalc.render.grad import render as render_grad

            table = render_grad(trace, grad, "table", precision=self.precision,
                                step_by_step=self.step_by_step)
        else:
            table = render_table(trace, step_by_step=self.step_by_step,
                                 precision=self.precision, steps=self.steps)
        return f"==> {source} <==\n" + to_text(table, width=self.width, color=self.color)


def _worker_init() -> None:
    import os

    # one thread a worker, the workers one a core; torch reads this when it is imported, by the
    # first config that needs it (a small one computes on numpy: rnncalc.engine.compute)
    os.environ["OMP_NUM_THREADS"] = "1"


#: Seconds of work per byte of config, one process, written as JSON (a seed-sized config of 560
#: bytes: about 1.1 ms of CPU to read, check, compute on numpy and write; long sequences cost
#: about as much per byte of inputs); as a table, rich's layout takes it to about five times.
SECONDS_PER_BYTE = 2e-6
TABLE_FACTOR = 5
#: Work below which worker processes do not pay: they start from a forkserver that imports
#: rnncalc's engine and renderers, not torch (a worker imports it for a config that needs it),
#: and the two cores' gain is at most the work halved. On this 2-core machine, quiet, seed
#: configs as JSON: 300 (0.3 s of work) 1.08x as long with two workers, 1000 0.91x, 2000
#: 0.81-0.91x, 5000 0.60x (``benchmarks/bench_length.py --only jobs``).
PARALLEL_FROM = 1.5


def choose_jobs(sources: Sequence[str], asked: int | None, cores: int,
                per_byte: float = SECONDS_PER_BYTE, idle: float | None = None) -> int:
    """``--jobs``: the number asked (0: one per core), or, by default (``None``), one process
    unless the configs' size (times ``per_byte``, :attr:`Job.per_byte`) says the work outweighs
    the workers' start-up, and then one per idle core (``idle``: the cores less the load
    average; at load 7 on two cores, other work has them, and two workers were no faster)."""
    if asked is not None:
        return asked or cores
    if cores < 2 or len(sources) < 2:
        return 1
    import os

    size = 0
    for source in sources:
        with contextlib.suppress(OSError):
            size += os.stat(source).st_size if source != "-" else 0
    if size * per_byte < PARALLEL_FROM:
        return 1
    if idle is None:
        idle = cores - os.getloadavg()[0]
    workers = min(cores, int(idle + 0.5))
    return workers if workers >= 2 else 1


def outcomes(job: Callable[[str], Outcome], sources: Sequence[str], jobs: int = 1
             ) -> Iterator[Outcome]:
    """``job`` applied to every source, in input order; ``jobs > 1`` spreads them over that many
    worker processes (a forkserver that has imported torch once, where the system has one)."""
    if jobs <= 1 or len(sources) < 2:
        yield from map(job, sources)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    methods = mp.get_all_start_methods()
    ctx = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        # not torch (2 s): small configs compute on numpy; a worker imports torch if one needs it
        ctx.set_forkserver_preload(["rnncalc.engine", "rnncalc.jobs", "rnncalc.render.json",
                                    "rnncalc.render.table"])
    chunk = max(1, min(64, len(sources) // (jobs * 8)))
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init)
    try:
        yield from pool.map(job, sources, chunksize=chunk)
    except BaseException:  # SIGTERM, Ctrl-C, a reader gone: no worker may outlive rnncalc
        _stop(pool)
        raise
    pool.shutdown()


def _stop(pool: Any) -> None:
    """End ``pool``'s workers and the forkserver now (SIGTERM reaches rnncalc alone, not its
    workers, which would otherwise live on, holding ``... | tee log`` open)."""
    import contextlib
    import os
    import signal
    from multiprocessing import forkserver

    _quiet_manager_thread()
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.kill()
    server = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if server:  # killed, not asked: while it still imports modules it would not hear the request
        # and first the workers it was still forking, which the pool does not list yet (they
        # would live on, then print a traceback when their parent's pipe is gone); stopped
        # first, so that it forks none after its children are read (Linux restarts a fork
        # that a signal interrupts, so none is half made)
        with contextlib.suppress(OSError):
            os.kill(server, signal.SIGSTOP)
        with contextlib.suppress(OSError, ValueError):
            from pathlib import Path

            children = Path(f"/proc/{server}/task/{server}/children").read_text()  # Linux
            for child in map(int, children.split()):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(server, signal.SIGKILL)
    pool.shutdown(wait=False, cancel_futures=True)
    with contextlib.suppress(Exception):
        forkserver._forkserver._stop()  # type: ignore[attr-defined]  # reaps it, forgets it


def _quiet_manager_thread() -> None:
    """Keep the pool's manager thread from printing a traceback as rnncalc ends its workers:
    seeing them gone, it marks every pending future failed, and Python 3.11's ``set_exception``
    raises ``InvalidStateError`` on the futures ``map`` has just cancelled (CPython's race, not
    an error of the run: the command still ends with 130 or 143, and says so in one line)."""
    import threading
    from concurrent.futures import InvalidStateError

    default = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if not (args.exc_type is not None and issubclass(args.exc_type, InvalidStateError)):
            default(args)

    threading.excepthook = hook
