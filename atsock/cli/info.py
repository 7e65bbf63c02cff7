"""``atsock info PORT``: what the module is and how it is doing, without bringing it up.

Only queries go out (after ``AT`` and ``ATE0``), so a module with no SIM, no coverage or no Wi-Fi
still shows its identity; a query the module refuses leaves its field empty and is listed under
``errors``. ``--watch`` then shows signal and registration again every second, for aiming an
antenna.
"""
import json
import time

from ..core import registration as registration_words
from ..wire import atcmd
from . import answers
from .options import add_serial_options, checked_dialect, context_id, resolve_port
from .session import BareSession


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "info", parents=parents, help="model, firmware, IMEI, SIM, signal, operator, registration, IP",
        description="Identify the module on PORT and show its state: model, firmware, IMEI, ICCID, IMSI, "
                    "signal (dBm and 0-4 bars), operator and access technology, registration, APN and IP of "
                    "the data context; on an ESP: firmware generation, MAC, joined SSID, RSSI, IP. Works "
                    "without a SIM or network: only queries are sent.")
    add_serial_options(parser)
    parser.add_argument("--context-id", type=context_id, default=1, help="data context to report (quectel, default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--watch", action="store_true",
                        help="then show signal and registration (Wi-Fi: RSSI) again every --interval seconds "
                             "until Ctrl-C, one line each: for aiming an antenna")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                        help="time between two readings of --watch (default 1)")
    parser.add_argument("--count", type=int, metavar="N", help="with --watch: stop after N readings")
    parser.set_defaults(run=run)


def run(args) -> int:
    with BareSession(resolve_port(args), baudrate=args.baudrate) as session:
        dialect = checked_dialect(args.port, args.dialect, session.identify())
        errors = {}

        def ask(command: str, timeout: float = 3.0):
            result = session.ask(command, timeout)
            if result is None:
                errors[command] = "no answer"
            elif not result.ok:
                errors[command] = result.final
            return result.lines if result is not None and result.ok else None

        report = quectel_report(ask, args.context_id) if dialect == "quectel" else esp_report(ask)
        report = {"port": args.port, "dialect": dialect, "line": line_report(ask, dialect, session.baudrate),
                  **report, "errors": errors}
        print(json.dumps(report, indent=2) if args.json else render(report), flush=True)
        if args.watch:
            watch(ask, dialect, args)
    return 0


def watch(ask, dialect: str, args) -> None:
    """One line per reading: the time, the signal and the registration (or the Wi-Fi's RSSI)."""
    reading = 0
    try:
        while args.count is None or reading < args.count:
            if reading:
                time.sleep(args.interval)
            reading += 1
            if dialect == "quectel":
                signal, registration = network_report(ask)
                (_, signal_text), (_, registration_text) = _network_rows({"signal": signal,
                                                                          "registration": registration})
                text = f"signal {signal_text}; registration {registration_text}"
            else:
                text = f"Wi-Fi {wifi_text(answers.current_ap(ask(_esp_query(ask, 'AT+CWJAP')) or []))}"
            if args.json:
                print(json.dumps({"time": time.time(), "reading": text}), flush=True)
            else:
                print(f"{time.strftime('%H:%M:%S')}  {text}", flush=True)
    except KeyboardInterrupt:
        pass  # the way a watch ends


def line_report(ask, dialect: str, baudrate: int) -> dict:
    """The rate the module answered at, and whether it runs RTS/CTS (AT+IFC? / AT+UART_CUR?)."""
    query, prefix = ("AT+IFC", "+IFC:") if dialect == "quectel" else ("AT+UART_CUR", "+UART_CUR:")
    return {"baudrate": baudrate, "module_rtscts": answers.module_flow(ask(atcmd.query(query)) or [], prefix)}


def sim_report(ask) -> dict:
    """``AT+CPIN?``: ready, locked (PIN or PUK), or no answer (no SIM: +CME ERROR 10)."""
    return answers.cpin(ask("AT+CPIN?") or []) or {"code": None, "state": None}


