"""Why a TCP/IP command failed: Quectel modules answer most failures with a bare ``ERROR`` and keep
the cause for ``AT+QIGETERROR`` (``+QIGETERROR: <err>,<text>``, quectel-tcpip.md §2.3); with
``AT+CMEE=1`` some firmware puts it in ``+CME ERROR: <err>`` at once."""
import errno
from typing import Optional

from atsock.wire import atcmd
from atsock.wire.channel import Final
from atsock.errors import os_error
from atsock.wire.fields import parse_int, split_fields

from .codes import T_QUERY, quectel_error


async def last_error(engine) -> Optional[int]:
    """The code the module keeps for its last TCP/IP failure; None where it tells none (0 is "no
    error": the failure was not one it records)."""
    response = await engine.command(atcmd.build("AT+QIGETERROR"), timeout=T_QUERY,
                                    response_prefixes=("+QIGETERROR:",), check=False)
    values = response.values("+QIGETERROR:")
    return parse_int(split_fields(values[0])[0], 0, 65535) if values and response.final.ok else None


async def module_code(engine, final: Final) -> Optional[int]:
    """The module's code for a command that answered ``final``: from ``+CME ERROR: <n>``, or asked."""
    code = final.error_code
    return code if code is not None else await last_error(engine) or None


async def failure(engine, command: str, final: Final) -> OSError:
    """The OSError of a TCP/IP command the module refused: the errno and text of its own code."""
    code = await module_code(engine, final)
    if code is not None:
        return quectel_error(code)
    return os_error(errno.EIO, f"{command} answered {final.text} and the module keeps no cause (AT+QIGETERROR)")
