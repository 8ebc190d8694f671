#!/usr/bin/env python3
"""The update section of bench/results/latest.md, from bench/update.sh's raw figures.

usage: update_report.py RAW_DIR RESULTS_DIR
Reads RAW_DIR/update.txt; writes the section "Updates: version 1 to version 2" into
RESULTS_DIR/latest.md (replacing an older one, or appended; the rest of the file is kept,
so `BENCH_ONLY=update make bench` updates just this section) and prints it.
"""
import os
import re

from report import section_main  # bench/report.py, beside this file

HEADER = "## Updates: version 1 to version 2"
TARGET = 1.2  # issue 12: bytes over HTTP <= 1.2 x the stored size of the changed blocks


def mib(n):
    return "%.2f MiB" % (n / 1048576.0)


def section(raw):
    figures = {}
    for line in open(os.path.join(raw, "update.txt")):
        figures.update({k: float(v) for k, v in re.findall(r"(\w+)=(\S+)", line)})
    f = figures
    ratio = f["reuse_bytes"] / f["changed_stored_bytes"] if f["changed_stored_bytes"] else float("inf")
    out = [HEADER, ""]
    out.append("An ext4 image of %d files of 256 KiB (%s, %d blocks); version 2 rewrites %d of the files "
               "(5 %%) in place. `mount-fuse` reads version 1 whole into a cache directory, then version 2 "
               "with the same cache (its blocks that version 1's cache holds are copied from there, verified), "
               "then version 2 with an empty cache. Loopback; every byte compared. (`bench/update.sh`)"
               % (f["files"], mib(f["image_bytes"]), f["blocks"], f["changed_files"]))
    out.append("")
    out.append("| read | bytes over HTTP | block requests | seconds |")
    out.append("| --- | --- | --- | --- |")
    out.append("| version 1, empty cache | %s | %d | %.2f |" % (mib(f["v1_bytes"]), f["v1_requests"], f["v1_seconds"]))
    out.append("| version 2, version 1's cache | %s | %d | %.2f |"
               % (mib(f["reuse_bytes"]), f["reuse_requests"], f["reuse_seconds"]))
    out.append("| version 2, empty cache | %s | %d | %.2f |"
               % (mib(f["empty_bytes"]), f["empty_requests"], f["empty_seconds"]))
    out.append("")
    out.append("Version 2 has %d blocks whose stored bytes version 1 lacks (%s stored). Bytes over HTTP to move "
               "from version 1 to version 2: **%.2f ×** that (target ≤ %.1f ×: %s), %.3f × version 2's whole "
               "stored size." % (f["changed_blocks"], mib(f["changed_stored_bytes"]), ratio, TARGET,
                                 "met" if ratio <= TARGET else "missed",
                                 f["reuse_bytes"] / f["v2_stored_bytes"] if f["v2_stored_bytes"] else 0))
    out.append("")
    return "\n".join(out) + "\n"


def main():
    section_main(__doc__, HEADER, section)


if __name__ == "__main__":
    main()
