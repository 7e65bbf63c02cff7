"""The emulator's numeric parameters against the ranges the reference gives (../shared/at-reference/):
each value inside a range is taken, each one outside it (and any text that is no number) is
refused with ERROR, and the module answers AT afterwards. Values are drawn from a seeded generator
around and far from each bound; the command loop is fed in-process (bench.emulator_fuzz)."""
import asyncio
import random
from dataclasses import dataclass, field
from typing import Dict, Tuple

import pytest

from bench.emulator_fuzz import NETWORKS, InProcess

NOT_NUMBERS = ["", "abc", "1.5", "0x10", "+-1", "9" * 40, " ", "1e3"]


@dataclass
class Range:
    template: str            # the command, "{value}" where the number goes ("{port}": an echo server's)
    low: int
    high: int
    source: str              # where the reference gives the range
    setup: Tuple[str, ...] = ()   # lines before the first value (their answers are not judged)
    after: Tuple[str, ...] = ()   # lines after a value that was taken (closing what it opened)
    other_forms: Tuple[int, ...] = ()  # values outside the range that are another form of the command
    optional: bool = False   # an empty field leaves the parameter out (its default), as AT syntax has it
    ready: bytes = b""       # what the setup's last line must bring before the first value (an open's notice)


JOIN = ('AT+CWJAP="fuzz-net","fuzz-key"', "AT+CIPMUX=1")
OPEN_QUECTEL = ("AT+QIACT=1", 'AT+QIOPEN=1,0,"TCP","127.0.0.1",{port},0,0')
MODULES: Dict[Tuple[str, str], Tuple[Range, ...]] = {
    ("quectel", "BG96"): (
        Range("AT+QICSGP={value},1,\"internet\",\"\",\"\",0", 1, 16, "quectel-tcpip.md §1: <contextID> 1-16 (BG9x)"),
        Range("AT+QICLOSE={value}", 0, 11, "quectel-tcpip.md §1: <connectID> 0-11"),
        Range("AT+QICLOSE=5,{value}", 0, 65535, "quectel-tcpip.md AT+QICLOSE: <timeout> 0-65535 s", optional=True),
        Range('AT+QICFG="transpktsize",{value}', 1, 1460, "quectel-tcpip.md §13: transpktsize 1-1460"),
        Range('AT+QICFG="transwaittm",{value}', 0, 20, "quectel-tcpip.md §13: transwaittm 0-20"),
        Range('AT+QICFG="tcp/retranscfg",{value},600', 3, 20, "quectel-tcpip.md §13: retranscfg backoffs 3-20"),
        Range('AT+QICFG="tcp/keepalive",1,60,{value},3', 25, 100, "quectel-tcpip.md §13: keepalive interval 25-100 s",
              optional=True),
        Range('AT+QICFG="tcp/keepalive",1,60,25,{value}', 3, 10, "quectel-tcpip.md §13: keepalive probes 3-10",
              optional=True),
        Range('AT+QICFG="tcp/keepalive",1,{value},25,3', 1, 120, "quectel-tcpip.md §1: keepalive idle 1-120 min",
              optional=True),
        Range('AT+QSSLCFG="sslversion",{value},4', 0, 5, "quectel-ssl.md §1: <sslctxID> 0-5"),
        Range('AT+QSSLCFG="negotiatetime",1,{value}', 10, 300, "quectel-ssl.md: negotiatetime 10-300 s"),
        Range("AT+QISEND=0,{value}", 1, 1460, "quectel-tcpip.md AT+QISEND: <len> 1-1460", setup=OPEN_QUECTEL,
              other_forms=(0,), ready=b"+QIOPEN: 0,0"),  # =<id>,0: the counters
        Range("AT+QIRD=0,{value}", 1, 1500, "quectel-tcpip.md AT+QIRD: <len> 1-1500", setup=OPEN_QUECTEL,
              other_forms=(0,), optional=True, ready=b"+QIOPEN: 0,0"),  # =<id>,0: the counters
    ),
    ("esp8285", "1.7"): (
        Range("AT+CIPSTO={value}", 0, 7200, "esp-at.md §5.8: AT+CIPSTO=<0..7200>"),
        Range("AT+CIPSERVERMAXCONN={value}", 1, 5, "esp-at.md §5.8: AT+CIPSERVERMAXCONN=<1..5>", setup=JOIN),
        Range("AT+UART_CUR=115200,{value},1,0,0", 5, 8, "esp-at.md §3: databits 5-8"),
        Range("AT+UART_CUR=115200,8,{value},0,0", 1, 3, "esp-at.md §3: stopbits 1-3"),
        Range("AT+UART_CUR=115200,8,1,{value},0", 0, 2, "esp-at.md §3: parity 0-2"),
        Range("AT+UART_CUR=115200,8,1,0,{value}", 0, 3, "esp-at.md §3: flow 0-3"),
        Range('AT+CIPSTART=0,"TCP","127.0.0.1",{port},{value}', 0, 7200, "esp-at.md §5.2: <keepalive> 0-7200 s",
              setup=JOIN, after=("AT+CIPCLOSE=0",), optional=True),
        Range("AT+CIPSEND=0,{value}", 1, 2048, "esp-at.md §5.3: 1.x sends at most 2048 bytes",
              setup=JOIN + ('AT+CIPSTART=0,"TCP","127.0.0.1",{port}',)),
    ),
    ("esp8285", "2.2"): (
        Range("AT+CIPSTO={value}", 0, 7200, "esp-at.md §5.8: AT+CIPSTO=<0..7200>"),
        Range("AT+CWMODE={value}", 0, 3, "esp-at.md §4.1: modes 0 (2.x) to 3", after=("AT+CWMODE=1",)),
        Range("AT+CIPSERVERMAXCONN={value}", 1, 5, "esp-at.md §5.8: AT+CIPSERVERMAXCONN=<1..5>", setup=JOIN),
    ),
}


