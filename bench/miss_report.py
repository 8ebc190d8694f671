#!/usr/bin/env python3
"""The miss-latency section of bench/results/latest.md (issue 12, item 4).

usage: miss_report.py RAW_DIR RESULTS_DIR
Reads RAW_DIR/miss-host.json (bench/miss.sh: the FUSE variant on the host) and, when the
VM part ran, RAW_DIR/vm-miss.json (bench/vm-guest.sh: /dev/httpcloop0); writes the
section "Miss latency" into RESULTS_DIR/latest.md (replacing an older one; the rest of
the file is kept) and prints it.
"""
import json
import math
import os

from report import section_main  # bench/report.py, beside this file

HEADER = "## Miss latency: a 4 KiB read of a block not yet cached"
TARGET_P50_MS, TARGET_P99_MS = 2.0, 10.0  # issue 12, on the host
# The daemon's stages (`httpcloop status`, miss_*_us: sums over its misses), in order.
STAGES = [
    ("queued", "waiting for a transfer"),
    ("http", "HTTP"),
    ("decode_wait", "waiting for a decoder"),
    ("hash", "SHA-256"),
    ("decompress", "decompressing"),
    ("cache_write", "writing the cache"),
    ("completion", "telling the reader"),
]


def percentile(values, fraction):
    """Nearest rank: the smallest value with at least `fraction` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def row(run):
    latencies = run["reads"]["latencies_ms"]
    daemon = run["daemon"]
    misses = daemon["miss_count"] or 1
    stages = [daemon["miss_%s_us" % key] / 1000.0 / misses for key, _ in STAGES]
    mean = sum(latencies) / len(latencies)
    rest = mean - sum(stages)  # the reader's side: syscall, kernel or FUSE, wake-ups
    cells = [run["where"], run["path"], "%d (%d)" % (len(latencies), daemon["miss_count"]),
             "%.2f" % percentile(latencies, 0.5), "%.2f" % percentile(latencies, 0.99), "%.2f" % mean]
    cells += ["%.3f" % s for s in stages] + ["%.3f" % rest]
    return "| " + " | ".join(cells) + " |", percentile(latencies, 0.5), percentile(latencies, 0.99)


def section(raw):
    runs = []
    for name in ("miss-host.json", "vm-miss.json"):
        path = os.path.join(raw, name)
        if os.path.exists(path):
            runs.append(json.load(open(path)))
    out = [HEADER, ""]
    out.append("One 4 KiB read in each of %d distinct blocks of the bench image (%d KiB blocks), in random "
               "order, one at a time, `O_DIRECT`, with an empty cache and `--no-readahead`, so that every read "
               "is its block's first; each read is timed around its `pread` and compared with the plaintext "
               "(`bench/miss.py`). Loopback to nginx. The stages are the daemon's own account (`httpcloop "
               "status`, means per miss); *the reader's side* is the mean read minus them: the system call, "
               "the kernel driver or FUSE, and the wake-ups between them and the daemon."
               % (len(runs[0]["reads"]["latencies_ms"]) if runs else 0,
                  (runs[0]["reads"]["block_size"] // 1024) if runs else 0))
    out.append("")
    out.append("| where | path | reads (daemon's misses) | p50 ms | p99 ms | mean ms | "
               + " | ".join(title + " ms" for _, title in STAGES) + " | the reader's side ms |")
    out.append("|---|---|---:|---:|---:|---:|" + "---:|" * (len(STAGES) + 1))
    host = None
    for run in runs:
        text, p50, p99 = row(run)
        out.append(text)
        if run["where"] == "host":
            host = (p50, p99)
    out.append("")
    if host:
        out.append("Targets on the host (issue 12): p50 ≤ %.0f ms: %.2f ms, %s; p99 ≤ %.0f ms: %.2f ms, %s."
                   % (TARGET_P50_MS, host[0], "met" if host[0] <= TARGET_P50_MS else "**missed**",
                      TARGET_P99_MS, host[1], "met" if host[1] <= TARGET_P99_MS else "**missed**"))
        out.append("")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    section_main(__doc__, HEADER, section)
