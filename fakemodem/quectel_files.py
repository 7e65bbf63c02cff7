"""The emulated Quectel module's user file system (UFS), where certificates are kept: AT+QFUPL,
AT+QFLST, AT+QFDEL, AT+QFLDS — quectel-ssl.md §3.

Files live in the module's flash: they survive a restart (AT+CFUN=1,1, a reboot), unlike the SSL
contexts that name them. ``AT+QFUPL`` answers ``CONNECT``, reads exactly ``<file_size>`` raw bytes
(binary-safe; with ``<ackmode>`` 1 an ``A`` after every 1024 of them) and reports
``+QFUPL: <size>,<checksum>``: the XOR of the bytes taken as big-endian 16-bit words, an odd last
byte being the high half of a last word, printed in lower-case hex (``qfupl_checksum_pad``: four
digits or as few as needed). Options: ``ufs_size`` (bytes of the file system), ``qfupl_timeout``
(what a short upload gets when its time runs out: "partial", the bytes received stored and
reported; "error", ``+CME ERROR: 421`` and nothing stored).
"""
import fnmatch
from typing import Dict

from .atcommand import ATCommand

UFS = "UFS:"
MAX_NAME = 80               # bytes of a file name (quectel-ssl.md §3.1)
DEFAULT_SIZE = 10240        # AT+QFUPL <file_size> when omitted
DEFAULT_TIMEOUT = 5         # AT+QFUPL <timeout> when omitted, seconds
ACK_EVERY = 1024            # <ackmode> 1: one "A" per this many bytes
# +CME ERROR numbers of the file system; 405 and 407 come from the reference, the others are
# the ones the emulator picked for cases the reference leaves open
NOT_FOUND, EXISTS, BAD_NAME, NO_SPACE, TIMED_OUT = 405, 407, 406, 420, 421


def checksum(data: bytes) -> int:
    """The XOR-16 checksum of AT+QFUPL (quectel-ssl.md §3.2)."""
    value = 0
    for index in range(0, len(data), 2):
        value ^= data[index] << 8 | (data[index + 1] if index + 1 < len(data) else 0)
    return value


def plain_name(name: str) -> str:
    """A file name without its storage prefix (``UFS:ca.pem`` and ``ca.pem`` are the same file)."""
    return name[len(UFS):] if name.upper().startswith(UFS) else name


class FileSystem:
    def __init__(self, module, size: int = 1024 * 1024, qfupl_timeout: str = "partial",
                 checksum_pad: bool = False):
        if qfupl_timeout not in ("partial", "error"):
            raise ValueError(f"qfupl_timeout is 'partial' or 'error', not {qfupl_timeout!r}")
        self.m = module
        self.size = size
        self.qfupl_timeout = qfupl_timeout
        self.checksum_pad = checksum_pad
        self.files: Dict[str, bytes] = {}

    def handlers(self) -> dict:
        return {"+QFUPL": self.qfupl, "+QFLST": self.qflst, "+QFDEL": self.qfdel, "+QFLDS": self.qflds}

    def test_answers(self) -> dict:
        return {"+QFUPL": [f'+QFUPL: "<filename>",(1-{self.free}),(1-65535),(0,1)'],
                "+QFDEL": ['+QFDEL: "<filename>"'], "+QFLST": ['+QFLST: "<filename>"']}

    @property
    def free(self) -> int:
        return self.size - sum(len(data) for data in self.files.values())

    def read(self, name: str):
        """The content of a file (for the SSL contexts that name it), None if there is none."""
        return self.files.get(plain_name(name or ""))

    def _name(self, cmd: ATCommand, index: int = 0) -> str:
        name = plain_name(cmd.arg(index) or "")
        if not name or len(name) > MAX_NAME or not cmd.quoted[index] or any(c in name for c in "/\\:"):
            raise LookupError(name)
        return name

    # --- AT+QFUPL ---------------------------------------------------------------------------------
    async def qfupl(self, cmd: ATCommand) -> None:
        m = self.m
        try:
            name = self._name(cmd)
        except LookupError:
            m.cme_error(BAD_NAME)
            return
        size = cmd.number(1, 1, 2 ** 31 - 1, DEFAULT_SIZE)
        timeout = cmd.number(2, 1, 65535, DEFAULT_TIMEOUT)
        ackmode = cmd.number(3, 0, 1, 0)
        if len(cmd.args) > 4:
            raise ValueError("QFUPL arguments")
        if name in self.files:
            m.cme_error(EXISTS)  # no CONNECT: the host must not send the data
            return
        if size > self.free:
            m.cme_error(NO_SPACE)
            return
        m.final("CONNECT")
        data = await (self._read_acked(size, timeout) if ackmode else self._read(size, timeout))
        if data is None:
            m.cme_error(TIMED_OUT)
            return
        self.files[name] = data
        digits = f"{checksum(data):04x}" if self.checksum_pad else f"{checksum(data):x}"
        m.reply(f"+QFUPL: {len(data)},{digits}")

    async def _read(self, size: int, timeout: float):
        """``size`` bytes; when they do not all come in time, what came ("partial") or None."""
        data = await self.m.serial.read_exact(size, timeout)
        if data is None:
            partial = self.m.serial.take_received(size)
            return partial if self.qfupl_timeout == "partial" else None
        return data

    async def _read_acked(self, size: int, timeout: float):
        """<ackmode> 1: an ``A`` after every 1024 bytes; the host waits for it before the next block."""
        data = bytearray()
        while len(data) < size:
            want = min(ACK_EVERY, size - len(data))
            block = await self._read(want, timeout)
            if block is None:
                return None
            data += block
            if len(block) < want:
                break  # the time ran out part-way ("partial")
            if want == ACK_EVERY:
                self.m.serial.write(b"A")
        return bytes(data)

    # --- AT+QFLST, AT+QFDEL, AT+QFLDS --------------------------------------------------------------
    async def qflst(self, cmd: ATCommand) -> None:
        pattern = plain_name(cmd.arg(0) or "*") if cmd.kind == "write" else "*"
        self.m.reply(*[f'+QFLST: "{UFS}{name}",{len(data)}' for name, data in sorted(self.files.items())
                       if fnmatch.fnmatchcase(name, pattern)])

    async def qfdel(self, cmd: ATCommand) -> None:
        target = plain_name(cmd.arg(0) or "")
        if cmd.kind != "write" or not target:
            raise ValueError("QFDEL takes a file name")
        if target == "*":
            self.files.clear()
        elif self.files.pop(target, None) is None:
            self.m.cme_error(NOT_FOUND)
            return
        self.m.final("OK")

    async def qflds(self, cmd: ATCommand) -> None:
        self.m.reply(f"+QFLDS: {self.free},{self.size}")