def values(item: Range, rng: random.Random):
    """Both bounds and their neighbours, numbers inside and outside (near and far), and texts."""
    low, high = item.low, item.high
    inside = {low, high, *(rng.randint(low, high) for _ in range(6))}
    outside = {low - 1, high + 1, -1, *(rng.randint(high + 2, high * 10 + 10) for _ in range(3)),
               rng.randint(2 ** 31, 2 ** 40), -rng.randint(2, 2 ** 20)} - set(range(low, high + 1)) - set(item.other_forms)
    texts = [text for text in NOT_NUMBERS if not (item.optional and not text.strip())]
    return [(str(v), True) for v in sorted(inside)] + [(str(v), False) for v in sorted(outside)] \
        + [(text, False) for text in texts]


async def answer(module: InProcess, line: str, until: bytes = b"") -> bytes:
    """The module's answer to ``line`` (and, with ``until``, everything up to that notice)."""
    module.out.data.clear()
    module.serial.feed(line.encode() + module.terminator)
    await module.settle()
    for _ in range(1000):
        if until in module.out.data:
            break
        await asyncio.sleep(0.01)
    return bytes(module.out.data)


def refused(reply: bytes) -> bool:
    return b"\r\nERROR\r\n" in reply or b"+CME ERROR" in reply


async def check_module(dialect: str, firmware: str, items, seed: int):
    async def serve(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
        except (asyncio.CancelledError, ConnectionError):
            pass  # (the test is over)
        writer.close()

    echo = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = echo.sockets[0].getsockname()[1]
    options = dict(model=firmware) if dialect == "quectel" else dict(firmware=firmware, networks=NETWORKS)
    module = InProcess(dialect, **options)
    await module.start()
    rng = random.Random(seed)
    wrong = []
    try:
        await answer(module, "ATE0")
        for item in items:
            for index, line in enumerate(item.setup):
                await answer(module, line.format(port=port), item.ready if index == len(item.setup) - 1 else b"")
            for value, inside in values(item, rng):
                line = item.template.format(value=value, port=port)
                reply = await answer(module, line)
                if refused(reply) == inside:
                    wrong.append(f"{line!r} ({item.source}): {reply[-60:]!r}")
                if inside:
                    for closing in item.after:
                        await answer(module, closing)
                problem = await module.alive()
                if problem:
                    wrong.append(f"{line!r}: {problem}")
    finally:
        await module.stop()
        echo.close()
    return wrong


@pytest.mark.parametrize("dialect, firmware", sorted(MODULES))
def test_numeric_parameters_keep_to_the_references_ranges(dialect, firmware):
    assert asyncio.run(check_module(dialect, firmware, MODULES[dialect, firmware], seed=21)) == []


def test_cipsto_is_queried_and_kept_within_its_range():
    async def run():
        module = InProcess("esp8285", firmware="2.2")
        await module.start()
        try:
            replies = [await answer(module, line) for line in ("ATE0", "AT+CIPSTO?", "AT+CIPSTO=60", "AT+CIPSTO?",
                                                               "AT+CIPSTO=99999", "AT+CIPSTO=-1", "AT+CIPSTO=abc",
                                                               "AT+CIPSTO?")]
        finally:
            await module.stop()
        return replies[1:]

    assert asyncio.run(run()) == [b"+CIPSTO:180\r\n\r\nOK\r\n", b"\r\nOK\r\n", b"+CIPSTO:60\r\n\r\nOK\r\n",
                                  b"\r\nERROR\r\n", b"\r\nERROR\r\n", b"\r\nERROR\r\n", b"+CIPSTO:60\r\n\r\nOK\r\n"]
