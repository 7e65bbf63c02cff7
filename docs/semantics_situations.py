"""The situations of the AT-semantics pages: what each one does, and one sentence of why per dialect.

Each situation is a function of a :class:`~semantics_run.Run`; :data:`SITUATIONS` orders them and
gives their titles. A situation the driver cannot do yet has ``pending`` instead of ``run``: the
pages list it as not recorded, so that it is filled in, not forgotten.
"""
import socket
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple, Union

import serial

import atsock
from atsock import ssl
from atsock.wire.cmux.frames import Frame, Kind, encode

from semantics_run import Run, TlsPeer, Variant

BLACKHOLE = "127.0.0.66"  # the emulator's option ``blackhole``: connects to it never complete


Why = Union[str, Dict[str, str]]


@dataclass(frozen=True)
class Situation:
    key: str                  # anchor on the page
    group: str
    title: str
    why: Why                  # one sentence; per family ("quectel", "esp") where the dialects differ
    run: Optional[Callable[[Run], None]] = None
    pending: Optional[str] = None  # not recorded yet: what the situation waits for
    emulator: Optional[dict] = None  # options of a module of its own, fresh (the others share one)
    families: Tuple[str, ...] = ("quectel", "esp")  # where it happens at all
    elsewhere: str = ""            # why it does not happen on the other families

    def applies_to(self, variant: Variant) -> bool:
        return variant.family in self.families

    def why_for(self, variant: Variant) -> str:
        if isinstance(self.why, str):
            return self.why
        return self.why.get(variant.key, self.why.get(variant.family, ""))


def bring_up(r: Run) -> None:
    r.event("the module powers on", until=r.variant.booted)
    r.call(r.variant.open_call, r.open_modem)


def bring_up_with(settings: str, **extra):
    """A situation that powers a module on and opens it with ``extra`` settings (shown as ``settings``)."""
    def run(r: Run) -> None:
        r.event("the module powers on", until=r.variant.booted)
        label = r.variant.open_call[:-1] + settings + ")"
        modem = r.call(label, lambda: r.open_modem(**extra), headline=True)
        if modem is not None:
            r.call("modem.registration", lambda: modem.registration)
    return run


def lookup(r: Run) -> None:
    r.call('usocket.getaddrinfo("echo.test", 80)', lambda: r.modem.getaddrinfo("echo.test", 80))


def unknown_host(r: Run) -> None:
    s = r.socket()
    r.call('s.connect(("nowhere.test", 80))', lambda: s.connect(("nowhere.test", 80)))


def connect_ok(r: Run) -> None:
    peer = r.peer()
    s = r.socket()
    r.given("a peer listens on 127.0.0.1")
    r.call('s.connect(("127.0.0.1", <port>))', lambda: s.connect(("127.0.0.1", peer.port)))
    peer.accept()


def connect_refused(r: Run) -> None:
    s = r.socket()
    port = r.given("nothing listens on the port", r.free_port)
    r.call('s.connect(("127.0.0.1", <port>))', lambda: s.connect(("127.0.0.1", port)))


def connect_timeout(r: Run) -> None:
    s = r.socket()
    r.given(f"{BLACKHOLE} never answers (emulator option `blackhole`)")
    r.local("s.settimeout(1)", lambda: s.settimeout(1))
    # the abandoned open is closed (or its id released) after the call returns: the step waits for it
    r.call(f's.connect(("{BLACKHOLE}", 80))', lambda: s.connect((BLACKHOLE, 80)),
           until="AT+QICLOSE" if r.family == "quectel" else "AT+CIPCLOSE")


def connected(r: Run, text: str = "a TCP socket `s` connected to a peer"):
    peer = r.peer()
    s = r.socket()
    r.given(text, lambda: (s.connect(("127.0.0.1", peer.port)), peer.accept()))
    return s, peer


def send_small(r: Run) -> None:
    s, _ = connected(r)
    r.call('s.send(b"hello")', lambda: s.send(b"hello"))


