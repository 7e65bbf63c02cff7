"""Turn benchmark results into a table (stdout, README), a JSON file and a goodput plot."""
import json
from pathlib import Path

from . import asyncio_bench, capped, cmux, remote, tls

TARGETS = {"download": 0.98, "upload": 0.95, "all_busy": 0.80, "fairness": 0.5, "download_cpu_vs_floor": 0.5,
           "upload_cpu_vs_floor": 4.0, "data_mode": 0.97, "data_mode_cpu_vs_floor": 2.0, "many": 0.90,
           "of_ceiling": 0.99, "import_ms": 50.0}
CPU_TARGET_BAUD = 921600  # the upload CPU target is set at this rate
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def _rate_name(baud) -> str:
    return f"{baud}" if baud else "unthrottled"


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _dialect(run: dict) -> str:
    return f"{run['dialect']} (ESP-AT {run['firmware']}, {run['send_chunk']} B sends)" if run.get("firmware") \
        else run["dialect"]


def _ceiling(download: dict):
    """The most of the line this download's protocol allows: its bytes over all the bytes both ways
    (a command and its answer take turns on the line)."""
    return download["bytes"] / download["wire_bytes"] if download.get("wire_bytes") else None


def _cpu(figures: dict, floor: dict, key: str) -> str:
    text = f"{figures['cpu_per_mib']:.3f}s"
    return text + (f" ({figures['cpu_per_mib'] / floor[key]:.1f}×)" if floor else "")


def data_mode_table(results: dict) -> str:
    rows = ["| dialect | line (baud) | latency | download | upload | CPU/MiB down, up (× pyserial floor) | "
            "entering, leaving |", "|---|---|---|---|---|---|---|"]
    for run in results.get("data_mode", []):
        floor = results["floor"].get(_rate_name(run["baud"]), {})
        down, up = run["download"], run["upload"]
        switch = max(down["enter_seconds"], up["enter_seconds"]), max(down["leave_seconds"], up["leave_seconds"])
        rows.append(f"| {run['dialect']} | {run['baud']} | {run['latency'] * 1000:.0f} ms | {_pct(down['of_line_rate'])} | "
                    f"{_pct(up['of_line_rate'])} | {_cpu(down, floor, 'read_cpu_per_mib')}, "
                    f"{_cpu(up, floor, 'write_cpu_per_mib')} | {switch[0] * 1000:.0f} ms, {switch[1]:.2f} s |")
    return "\n".join(rows)


def many_table(results: dict) -> str:
    rows = ["| modems (quectel, 921600) | mode | all together | per modem down | up | both (of one line) | "
            "CPU/MiB here (share of a core) | emulators + peer (share of a core) |", "|---|---|---|---|---|---|---|---|"]
    for run in results.get("many", []):
        spans = [f"{min(run[k]) * 100:.1f}–{max(run[k]) * 100:.1f}%"
                 for k in ("download_of_line", "upload_of_line", "both_of_line")]
        through = f" ({run['remote']} through ser2net)" if run.get("remote") else ""
        rows.append(f"| {run['modems']}{through} | {'data' if run['data_mode'] else 'command'} | "
                    f"{run['bytes_per_s'] / 1e3:.0f} kB/s | {spans[0]} | {spans[1]} | {spans[2]} | "
                    f"{run['cpu_per_mib']:.3f}s ({run['process_cpu_share'] * 100:.0f}%) | "
                    f"{run['emulators_cpu_share'] * 100:.0f}% |")
    return "\n".join(rows)


def pacing_table(results: dict) -> str:
    rows = ["| line (baud) | direction | delivered (of the line) | median \\|error\\| | p99 \\|error\\| | max \\|error\\| |",
            "|---|---|---|---|---|---|"]
    for baud, directions in results.get("pacing", {}).items():
        for direction, name in (("module_to_host", "module → host"), ("host_to_module", "host → module")):
            s = directions[direction]
            rows.append(f"| {baud} | {name} | {_pct(s['rate_of_line'])} | {s['median_abs_error_ms']:.2f} ms | "
                        f"{s['p99_abs_error_ms']:.2f} ms | {s['max_abs_error_ms']:.1f} ms |")
    return "\n".join(rows)


