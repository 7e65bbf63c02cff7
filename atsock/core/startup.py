"""The first words with a module that may still be starting, and what to say when it never does.

The probes go out at one rate, or, with a :class:`atsock.wire.linerate.Line`, at each rate the module
may be at in turn (it boots at its saved rate, and keeps one an earlier program set).

Modules start in their own ways (``shared/at-reference/sim-registration.md`` §2, ``esp-at.md`` §3):
a BG95 answers ``ERROR`` to everything between ``RDY`` and ``APP RDY``; a BG96 that was on goes
down and ignores the line for seconds; an ESP prints its ROM's report and a vendor's banner before
``ready``, and one whose AT firmware does not start prints them and then nothing. Each is told
apart from a port where nothing answers at all, which has its own message (``open_modem``'s).
"""
import errno
import logging

from ..errors import CommandFailed, CommandTimeout, StartupError

log = logging.getLogger("atsock.startup")

PROBE = 0.5  # seconds: each AT probe's wait for its answer, and the pause after a refused one


async def sync(engine, budget: float, line=None) -> None:
    """``AT`` until the module answers ``OK``, for up to ``budget`` seconds (at each rate of
    ``line`` in turn). A module that only answers ``ERROR``, or that printed something and answers
    nothing, raises StartupError; silence raises CommandTimeout."""
    before = engine.unhandled if engine.stats.commands else 0  # (at first: all since the port opened)
    try:
        await _probe(engine, budget, line)
    except CommandFailed as exc:
        raise StartupError(errno.ETIMEDOUT, f"the module answers {exc.final} to AT for {budget:g} s: it has not "
                                            "finished starting", advice="give it time (or power) and open it again; "
                                            "a module that stays so needs a reset",
                           boot_text=engine.last_unhandled) from None
    except CommandTimeout:
        printed = engine.unhandled - before
        if printed:
            raise _printed_but_silent(engine, f"printed {_lines(printed)}",
                                      "a wrong line rate garbles both ways (check {setting}), or its AT firmware did "
                                      "not start", "baudrate") from None
        raise


async def _probe(engine, budget: float, line) -> None:
    if line is None:
        await engine.sync(attempts=max(1, int(budget / PROBE)), timeout=PROBE)
    else:
        await line.find(budget)


async def restarted(engine, since: int, command: str, line=None) -> None:
    """``command`` restarted the module, and no ``ready`` came. One that answers ``AT`` is up all the
    same (a firmware that does not say the word, or said it at another rate): bring-up goes on. One
    that answers nothing raises StartupError, saying whether it printed boot text (``since``:
    ``engine.unhandled`` when the restart was answered)."""
    try:
        await _probe(engine, 2 * PROBE, line)
        log.info("no ready after %s, but the module answers AT", command)
        return
    except (CommandFailed, CommandTimeout):
        pass
    printed = engine.unhandled - since
    if printed:
        raise _printed_but_silent(engine, f"restarted ({command}) and printed {_lines(printed)} of boot text",
                                  "its AT firmware did not start")
    raise StartupError(errno.ETIMEDOUT, f"the module restarted ({command}) and then printed nothing and answers "
                                        "no AT", advice="check its power supply: a module that browns out as its "
                                                        "radio starts never comes back")


def _printed_but_silent(engine, what: str, cause: str, setting=None) -> StartupError:
    last = engine.last_unhandled
    seen = f" (the last line {last[:60]!r})" if last else ""
    return StartupError(errno.ETIMEDOUT, f"the module {what}{seen} but never said it was ready and answers no AT",
                        advice=f"{cause}; an ESP8266's boot text is readable at 74880 baud and says why, and "
                               "flashing the AT firmware again is the usual cure", setting=setting, boot_text=last)


def _lines(count: int) -> str:
    return f"{count} line{'s' if count != 1 else ''}"