def send_large(r: Run) -> None:
    s, _ = connected(r)
    r.call('s.sendall(bytes(4000))', lambda: s.sendall(bytes(4000)))


def send_buffer_full(r: Run) -> None:
    s, _ = connected(r)
    r.given("the module's send buffer is full: it answers every send `SEND FAIL` "
            "(emulator fault `send_fail` = 1)", lambda: r.fm.set_faults({"send_fail": 1.0}))
    r.local("s.setblocking(False)", lambda: s.setblocking(False))
    r.call('s.send(b"hello")', lambda: s.send(b"hello"), headline=True)
    r.event("the buffer drains (fault off)", lambda: r.fm.set_faults({}))
    r.local("s.setblocking(True)", lambda: s.setblocking(True))
    r.call('s.send(b"hello")', lambda: s.send(b"hello"))


def send_peer_gone(r: Run) -> None:
    s, peer = connected(r)
    r.event("the peer closes the connection", peer.hang_up)
    r.call('s.send(b"hello")', lambda: s.send(b"hello"))


def recv_data(r: Run) -> None:
    s, peer = connected(r)
    r.event('the peer sends b"hello"', lambda: peer.conn.sendall(b"hello"))
    r.call("s.recv(100)", lambda: s.recv(100))


def recv_none(r: Run) -> None:
    s, _ = connected(r)
    r.local("s.setblocking(False)", lambda: s.setblocking(False))
    r.call("s.recv(100)", lambda: s.recv(100))


def recv_peer_closed(r: Run) -> None:
    s, peer = connected(r)
    # (two events: sent together, whether atsock reads once more before the close notice is a race)
    r.event('the peer sends b"bye"', lambda: peer.conn.sendall(b"bye"))
    r.event("the peer closes the connection", peer.hang_up)
    r.call("s.recv(100)", lambda: s.recv(100))
    r.call("s.recv(100)", lambda: s.recv(100))


def recv_timeout(r: Run) -> None:
    s, _ = connected(r)
    r.local("s.settimeout(0.5)", lambda: s.settimeout(0.5))
    r.call("s.recv(100)", lambda: s.recv(100))


def accept(r: Run) -> None:
    srv = r.socket()
    port = r.free_port()
    r.call('srv.bind(("0.0.0.0", <port>))', lambda: srv.bind(("0.0.0.0", port)))
    r.call("srv.listen(2)", lambda: srv.listen(2))
    client = socket.socket()
    r.closes(client.close)
    r.event("a client connects", lambda: (client.connect(("127.0.0.1", port)), r.masks.port(client.getsockname()[1])))
    conn, _ = r.call("srv.accept()", srv.accept, headline=True) or (None, None)
    if conn is not None:
        r.closes(conn.close)
        r.event('the client sends b"hi"', lambda: client.sendall(b"hi"))
        r.call("conn.recv(100)", lambda: conn.recv(100))


def udp(r: Run) -> None:
    peer = r.udp_peer()
    u = r.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
    r.call('u.sendto(b"ping", ("127.0.0.1", <port>))', lambda: u.sendto(b"ping", ("127.0.0.1", peer.port)))
    r.given("the peer has received b\"ping\"", peer.receive)
    r.event('the peer answers b"pong"', lambda: peer.reply(b"pong"))
    r.call("u.recvfrom(100)", lambda: u.recvfrom(100))


def close_fresh(r: Run) -> None:
    s = r.socket()
    r.call("s.close()", s.close)


def close_connecting(r: Run) -> None:
    s = r.socket()
    r.local("s.setblocking(False)", lambda: s.setblocking(False))
    # ESP-AT's connect is one long command: the step ends once the module has it, not its answer
    r.call(f's.connect(("{BLACKHOLE}", 80))', lambda: s.connect((BLACKHOLE, 80)), until="AT+CIPSTART"
           if r.family == "esp" else None, complete=r.family != "esp")
    # close() returns at once; the link is closed once the module has answered the connect
    r.call("s.close()", s.close, headline=True, until="AT+CIPCLOSE" if r.family == "esp" else None)


