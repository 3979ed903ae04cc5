#!/usr/bin/env python3
"""Turns the benchmark's per-run TSV into the results table and the target checks, as Markdown.

Usage: report.py RESULTS_TSV WORKLOADS_TSV HEADER_FILE OUT_MD
RESULTS_TSV lines, tab-separated, one per run: workload, tool, round, start, end (bash's
$EPOCHREALTIME before and after, s), gnu_time_elapsed (GNU time's %e, s), peak_rss_kib (%M), status
(ok or failed), bytes (the workload's), user_s, sys_s (GNU time's %U and %S: CPU time in user and
kernel mode, s, 10 ms resolution). Round 0 is the warm-up and is left out. Files written before the
last two columns existed (9 columns) are read too; their tables have no CPU columns.
WORKLOADS_TSV lines: workload, title, in run order.
The table is printed and written to OUT_MD, after the header lines (command, date, machine).
"""
import statistics
import sys
from collections import defaultdict

MIB = 1024 * 1024
RSS_LIMIT_MIB = 64


class Stats:
    """The measured runs of one tool on one workload."""

    def __init__(self, rows):
        self.runs = len(rows)
        ok = [r for r in rows if r["status"] == "ok"]
        self.ok = len(ok)
        self.walls = [r["end"] - r["start"] for r in ok]
        self.rss = [r["rss_kib"] / 1024 for r in ok]
        # User + system CPU time; None where the TSV has no CPU columns.
        self.cpus = [r["cpu"] for r in ok if r["cpu"] is not None]
        self.bytes = rows[0]["bytes"]

    @property
    def median(self):
        return statistics.median(self.walls) if self.walls else None

    @property
    def cpu(self):
        """Median CPU time (user + system), s."""
        return statistics.median(self.cpus) if self.cpus else None

    @property
    def throughput(self):
        """MiB/s at the median wall time."""
        return self.bytes / MIB / self.median if self.median else None


def load(path):
    """The measured runs by (workload, tool), and each workload's tools in run order."""
    runs = defaultdict(list)
    tool_order = defaultdict(list)
    with open(path) as f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 9:
                fields += ["", ""]
            if len(fields) != 11:
                sys.exit(f"{path}:{n}: {len(fields)} columns, expected 11 (or 9 from before CPU time was measured)")
            w, tool, rnd, start, end, _elapsed, rss, status, nbytes, user, system = fields
            if tool not in tool_order[w]:
                tool_order[w].append(tool)
            if int(rnd) == 0:
                continue
            cpu = float(user) + float(system) if user and system else None
            runs[(w, tool)].append(
                {"start": float(start), "end": float(end), "rss_kib": int(rss or 0),
                 "status": status, "bytes": int(nbytes), "cpu": cpu}
            )
    return runs, tool_order


def ratio(x, base):
    """x / base with two decimals, or '-' when either is missing or base is zero."""
    return f"{x / base:.2f}" if x is not None and base else "-"


def fmt_s(x):
    return "-" if x is None else f"{x:.3f}"


def table(w, title, tools, stats, with_cpu):
    """One workload's table; with_cpu adds the CPU time columns (the TSV has them)."""
    fetch = stats.get((w, "fetch"))
    cpu_head, cpu_align = (" median CPU s |", "---:|") if with_cpu else ("", "")
    cpu_ratio_head, cpu_ratio_align = (" CPU / fetch |", "---:|") if with_cpu else ("", "")
    lines = [f"### {title}", "",
             f"| tool | median s | min-max s |{cpu_head} median peak RSS MiB | throughput MiB/s "
             f"| time / fetch |{cpu_ratio_head} runs ok |",
             f"|---|---:|---:|{cpu_align}---:|---:|---:|{cpu_ratio_align}---:|"]
    for tool in tools:
        s = stats.get((w, tool))
        if s is None:
            continue
        cpu = cpu_ratio = "-"
        if s.walls:
            span = f"{min(s.walls):.3f}-{max(s.walls):.3f}"
            rss = f"{statistics.median(s.rss):.1f}"
            thr = f"{s.throughput:.0f}" if s.throughput >= 10 else f"{s.throughput:.1f}"
            time_ratio = ratio(s.median, fetch.median if fetch else None)
            if s.cpu is not None:
                cpu = f"{s.cpu:.2f}"
                cpu_ratio = ratio(s.cpu, fetch.cpu if fetch else None)
        else:
            span = rss = thr = time_ratio = "-"
        cpu_cell = f" {cpu} |" if with_cpu else ""
        cpu_ratio_cell = f" {cpu_ratio} |" if with_cpu else ""
        lines.append(f"| {tool} | {fmt_s(s.median)} | {span} |{cpu_cell} {rss} | {thr} "
                     f"| {time_ratio} |{cpu_ratio_cell} {s.ok}/{s.runs} |")
    return lines


