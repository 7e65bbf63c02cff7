"""A fuzz of the emulator: hostile lines into both dialects' command loops; after each, ``AT``
must still answer ``OK``, and the emulator must not have raised anything internally.

    python -m bench.emulator_fuzz --lines 1000000 [--seed 1] [--dialect quectel] [--pty 2000]

Lines come from a seeded generator that mixes the real command names and argument shapes of both
dialects with hostile values: out-of-range and absurd numbers, empty fields, unterminated quotes,
control and non-ASCII bytes, raw noise, mutated valid lines. The command loop is fed in-process
(a :class:`~fakemodem.serial_side.SerialSide` whose output goes to memory) for speed; ``--pty``
also runs that many lines through a real :class:`~fakemodem.FakeModem` on a pty. A send that
asks for payload gets filler bytes, as a driver would write them; a line that enters transparent
mode is taken out of it as ``+++`` would.

A failure is any of: ``AT`` not answered ``OK`` once the module is idle again, the command loop
ended, an exception that reached the event loop, a WARNING or worse logged by the emulator.
"""
import argparse
import asyncio
import logging
import os
import random
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional

from fakemodem import FakeModem, dialects, hostline
from fakemodem.faults import Faults
from fakemodem.serial_side import SerialSide

TERMINATORS = {"quectel": b"\r", "esp8285": b"\r\n"}
NETWORKS = {"fuzz-net": "fuzz-key"}
SETTLE_TIMEOUT = 20.0  # seconds a single line may keep the module busy (connect timeouts are short)


# --- the generator --------------------------------------------------------------------------------
HOSTILE_NUMBERS = ["-1", "70000", "65536", "99999999", "2147483648", "18446744073709551617", "9" * 60,
                   "", " ", "abc", "0x10", "1.5", "+1", "--1", "1e3", "1_000", "\xb2", "\xff", "0" * 30 + "1",
                   "-0", " 7 ", "\x00", "65535", "0"]
HOSTILE_STRINGS = ['"unterminated', 'a"b', '"', '""', "\\", '\\"', "a,b", "x" * 300, "\x00\x1b\x1a",
                   "caf\xe9", "\xff\xfe", ",,,,", "=", "?", "=?", "AT", "\r", "\n", "\x7f", "::1%z", "%s%n"]
SERVICES = ["TCP", "UDP", "TCP LISTENER", "UDP SERVICE", "TCP INCOMING", "tcp", "SSL", "X"]
KINDS = ["TCP", "UDP", "SSL", "TCPv6", "UDPv6", "tcp", ""]
QSSLCFG = ["sslversion", "ciphersuite", "seclevel", "cacert", "clientcert", "clientkey", "ignorelocaltime",
           "negotiatetime", "sni", "checkhost", "SNI", "nonsense"]
QICFG = ["recvind", "tcp/keepalive", "dataformat", "viewmode", "transwaittm", "transpktsize",
         "close/mode", "sendinfo", "qisend/timeout", "passiveclosed", "tcp/retranscfg", "nonsense"]


@dataclass
class Values:
    """Good values for the fields of one run; hostile ones are mixed in by :class:`LineMaker`."""
    echo_port: int
    closed_port: int


class LineMaker:
    def __init__(self, dialect: str, values: Values, rng: random.Random, names):
        self.dialect = dialect
        self.v = values
        self.rng = rng
        self.names = sorted(names)  # every command name the module has a handler for
        self.templates = QUECTEL_TEMPLATES if dialect == "quectel" else ESP_TEMPLATES

    # fields: mostly sensible, sometimes hostile
    def _pick(self, good, hostile, bad_share=0.25) -> str:
        return str(self.rng.choice(hostile if self.rng.random() < bad_share else good))

    def num(self, *good) -> str:
        return self._pick(good, HOSTILE_NUMBERS)

    def text(self, *good) -> str:
        return self._pick(good, HOSTILE_STRINGS)

    def port(self) -> str:
        return self.num(self.v.echo_port, self.v.closed_port, 0, 1, 65535)

    def host(self) -> str:
        return self.text("127.0.0.1", "localhost.test", "::1", "no-such.test", "192.0.2.1", "127.0.0.1")

    def line(self) -> bytes:
        roll = self.rng.random()
        if roll < 0.70:
            text = self.rng.choice(self.templates)(self)
        elif roll < 0.82:
            text = "AT" + self.rng.choice(self.names) + self.rng.choice(["", "?", "=?", "=", "=" + self._args()])
        elif roll < 0.90:
            return self._mutate(self.rng.choice(self.templates)(self).encode("latin-1"))
        elif roll < 0.97:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 80)))
        else:
            text = "AT" + "".join(chr(self.rng.randrange(32, 256)) for _ in range(self.rng.randrange(0, 40)))
        return text.encode("latin-1")

    def _args(self) -> str:
        return ",".join(self.rng.choice([self.num(1), '"%s"' % self.text("x"), self.text("y")])
                        for _ in range(self.rng.randrange(0, 9)))

    def _mutate(self, data: bytes) -> bytes:
        data = bytearray(data)
        for _ in range(self.rng.randrange(1, 4)):
            where = self.rng.randrange(len(data) + 1)
            what = self.rng.random()
            if what < 0.4 and where < len(data):
                data[where] = self.rng.randrange(256)
            elif what < 0.7:
                data.insert(where, self.rng.randrange(256))
            elif where < len(data):
                del data[where]
        return bytes(data)


