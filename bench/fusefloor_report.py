#!/usr/bin/env python3
"""The fuse-floor section of bench/results/latest.md (issue 12, item 3).

usage: fusefloor_report.py RAW_DIR RESULTS_DIR
Reads RAW_DIR/fusefloor-passes.tsv and its fio JSON (bench/fuse-floor.sh); writes the
section into RESULTS_DIR/latest.md (replacing an older one; the rest of the file is
kept) and prints it. Ratios are taken within a round, then the median.
"""
import os
import sys

import report  # bench/report.py, beside this file
from report import median, read_kv, section_main

HEADER = "## The FUSE variant against FUSE's own floor"
WORKLOADS = ["seq_warm", "rand_warm", "rand16_warm", "trace_warm"]
# Issue 12: the FUSE variant warm, against the local file on the host.
TARGETS = {"seq_warm": 0.8, "rand_warm": 0.5, "rand16_warm": 0.3}


def section(raw):
    report.ENVS["fusefloor"] = {"limit": "local", "methods": ["local", "fuse", "passthrough", "floor"]}
    passes = [p for p in report.load_passes(raw) if p["env"] == "fusefloor"]
    if not passes:
        sys.exit("fusefloor_report: no passes in %s (run bench/fuse-floor.sh first)" % raw)
    env = read_kv(os.path.join(raw, "fusefloor-env.txt"))
    by = {}
    for p in passes:
        if p["ok"] and p.get("mibs"):
            by.setdefault((p["round"], p["workload"]), {})[p["method"]] = p
    rounds = sorted({r for r, _ in by})
    out = [HEADER, ""]
    passthrough = env.get("fuse_floor_passthrough", "?")
    out.append("bench/fuse-floor.sh, on the host (Linux %s): the warm workloads (fio, O_DIRECT, every 4 KiB verified) on "
               "the plaintext file in tmpfs (the limit), through `mount-fuse` with its cache full, and through the "
               "*FUSE floor* (bench/micro/fuse_floor.cpp): a FUSE server that does nothing but hand the kernel "
               "the same file's descriptor for every read, with mount-fuse's mount options (max_read=%s), init "
               "settings and 16-thread loop. No FUSE server that serves its reads can be faster than the floor; "
               "what separates `mount-fuse --no-passthrough` from it is httpcloop's own. `mount-fuse` as users run "
               "it hands a complete cache to the kernel instead (FUSE passthrough: Linux >= 6.9, libfuse >= 3.16, "
               "root): here its passthrough was **%s** after the runs, %s opens with it, %s reads served by "
               "mount-fuse itself (the cache fill's). %d round%s, medians of ratios taken within a round. Each "
               "mount-fuse's cache was filled (%s block requests in all) before the first pass.\n" % (
                   env.get("fuse_floor_kernel", "?"), env.get("fuse_floor_max_read", "?"), passthrough,
                   env.get("fuse_floor_passthrough_opens", "?"), env.get("fuse_floor_passthrough_served_reads", "?"),
                   len(rounds), "" if len(rounds) == 1 else "s", env.get("fuse_floor_block_requests", "?")))
    out.append("| workload | local file MiB/s | FUSE floor × local | served × local | served × floor "
               "| passthrough × local | target (× local) | met |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for w in WORKLOADS:
        def ratios(a, b):
            return median([m[a]["mibs"] / m[b]["mibs"] for (r, wl), m in by.items() if wl == w and a in m and b in m])
        local = median([m["local"]["mibs"] for (r, wl), m in by.items() if wl == w and "local" in m])
        floor_x, fuse_x, fuse_floor = ratios("floor", "local"), ratios("fuse", "local"), ratios("fuse", "floor")
        passthrough_x = ratios("passthrough", "local")
        target = TARGETS.get(w)
        # The target is for mount-fuse as users run it: passthrough where the kernel has it.
        best = passthrough_x if passthrough_x is not None else fuse_x
        met = "–" if target is None or best is None else ("yes" if best >= target else "**no**")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            report.WORKLOAD_TITLES[w], report.fmt(local, "%.0f"), report.fmt(floor_x), report.fmt(fuse_x),
            report.fmt(fuse_floor), report.fmt(passthrough_x), "≥ %.1f" % target if target else "–", met))
    out.append("")
    return "\n".join(out) + "\n"


def main():
    section_main(__doc__, HEADER, section)


if __name__ == "__main__":
    main()
