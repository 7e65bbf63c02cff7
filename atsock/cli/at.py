"""``atsock at PORT [COMMAND ...]``: a raw AT console on the serial port, or a few commands and out.

Nothing goes to the module but what is typed or given: no bring-up, no ``ATE0``. Lines that arrive
outside a command (URCs) are printed as they come. With commands on the command line (or piped on
stdin, one per line) each one's answer is printed and the exit status is 1 at the first command that
does not end in ``OK`` (or gets no final result within ``--timeout``); the rest are not sent.

A command the module answers with a ``>`` prompt (``AT+CMGS``, ``AT+QISEND=<id>``) takes data: typed
in the console up to Ctrl-Z (sent) or ESC (cancelled), or on the command line as the next argument.
``+++`` alone is sent without a line ending between two silences of ``--guard`` seconds, which takes
a module out of data mode. The port is opened exclusively, as every other command opens it.
"""
import os
import sys
import threading
from pathlib import Path
from typing import Optional

from ..wire import atcmd
from ..wire.channel import Final, Intermediate, Prompt, ProtocolError, Urc
from ..wire.wiretrace import visible
from .options import add_port_argument, resolve_port
from .serialat import ESCAPE, MAX_LINE, PROMPT, SerialAT

GREEN, RED, CYAN, DIM, RESET = "\x1b[32m", "\x1b[31m", "\x1b[36m", "\x1b[2m", "\x1b[0m"
INPUT_PROMPT = "AT> "
SIGNAL_WAKEUP = 0.25  # seconds
SUCCESS = frozenset({"OK", "SEND OK", "CONNECT"})
CTRL_Z, ESC, CTRL_C = b"\x1a", b"\x1b", b"\x03"
NOT_TEXT_HINT = "bytes that are not text: the wrong --baudrate?"
HISTORY = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "atsock" / "at_history"


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "at", parents=parents, help="raw AT console, or send a few commands and print the answers",
        description="Talk AT straight to the serial port (no bring-up). Without COMMANDs and on a terminal: an "
                    "interactive console with line editing and history; unsolicited lines are shown as they "
                    "arrive; Ctrl-C stops waiting for an answer, Ctrl-D leaves. With COMMANDs (or commands piped "
                    "on stdin): print each answer, exit 1 at the first ERROR / +CME ERROR / timeout. After a "
                    "command the module answers with '>', the console takes data up to Ctrl-Z (ESC cancels); on "
                    "the command line the next argument is the data, with backslash escapes ('hello\\x1a'). "
                    "'+++' alone leaves data mode (sent between two --guard silences).")
    add_port_argument(parser)
    parser.add_argument("commands", nargs="*", metavar="COMMAND", help="e.g. 'AT+CSQ' 'AT+COPS?'")
    parser.add_argument("--baudrate", type=int, default=115200, help="serial line rate (default 115200)")
    parser.add_argument("--eol", choices=("crlf", "cr"), default="crlf",
                        help="line ending sent after each command (default crlf; both module families take it)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="wait this long for each final result (non-interactive; default 10)")
    parser.add_argument("--guard", type=float, default=1.2, metavar="SECONDS",
                        help="silence before and after '+++' (default 1.2: Quectel's 1 s and a margin; "
                             "ESP-AT needs 0.02)")
    parser.add_argument("--non-exclusive", action="store_true",
                        help="open the port even if another program has it (answers may then go astray)")
    parser.add_argument("--no-color", action="store_true", help="no colours even on a terminal")
    parser.set_defaults(run=run)


def run(args) -> int:
    _port_or_command(args)
    interactive = not args.commands and sys.stdin.isatty()
    commands = args.commands if args.commands else (None if interactive else _stdin_commands())
    _check(commands or ())
    colour = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    console = Console(colour, interactive)
    with SerialAT(resolve_port(args), baudrate=args.baudrate, eol=b"\r" if args.eol == "cr" else b"\r\n",
                  exclusive=not args.non_exclusive, on_event=console.show) as port:
        if interactive:
            return console.interact(port, args.guard)
        return console.batch(port, commands, args.timeout, args.guard)


def _port_or_command(args) -> None:
    """``atsock at AT+CSQ`` (the port from $ATSOCK_PORT): a first word that is a command, not a port."""
    first = args.port
    if first and (first.upper().startswith("AT") or first == ESCAPE) and "://" not in first \
            and not os.path.exists(first):
        args.commands.insert(0, first)
        args.port = None


def _check(commands) -> None:
    """Every command a whole line or nothing (no CR/LF inside); data after a prompt is not checked."""
    for command in commands:
        if command != ESCAPE and command.upper().startswith("AT"):
            atcmd.printable(command, "command", MAX_LINE)


def payload_argument(text: str) -> bytes:
    """Data given on the command line: backslash escapes decoded (``\\x1a`` is Ctrl-Z, ``\\r``...)."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1")


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
        self._noted_noise = False

    def _paint(self, text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if self.colour else text

    def show(self, event) -> None:
        """Called on the reader thread for every line the module sends."""
        if isinstance(event, (Intermediate, Final, Urc)):
            self._note_if_not_text(event.text)
        if isinstance(event, Intermediate):
            self._print(visible(event.text))
        elif isinstance(event, Final):
            self._print(self._paint(visible(event.text), GREEN if event.text in SUCCESS else RED))
        elif isinstance(event, Urc):
            if self.interactive:
                self._print(self._paint(visible(event.text), CYAN))
            else:  # answers on stdout stay clean for scripts
                print(f"unsolicited: {visible(event.text)}", file=sys.stderr, flush=True)
        elif isinstance(event, Prompt):
            pass  # the console asks for the data once the terminal is ready for Ctrl-Z (_read_payload)
        elif isinstance(event, ProtocolError):
            self._print(self._paint(f"[unreadable input: {event.reason}; the wrong --baudrate?]", RED))

    def _note_if_not_text(self, text: str) -> None:
        if not self._noted_noise and any(not (" " <= ch <= "~" or ch == "\t") for ch in text):
            self._noted_noise = True
            print(f"atsock at: the port sends {NOT_TEXT_HINT}", file=sys.stderr, flush=True)

    def _print(self, text: str) -> None:
        with self._out:
            if self._at_prompt and self._readline is not None:
                # clear the half-typed line, print, then draw the prompt and what was typed again
                sys.stdout.write(f"\r\x1b[K{text}\n{INPUT_PROMPT}{self._readline.get_line_buffer()}")
            else:
                sys.stdout.write(text + "\n")
            sys.stdout.flush()

    # --- the two ways of running -------------------------------------------------------------------
    def batch(self, port: SerialAT, commands, timeout: float, guard: float) -> int:
        given = iter(commands)
        for command in given:
            if command == ESCAPE:
                port.escape(guard)
                if port.wait(timeout) is None:
                    print("atsock at: no answer to +++ (ESP-AT leaves data mode without one)", file=sys.stderr)
                continue
            answer = port.exchange(command, timeout)
            while answer is not None and answer[1] == PROMPT:
                data = next(given, None)
                if data is None:
                    port.send_payload(ESC)
                    print(f"atsock at: {command!r} asks for data, but no argument follows it: cancelled (ESC)",
                          file=sys.stderr)
                    return 1
                port.send_payload(payload_argument(data))
                answer = port.wait(timeout)
            if answer is None:
                noise = f"; the port sends {NOT_TEXT_HINT}" if port.noisy else ""
                print(f"atsock at: {command!r}: no final result within {timeout:g} s{noise}", file=sys.stderr)
                return 1
            if answer[1] not in SUCCESS:
                return 1
        return 0

    def interact(self, port: SerialAT, guard: float) -> int:
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
                    if line == ESCAPE:
                        port.escape(guard)
                    else:
                        port.send(line)
                except ValueError as exc:
                    self._print(self._paint(str(exc), RED))
                    continue
                try:
                    while True:
                        answer = port.wait(SIGNAL_WAKEUP, give_up=False)
                        if answer is not None and answer[1] == PROMPT:
                            port.send_payload(self._read_payload())
                        elif answer is not None:
                            break  # (otherwise: Python runs a Ctrl-C handler only in this thread, once it wakes)
                except KeyboardInterrupt:
                    port.abandon()
                    self._print(self._paint("(stopped waiting; a late answer will show as unsolicited)", DIM))
        finally:
            _save_history(readline)

    def _read_payload(self) -> bytes:
        """What is typed after a ``>`` prompt, up to Ctrl-Z (sent with it) or ESC (cancel; Ctrl-C too).

        The terminal is switched out of line mode meanwhile, so that Ctrl-Z reaches us instead of
        suspending the program; Enter is a CR, as modems take it inside an SMS."""
        import termios

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        mode = termios.tcgetattr(fd)
        mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        data = bytearray()
        termios.tcsetattr(fd, termios.TCSANOW, mode)
        self._echo("> (data: Ctrl-Z sends it, ESC cancels)\n")
        try:
            while True:
                key = os.read(fd, 1)
                if key in (CTRL_Z, ESC, CTRL_C, b""):
                    data += key if key == CTRL_Z else ESC
                    break
                if key in (b"\x7f", b"\x08"):
                    if data:
                        del data[-1]
                        self._echo("\b \b")
                    continue
                data += b"\r" if key in (b"\r", b"\n") else key
                self._echo("\r\n" if key in (b"\r", b"\n") else visible(key))
        finally:
            termios.tcsetattr(fd, termios.TCSANOW, saved)
        self._echo("\n" if data.endswith(CTRL_Z) else " (cancelled)\n")
        return bytes(data)

    def _echo(self, text: str) -> None:
        with self._out:
            sys.stdout.write(text)
            sys.stdout.flush()

    def _read_line(self) -> Optional[str]:
        self._at_prompt = True
        try:
            return input(INPUT_PROMPT)
        except EOFError:
            print(file=sys.stderr)
            return None
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return ""
        finally:
            self._at_prompt = False


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