def _q(f: LineMaker) -> str:
    return f.num(0, 1, 2, 11)


QUECTEL_TEMPLATES = [
    lambda f: "AT+QIACT=" + f.num(1, 1, 1, 2, 16, 17),
    lambda f: "AT+QIACT?",
    lambda f: "AT+QIDEACT=" + f.num(1, 2),
    lambda f: 'AT+QICSGP=%s,%s,"%s","%s","%s",%s' % (f.num(1), f.num(1, 2, 3), f.text("internet"), f.text(""),
                                                     f.text(""), f.num(0, 1, 2)),
    lambda f: "AT+QICSGP=" + f.num(1, 16),
    lambda f: 'AT+QIOPEN=%s,%s,"%s","%s",%s,%s,%s' % (f.num(1), _q(f), f.rng.choice(SERVICES), f.host(), f.port(),
                                                      f.num(0, 0, 0, f.v.closed_port), f.num(0, 0, 1, 2)),
    lambda f: 'AT+QIOPEN=%s,%s,"%s","%s",%s' % (f.num(1), _q(f), f.rng.choice(SERVICES), f.host(), f.port()),
    lambda f: "AT+QISEND=%s,%s" % (_q(f), f.num(1, 5, 1460, 1461, 0)),
    lambda f: 'AT+QISEND=%s,%s,"%s",%s' % (_q(f), f.num(3, 1460), f.host(), f.port()),
    lambda f: "AT+QISEND=" + _q(f),
    lambda f: "AT+QISENDEX=%s,\"%s\"" % (_q(f), f.text("414243", "00ff", "4", "zz")),
    lambda f: "AT+QIRD=%s,%s" % (_q(f), f.num(1500, 1, 0, 1501)),
    lambda f: "AT+QIRD=" + _q(f),
    lambda f: "AT+QICLOSE=%s" % _q(f) + f.rng.choice(["", "," + f.num(0, 10, 65535)]),
    lambda f: "AT+QISTATE=%s,%s" % (f.num(0, 1), _q(f)),
    lambda f: f.rng.choice(["AT+QISTATE?", "AT+QISTATE", "AT+QIGETERROR", "AT+CSQ", "ATI", "AT+CPIN?",
                            "AT+CEREG?", "AT+CREG?", "ATE0", "ATE1", "AT+CFUN?", "AT+QISDE?", "AT+CMEE?", "ATO"]),
    lambda f: 'AT+QIDNSGIP=%s,"%s"' % (f.num(1), f.host()),
    lambda f: 'AT+QIDNSCFG=%s' % f.num(1) + f.rng.choice(["", ',"%s","%s"' % (f.host(), f.host())]),
    lambda f: 'AT+QICFG="%s"' % f.rng.choice(QICFG) + "".join("," + f.num(0, 1, 2, 10, 25, 100)
                                                             for _ in range(f.rng.randrange(0, 5))),
    lambda f: "AT+CMEE=" + f.num(0, 1, 2),
    lambda f: "AT+QISDE=" + f.num(0, 1),
    lambda f: "AT+%s=%s" % (f.rng.choice(["CREG", "CGREG", "CEREG"]), f.num(0, 1, 2)),
    lambda f: "AT+QISWTMD=%s,%s" % (_q(f), f.num(0, 1, 2)),
    lambda f: "AT+CFUN=" + f.num(0, 1, 4) + f.rng.choice(["", ",0"]),
    lambda f: 'AT+CPIN="%s"' % f.text("1234"),
    lambda f: "AT+IPR=" + f.num(115200, 921600, 0, 300) + f.rng.choice(["", ";&W"]),
    lambda f: f.rng.choice(["AT&W", "ATO", "AT+IPR?", "AT+CGATT?", "AT+CGDCONT?", "AT+CPMS?", "AT+CTZR?",
                            "AT+CMGF?", "AT+CSCS?", "AT+CNMI?", 'AT+QURCCFG="urcport"', "AT+QICFG=?"]),
    lambda f: "AT+%s=%s" % (f.rng.choice(["CTZR", "CTZU", "CMGF", "CGATT"]), f.num(0, 1, 2)),
    lambda f: 'AT+CPMS="%s","%s","%s"' % (f.text("SM", "ME"), f.text("SM", "MT"), f.text("SM")),
    lambda f: 'AT+CGDCONT=%s,"%s","%s"' % (f.num(1, 2), f.text("IP", "IPV4V6"), f.text("internet")),
    lambda f: 'AT+CSCS="%s"' % f.text("GSM", "IRA", "UCS2"),
    lambda f: "AT+CNMI=" + ",".join(f.num(0, 1, 2) for _ in range(f.rng.randrange(1, 7))),
    lambda f: 'AT+QURCCFG="urcport","%s"' % f.text("uart1", "usbat"),
    lambda f: 'AT+QSSLCFG="%s",%s' % (f.rng.choice(QSSLCFG), f.num(0, 1, 5, 6)) + f.rng.choice(
        ["", "," + f.num(0, 1, 2, 4, 300), ',"%s"' % f.text("ca.pem"), ",0X0035", ",0xFFFF", ',"k.pem","pw"']),
    lambda f: 'AT+QSSLOPEN=%s,%s,%s,"%s",%s,%s' % (f.num(1), f.num(0, 1, 5), _q(f), f.host(), f.port(),
                                                   f.num(0, 1, 2)),
    lambda f: "AT+QSSLSEND=%s,%s" % (_q(f), f.num(1, 5, 1460, 1461, 0)),
    lambda f: "AT+QSSLSEND=" + _q(f),
    lambda f: "AT+QSSLRECV=%s,%s" % (_q(f), f.num(1500, 1, 0, 1501)),
    lambda f: "AT+QSSLCLOSE=%s" % _q(f) + f.rng.choice(["", "," + f.num(0, 10)]),
    lambda f: f.rng.choice(["AT+QSSLSTATE", "AT+QSSLSTATE=1," + _q(f), "AT+QSSLCFG=?", 'AT+QFLST="*"', "AT+QFLST",
                            'AT+QFLDS="UFS"']),
    lambda f: 'AT+QFUPL="%s",%s,%s' % (f.text("ca.pem", "UFS:k.pem"), f.num(1, 66, 1500), f.num(1, 5))
              + f.rng.choice(["", ",0", ",1"]),
    lambda f: 'AT+QFDEL="%s"' % f.text("ca.pem", "k.pem", "*"),
]

