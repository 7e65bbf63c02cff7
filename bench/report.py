"""Turn benchmark results into a table (stdout, README), a JSON file and a goodput plot."""
import json
from pathlib import Path

from . import asyncio_bench, tls

TARGETS = {"download": 0.90, "upload": 0.85, "all_busy": 0.80, "fairness": 0.5, "cpu_vs_floor": 3.0}
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def _rate_name(baud) -> str:
    return f"{baud}" if baud else "unthrottled"


def _pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def table(results: dict) -> str:
    rows = ["| dialect | line (baud) | latency | download | upload | all sockets busy (min/max share) | "
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
            goodput = (_pct(down.get("of_line_rate")), _pct(up.get("of_line_rate")),
                       f"{_pct(busy.get('of_line_rate'))} ({busy['min_max_share']:.2f})")
        else:
            goodput = (f"{down['bytes_per_s'] / 1e6:.2f} MB/s", f"{up['bytes_per_s'] / 1e6:.2f} MB/s",
                       f"{busy['bytes_per_s'] / 1e6:.2f} MB/s ({busy['min_max_share']:.2f})")
        trips = run["round_trips"]
        per = f"{trips['download']['per_mib']['commands']:.0f}/{trips['download']['per_mib']['round_trips']:.0f}, " \
              f"{trips['upload']['per_mib']['commands']:.0f}/{trips['upload']['per_mib']['round_trips']:.0f}"
        rows.append(f"| {run['dialect']} | {_rate_name(run['baud'])} | {run['latency'] * 1000:.0f} ms | "
                    f"{goodput[0]} | {goodput[1]} | {goodput[2]} | {cpu} | {per} |")
    lines = ["\n".join(rows), ""]
    for run in results["runs"]:
        if run["baud"] == results["runs"][0]["baud"] and run["latency"] == 0:
            t = run["round_trips"]
            lines.append(f"- {run['dialect']}: connect {t['connect']['commands']} commands, 32-byte request/response "
                         f"{t['request_response']['commands']} commands ({t['request_response']['round_trips']} "
                         f"round trips)")
    for baud, directions in results.get("pacing", {}).items():
        up, down = directions["host_to_module"], directions["module_to_host"]
        lines.append(f"- pacing error of the emulator's UART at {baud} baud (median / p99 / max |error|): "
                     f"module→host {down['median_abs_error_ms']:.2f} / {down['p99_abs_error_ms']:.2f} / "
                     f"{down['max_abs_error_ms']:.1f} ms at {_pct(down['rate_of_line'])} of the line, "
                     f"host→module {up['median_abs_error_ms']:.2f} / {up['p99_abs_error_ms']:.2f} / "
                     f"{up['max_abs_error_ms']:.1f} ms at {_pct(up['rate_of_line'])}")
    memory = results.get("memory", {})
    for dialect, figures in memory.items():
        lines.append(f"- {dialect}: peak traced Python memory while downloading "
                     f"{figures['transfer_bytes'] // 2 ** 20} MiB: {figures['peak_traced_bytes'] / 1024:.0f} KiB")
    lines += tls.summary(results.get("tls", []))
    lines += asyncio_bench.summary(results.get("asyncio", []))
    if "max_rss_kib" in results:
        lines.append(f"- benchmark process peak RSS: {results['max_rss_kib'] / 1024:.1f} MiB")
    return "\n".join(lines)


def targets(results: dict):
    """(what, measured, target, met) for every target of the benchmark issue."""
    checks = []
    for run in results["runs"]:
        floor = results["floor"].get(_rate_name(run["baud"]), {})
        name = f"{run['dialect']} {_rate_name(run['baud'])} {run['latency'] * 1000:.0f} ms"
        if run["baud"] and run["latency"] == 0:
            for direction in ("download", "upload"):
                value = run[direction]["of_line_rate"]
                checks.append((f"{name} {direction}", value, TARGETS[direction], value >= TARGETS[direction]))
            busy = run["all_busy"]
            checks.append((f"{name} all busy", busy["of_line_rate"], TARGETS["all_busy"],
                           busy["of_line_rate"] >= TARGETS["all_busy"]))
            checks.append((f"{name} fairness", busy["min_max_share"], TARGETS["fairness"],
                           busy["min_max_share"] >= TARGETS["fairness"]))
        if floor and run["latency"] == 0:
            for direction, key in (("download", "read_cpu_per_mib"), ("upload", "write_cpu_per_mib")):
                ratio = run[direction]["cpu_per_mib"] / floor[key]
                checks.append((f"{name} {direction} CPU × floor", ratio, TARGETS["cpu_vs_floor"],
                               ratio <= TARGETS["cpu_vs_floor"]))
    return checks


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))


def plot(results: dict, path: Path) -> bool:
    """Goodput against line rate per dialect and direction; False if matplotlib is missing or no
    run had a paced line to plot against."""
    if not any(run["baud"] for run in results["runs"]):
        return False
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axis = plt.subplots(figsize=(7, 4.5))
    bauds = sorted({run["baud"] for run in results["runs"] if run["baud"]})
    axis.plot(bauds, [b / 10 / 1000 for b in bauds], "k--", label="line rate (10 bits/byte)")
    for dialect in sorted({run["dialect"] for run in results["runs"]}):
        for direction, marker in (("download", "o"), ("upload", "s")):
            for latency, style in ((0, "-"), (0.005, ":")):
                points = [(run["baud"], run[direction]["bytes_per_s"] / 1000) for run in results["runs"]
                          if run["dialect"] == dialect and run["baud"] and run["latency"] == latency]
                if points:
                    xs, ys = zip(*sorted(points))
                    axis.plot(xs, ys, style, marker=marker,
                              label=f"{dialect} {direction}, {latency * 1000:.0f} ms latency")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("line rate (baud)")
    axis.set_ylabel("goodput (kB/s)")
    axis.set_title("atsock goodput through the emulated modem")
    axis.legend(fontsize=7)
    axis.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def update_readme(readme: Path, text: str) -> None:
    content = readme.read_text()
    start, end = content.index(README_START) + len(README_START), content.index(README_END)
    readme.write_text(content[:start] + "\n" + text + "\n" + content[end:])