def fastest_peer(w, tools, stats):
    # fetch-base is another build of fetch (--fetch-base), not a peer.
    peers = [(stats[(w, t)].median, t) for t in tools
             if t not in ("fetch", "fetch-base") and stats.get((w, t)) and stats[(w, t)].median]
    return min(peers) if peers else (None, None)


def targets(order, tools, stats):
    rows = []

    def verdict(ok):
        return "met" if ok else "**missed**"

    fetch = {w: stats.get((w, "fetch")) for w in order}
    ref = stats.get(("REF", "curl-1stream"))
    for w in order:
        f = fetch[w]
        if w == "REF" or f is None:
            continue
        if not f.median:
            rows.append(f"| {w} | fetch has no successful run | **missed** |")
            continue
        best, peer = fastest_peer(w, tools[w], stats)
        if best:
            ratio = f.median / best
            if w in ("W1", "W3"):
                rows.append(f"| {w}: fetch <= 0.8 x fastest peer ({peer} {best:.3f} s) "
                            f"| {ratio:.2f} x ({f.median:.3f} s) | {verdict(ratio <= 0.8)} |")
            elif w in ("W2", "W4"):
                rows.append(f"| {w}: fetch no slower than fastest peer ({peer} {best:.3f} s) "
                            f"| {ratio:.2f} x ({f.median:.3f} s) | {verdict(ratio <= 1.0)} |")
            elif w == "W0":
                rows.append(f"| W0: fetch <= 1.5 x curl ({best:.3f} s) "
                            f"| {ratio:.2f} x ({f.median:.3f} s) | {verdict(ratio <= 1.5)} |")
            elif w == "W5":
                rows.append(f"| W5: fetch at its defaults no slower than the fastest peer at its best flags "
                            f"({peer} {best:.3f} s) | {ratio:.2f} x ({f.median:.3f} s) | {verdict(ratio <= 1.0)} |")
        base = stats.get((w, "fetch-base"))
        if base and base.median and w in ("W2", "W4", "W5"):
            ratio = f.median / base.median
            rows.append(f"| {w}: fetch no slower than the --fetch-base build ({base.median:.3f} s) "
                        f"| {ratio:.2f} x ({f.median:.3f} s) | {verdict(ratio <= 1.0)} |")
        if w in ("W2", "W4") and ref and ref.median:
            share = f.throughput / ref.throughput
            cp = stats.get(("REF", "cp"))
            cp_note = f"; tmpfs copy {cp.throughput:.0f} MiB/s" if cp and cp.median else ""
            # The limit is nginx's stream; for W4 the S3 server's own stream is shown beside it.
            s3 = stats.get(("REF", "curl-s3-1stream")) if w == "W4" else None
            s3_note = ""
            if s3 and s3.median:
                cp_note = f"; s3s-fs one stream {s3.throughput:.0f} MiB/s{cp_note}"
                s3_note = f"; {100 * f.throughput / s3.throughput:.0f} % of s3s-fs's one stream"
            rows.append(f"| {w}: fetch >= 90 % of one loopback stream ({ref.throughput:.0f} MiB/s{cp_note}) "
                        f"| {100 * share:.0f} % ({f.throughput:.0f} MiB/s{s3_note}) | {verdict(share >= 0.9)} |")
        peak = max(f.rss)
        rows.append(f"| {w}: fetch peak RSS < {RSS_LIMIT_MIB} MiB (highest of its runs) "
                    f"| {peak:.1f} MiB | {verdict(peak < RSS_LIMIT_MIB)} |")
    if not rows:
        return []
    return ["### Targets (issues 3 and 21)", "", "| target | measured | verdict |", "|---|---:|---|"] + rows


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: report.py RESULTS_TSV WORKLOADS_TSV HEADER_FILE OUT_MD")
    results, workloads, header, out = sys.argv[1:]
    runs, tool_order = load(results)
    stats = {k: Stats(v) for k, v in runs.items()}
    with open(workloads) as f:
        titles = [line.rstrip("\n").split("\t", 1) for line in f if line.strip()]
    with open(header) as f:
        lines = f.read().rstrip("\n").split("\n") + [""]
    order = [w for w, _ in titles]
    with_cpu = any(r["cpu"] is not None for rows in runs.values() for r in rows)
    for w, title in titles:
        lines += table(w, title, tool_order[w], stats, with_cpu) + [""]
    lines += targets(order, tool_order, stats)
    text = "\n".join(lines).rstrip("\n") + "\n"
    sys.stdout.write(text)
    with open(out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