def quectel_report(ask, context_id: int) -> dict:
    identity = answers.ati(ask("ATI") or [])
    full = ask("AT+QGMR")
    sim = sim_report(ask)
    signal, registration = network_report(ask)
    operator = answers.cops(ask("AT+COPS?", 5.0) or [])
    network = answers.qnwinfo(ask("AT+QNWINFO") or [])
    active = answers.qiact(ask("AT+QIACT?") or [])
    context = atcmd.number(context_id, 1, 16, "context id")
    addresses = answers.cgpaddr(ask(atcmd.build("AT+CGPADDR", context)) or [])
    return {
        "manufacturer": identity["manufacturer"], "model": identity["model"],
        "firmware": identity["revision"] or answers.bare_value(ask("AT+GMR") or []),
        "firmware_full": answers.bare_value(full or []),
        "imei": answers.bare_value(ask("AT+GSN") or []),
        "iccid": answers.iccid(ask("AT+QCCID") or []),
        "imsi": answers.bare_value(ask("AT+CIMI") or []), "sim": sim,
        "signal": signal, "operator": operator, "network": network, "registration": registration,
        "data": {"context_id": context_id, "settings": answers.qicsgp(ask(atcmd.build("AT+QICSGP", context)) or []),
                 "active": context_id in active, "addresses": active.get(context_id) or
                 [a for a in [addresses.get(context_id)] if a]},
    }


def network_report(ask):
    """Signal and registration, each also in words (``atsock.core.registration``): (signal, registration)."""
    signal = {"csq": answers.csq(ask("AT+CSQ") or []), "qcsq": answers.qcsq(ask("AT+QCSQ") or [])}
    best = signal["qcsq"] if signal["qcsq"] and signal["qcsq"]["bars"] is not None else signal["csq"]
    signal["bars"] = best["bars"] if best else None
    signal["dbm"] = signal["csq"]["dbm"] if signal["csq"] else None
    signal["words"] = registration_words.signal_words(signal["csq"]["rssi"]) if signal["csq"] else None
    domains = {name: answers.registration(ask(atcmd.query("AT" + name)) or [], f"{name}:")
               for name in ("+CEREG", "+CGREG", "+CREG")}
    stats = {name: state["stat"] for name, state in domains.items() if state}
    registered = [name for name, state in domains.items() if state and state["registered"]]
    return signal, {"registered": bool(registered), "by": registered,
                    "state": registration_words.words(registration_words.best(stats)) if stats else None,
                    "words": registration_words.summary(stats) if stats else None, **domains}


def _esp_query(ask, command: str) -> str:
    """``AT+X_CUR?`` on AT 1.x, ``AT+X?`` on 2.x (the generation is asked once)."""
    version = answers.gmr(ask("AT+GMR") or [])
    return atcmd.query(command + ("_CUR" if version and version["generation"] == 1 else ""))


def esp_report(ask) -> dict:
    version = answers.gmr(ask("AT+GMR") or [])
    cur = "_CUR" if version and version["generation"] == 1 else ""
    ap = answers.current_ap(ask(atcmd.query(f"AT+CWJAP{cur}")) or [])
    mac = answers.station_mac(ask(atcmd.query(f"AT+CIPSTAMAC{cur}")) or [])
    addresses = answers.station_addresses(ask(atcmd.query(f"AT+CIPSTA{cur}")) or [])
    if not mac or not addresses.get("ip"):
        fallback = answers.cifsr(ask("AT+CIFSR") or [])
        mac = mac or fallback.get("STAMAC")
        addresses.setdefault("ip", fallback.get("STAIP"))
    ip = addresses.get("ip")
    return {"firmware": version, "mac": mac, "wifi": {"joined": ap is not None, **(ap or {})},
            "ip": ip if ip and ip != "0.0.0.0" else None,
            "gateway": addresses.get("gateway"), "netmask": addresses.get("netmask")}


