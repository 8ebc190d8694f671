#!/usr/bin/env python3
"""The block-size sweep's section of bench/results/latest.md (bench/sweep, issue 12 item 2).

usage: sweep_report.py RESULTS_DIR SIZE=RAW_DIR...
Each RAW_DIR is a bench/run VM part's raw results for images of block size SIZE (kernel
driver and anchors, loopback and network profiles). Writes the section "Block size
sweep" into RESULTS_DIR/latest.md (the rest of the file is kept) and prints it.
"""
import math
import sys

from report import PROFILES, WORKLOAD_TITLES, anchor_ratios, load_passes, median, ratio_cell, replace_section

HEADER = "## Block size sweep"
COLD = ["seq_cold", "rand_cold", "rand16_cold", "trace_cold"]


def http_per_byte(passes, env, workload):
    values = [p["http_bytes"] / p["bytes"] for p in passes
              if p["env"] == env and p["ok"] and p["method"] == "kernel" and p["workload"] == workload
              and p.get("bytes")]
    return median(values)


def section(runs):
    out = [HEADER, ""]
    out.append("`make bench-sweep` (bench/sweep): the bench image published with each block size, the VM part "
               "(the kernel driver, nbdkit and httpfs2; one round on loopback and one per network profile). Per "
               "cold workload: `/dev/httpcloop0`'s throughput × the best anchor of the same round (higher is "
               "better), and in brackets its bytes over HTTP per byte read (lower is better). One round each: "
               "read the differences between sizes, not single cells, and mind the noise of a shared machine.")
    out.append("")
    out.append("| link | block size | %s | geometric mean |" % " | ".join(WORKLOAD_TITLES[w] for w in COLD))
    out.append("|---|---:|" + "---:|" * (len(COLD) + 1))
    scores = {}
    for env, title, _ in PROFILES:
        for size, passes in runs:
            ratios = anchor_ratios(passes, env)
            if not ratios:
                continue
            cells, logs = [], []
            for w in COLD:
                value = median(ratios.get(("kernel", w), []))
                per_byte = http_per_byte(passes, env, w)
                cells.append("%s (%s)" % (ratio_cell(value), "%.2f" % per_byte if per_byte is not None else "–"))
                if value:
                    logs.append(math.log(value))
            mean = math.exp(sum(logs) / len(logs)) if logs else None
            scores.setdefault(size, []).extend(logs)
            out.append("| %s | %s | %s | %s |" % (title, size, " | ".join(cells), ratio_cell(mean)))
    out.append("")
    if scores:
        overall = {size: math.exp(sum(v) / len(v)) for size, v in scores.items() if v}
        best = max(overall, key=overall.get)
        out.append("Over every link and cold workload (geometric mean of the ratios): %s; the best here: **%s**."
                   % (", ".join("%s %s" % (size, ratio_cell(value)) for size, value in overall.items()), best))
        out.append("")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    results = sys.argv[1]
    runs = []
    for arg in sys.argv[2:]:
        size, raw = arg.split("=", 1)
        runs.append((size, load_passes(raw)))
    text = section(runs)
    replace_section(results + "/latest.md", HEADER, text)
    print(text)


if __name__ == "__main__":
    main()
