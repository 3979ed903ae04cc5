#!/usr/bin/env python3
"""Draws the benchmark's chart, an SVG, from the same per-run TSV as the table (bench/lib/report.py).

Usage: chart.py RESULTS_TSV WORKLOADS_TSV HEADER_FILE OUT_SVG
For every workload but REF (it has no fetch run), one horizontal bar per tool: its median wall time
divided by fetch's median on the same workload, so that workloads of 0.006 s and of 6 s share one axis;
fetch's bars in their own colour, the median in seconds and the ratio beside each bar, and a whisker
from the fastest to the slowest measured round. A workload without a successful fetch run is drawn
relative to its fastest tool, and says so. The title names the date and rounds from HEADER_FILE and the
TSV. Standard library only; the SVG is written by hand.
"""
import os
import re
import sys
import textwrap
from xml.sax.saxutils import escape

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import Stats, load  # noqa: E402

WIDTH = 960
LEFT = 130  # the tool names end here and the bars start
RIGHT = WIDTH - 200  # the axis ends here; the labels beside the bars use the rest
ROW = 20
BAR = 13
GROUP_HEAD = 24
GROUP_GAP = 12
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
FETCH_COLOUR = "#e4572e"
PEER_COLOUR = "#8fa3b8"
INK = "#222222"
GREY = "#666666"
GRID = "#dddddd"


def attrs(**kw):
    return " ".join(f'{k.rstrip("_").replace("_", "-")}="{escape(str(v), {chr(34): "&quot;"})}"'
                    for k, v in kw.items())


def text(x, y, s, size=12, **kw):
    return f'<text {attrs(x=f"{x:.1f}", y=f"{y:.1f}", font_size=size, **kw)}>{escape(s)}</text>'


def nice_step(top):
    """A tick step that gives at most 12 ticks up to top."""
    for step in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if top / step <= 12:
            return step
    return top / 10


def header_field(lines, name):
    """The value of a "- name: value" line of the Markdown header, without Markdown marks."""
    for line in lines:
        if line.startswith(f"- {name}: "):
            return line[len(name) + 4:].replace("`", "")
    return None


