"""One ``send`` call on the module's command channel: its data in chunks, one command each.

The next chunk's command is queued from the completion of the one before, in the reader callback
that parsed ``SEND OK``: it is written in the same wake-up, with no task switch between chunks.
Everything else is as the socket core promises for a send:

* before each chunk the connection must still allow sending (closed: EBADF; the peer closed: EPIPE;
  an earlier refusal: that error again), and the engine asks the core's guard once more just before
  the command is written;
* a full module buffer (``SendOutcome.FULL``, Quectel's ``SEND FAIL``) offers the same bytes again
  after a pause that doubles up to a second, until the caller's time-out;
* a busy module (``SendOutcome.BUSY``, ESP-AT's ``busy p...``) is asked again after a short pause,
  ``busy_retries`` times;
* a refusal part-way returns the count the module took (the error waits on the connection for the
  next call); a send with no answer fails the whole connection (ETIMEDOUT);
* the caller's time-out bounds the call, whatever the module's own budget for an answer (120 s for
  Quectel's ``SEND OK``): a chunk still queued behind another socket's command is withdrawn (the
  stream is intact: the call returns the count sent, or ETIMEDOUT); a chunk the module has but has
  not answered leaves the stream unknown, so the connection fails (ETIMEDOUT). The engine goes on
  waiting for that answer meanwhile: the module takes no other command until it gives one.
"""
import asyncio
import errno
from typing import Optional, Tuple

from ..errors import CommandTimeout, os_error, timeout_error
from .connection import Connection, Kind
from .dialect import SendOutcome
from .lifecycle import Op, SocketState

Address = Tuple[str, int]
FIRST_BACKOFF = 0.02
MAX_BACKOFF = 1.0
BUSY_PAUSE = 0.05  # times the attempt number


class ChunkSender:
    """``core`` is the :class:`atsock.core.socketcore.SocketCore` that owns ``conn``."""

    def __init__(self, core, conn: Connection, data, dest: Optional[Address],
                 timeout: Optional[float]):
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._core = core
        self._commands = core.commands
        self._conn = conn
        self._data = data
        self._dest = dest
        self._deadline = None if timeout is None else loop.time() + timeout
        self._one_chunk = timeout == 0  # non-blocking: one exchange, as a kernel's send is one copy
        self._step = core.commands.send_chunk if dest is None else max(1, len(data))
        self._sent = 0
        self._chunk = 0  # length of the chunk in flight
        self._backoff = FIRST_BACKOFF
        self._busy = 0
        self._handle = None
        self._exchange = None  # the last chunk's command, again for a chunk of the same length
        self._exchange_length = 0
        self._guard = None  # the core's guard, made with the exchange
        self._timer: Optional[asyncio.TimerHandle] = None
        self.result: asyncio.Future = loop.create_future()  # the count sent, or the error

    def start(self) -> None:
        if self._deadline is not None and not self._one_chunk:
            limit = self._loop.call_at(self._deadline, self._out_of_time)
            self.result.add_done_callback(lambda _: limit.cancel())
        self._next()

    def stop(self) -> None:
        """The caller stopped waiting: no further chunk goes out (one in flight is seen through)."""
        if not self.result.done():
            self.result.cancel()
        if self._handle is not None:
            self._handle.withdraw()
        if self._timer is not None:
            self._timer.cancel()

    # --- one chunk ----------------------------------------------------------------------------
    def _next(self) -> None:
        self._timer = None
        if self.result.done():
            return
        conn = self._conn
        try:
            self._core.require(conn, Op.SEND)
            if conn.send_error is not None:
                raise conn.send_error
            if conn.id is None:  # the module already let go of the connection (the peer closed it)
                raise os_error(errno.EPIPE, "the peer closed the connection: a half-closed connection cannot "
                                            "be written on through the modem")
        except OSError as exc:
            self.result.set_exception(exc)
            return
        chunk = self._data[self._sent:self._sent + self._step]
        self._chunk = len(chunk)
        try:
            exchange = self._exchange
            if exchange is None or len(chunk) != self._exchange_length:
                exchange = self._exchange = self._commands.send_exchange(conn, chunk, self._dest)
                self._exchange_length = len(chunk)
                self._guard = self._core.guard(conn, Op.SEND)  # (for the id the connection has now: as the command)
            self._handle = self._core.engine.submit(
                exchange.text, on_done=self._answered, timeout=exchange.timeout, extra_finals=exchange.extra_finals,
                not_final=exchange.not_final, payload=chunk, guard=self._guard)
        except Exception as exc:  # a chunk the dialect refuses (EMSGSIZE), a port that is gone
            self._failed(exc)

    def _answered(self, response, error: Optional[BaseException]) -> None:
        self._handle = None
        if self.result.done():
            return  # the caller gave up meanwhile
        if error is None:
            try:
                outcome = self._commands.send_outcome(self._conn, response.final.text)
            except OSError as exc:
                error = exc
        elif isinstance(error, CommandTimeout):  # were the bytes sent? Nobody knows: the stream is broken
            error = os_error(errno.ETIMEDOUT, "no answer to a send: the stream's state is unknown")
        if error is not None:
            self._failed(error)
        elif outcome is SendOutcome.SENT:
            self._sent += self._chunk
            self._backoff, self._busy = FIRST_BACKOFF, 0
            if self._sent < len(self._data) and not self._one_chunk:
                self._next()
            else:
                self.result.set_result(self._sent)
        elif outcome is SendOutcome.FULL:  # offer the same bytes again after a pause
            if self._deadline is not None and self._loop.time() + self._backoff > self._deadline:
                self._core.full_for_a_while(self._conn)  # the descriptor says so until room may be back
                if self._sent:
                    self.result.set_result(self._sent)
                else:
                    self.result.set_exception(timeout_error("modem send buffer stayed full"))
                return
            self._timer = self._loop.call_later(self._backoff, self._next)
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)
        else:  # BUSY
            self._busy += 1
            if self._busy > self._commands.busy_retries:
                self._failed(os_error(errno.EBUSY, "the module stayed busy"))
                return
            self._timer = self._loop.call_later(BUSY_PAUSE * self._busy, self._next)

    def _out_of_time(self) -> None:
        """The caller's time-out ran out before the send was done."""
        if self.result.done():
            return
        if self._timer is not None:
            self._timer.cancel()
        handle, self._handle = self._handle, None
        if handle is not None and handle.written:  # the module may or may not have sent the chunk
            self._failed(os_error(errno.ETIMEDOUT, "no answer to a send within the socket's time-out: the "
                                                   "stream's state is unknown"))
            return
        if handle is not None:
            handle.withdraw()  # still queued: it never goes out, and the stream is as it was
        if self._sent:
            self.result.set_result(self._sent)
        else:
            self.result.set_exception(timeout_error("the modem could not take the data within the socket's time-out"))

    def _failed(self, error: BaseException) -> None:
        conn = self._conn
        if not isinstance(error, OSError):
            self.result.set_exception(error)
            return
        if conn.state is SocketState.CLOSED:
            self.result.set_exception(self._core.refusal(conn, Op.SEND))
            return
        if conn.kind is Kind.TCP and conn.allows(Op.SEND):
            self._core.send_failed(conn, error)
        if self._sent and conn.kind is Kind.TCP:
            self.result.set_result(self._sent)
        else:
            self.result.set_exception(error)
