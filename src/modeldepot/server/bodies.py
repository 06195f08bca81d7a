"""Stream an upload's request body into a blob store's writer.

Each part is written (and hashed) in a worker thread while the next one arrives, so the
network and the disk work at the same time. Where the server can, the body comes
straight from the socket into aligned buffers (``modeldepot.server.intake``);
otherwise through ASGI ``receive``. Either way, what arrived before a client went away
is kept, and the writer is closed.
"""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from modeldepot.blobstore.base import UploadWriter
from modeldepot.server.intake import Intake, body_intake

# Bytes gathered on the event loop before one hand-off to a worker thread for
# writing and hashing: large enough that the hand-off cost vanishes.
WRITE_BATCH = 4 * 1024 * 1024


async def receive_body(request: Request, writer: UploadWriter) -> int:
    """Write ``request``'s body to ``writer``, close it, and return the size it holds;
    a body cut short by the client keeps what arrived."""
    intake = body_intake(request)
    held: list[memoryview] = []
    try:
        if intake is None:
            await _receive_messages(request, writer)
        else:
            await _receive_intake(intake, writer, held)
    finally:
        try:
            size = await run_in_threadpool(writer.close)
        finally:
            if intake is not None:
                for chunk in held:
                    intake.release(chunk)
                intake.close()
    return size


async def _receive_intake(intake: Intake, writer: UploadWriter, held: list[memoryview]) -> None:
    """Write the intake's buffers in order, after the pieces the HTTP layer read first
    (in one hand-off). A writer is done with a buffer once the next ``write`` returned,
    so each is released after the write that follows it; ``held`` keeps the ones not
    released yet."""
    pending: asyncio.Future[None] | None = None
    try:
        if early := intake.early():
            pending = asyncio.ensure_future(run_in_threadpool(_write_each, writer, early))
        while (chunk := await intake.next()) is not None:
            if pending is not None:
                await pending
                while len(held) > 1:
                    intake.release(held.pop(0))
            held.append(chunk)
            pending = asyncio.ensure_future(run_in_threadpool(writer.write, chunk))
        if pending is not None:
            await pending
    finally:
        if pending is not None and not pending.done():
            await asyncio.wait([pending])


async def _receive_messages(request: Request, writer: UploadWriter) -> None:
    """The body through ASGI ``receive``: batches of pieces, each written in a worker
    thread as it was received (not joined): the writer copies each once."""
    chunks: list[bytes] = []
    gathered = 0
    pending: asyncio.Future[None] | None = None

    async def flush() -> None:
        nonlocal pending, chunks, gathered
        batch = chunks
        chunks, gathered = [], 0
        if pending is not None:
            await pending
        pending = asyncio.ensure_future(run_in_threadpool(_write_each, writer, batch))

    try:
        try:
            async for chunk in request.stream():
                if chunk:
                    chunks.append(chunk)
                    gathered += len(chunk)
                if gathered >= WRITE_BATCH:
                    await flush()
        except ClientDisconnect:
            pass
        if chunks:
            await flush()
        if pending is not None:
            await pending
    finally:
        if pending is not None and not pending.done():
            await asyncio.wait([pending])


def _write_each(writer: UploadWriter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)