# --- text output ---------------------------------------------------------------------------------
def _or_dash(value) -> str:
    return "-" if value in (None, "", []) else str(value)


def _bars(count) -> str:
    return "" if count is None else f", {count}/4 bars"


def render(report: dict) -> str:
    line = report["line"]
    flow = {True: "RTS/CTS on", False: "no flow control", None: "flow control not reported"}[line["module_rtscts"]]
    rows = [("port", f"{report['port']} ({report['dialect']})"), ("line", f"{line['baudrate']} baud, {flow}")]
    rows += _quectel_rows(report) if report["dialect"] == "quectel" else _esp_rows(report)
    for command, final in report["errors"].items():
        rows.append(("not answered", f"{command}: {final}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _network_rows(r: dict) -> list:
    """The signal and registration rows, in words."""
    signal, qcsq, registration = r["signal"], r["signal"]["qcsq"], r["registration"]
    text = (signal["words"] or "-") + _bars(signal["bars"] if signal["dbm"] is not None else None)
    if qcsq and qcsq["rsrp"] is not None:
        text += f"; {qcsq['mode']} RSRP {qcsq['rsrp']} dBm, RSRQ {qcsq['rsrq']} dB, SINR {qcsq['sinr_db']} dB"
    elif qcsq:
        text += f"; {qcsq['mode']}"
    return [("signal", text), ("registration", registration["words"] or "-")]


def sim_text(sim: dict) -> str:
    return sim["state"] or "- (AT+CPIN? refused: no SIM inserted, or not ready yet)"


def wifi_text(ap) -> str:
    if not ap:
        return "not joined"
    return f'"{ap["ssid"]}" RSSI {ap["rssi"]} dBm{_bars(ap["bars"])}'


def _quectel_rows(r: dict) -> list:
    signal_row, registration_row = _network_rows(r)
    operator, network = r["operator"] or {}, r["network"] or {}
    oper = _or_dash(operator.get("operator"))
    details = [d for d in (network.get("mccmnc"), network.get("technology") or operator.get("technology"),
                           network.get("band"), network.get("text")) if d]
    data = r["data"]
    settings = data["settings"] or {}
    apn = f'APN "{settings["apn"]}"' if settings.get("apn") is not None else "APN -"
    context = f"context {data['context_id']} {'active' if data['active'] else 'not active'}"
    firmware = _or_dash(r["firmware"]) + (f" ({r['firmware_full']})" if r["firmware_full"] else "")
    return [
        ("model", f"{_or_dash(r['manufacturer'])} {_or_dash(r['model'])}"),
        ("firmware", firmware),
        ("IMEI", _or_dash(r["imei"])), ("ICCID", _or_dash(r["iccid"])), ("IMSI", _or_dash(r["imsi"])),
        ("SIM", sim_text(r["sim"])),
        signal_row,
        ("operator", oper + (f" ({', '.join(details)})" if details else "")),
        registration_row,
        ("data", f"{apn}, {context}, IP {_or_dash(', '.join(data['addresses']))}"),
    ]


def _esp_rows(r: dict) -> list:
    version, wifi = r["firmware"] or {}, r["wifi"]
    generation = version.get("generation")
    firmware = _or_dash(version.get("at_version"))
    if generation:
        firmware += f" (generation {generation}.x{', ' + version['chip'] if version.get('chip') else ''})"
    if version.get("sdk"):
        firmware += f", SDK {version['sdk']}"
    if wifi["joined"]:
        joined = (f'"{wifi["ssid"]}" (BSSID {wifi["bssid"]}, channel {wifi["channel"]}), '
                  f"RSSI {wifi['rssi']} dBm{_bars(wifi['bars'])}")
    else:
        joined = "not joined"
    ip = _or_dash(r["ip"])
    if r["ip"] and r.get("gateway"):
        ip += f" (gateway {r['gateway']}, netmask {r['netmask']})"
    return [("firmware", firmware), ("MAC", _or_dash(r["mac"])), ("Wi-Fi", joined), ("IP", ip)]
