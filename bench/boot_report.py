#!/usr/bin/env python3
"""The boot section of bench/results/latest.md, from bench/boot.sh's raw figures.

usage: boot_report.py RAW_DIR RESULTS_DIR
Reads RAW_DIR/boot.txt and boot-env.txt; writes the section "Booting a whole system from
HTTP" into RESULTS_DIR/latest.md (replacing an older one, or appended; the rest of the
file is kept, so `BENCH_ONLY=boot make bench` updates just this section) and prints it.
Every ratio is taken within a round, then the median over the rounds.
"""
import os
import re
import statistics

from report import read_kv, section_main  # bench/report.py, beside this file

HEADER = "## Booting a whole system from HTTP"
METHODS = [
    ("local", "local virtio disk (`root=/dev/vda`): the limit"),
    ("download", "whole image downloaded into RAM, then booted (dracut `root=live:`, live-boot `fetch=`)"),
    ("cold", "httpcloop, cold (empty cache)"),
    ("profile", "httpcloop, cold with the boot profile of an earlier boot"),
    ("warm", "httpcloop, warm (cache disk filled by an earlier boot)"),
    ("record", "httpcloop, cold, recording that profile onto a cache disk (not compared)"),
]


def load(raw):
    rounds = {}
    for line in open(os.path.join(raw, "boot.txt")):
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        if {"round", "method", "seconds", "bytes"} <= fields.keys():
            rounds.setdefault(int(fields["round"]), {})[fields["method"]] = (float(fields["seconds"]),
                                                                            int(fields["bytes"]))
    return rounds


def median_of(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def mib(n):
    return "%.1f MiB" % (n / 1048576.0)


def section(raw):
    env = read_kv(os.path.join(raw, "boot-env.txt"))
    rounds = load(raw)
    stored = int(env.get("stored_bytes", "0")) or None
    n = len(rounds)
    out = [HEADER, ""]
    out.append("bench/boot.sh: the root-boot tests' Debian 12 system (systemd, minbase; ext4 image %s, "
               "%s stored as httpcloop blocks, squashfs %s) booted under QEMU TCG (2 vCPUs, %s MiB, kernel %s) "
               "from QEMU's start to its marker unit (multi-user.target reached), with the link to the server "
               "shaped to %s ms round trip and %s Mbit/s (bench/shaper.py). Medians of %d round%s; ratios are "
               "taken within a round. Every boot passed the root-boot tests' checks (the file read there "
               "matches the source, no kernel warning).\n" % (
                   mib(int(env.get("image_bytes", 0))), mib(stored or 0), mib(int(env.get("squashfs_bytes", 0))),
                   env.get("memory_mib", "?"), env.get("kernel", "?"), env.get("rtt_ms", "?"),
                   env.get("rate_mbit", "?"), n, "" if n == 1 else "s"))
    out.append("| method | seconds to the marker | × local disk | bytes over HTTP | × stored bytes | per round (s) |")
    out.append("|---|---:|---:|---:|---:|---|")
    figures = {}
    for method, label in METHODS:
        times = [r[method][0] for r in rounds.values() if method in r]
        if not times:
            continue
        ratios = [r[method][0] / r["local"][0] for r in rounds.values() if method in r and "local" in r]
        nbytes = [r[method][1] for r in rounds.values() if method in r]
        figures[method] = (median_of(times), median_of(ratios), median_of(nbytes))
        t, ratio, b = figures[method]
        out.append("| %s | %.1f | %s | %s | %s | %s |" % (
            label, t, "%.2f" % ratio if ratio is not None else "–", mib(b) if b else "0",
            "%.2f" % (b / stored) if stored and method != "local" else "–",
            " ".join("%.1f" % x for x in times)))
    out.append("")

    def ratio(a, b):
        values = [r[a][0] / r[b][0] for r in rounds.values() if a in r and b in r]
        return median_of(values)

    def verdict(ok):
        return "yes" if ok else "**no**"

    init_times = {}
    consoles = os.path.join(raw, "boot-consoles")
    for method in ("local", "download"):
        values = []
        for r in rounds:
            path = os.path.join(consoles, "%s-%d.console" % (method, r))
            if os.path.exists(path):
                found = re.search(r"\[\s*([0-9.]+)\] Run /init as init process", open(path, errors="replace").read())
                if found:
                    values.append(float(found.group(1)))
        init_times[method] = median_of(values)
    if env.get("initrd_bytes") and env.get("fetchroot_initrd_bytes"):
        out.append("Read the download reference with care: its initramfs is a small "
                   "BusyBox one (%s), while every other method boots Debian's initramfs-tools one (%s, "
                   "`MODULES=most`, udev)%s. The difference is the initramfs, not the data path; a download "
                   "done by Debian's initramfs would start that much later.\n" % (
                       mib(int(env["fetchroot_initrd_bytes"])), mib(int(env["initrd_bytes"])),
                       "; the kernel started its /init at %.1f s instead of %.1f s (medians)" % (
                           init_times["download"], init_times["local"])
                       if init_times.get("download") and init_times.get("local") else ""))
    out.append("Targets (issue 10):\n")
    out.append("| target | figure | met |")
    out.append("|---|---:|---|")
    if "cold" in figures and stored:
        share = figures["cold"][2] / stored
        out.append("| a cold boot fetches ≤ 25 %% of the stored bytes | %.0f %% | %s |" % (100 * share,
                                                                                      verdict(share <= 0.25)))
    if "profile" in figures and figures["profile"][1] is not None:
        out.append("| cold with a profile ≤ 1.5 × the local-disk boot | %.2f | %s |" % (
            figures["profile"][1], verdict(figures["profile"][1] <= 1.5)))
        vs_download = ratio("profile", "download")
        if vs_download is not None:
            out.append("| cold with a profile faster than the whole-image download | %.2f × | %s |" % (
                vs_download, verdict(vs_download < 1)))
    if "warm" in figures and figures["warm"][1] is not None:
        out.append("| warm ≤ 1.1 × the local-disk boot | %.2f | %s |" % (figures["warm"][1],
                                                                          verdict(figures["warm"][1] <= 1.1)))
    cold_vs_download = ratio("cold", "download")
    if cold_vs_download is not None:
        out.append("| (cold without a profile × the whole-image download) | %.2f × | – |" % cold_vs_download)
    out.append("")
    return "\n".join(out) + "\n"


def main():
    section_main(__doc__, HEADER, section)


if __name__ == "__main__":
    main()