def close_connected(r: Run) -> None:
    s, _ = connected(r)
    r.call("s.close()", s.close)


def close_peer_closed(r: Run) -> None:
    s, peer = connected(r)
    r.event("the peer closes the connection", peer.hang_up)
    r.call("s.close()", s.close)


def close_listening(r: Run) -> None:
    srv = r.socket()
    port = r.free_port()
    r.given("`srv` listens", lambda: (srv.bind(("0.0.0.0", port)), srv.listen(2)))
    r.call("srv.close()", srv.close)


def close_udp(r: Run) -> None:
    peer = r.udp_peer()
    u = r.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
    r.given("a UDP socket `u` that has sent a datagram", lambda: (u.sendto(b"x", ("127.0.0.1", peer.port)),
                                                                 peer.receive()))
    r.call("u.close()", u.close)


def close_twice(r: Run) -> None:
    s, _ = connected(r)
    r.given("`s` was closed", s.close)
    r.call("s.close()", s.close, headline=True)
    r.call('s.send(b"x")', lambda: s.send(b"x"))


def recovered(r: Run):
    """An ``until``: the modem came back online after one more recovery than now."""
    before = r.modem.recoveries
    return lambda _: r.modem.recoveries > before and str(r.modem.state) == "online"


def reboot(r: Run) -> None:
    s, _ = connected(r)
    r.event("the module reboots by itself (`fm.reboot()`)", r.fm.reboot, until=recovered(r))
    r.call('s.send(b"hello")', lambda: s.send(b"hello"))
    r.call("s.recv(100)", lambda: s.recv(100), headline=True)
    r.call("s.close()", s.close)


def network_loss(r: Run) -> None:
    s, _ = connected(r)
    what = "the data context" if r.family == "quectel" else "the Wi-Fi"
    r.event(f"the network drops {what} (`fm.drop_network()`)", r.fm.drop_network, until=recovered(r))
    r.call('s.send(b"hello")', lambda: s.send(b"hello"), headline=True)
    r.call("s.close()", s.close)


def host_tls(r: Run) -> None:
    peer = TlsPeer(r.masks)
    r.closes(peer.close)
    s = r.socket()
    ctx = peer.client_context()
    r.given('`s` connected to a TLS server for "tls.test"; `ctx` an `ssl.SSLContext` that trusts its CA',
            lambda: s.connect(("127.0.0.1", peer.port)))
    r.vary_sizes = True
    tls = r.call('tls = ctx.wrap_socket(s, server_hostname="tls.test")',
                 lambda: ctx.wrap_socket(s, server_hostname="tls.test"))
    if tls is None:
        return
    r.closes(tls.close)
    r.call('tls.write(b"hello")', lambda: tls.write(b"hello"))
    r.event('the server answers b"world"', lambda: peer.answer(b"world"))
    r.call("tls.read(5)", lambda: tls.read(5))


def module_tls(r: Run) -> None:
    peer = TlsPeer(r.masks)
    r.closes(peer.close)
    ctx = peer.client_context()
    if r.family == "esp":  # the module cannot take the context's CA: only a non-verifying context
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    tls = r.call('tls = ctx.wrap_socket(usocket.socket(), server_hostname="tls.test", module_tls=True)',
                 lambda: ctx.wrap_socket(r.socket(), server_hostname="tls.test", module_tls=True))
    if tls is None:
        return
    r.closes(tls.close)
    r.vary_sizes = True  # the CA is made afresh for every run: its size varies
    r.call('tls.connect(("127.0.0.1", port))', lambda: tls.connect(("127.0.0.1", peer.port)), headline=True)
    r.vary_sizes = False
    r.call('tls.write(b"hello")', lambda: tls.write(b"hello"))
    r.event('the server answers b"world"', lambda: peer.answer(b"world"))
    r.call("tls.read(5)", lambda: tls.read(5))


