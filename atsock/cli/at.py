"""``atsock at PORT [COMMAND ...]``: a raw AT console on the serial port, or a few commands and out.

Nothing goes to the module but what is typed or given: no bring-up, no ``ATE0``. Lines that arrive
outside a command (URCs) are printed as they come. With commands on the command line (or piped on
stdin, one per line) each one's answer is printed and the exit status is 1 at the first command that
does not end in ``OK`` (or gets no final result within ``--timeout``); the rest are not sent.
"""
import os
import sys
import threading
from pathlib import Path
from typing import Optional

from .. import atcmd
from ..channel import Final, Intermediate, Prompt, ProtocolError, Urc
from .serialat import MAX_LINE, SerialAT

GREEN, RED, CYAN, DIM, RESET = "\x1b[32m", "\x1b[31m", "\x1b[36m", "\x1b[2m", "\x1b[0m"
PROMPT = "AT> "
SIGNAL_WAKEUP = 0.25  # seconds
HISTORY = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "atsock" / "at_history"


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "at", parents=parents, help="raw AT console, or send a few commands and print the answers",
        description="Talk AT straight to the serial port (no bring-up). Without COMMANDs and on a terminal: an "
                    "interactive console with line editing and history; unsolicited lines are shown as they "
                    "arrive; Ctrl-C stops waiting for an answer, Ctrl-D leaves. With COMMANDs (or commands piped "
                    "on stdin): print each answer, exit 1 at the first ERROR / +CME ERROR / timeout.")
    parser.add_argument("port", help="serial port (device path or pyserial URL)")
    parser.add_argument("commands", nargs="*", metavar="COMMAND", help="e.g. 'AT+CSQ' 'AT+COPS?'")
    parser.add_argument("--baudrate", type=int, default=115200, help="serial line rate (default 115200)")
    parser.add_argument("--eol", choices=("crlf", "cr"), default="crlf",
                        help="line ending sent after each command (default crlf; both module families take it)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="wait this long for each final result (non-interactive; default 10)")
    parser.add_argument("--no-color", action="store_true", help="no colours even on a terminal")
    parser.set_defaults(run=run)


def run(args) -> int:
    interactive = not args.commands and sys.stdin.isatty()
    commands = args.commands if args.commands else (None if interactive else _stdin_commands())
    for command in commands or ():
        atcmd.printable(command, "command", MAX_LINE)  # a whole line or nothing: no CR/LF inside
    colour = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    console = Console(colour, interactive)
    trace = console.trace if args.trace else None
    with SerialAT(args.port, baudrate=args.baudrate, eol=b"\r" if args.eol == "cr" else b"\r\n",
                  on_event=console.show, on_bytes=trace) as port:
        if interactive:
            return console.interact(port)
        return console.batch(port, commands, args.timeout)


def _stdin_commands():
    return [line.strip() for line in sys.stdin if line.strip()]


class Console:
    """Prints what the module says; on a terminal it keeps the line being typed intact around it."""

    def __init__(self, colour: bool, interactive: bool):
        self.colour = colour
        self.interactive = interactive
        self._at_prompt = False
        self._out = threading.Lock()
        self._readline = None

    def _paint(self, text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if self.colour else text

    def show(self, event) -> None:
        """Called on the reader thread for every line the module sends."""
        if isinstance(event, Intermediate):
            self._print(_visible(event.text))
        elif isinstance(event, Final):
            self._print(self._paint(_visible(event.text), GREEN if event.text == "OK" else RED))
        elif isinstance(event, Urc):
            if self.interactive:
                self._print(self._paint(_visible(event.text), CYAN))
            else:  # answers on stdout stay clean for scripts
                print(f"unsolicited: {_visible(event.text)}", file=sys.stderr, flush=True)
        elif isinstance(event, Prompt):
            self._print("> (the module asks for data; this console sends lines only)")
        elif isinstance(event, ProtocolError):
            self._print(self._paint(f"[unreadable input: {event.reason}]", RED))

    def trace(self, direction: str, data: bytes) -> None:
        text = f"{direction} {data!r}"
        with self._out:
            print(self._paint(text, DIM) if sys.stderr.isatty() else text, file=sys.stderr, flush=True)

    def _print(self, text: str) -> None:
        with self._out:
            if self._at_prompt and self._readline is not None:
                # clear the half-typed line, print, then draw the prompt and what was typed again
                sys.stdout.write(f"\r\x1b[K{text}\n{PROMPT}{self._readline.get_line_buffer()}")
            else:
                sys.stdout.write(text + "\n")
            sys.stdout.flush()

    # --- the two ways of running -------------------------------------------------------------------
    def batch(self, port: SerialAT, commands, timeout: float) -> int:
        for command in commands:
            answer = port.exchange(command, timeout)
            if answer is None:
                print(f"atsock at: {command!r}: no final result within {timeout:g} s", file=sys.stderr)
                return 1
            if answer[1] != "OK":
                return 1
        return 0

    def interact(self, port: SerialAT) -> int:
        import readline  # line editing and history; only needed on a terminal

        self._readline = readline
        _load_history(readline)
        print(f"atsock at {port.serial.port}: type AT commands; Ctrl-C stops waiting for an answer, "
              "Ctrl-D (or 'exit') leaves.", file=sys.stderr)
        try:
            while True:
                line = self._read_line()
                if line is None or line.strip().lower() in ("exit", "quit"):
                    return 0
                line = line.strip()
                if not line:
                    continue
                try:
                    port.send(line)
                except ValueError as exc:
                    self._print(self._paint(str(exc), RED))
                    continue
                try:
                    while port.wait(SIGNAL_WAKEUP, give_up=False) is None:
                        pass  # Python runs a Ctrl-C handler only in this thread, once it wakes
                except KeyboardInterrupt:
                    port.abandon()
                    self._print(self._paint("(stopped waiting; a late answer will show as unsolicited)", DIM))
        finally:
            _save_history(readline)

    def _read_line(self) -> Optional[str]:
        self._at_prompt = True
        try:
            return input(PROMPT)
        except EOFError:
            print(file=sys.stderr)
            return None
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return ""
        finally:
            self._at_prompt = False


def _visible(text: str) -> str:
    """Module text with anything unprintable shown as an escape, so binary noise cannot drive the terminal."""
    return "".join(ch if " " <= ch <= "~" else f"\\x{ord(ch):02x}" for ch in text)


def _load_history(readline) -> None:
    readline.set_history_length(1000)
    try:
        readline.read_history_file(HISTORY)
    except OSError:
        pass


def _save_history(readline) -> None:
    try:
        HISTORY.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(HISTORY)
    except OSError:
        pass
