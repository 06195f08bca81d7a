"""Several server processes on one listening socket: ``modeldepot serve --workers N``.

The parent binds the socket, checks the schema and creates the first admin, then forks
``N`` workers that each open their own database connections and accept on the shared
socket (the kernel spreads connections over them). Python runs one thread of Python at
a time per process, so this is how one machine's cores all serve requests.

SIGTERM or SIGINT to the parent is passed to every worker, which drains its requests in
flight; the parent exits 0 once all have. A worker that dies on its own is started again
if it had run for a while; one that dies at once stops the server, since a second would
die the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable

# A worker that dies sooner than this after starting is not restarted.
MIN_LIFETIME_SECONDS = 3.0


def run_workers(count: int, serve: Callable[[], int]) -> int:
    """Run ``serve`` in ``count`` forked processes until they stop; the exit status."""
    children: dict[int, float] = {}
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(count):
        _start(children, serve)
    status = 0
    while children:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            break
        started = children.pop(pid, None)
        if started is None:
            continue
        code = os.waitstatus_to_exitcode(raw)
        if stopping:
            status = status or max(code, 0)
            continue
        lived = time.monotonic() - started
        print(
            f"modeldepot: worker {pid} exited with status {code} after {lived:.0f} s",
            file=sys.stderr,
        )
        if lived >= MIN_LIFETIME_SECONDS:
            _start(children, serve)
        else:
            status = code or 1
            stop(signal.SIGTERM, None)
    return status


def _start(children: dict[int, float], serve: Callable[[], int]) -> None:
    parent = os.getpid()
    pid = os.fork()
    if pid:
        children[pid] = time.monotonic()
        return
    # The child: the parent's handlers would signal its siblings.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with(parent)
    code = 1
    try:
        code = serve()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when the parent dies, even of SIGKILL,
    so that no worker goes on serving without its supervisor (Linux; elsewhere the
    parent's SIGTERM still reaches every worker)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