def data_mode(r: Run) -> None:
    peer = r.peer()
    s = r.socket()
    block = s.data_mode()
    if r.family == "quectel":  # the connection switches to transparent access and back
        r.given("a TCP socket `s` connected to a peer", lambda: (s.connect(("127.0.0.1", peer.port)), peer.accept()))
        r.call("with s.data_mode():", block.__enter__, headline=True)
    else:  # passthrough exists in single-connection mode only: the block opens its own connection
        r.local("with s.data_mode():", block.__enter__)
        r.call('s.connect(("127.0.0.1", port))', lambda: (s.connect(("127.0.0.1", peer.port)), peer.accept())[0],
               headline=True)
    r.call('s.sendall(b"hello")', lambda: s.sendall(b"hello"))
    r.event('the peer sends b"world"', lambda: peer.conn.sendall(b"world"))
    r.call("s.recv(5)", lambda: s.recv(5))
    r.call("(the end of the with block)", lambda: block.__exit__(None, None, None))
    r.closes(s.close)


def cmux_session(r: Run) -> None:
    r.given("the module is on", until=r.variant.booted)
    r.call('modem = usocket.open_modem(port, dialect="quectel", apn="internet", cmux=True)',
           lambda: r.open_modem(cmux=True), headline=True)
    r.call('modem.at("AT+CSQ")', lambda: r.modem.at("AT+CSQ").lines)
    s, peer = connected(r)
    r.call('s.send(b"hello")', lambda: s.send(b"hello"))
    r.event('the peer sends b"world"', lambda: peer.conn.sendall(b"world"))
    r.call("s.recv(5)", lambda: s.recv(5))
    r.call("s.close()", s.close)
    r.call("modem.close()", r.modem.close)


def cmux_data_mode(r: Run) -> None:
    r.given("the module is on", until=r.variant.booted)
    r.given("`modem` opened with `cmux=True`", lambda: r.open_modem(cmux=True))
    peers, socks = [r.peer(), r.peer()], [r.socket(), r.socket()]
    r.given("TCP sockets `a` and `b` connected to two peers",
            lambda: [(s.connect(("127.0.0.1", p.port)), p.accept()) for s, p in zip(socks, peers)])
    a, b = socks
    blocks = [a.data_mode(), b.data_mode()]
    r.call("with a.data_mode():", blocks[0].__enter__, headline=True)
    r.call("with b.data_mode():", blocks[1].__enter__)
    r.call('a.sendall(b"hello")', lambda: a.sendall(b"hello"))
    r.call('b.sendall(b"world")', lambda: b.sendall(b"world"))
    r.call('modem.at("AT+CSQ")', lambda: r.modem.at("AT+CSQ").lines)
    r.event('the peers answer b"hi a" and b"hi b"',
            lambda: [p.conn.sendall(text) for p, text in zip(peers, (b"hi a", b"hi b"))],
            until=lambda records: sum(1 for rec in records if "payload" in rec and rec.get("dir") == "out") >= 2)
    r.call("a.recv(4), b.recv(4)", lambda: (a.recv(4), b.recv(4)))
    r.call("(the end of b's block)", lambda: blocks[1].__exit__(None, None, None))
    r.call("(the end of a's block)", lambda: blocks[0].__exit__(None, None, None))


def cmux_leftover(r: Run) -> None:
    r.given("the module is on", until=r.variant.booted)
    r.given("a program multiplexed the line (`AT+CMUX`, channels 0, 1 and 2 open) and died without "
            "closing it down", lambda: die_in_cmux(r.fm.port))
    r.call('modem = usocket.open_modem(port, dialect="quectel", apn="internet", cmux=True)',
           lambda: r.open_modem(cmux=True), headline=True)