def table(results: dict) -> str:
    rows = ["| dialect | line (baud) | latency | download (of the protocol's ceiling) | upload | "
            "all sockets busy (min/max share) | "
            "CPU/MiB down, up (× pyserial floor) | AT cmds / round trips per MiB down, up |",
            "|---|---|---|---|---|---|---|---|"]
    for run in results["runs"]:
        floor = results["floor"].get(_rate_name(run["baud"]), {})
        down, up, busy = run["download"], run["upload"], run["all_busy"]
        cpu = f"{down['cpu_per_mib']:.3f}s, {up['cpu_per_mib']:.3f}s"
        if floor:
            cpu += f" ({down['cpu_per_mib'] / floor['read_cpu_per_mib']:.1f}×, " \
                   f"{up['cpu_per_mib'] / floor['write_cpu_per_mib']:.1f}×)"
        if run["baud"]:
            ceiling = _ceiling(down)
            goodput = (_pct(down.get("of_line_rate")) + (f" ({down['of_line_rate'] / ceiling * 100:.1f}% of "
                                                         f"{ceiling * 100:.1f}%)" if ceiling else ""),
                       _pct(up.get("of_line_rate")), f"{_pct(busy.get('of_line_rate'))} ({busy['min_max_share']:.2f})")
        else:
            goodput = (f"{down['bytes_per_s'] / 1e6:.2f} MB/s", f"{up['bytes_per_s'] / 1e6:.2f} MB/s",
                       f"{busy['bytes_per_s'] / 1e6:.2f} MB/s ({busy['min_max_share']:.2f})")
        trips = run["round_trips"]
        per = f"{trips['download']['per_mib']['commands']:.0f}/{trips['download']['per_mib']['round_trips']:.0f}, " \
              f"{trips['upload']['per_mib']['commands']:.0f}/{trips['upload']['per_mib']['round_trips']:.0f}"
        rows.append(f"| {_dialect(run)} | {_rate_name(run['baud'])} | {run['latency'] * 1000:.0f} ms | "
                    f"{goodput[0]} | {goodput[1]} | {goodput[2]} | {cpu} | {per} |")
    lines = ["\n".join(rows), ""]
    for title, text in (("atsock held to a share of one core (`--cpu-share`), the emulator and the peer uncapped",
                         capped.table(results.get("capped", {}))),
                        ("Data mode (one socket, `with sock.data_mode()`)", data_mode_table(results)),
                        ("Many modems in one process, all uploading and downloading at once", many_table(results)),
                        ("A modem on another machine (ser2net on loopback, RFC 2217; bench.delay adds the network's "
                         "delay)", remote.table(results.get("remote", {}).get("paths", []))),
                        ("RFC 2217 clients through ser2net, unthrottled",
                         remote.clients_table(results.get("remote", {}).get("clients", []))),
                        (cmux.TITLE, cmux.table(results.get("cmux", {}))),
                        ("The emulator's UART against an ideal line", pacing_table(results))):
        if text.count("\n") > 1:
            lines += [f"{title}:", "", text, ""]
    for run in results["runs"]:
        if run["baud"] == results["runs"][0]["baud"] and run["latency"] == 0 and not run.get("firmware"):
            t = run["round_trips"]
            lines.append(f"- {run['dialect']}: connect {t['connect']['commands']} commands, 32-byte request/response "
                         f"{t['request_response']['commands']} commands ({t['request_response']['round_trips']} "
                         f"round trips)")
    memory = results.get("memory", {})
    for dialect, figures in memory.items():
        lines.append(f"- {dialect}: peak traced Python memory while downloading "
                     f"{figures['transfer_bytes'] // 2 ** 20} MiB: {figures['peak_traced_bytes'] / 1024:.0f} KiB")
    lines += tls.summary(results.get("tls", []))
    lines += asyncio_bench.summary(results.get("asyncio", []))
    if "import" in results:
        figures = results["import"]
        lines.append(f"- `import atsock`: {figures['best_ms']:.0f} ms best, {figures['median_ms']:.0f} ms median of "
                     f"{figures['runs']} fresh processes (`python -X importtime`)")
    if "load_after" in results:
        lines.append("- load average at the end of the run: " + ", ".join(f"{v:.2f}" for v in results["load_after"]))
    if "max_rss_kib" in results:
        lines.append(f"- benchmark process peak RSS: {results['max_rss_kib'] / 1024:.1f} MiB")
    return "\n".join(lines)