ESP_TEMPLATES = [
    lambda f: 'AT+CWJAP%s="%s","%s"' % (f.rng.choice(["", "_CUR", "_DEF"]), f.text("fuzz-net", "fuzz-net", "x"),
                                       f.text("fuzz-key", "fuzz-key", "bad")),
    lambda f: "AT+CWJAP?",
    lambda f: "AT+CWQAP",
    lambda f: "AT+CWMODE%s=%s" % (f.rng.choice(["", "_CUR"]), f.num(0, 1, 2, 3)),
    lambda f: "AT+CIPMUX=" + f.num(0, 1, 1, 1),
    lambda f: 'AT+CIPSTART=%s,"%s","%s",%s' % (f.num(0, 1, 4, 5), f.rng.choice(KINDS), f.host(), f.port())
              + f.rng.choice(["", "," + f.num(0, 7200, 7201), "," + f.port() + "," + f.num(0, 1, 2)]),
    lambda f: 'AT+CIPSTART="%s","%s",%s' % (f.rng.choice(KINDS), f.host(), f.port()),
    lambda f: "AT+CIPSEND=%s,%s" % (f.num(0, 1, 4), f.num(1, 5, 2048, 2049, 0)),
    lambda f: 'AT+CIPSEND=%s,%s,"%s",%s' % (f.num(0, 1), f.num(3, 2048), f.host(), f.port()),
    lambda f: "AT+CIPSEND=" + f.num(1, 5, 2048),
    lambda f: "AT+CIPSENDEX=%s,%s" % (f.num(0, 1), f.num(1, 5, 2048)),
    lambda f: "AT+CIPCLOSE=" + f.num(0, 1, 4, 5),
    lambda f: "AT+CIPSERVER=%s,%s" % (f.num(0, 1), f.port()),
    lambda f: "AT+CIPSERVER=" + f.num(0, 1),
    lambda f: "AT+CIPSERVERMAXCONN=" + f.num(1, 5, 0, 6),
    lambda f: "AT+CIPRECVMODE=" + f.num(0, 1),
    lambda f: "AT+CIPRECVDATA=%s,%s" % (f.num(0, 1), f.num(1, 2048, 0)),
    lambda f: "AT+CIPRECVDATA=" + f.num(1, 2048),
    lambda f: "AT+CIPDINFO=" + f.num(0, 1),
    lambda f: 'AT+CIPDOMAIN="%s"' % f.host(),
    lambda f: "AT+CIPSTO=" + f.num(0, 180, 7200, 7201),
    lambda f: 'AT+CIPSTA%s="%s"' % (f.rng.choice(["", "_CUR"]), f.host()),
    lambda f: "AT+CIPMODE=" + f.num(0, 1),
    lambda f: "AT+UART_CUR=%s,8,1,0,%s" % (f.num(115200, 921600, 0, 300), f.num(0, 3)),
    lambda f: "AT+CIPSSLSIZE=" + f.num(2048, 4096, 1),
    lambda f: f.rng.choice(["AT+CIPSTATUS", "AT+CIPSTATE?", "AT+CIPRECVLEN?", "AT+GMR", "AT+CIFSR", "ATE0",
                            "ATE1", "AT+CIPMUX?", "AT+CWSTATE?", "AT+CWLAP", "AT+CIPSERVER?", "AT+CIPSTA?",
                            "AT+CIPRECVMODE?", "AT+CWMODE?", "AT+CIPSTAMAC?", "AT+UART_CUR?"]),
    lambda f: "AT+RST" if f.rng.random() < 0.1 else "AT",
    lambda f: "AT+CIPSEND",
    lambda f: 'AT+CIPSTARTEX="%s","%s",%s' % (f.rng.choice(KINDS), f.host(), f.port()),
    lambda f: "AT+UART_DEF=%s,%s,%s,%s,%s" % (f.num(115200, 921600), f.num(8, 5), f.num(1, 3), f.num(0, 2),
                                              f.num(0, 3)),
    lambda f: "AT+%s=%s" % (f.rng.choice(["SYSSTORE", "SYSLOG", "SYSMSG", "SYSMSG_CUR", "CWAUTOCONN"]), f.num(0, 1, 7)),
    lambda f: 'AT+CIPDNS%s=%s,"%s"' % (f.rng.choice(["", "_CUR"]), f.num(0, 1), f.host()),
    lambda f: "AT+CWDHCP%s=%s,%s" % (f.rng.choice(["", "_CUR"]), f.num(0, 1, 2), f.num(0, 1, 3)),
    lambda f: 'AT+PING="%s"' % f.host(),
    lambda f: 'AT+CWLAP="%s"' % f.text("fuzz-net"),
    lambda f: "AT+RESTORE" if f.rng.random() < 0.05 else "AT+SYSLOG?",
    lambda f: "AT+CIPSSLCCONF=%s,%s,%s,%s" % (f.num(0, 1, 5), f.num(0, 1, 2, 3), f.num(0, 1), f.num(0, 1)),
    lambda f: 'AT+%s=%s,"%s"' % (f.rng.choice(["CIPSSLCCN", "CIPSSLCSNI"]), f.num(0, 1, 5), f.host()),
    lambda f: 'AT+CIPSSLCALPN=%s,%s,"%s"' % (f.num(0, 5), f.num(1, 2), f.text("mqtt")),
]