def die_in_cmux(port: str) -> None:
    with serial.Serial(port, 115200, timeout=1) as line:  # the module's boot rate
        line.write(b"AT+CMUX=0,0,5,127,10,3,30,10,2\r")
        line.read_until(b"OK\r\n")
        time.sleep(0.3)
        for dlci in (0, 1, 2):
            line.write(encode(Frame(dlci, Kind.SABM, pf=True)))
            line.read(6)


def cmux(key: str, title: str, why: str, run: Callable[[Run], None]) -> Situation:
    """A CMUX situation: Quectel only, on a module of its own (it leaves the line multiplexed)."""
    return Situation(key, "CMUX", title, {"quectel": why}, run, emulator={}, families=("quectel",),
                     elsewhere="ESP-AT has no multiplexer (`cmux=True` raises TypeError)")


SITUATIONS = [
    Situation("open-modem", "Bring-up", "open_modem", {
        "quectel": "The module is brought to a known state (echo off, numeric errors, registration reports), "
                   "then the SIM, the registration and the data context are checked in that order, and links "
                   "left open by an earlier program are looked for.",
        "esp": "The module is reset to drop whatever an earlier program left, its firmware generation read "
               "(`AT+GMR`) to pick the command names, multiple links and passive receive switched on, "
               "then the Wi-Fi joined.",
    }, bring_up),
    Situation("sim-absent", "Bring-up: SIM, registration, APN", "no SIM card", {
        "quectel": "`+CME ERROR: 10` is also what a module says for its first moments, so atsock asks again "
                   "for 3 s before it calls the card missing (ENODEV, `SimError.state` \"absent\").",
    }, bring_up_with(""), emulator=dict(sim="absent"), families=("quectel",), elsewhere="a Wi-Fi module has no SIM"),
    Situation("sim-pin", "Bring-up: SIM, registration, APN", "the SIM asks for its PIN", {
        "quectel": "The PIN goes once, after `AT+QPINC` showed it would not spend the card's last attempt; "
                   "`+CPIN: READY` follows.",
    }, bring_up_with(', pin="1234"', pin="1234"), emulator=dict(sim="pin"), families=("quectel",),
        elsewhere="a Wi-Fi module has no SIM"),
    Situation("sim-wrong-pin", "Bring-up: SIM, registration, APN", "a wrong PIN", {
        "quectel": "The card refuses the PIN (`+CME ERROR: 16`) and says how many attempts are left; atsock "
                   "never offers that PIN again, not even in a later bring-up, since three wrong ones lock "
                   "the card (EACCES, `SimError.state` \"wrong-pin\").",
    }, bring_up_with(', pin="0000"', pin="0000"), emulator=dict(sim="pin"), families=("quectel",),
        elsewhere="a Wi-Fi module has no SIM"),
    Situation("registration-roaming", "Bring-up: SIM, registration, APN", "registered while roaming", {
        "quectel": "Stat 5 (roaming) counts as registered as stat 1 (home) does, and the modem says which "
                   "in words.",
    }, bring_up_with(""), emulator=dict(registration="roaming"), families=("quectel",),
        elsewhere="a Wi-Fi module registers with no network"),
    Situation("registration-denied", "Bring-up: SIM, registration, APN", "registration denied", {
        "quectel": "Stat 3 on two polls in a row, with no domain still searching, is final: ENETUNREACH "
                   "naming the denial within seconds, not after `registration_timeout`.",
    }, bring_up_with(""), emulator=dict(registration="denied"), families=("quectel",),
        elsewhere="a Wi-Fi module registers with no network"),
    Situation("registration-no-signal", "Bring-up: SIM, registration, APN", "no signal", {
        "quectel": "With no signal the module searches for ever; at `registration_timeout` atsock says where "
                   "each query stood, in words, and reads `AT+CSQ` to name the signal.",
    }, bring_up_with(", registration_timeout=0.5", registration_timeout=0.5),
        emulator=dict(identity={"csq": (99, 99)}), families=("quectel",),
        elsewhere="a Wi-Fi module registers with no network"),
    Situation("wrong-apn", "Bring-up: SIM, registration, APN", "the network refuses the APN", {
        "quectel": "`AT+QIACT` says a bare `ERROR`; `AT+QIGETERROR` keeps the module's code, which the error "
                   "names with the APN (ENETUNREACH, `DataContextError`).",
    }, bring_up_with(""), emulator=dict(apn_required="internet.example"), families=("quectel",),
        elsewhere="a Wi-Fi module has no APN"),
    Situation("getaddrinfo", "Names", "getaddrinfo", {
        "quectel": "The module resolves names itself; the answer comes as URCs after the `OK`.",
        "esp": "The module resolves names itself and answers within the command.",
    }, lookup),
    Situation("connect-ok", "Connect", "connect: accepted", {
        "quectel": "`OK` only acknowledges the command; the verdict is the `+QIOPEN` URC that follows.",
        "esp": "The connect runs inside `AT+CIPSTART`: `<id>,CONNECT` and `OK` are the verdict.",
    }, connect_ok),
    Situation("connect-refused", "Connect", "connect: refused", {
        "quectel": "The module reports the refusal as error 566 in `+QIOPEN` (ECONNREFUSED); a connectID "
                   "whose open failed must still be closed before it can be opened again.",
        "esp": "ESP-AT says only `ERROR` and `<id>,CLOSED` for any failed connect, so atsock reports "
               "ECONNREFUSED, and closes the id to be sure it is free (`ERROR`: it was).",
    }, connect_refused),
    Situation("unknown-host", "Connect", "connect: an unknown host", {
        "quectel": "A name is looked up first (no socket is opened for it); error 565 (DNS parse failed) "
                   "in the `dnsgip` URC is a name that does not resolve: `gaierror`, as CPython raises.",
        "esp": "A name is looked up first (no link is opened for it); ESP-AT answers a failed lookup with "
               "`ERROR` (1.x prints `DNS Fail` first): `gaierror`, as CPython raises.",
    }, unknown_host),
    Situation("connect-timeout", "Connect", "connect: time-out", {
        "quectel": "The caller's time-out ends the wait for `+QIOPEN`; the half-open connectID is closed so "
                   "that the module's late verdict cannot leak a link.",
        "esp": "`AT+CIPSTART` holds the line until the module gives up, so the caller's time-out ends its "
               "wait while the command runs to its end.",
    }, connect_timeout),
    Situation("send-small", "Send", "send: a few bytes", {
        "quectel": "One `AT+QISEND` per chunk: the prompt, the bytes, and `SEND OK` once the module took them "
                   "(not when the peer did).",
        "esp": "One `AT+CIPSEND` per chunk: the prompt, the bytes, `Recv <n> bytes` and `SEND OK`.",
    }, send_small),
    Situation("send-large", "Send", "send: more than one chunk", {
        "quectel": "A send carries at most 1460 bytes, so `sendall` cuts the data into chunks of that size.",
        "esp": "A send carries at most 2048 bytes, so `sendall` cuts the data into chunks of that size.",
    }, send_large),
    Situation("send-buffer-full", "Send", "send: the module's buffer is full", {
        "quectel": "`SEND FAIL` means the module's buffer is full and nothing was taken: a non-blocking send "
                   "gives up at once (EAGAIN); a blocking one offers the same bytes again after a pause.",
        "esp": "On ESP-AT `SEND FAIL` can follow a partly sent chunk, so the stream is broken: the send "
               "fails with EIO and so does every later send on the socket.",
    }, send_buffer_full),
    Situation("send-peer-gone", "Send", "send: the peer has closed", {
        "quectel": "The module drops the whole connection when the peer closes (no half-close), so a send "
                   "after `\"closed\"` fails with EPIPE without a command.",
        "esp": "The module drops the whole link when the peer closes (no half-close), so a send after "
               "`<id>,CLOSED` fails with EPIPE without a command.",
    }, send_peer_gone),
    Situation("recv-data", "Receive", "recv: data waiting", {
        "quectel": "The `recv` URC is a notice, not the data: atsock reads it at once (`AT+QIRD` until "
                   "`+QIRD: 0`), so the call itself costs nothing on the wire.",
        "esp": "In passive mode `+IPD` is a notice: atsock reads the data at once (`AT+CIPRECVDATA` until "
               "`ERROR`), so the call itself costs nothing on the wire.",
    }, recv_data),
    Situation("recv-none", "Receive", "recv: nothing waiting, non-blocking",
              "Whether data waits is known on the host (every notice was read): EAGAIN without a command.",
              recv_none),
    Situation("recv-peer-closed", "Receive", "recv: the peer closed with data pending", {
        "quectel": "The module keeps the connectID after `\"closed\"` and atsock reads it empty first, so every "
                   "byte the peer sent comes out before the end of stream (`b\"\"`).",
        "esp": "In passive mode the module reports `<id>,CLOSED` only once its buffer was read, so every byte "
               "the peer sent comes out before the end of stream (`b\"\"`).",
    }, recv_peer_closed),
    Situation("recv-timeout", "Receive", "recv: time-out",
              "Nothing arrives, so nothing crosses the line: the wait ends on the host with ETIMEDOUT.",
              recv_timeout),
    Situation("accept", "Accept", "bind, listen and accept", {
        "quectel": "A listener is a connectID of its own; each client arrives as an `\"incoming\"` URC with "
                   "a new connectID and its address, so `accept` itself sends nothing.",
        "esp": "ESP-AT has one server per module (`AT+CIPSERVER`, with its client limit and no idle "
               "time-out); a client arrives as `<id>,CONNECT` without its address, which `AT+CIPSTATUS` "
               "supplies.",
    }, accept),
    Situation("udp", "UDP", "sendto and recvfrom", {
        "quectel": "The first `sendto` opens a `UDP SERVICE` on a local port; every datagram names its "
                   "destination, and each `AT+QIRD` returns one datagram with its sender.",
        "esp-at-1.7": "The first `sendto` opens a UDP link (mode 2: any peer) on a local port; every "
                      "datagram names its destination. 1.x has no passive receive for UDP: a datagram "
                      "arrives whole in `+IPD`, with its sender.",
        "esp-at-2.2": "The first `sendto` opens a UDP link (mode 2: any peer) on a local port; every "
                      "datagram names its destination. On 2.x UDP is received passively like TCP: each "
                      "`AT+CIPRECVDATA` returns one datagram with its sender.",
    }, udp),
    Situation("close-fresh", "Close", "close: never connected",
              "A socket that never opened anything on the module closes on the host alone.", close_fresh),
    Situation("close-connecting", "Close", "close: while connecting", {
        "quectel": "The pending open is closed on the module, so its connectID cannot stay half-open.",
        "esp": "The connect is one command that runs to its end: `close()` returns at once (a non-blocking "
               "socket does not wait), and atsock closes the link once the module has answered the connect.",
    }, close_connecting),
    Situation("close-connected", "Close", "close: connected", {
        "quectel": "`AT+QICLOSE` closes the connection; the connectID is free once it answers.",
        "esp": "`AT+CIPCLOSE` closes the link; the link id is free once it answers.",
    }, close_connected),
    Situation("close-peer-closed", "Close", "close: after the peer closed", {
        "quectel": "The connectID stays the module's until `AT+QICLOSE`, so closing always sends it.",
        "esp": "The module already freed the link when it said `CLOSED`: nothing to send.",
    }, close_peer_closed),
    Situation("close-listening", "Close", "close: listening", {
        "quectel": "The listener's connectID is closed like any other.",
        "esp": "The server is switched off (`AT+CIPSERVER=0`).",
    }, close_listening),
    Situation("close-udp", "Close", "close: UDP", "The UDP link is closed like a TCP one.", close_udp),
    Situation("close-closed", "Close", "close: already closed",
              "A second close does nothing (as in CPython); any other call raises EBADF.", close_twice),
    Situation("reboot", "Trouble", "the module reboots under an open socket", {
        "quectel": "`RDY` means every connection is gone: open sockets fail with ECONNRESET and the modem "
                   "runs its bring-up again.",
        "esp": "`ready` means every link is gone: open sockets fail with ECONNRESET and the modem runs "
               "its bring-up again.",
    }, reboot),
    Situation("network-loss", "Trouble", "the network goes away under an open socket", {
        "quectel": "`\"pdpdeact\"` takes the data context and every connection with it: sockets fail with "
                   "ENETDOWN while the modem runs its bring-up again (the context deactivated, then "
                   "activated).",
        "esp": "`WIFI DISCONNECT` takes every link with it: sockets fail with ENETDOWN while the modem runs "
               "its bring-up again, from a reset to the join.",
    }, network_loss),
    Situation("host-tls", "TLS", "TLS on the host", "The host runs TLS (CPython's `ssl`); the module carries "
              "ciphertext like any other bytes, so only record sizes (shown as `<n>`) differ from plain TCP.",
              host_tls),
    # Hooks for work in progress: fill in ``run`` when the driver supports the situation.
    Situation("module-tls", "TLS", "TLS on the module", {
        "quectel": "The context's CA is uploaded (`AT+QFUPL`, checksum compared), the SSL context configured, "
                   "and `AT+QSSLOPEN` connects and shakes hands in one go; the CA file is deleted right after, "
                   "and data moves as plaintext on the serial line.",
        "esp": "ESP-AT connects and shakes hands inside `AT+CIPSTART` with the `\"SSL\"` type; it cannot be "
               "given the context's CAs (1.x checks nothing), so the page uses a non-verifying context.",
    }, module_tls),
    Situation("data-mode", "Data mode", "transparent / passthrough data mode", {
        "quectel": "`AT+QISWTMD` switches the open connection to transparent access: bytes cross the line "
                   "raw both ways, and `+++` between two silences of the guard time brings it back to "
                   "buffer access, the socket still open; `OK` answers the escape, and a command only the "
                   "module answers (`AT+CMEE?`) proves the line is in command mode before anything else.",
        "esp": "Passthrough exists only in single-connection mode: the block switches the module to it, "
               "opens its own connection, and after `+++` (answered `+QUITT`, which `AT+SYSMSG` asks for) "
               "and a command only the module answers, reads what came meanwhile and restores "
               "multi-connection mode, closing that connection.",
    }, data_mode),
    cmux("cmux", "open_modem(..., cmux=True): commands and sockets over the multiplexer",
         "After plain `AT`, notices are routed to the first virtual port and `AT+CMUX` turns the line into "
         "frames (TS 27.010 basic option, frames of at most 127 bytes); SABM opens the control channel and "
         "DLCI 1, where the bring-up, commands and notices run as on a plain line. `close()` closes DLCI 1 "
         "(DISC) and the multiplexer (CLD): the module is plain AT again.", cmux_session),
    cmux("cmux-data-mode", "two sockets in data mode at once, a command beside them",
         "Each socket's data mode runs on a channel of its own (DLCI 2, 3; opened the first time with echo "
         "off and numeric errors): `AT+QISWTMD` there, the bytes raw in that channel's frames, and the "
         "escape, its `OK` and the probe there too, while DLCI 1 goes on taking commands.", cmux_data_mode),
    cmux("cmux-leftover", "open_modem(..., cmux=True) after a program died multiplexing",
         "The module stays multiplexed when its host goes (27.010 has no link supervision, and no Quectel "
         "source gives an idle rule): plain `AT` goes unanswered, SABM on DLCI 0 is answered UA, so the "
         "leftover multiplexer is closed down (CLD) and a fresh one made.", cmux_leftover),
]