def targets(results: dict):
    """(what, measured, target, met) for every target of the benchmark issues."""
    checks = []

    def check(what, value, target, at_least=True):
        checks.append((what, value, target, value >= target if at_least else value <= target))

    for run in results["runs"]:
        floor = results["floor"].get(_rate_name(run["baud"]), {})
        name = f"{_dialect(run)} {_rate_name(run['baud'])} {run['latency'] * 1000:.0f} ms"
        if run["baud"] and run["latency"] == 0:
            for direction in ("download", "upload"):
                check(f"{name} {direction}", run[direction]["of_line_rate"], TARGETS[direction])
            busy = run["all_busy"]
            check(f"{name} all busy", busy["of_line_rate"], TARGETS["all_busy"])
            check(f"{name} fairness", busy["min_max_share"], TARGETS["fairness"])
        if floor and run["latency"] == 0 and run["baud"]:  # (unthrottled, the floor reads 64 KiB a wake-up)
            check(f"{name} download CPU × floor", run["download"]["cpu_per_mib"] / floor["read_cpu_per_mib"],
                  TARGETS["download_cpu_vs_floor"], at_least=False)
            if run["baud"] == CPU_TARGET_BAUD:
                check(f"{name} upload CPU × floor", run["upload"]["cpu_per_mib"] / floor["write_cpu_per_mib"],
                      TARGETS["upload_cpu_vs_floor"], at_least=False)
        if run["baud"] and run["latency"] == 0 and _ceiling(run["download"]):
            check(f"{name} download of the protocol's ceiling",
                  run["download"]["of_line_rate"] / _ceiling(run["download"]), TARGETS["of_ceiling"])
    for run in results.get("data_mode", []):
        floor = results["floor"].get(_rate_name(run["baud"]), {})
        name = f"{run['dialect']} {run['baud']} {run['latency'] * 1000:.0f} ms data mode"
        for direction, key in (("download", "read_cpu_per_mib"), ("upload", "write_cpu_per_mib")):
            if run["baud"] == CPU_TARGET_BAUD:
                check(f"{name} {direction}", run[direction]["of_line_rate"], TARGETS["data_mode"])
            if floor and run["baud"] == CPU_TARGET_BAUD and run["latency"] == 0:
                check(f"{name} {direction} CPU × floor", run[direction]["cpu_per_mib"] / floor[key],
                      TARGETS["data_mode_cpu_vs_floor"], at_least=False)
    for run in results.get("many", []):
        if run["modems"] == max(r["modems"] for r in results["many"]):  # some of them remote or not
            shares = run["download_of_line"] + run["upload_of_line"] if run["data_mode"] else run["both_of_line"]
            check(f"{run['modems']} modems, {'data' if run['data_mode'] else 'command'} mode, worst modem",
                  min(shares), TARGETS["many"])
    capped.targets(results.get("capped", {}), check)
    if "import" in results:
        check("import atsock (ms, best)", results["import"]["best_ms"], TARGETS["import_ms"], at_least=False)
    return checks


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))


def plot(results: dict, path: Path) -> bool:
    """Goodput as a share of the line against line rate, per dialect, direction and mode, one panel
    per per-command latency; False if matplotlib is missing or no run had a paced line."""
    if not any(run["baud"] for run in results["runs"]):
        return False
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series = [(f"{_dialect(run)}, command mode", run) for run in results["runs"] if run["baud"]]
    series += [(f"{run['dialect']}, data mode", run) for run in results.get("data_mode", [])]
    labels = list(dict.fromkeys(name for name, _ in series))
    latencies = sorted({run["latency"] for _, run in series})
    figure, axes = plt.subplots(1, len(latencies), figsize=(5.5 * len(latencies), 6), sharey=True, squeeze=False)
    for axis, latency in zip(axes[0], latencies):
        for index, label in enumerate(labels):
            for direction, marker, style in (("download", "o", "-"), ("upload", "s", ":")):
                points = sorted((run["baud"], run[direction]["of_line_rate"] * 100) for name, run in series
                                if name == label and run["latency"] == latency)
                if points:
                    xs, ys = zip(*points)
                    axis.plot(xs, ys, style, marker=marker, color=f"C{index}", label=f"{label}, {direction}")
        axis.axhline(100, color="k", linestyle="--", linewidth=0.8)
        axis.set_xscale("log")
        axis.set_xlabel("line rate (baud)")
        axis.set_title(f"{latency * 1000:.0f} ms per command")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("goodput (% of the line rate, 10 bits a byte)")
    handles, names = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, names, fontsize=7, loc="lower center", ncol=3, frameon=False)
    figure.suptitle("atsock through the emulated modem: goodput against line rate")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout(rect=(0, 0.2, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def update_readme_section(readme: Path, title: str, text: str) -> None:
    """Put one titled table into the README's benchmark block (a benchmark run on its own), in place
    of the one with that title, or before the emulator's UART table."""
    content = readme.read_text()
    start, end = content.index(README_START), content.index(README_END)
    block = content[start:end]
    section = f"{title}:\n\n{text}\n\n"
    if f"{title}:\n" in block:
        at = block.index(f"{title}:\n")
        after = block.index("\n\n", block.index("\n|", at)) + 2
        block = block[:at] + section + block[after:]
    else:
        at = block.index("The emulator's UART against an ideal line:")
        block = block[:at] + section + block[at:]
    readme.write_text(content[:start] + block + content[end:])


def update_readme(readme: Path, text: str, markers=(README_START, README_END)) -> None:
    """Put ``text`` between the two markers of ``readme`` (any Markdown page)."""
    content = readme.read_text()
    start, end = content.index(markers[0]) + len(markers[0]), content.index(markers[1])
    readme.write_text(content[:start] + "\n" + text + "\n" + content[end:])
