"""The ASGI handler for HTTP: Django's, with the per-request costs of sync code under ASGI taken out.

Every view and middleware of this project is synchronous. Django's own ASGIHandler, serving them,
measured here (daphne, SQLite, `GET /api/me`) 7.2 ms of CPU per request against 1.4 ms for the
same request in-process, because for every request it:

- starts a thread of its own (`ThreadSensitiveContext`) and joins it afterwards;
- so opens a new database connection in that thread (thread-local), and closes it; with
  `CONN_MAX_AGE` > 0 the connections of finished threads were never closed at all, which is how
  PostgreSQL ran out of connections under 50 clients;
- runs the middleware in async mode, handing each sync middleware's hooks to that thread and
  back, a dozen switches between the event loop and the thread;
- sends `request_started` before and closes the response (`request_finished`) after, each in one
  more hand-off, to the process's single thread for "thread-sensitive" sync code, through which
  every request of the process then had to pass twice.

Here a request is one hand-off to a fixed pool of `COSMOS_WEB_THREADS` threads, which sends
`request_started`, runs the middleware chain synchronously and, for a response already in memory,
closes it; the event loop only reads the body and writes the response. A request still never
blocks the event loop (uploads and downloads stream as before, a slow request holds one thread),
each thread keeps its database connection across requests, and the number of connections is
bounded by the pool. Connections are checked in the thread that uses them, before and after each
request, by Django's own signal receivers (a broken one is dropped, `CONN_MAX_AGE` honoured).
`GET /api/me` under 50 clients: 1,220-1,315 -> 1,850-2,090 requests/s with the two signal
hand-offs folded into the one (SQLite, 2 processes).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix


class PooledHTTPHandler(ASGIHandler):
    def __init__(self):
        self.executor = ThreadPoolExecutor(max_workers=settings.COSMOS["WEB_THREADS"], thread_name_prefix="http")
        super().__init__()
        self._respond = sync_to_async(self._respond_in_thread, thread_sensitive=False, executor=self.executor)
        self._close = sync_to_async(self._close_in_thread, thread_sensitive=False, executor=self.executor)

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)  # the chain runs in the pool's threads, synchronously

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # No ThreadSensitiveContext: the pool above is the threads the requests run in.
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        """Django's ASGIHandler.handle, with the request served in one hand-off to the pool."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))

        responses = []

        async def process_request():
            responses.append(await self._respond(scope, body_file))
            try:
                await self.send_response(responses[0], send)
            except asyncio.CancelledError:
                pass  # the client went away while the response was being sent

        # As Django does: a client that disconnects cancels the sending of its response. (The
        # server may say so as soon as the last byte is out, before this task has ended: a
        # streaming response is closed only after both, outside what a cancellation reaches.)
        tasks = [asyncio.create_task(self.listen_for_disconnect(receive)), asyncio.create_task(process_request())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        if responses and responses[0].streaming:
            await self._close(responses[0])
        body_file.close()

    def _respond_in_thread(self, scope, body_file) -> HttpResponseBase:
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response = error_response if request is None else self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size  # the server chunks further
        if not response.streaming:
            # Its content is in memory: closing it now (request_finished: the connection's check)
            # happens in this thread, the one whose database connection the request used.
            response.close()
        return response

    @staticmethod
    def _close_in_thread(response: HttpResponseBase) -> None:
        response.close()