# --- running lines into a module --------------------------------------------------------------------
class MemoryLine:
    """Where an in-process module's output goes: kept in memory, never on a line."""
    backlog = 0

    def __init__(self):
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


@dataclass
class Report:
    dialect: str
    lines: int = 0
    seconds: float = 0.0
    failures: List[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


class Trouble(logging.Handler):
    """Collects WARNING-or-worse records of the emulator and exceptions that reach the loop."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(f"{record.name}: {record.getMessage()}"
                         + (f" ({record.exc_info[1]!r})" if record.exc_info else ""))

    def loop_exception(self, loop, context) -> None:
        self.seen.append(f"loop: {context.get('message')} {context.get('exception')!r}")


def module_options(dialect: str) -> dict:
    hosts = {"localhost.test": "127.0.0.1"}
    if dialect == "quectel":
        return dict(hosts=hosts, open_timeout=0.2, boot_delay=0.0)
    return dict(hosts=hosts, networks=NETWORKS, connect_timeout=0.2, join_delay=0.0, boot_delay=0.0)


async def _echo_server():
    async def serve(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
        except OSError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class InProcess:
    """One emulated module fed directly, on an event loop in this thread."""

    def __init__(self, dialect: str, **options):
        self.dialect = dialect
        self.options = dict(module_options(dialect), **options)  # (firmware="2.2"...)
        self.terminator = TERMINATORS[dialect]
        self.out = MemoryLine()

    async def start(self):
        loop = asyncio.get_running_loop()
        self.serial = SerialSide(loop, line=self.out, faults=Faults())
        self.module = dialects.get(self.dialect)(self.serial, faults=Faults(), **self.options)
        self.task = loop.create_task(self.module.run())
        await self.settle()

    async def settle(self) -> bool:
        """Wait until the module waits for a command again, writing payload when it asks for some."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        spins = 0
        while not self.serial.idle:
            if self.task.done():
                return False
            missing = self.serial.payload_missing
            if missing:
                self.serial.feed(b"z" * missing)
            if self.module.data_mode:  # transparent mode: what "+++" and its guard times would do
                self.module.leave_data_mode()
            spins += 1
            await asyncio.sleep(0 if spins < 50 else 0.001)
            if time.monotonic() > deadline:
                return False
        return True

    async def alive(self) -> Optional[str]:
        """None if ``AT`` is answered ``OK``; otherwise what went wrong."""
        if not await self.settle():
            return "the module did not come back to its command prompt"
        self.serial.feed(self.terminator)  # ends whatever partial line the last input left
        if not await self.settle():
            return "the module did not come back after a bare terminator"
        mark = len(self.out.data)
        self.serial.feed(b"AT" + self.terminator)
        if not await self.settle():
            return "AT was not answered"
        answer = bytes(self.out.data[mark:])
        return None if b"OK\r\n" in answer else f"AT answered {answer[-80:]!r}"

    async def feed(self, line: bytes) -> Optional[str]:
        self.out.data.clear()
        self.serial.feed(line + self.terminator)
        problem = await self.alive()
        if problem is None and b"None" in self.out.data:
            problem = f"Python's None in the answer: {bytes(self.out.data)[-160:]!r}"
        return problem

    async def stop(self):
        self.task.cancel()
        await self.module.shut_down()


async def _run_in_process(dialect: str, lines: int, seed: int, trouble: Trouble, report: Report,
                          keep: int) -> None:
    asyncio.get_running_loop().set_exception_handler(trouble.loop_exception)
    server = await _echo_server()
    module = InProcess(dialect)
    await module.start()
    maker = LineMaker(dialect, Values(server.sockets[0].getsockname()[1], _closed_port()), random.Random(seed),
                      module.module.handlers)
    started = time.perf_counter()
    try:
        for _ in range(lines):
            line = maker.line()
            problem = await module.feed(line)
            report.lines += 1
            if trouble.seen:
                problem = (problem + "; " if problem else "") + "; ".join(trouble.seen)
                trouble.seen.clear()
            if problem:
                if len(report.failures) < keep:
                    report.failures.append(f"{line!r}: {problem}")
                if module.task.done():
                    break
    finally:
        report.seconds = time.perf_counter() - started
        await module.stop()
        server.close()


def run_in_process(dialect: str, lines: int, seed: int = 1, keep: int = 50) -> Report:
    """Feed ``lines`` generated lines to one dialect's command loop, in this thread."""
    report = Report(dialect)
    trouble = Trouble()
    logger = logging.getLogger("fakemodem")
    logger.addHandler(trouble)
    try:
        asyncio.run(_run_in_process(dialect, lines, seed, trouble, report, keep))
    finally:
        logger.removeHandler(trouble)
    return report


def run_through_pty(dialect: str, lines: int, seed: int = 1, keep: int = 50) -> Report:
    """The same, through a real :class:`FakeModem` on a pty, written and read as a driver would."""
    report = Report(dialect)
    trouble = Trouble()
    logger = logging.getLogger("fakemodem")
    logger.addHandler(trouble)
    echo = socket.socket()
    echo.bind(("127.0.0.1", 0))
    echo.listen(16)
    threading.Thread(target=_echo_thread, args=(echo,), daemon=True).start()
    fm = FakeModem(dialect, **module_options(dialect))
    fm.loop.set_exception_handler(trouble.loop_exception)
    host = PtyHost(fm, TERMINATORS[dialect])
    maker = LineMaker(dialect, Values(echo.getsockname()[1], _closed_port()), random.Random(seed),
                      fm.call(lambda: list(fm.module.handlers)))
    started = time.perf_counter()
    try:
        host.settle()
        for _ in range(lines):
            line = maker.line()
            problem = host.feed(line)
            report.lines += 1
            if trouble.seen:
                problem = (problem + "; " if problem else "") + "; ".join(trouble.seen)
                trouble.seen.clear()
            if problem and len(report.failures) < keep:
                report.failures.append(f"{line!r}: {problem}")
    finally:
        report.seconds = time.perf_counter() - started
        host.close()
        fm.close()
        echo.close()
        logger.removeHandler(trouble)
    return report


class PtyHost:
    """The host end of a FakeModem's pty. Whether the module has taken everything written and
    waits for a command again is read inside the emulator (fm.call); the bytes go through the pty."""

    def __init__(self, fm: FakeModem, terminator: bytes):
        self.fm = fm
        self.terminator = terminator
        self.fd = os.open(fm.port, os.O_RDWR | os.O_NOCTTY)
        self.written = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.written += len(data)

    def _state(self):
        fm = self.fm
        if fm.module.data_mode:  # transparent mode: what "+++" and its guard times would do
            fm.module.leave_data_mode()
        return fm.uart.bytes_in, fm.serial.idle and fm.uart.backlog == 0, fm.serial.payload_missing

    def settle(self) -> bool:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            taken, idle, missing = self.fm.call(self._state)
            if missing and taken >= self.written:
                self.write(b"z" * missing)
            elif idle and taken >= self.written:
                return True
            else:
                time.sleep(0.0002)
        return False

    def read_quiet(self, quiet: float = 0.002, until: bytes = b"") -> bytes:
        """What the module wrote, up to a pause of ``quiet`` seconds after ``until`` was seen."""
        out = bytearray()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], quiet)
            if ready:
                out += os.read(self.fd, 65536)
            elif until in out:
                break
        return bytes(out)

    def feed(self, line: bytes) -> Optional[str]:
        self.write(line + self.terminator)
        if not self.settle():
            return "the module did not come back to its command prompt"
        hostline.preset(self.fd, self.fm.call(lambda: self.fm.uart.baudrate))  # follow AT+IPR, AT+UART_CUR
        self.write(self.terminator)
        if not self.settle():
            return "the module did not come back after a bare terminator"
        answer = self.read_quiet()
        if b"None" in answer:
            return f"Python's None in the answer: {answer[-160:]!r}"
        self.write(b"AT" + self.terminator)
        if not self.settle():
            return "AT was not answered"
        answer = self.read_quiet(until=b"OK\r\n")
        return None if b"OK\r\n" in answer else f"AT answered {answer[-80:]!r}"

    def close(self) -> None:
        os.close(self.fd)


def _echo_thread(listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_echo_conn, args=(conn,), daemon=True).start()


def _echo_conn(conn: socket.socket) -> None:
    with conn:
        try:
            while data := conn.recv(65536):
                conn.sendall(data)
        except OSError:
            pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines per dialect, in-process")
    parser.add_argument("--pty", type=int, default=0, metavar="LINES", help="also this many through a real pty")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dialect", action="append", choices=list(dialects.NAMES))
    args = parser.parse_args(argv)
    if args.lines < 0 or args.pty < 0:
        parser.error("line counts cannot be negative")
    logging.basicConfig(level=logging.ERROR)
    failed = 0
    for dialect in args.dialect or dialects.NAMES:
        runs = [("in-process", run_in_process(dialect, args.lines, args.seed))]
        if args.pty:
            runs.append(("pty", run_through_pty(dialect, args.pty, args.seed)))
        for how, report in runs:
            print(f"{dialect} {how}: {report.lines} lines in {report.seconds:.1f} s "
                  f"({report.rate:.0f} lines/s), {len(report.failures)} failures")
            for failure in report.failures:
                print("   ", failure)
            failed += len(report.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
