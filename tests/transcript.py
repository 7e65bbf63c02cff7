"""Play a reference transcript against the emulator: ``H`` lines are written, ``M`` lines must come
back byte for byte, ``M~`` lines match a regular expression (for ports chosen at run time)."""
import re
import time

from .at_client import AtPort


def play(at: AtPort, script: str, **values) -> None:
    """``script`` holds one step per line: ``H: <bytes>``, ``M: <bytes>``, ``M~ <regex>`` or
    ``wait <seconds>``; bytes are written as in the reference (``\\r``, ``\\n``, ``\\x1a``), and
    ``{name}`` is replaced by ``values[name]`` first. Comments start with two spaces and ``#``."""
    for number, raw in enumerate(script.strip().splitlines(), 1):
        line = raw.split("  #")[0].strip()
        if not line:
            continue
        kind, _, text = line.partition(" ")
        text = text.format(**values)
        if kind == "wait":
            time.sleep(float(text))
            continue
        if kind == "M~":  # the regular expression reads its own escapes
            pattern = re.compile(text.encode("latin-1"))
            got = at.read_until(pattern.pattern)
            assert pattern.fullmatch(got), f"step {number}: {got!r} does not match {text!r}"
            continue
        data = text.encode("latin-1").decode("unicode_escape").encode("latin-1")
        if kind == "H:":
            at.write(data)
        elif kind == "M:":
            got = at.read_exact(len(data))
            assert got == data, f"step {number}: expected {data!r}, got {got!r}"
        else:
            raise ValueError(f"step {number}: {raw!r}")
    rest = at.read_quiet(0.1)
    assert rest == b"", f"unexpected bytes after the transcript: {rest!r}"