def plain(line):
    return re.sub(r"[`*]", "", line[2:] if line.startswith("- ") else line)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: chart.py RESULTS_TSV WORKLOADS_TSV HEADER_FILE OUT_SVG")
    results, workloads, header, out = sys.argv[1:]
    runs, tool_order = load(results)
    stats = {k: Stats(v) for k, v in runs.items()}
    with open(results) as f:
        rounds = max((int(line.split("\t")[2]) for line in f if line.strip()), default=0)
    with open(workloads) as f:
        titles = [line.rstrip("\n").split("\t", 1) for line in f if line.strip()]
    with open(header) as f:
        head = [line.rstrip("\n") for line in f]

    # The groups to draw: (title, note, [(tool, stats)], baseline median).
    groups = []
    for w, title in titles:
        if w == "REF":
            continue
        tools = [(t, stats[(w, t)]) for t in tool_order[w] if (w, t) in stats]
        if not tools:
            continue
        fetch = stats.get((w, "fetch"))
        note = ""
        if fetch and fetch.median:
            base = fetch.median
        else:
            medians = [s.median for _, s in tools if s.median]
            base = min(medians) if medians else None
            note = "  (no successful fetch run: relative to the fastest tool)"
        groups.append((title, note, tools, base))

    top = 1.0
    for _, _, tools, base in groups:
        for _, s in tools:
            if base and s.walls:
                top = max(top, max(s.walls) / base)
    step = nice_step(top)
    top = step * -(-top // step)  # rounded up to a whole step

    def x_of(ratio):
        return LEFT + (RIGHT - LEFT) * ratio / top

    date = header_field(head, "date") or "date unknown"
    command = header_field(head, "command") or "bench/run"
    rounds_text = f"{rounds} round{'s' if rounds != 1 else ''}"
    body = []
    y = 30
    body.append(text(20, y, "fetch and its peers: median wall time per workload, relative to fetch",
                     size=17, font_weight="bold", fill=INK))
    y += 20
    body.append(text(20, y, f"{date}; median of {rounds_text} after one warm-up, tools interleaved, "
                     f"concurrency 16; {command}", size=12, fill=GREY))
    y += 24
    # Legend.
    body.append(f'<rect {attrs(x=20, y=y - 10, width=22, height=BAR - 2, fill=FETCH_COLOUR)}/>')
    body.append(text(48, y, "fetch", fill=INK))
    body.append(f'<rect {attrs(x=100, y=y - 10, width=22, height=BAR - 2, fill=PEER_COLOUR)}/>')
    body.append(text(128, y, "other tools", fill=INK))
    body.append(f'<line {attrs(x1=220, y1=y - 4.5, x2=250, y2=y - 4.5, stroke=INK, stroke_width=1.2)}/>')
    body.append(f'<line {attrs(x1=220, y1=y - 9, x2=220, y2=y, stroke=INK, stroke_width=1.2)}/>')
    body.append(f'<line {attrs(x1=250, y1=y - 9, x2=250, y2=y, stroke=INK, stroke_width=1.2)}/>')
    body.append(text(256, y, "fastest to slowest round", fill=INK))
    body.append(text(430, y, "beside each bar: median seconds (time / fetch); shorter is faster",
                     fill=INK))
    y += 22

    # Axis ticks above the plot; the grid lines are drawn once the height is known.
    axis_y = y
    ticks = []
    i = 0
    while i * step <= top + 1e-9:
        ticks.append(i * step)
        i += 1
    for t in ticks:
        label = f"{t:g} x" if t else "0"
        body.append(text(x_of(t), axis_y, label, size=11, fill=GREY, text_anchor="middle"))
    y += 8
    plot_top = y

    backgrounds, rows = [], []
    for title, note, tools, base in groups:
        backgrounds.append(f'<rect {attrs(x=12, y=y, width=WIDTH - 24, height=GROUP_HEAD + ROW * len(tools) + 4, fill="#f5f7f9")}/>')
        rows.append(text(20, y + 17, title + note, size=13, font_weight="bold", fill=INK))
        y += GROUP_HEAD
        for tool, s in tools:
            colour = FETCH_COLOUR if tool == "fetch" else PEER_COLOUR
            weight = "bold" if tool == "fetch" else "normal"
            mid = y + ROW / 2
            rows.append(text(LEFT - 8, mid + 4, tool, fill=INK, text_anchor="end", font_weight=weight))
            if not s.median or not base:
                rows.append(text(LEFT + 4, mid + 4, f"no successful run ({s.ok}/{s.runs} ok)",
                                 fill=FETCH_COLOUR, font_style="italic"))
                y += ROW
                continue
            r = s.median / base
            rows.append(f'<rect {attrs(x=LEFT, y=f"{mid - BAR / 2:.1f}", width=f"{x_of(r) - LEFT:.1f}", height=BAR, fill=colour)}/>')
            lo, hi = x_of(min(s.walls) / base), x_of(max(s.walls) / base)
            if hi - lo >= 1:
                rows.append(f'<line {attrs(x1=f"{lo:.1f}", y1=f"{mid:.1f}", x2=f"{hi:.1f}", y2=f"{mid:.1f}", stroke=INK, stroke_width=1.2)}/>')
                for xw in (lo, hi):
                    rows.append(f'<line {attrs(x1=f"{xw:.1f}", y1=f"{mid - 4:.1f}", x2=f"{xw:.1f}", y2=f"{mid + 4:.1f}", stroke=INK, stroke_width=1.2)}/>')
            label = f"{s.median:.3f} s" + ("" if tool == "fetch" and not note else f" ({r:.2f} x)")
            if s.ok < s.runs:
                label += f", {s.runs - s.ok} of {s.runs} runs failed"
            rows.append(text(max(x_of(r), hi) + 6, mid + 4, label, fill=INK, font_weight=weight))
            y += ROW
        y += 4 + GROUP_GAP
    plot_bottom = y - GROUP_GAP

    grid = []
    for t in ticks:
        grid.append(f'<line {attrs(x1=f"{x_of(t):.1f}", y1=plot_top, x2=f"{x_of(t):.1f}", y2=plot_bottom, stroke=GRID, stroke_width=1)}/>')
    # fetch's line: 1 x.
    grid.append(f'<line {attrs(x1=f"{x_of(1):.1f}", y1=plot_top, x2=f"{x_of(1):.1f}", y2=plot_bottom, stroke=FETCH_COLOUR, stroke_width=1.2, stroke_dasharray="4 3")}/>')

    # Notes: what the bars are, and the run's machine and versions from the header.
    y = plot_bottom + 22
    notes = [
        "Each bar is a tool's median wall time divided by fetch's median on the same workload "
        "(fetch = 1 x, the dashed line). Loopback servers (nginx, s3s-fs), data and output on tmpfs; "
        "every run checked byte-exact, failed runs left out. The reference limits (REF) are in the table "
        "only: they have no fetch run.",
    ]
    for line in head:
        if line.startswith("- machine: ") or line.startswith("- fetch ") or "noisy run" in line:
            notes.append(plain(line))
    notes_svg = []
    for note in notes:
        for part in textwrap.wrap(note, 140):
            notes_svg.append(text(20, y, part, size=11, fill=GREY))
            y += 15
        y += 4
    height = int(y + 6)

    svg = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" {attrs(width=WIDTH, height=height, viewBox=f"0 0 {WIDTH} {height}", font_family=FONT)}>',
        f"<title>{escape(f'fetch benchmark, {date}: median wall time per tool and workload, relative to fetch')}</title>",
        f'<rect {attrs(x=0, y=0, width=WIDTH, height=height, fill="#ffffff")}/>',
    ]
    # Group backgrounds first, then the grid over them, then bars and labels on top.
    svg += body + backgrounds + grid + rows + notes_svg + ["</svg>"]
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
