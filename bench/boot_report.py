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
    ("download", "whole image downloaded into RAM, then booted (live-boot `fetch=`, dracut `root=live:`)"),
    ("cold", "httpcloop, cold (empty cache)"),
    ("lean", "httpcloop, cold, byte-saving (`httpcloop.readahead=off httpcloop.read_ahead_kb=32`)"),
    ("profile", "httpcloop, cold with the boot profile of an earlier boot"),
    ("warm", "httpcloop, warm (cache disk filled by an earlier boot)"),
    ("record", "httpcloop, cold, recording that profile onto a cache disk (not compared)"),
]


# The device each method's root file system is read from (the marker's "device reads").
def root_device(method):
    if method == "local":
        return "vda"
    if method == "download":
        return "loop0"
    return "httpcloop0"


def load(raw):
    """{round: {method: (seconds, bytes over HTTP, bytes read from the root device or None)}}"""
    rounds = {}
    for line in open(os.path.join(raw, "boot.txt")):
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        if {"round", "method", "seconds", "bytes"} <= fields.keys():
            reads = dict(r.split("=", 1) for r in fields.get("reads", "-").split(",") if "=" in r)
            device = reads.get(root_device(fields["method"]))
            rounds.setdefault(int(fields["round"]), {})[fields["method"]] = (
                float(fields["seconds"]), int(fields["bytes"]), int(device) if device else None)
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
    if env.get("boot_ordered") == "1":
        layout = ("laid out in boot order: `scripts/mkroot --boot-order` with the %s files that a boot of it from a "
                  "local disk read, found by `scripts/boot-order`; README, \"A boot-ordered image\"" %
                  env.get("boot_order_files", "?"))
    else:
        layout = "made by `mkfs.ext4 -d`, not in boot order"
    out.append("bench/boot.sh: the root-boot tests' Debian 12 system (systemd, minbase; ext4 image %s, %s, %s stored as "
               "httpcloop blocks of %s KiB) booted under QEMU TCG (2 vCPUs, %s MiB, kernel %s) from QEMU's start to "
               "its marker unit (multi-user.target reached), with the link to the server shaped to %s ms round "
               "trip and %s Mbit/s (bench/shaper.py). The download reference fetches a zstd squashfs of the same "
               "tree (%s), as live systems ship it, with an initramfs-tools boot script (bench/fetchroot) in the "
               "same Debian initramfs (initramfs-tools, `MODULES=most`) that every other method boots. *Read from "
               "its device*: what the booted kernel read from the device its root is on (`/sys/block/*/stat` "
               "when the marker ran: vda, httpcloop0, or the download's loop0), its own readahead included. "
               "Medians of %d round%s; ratios are taken within a round. Every boot passed the root-boot tests' "
               "checks (the file read there matches the source, no kernel warning).\n" % (
                   mib(int(env.get("image_bytes", 0))), layout, mib(stored or 0),
                   int(env.get("block_size", 0)) // 1024 or "?", env.get("memory_mib", "?"), env.get("kernel", "?"),
                   env.get("rtt_ms", "?"), env.get("rate_mbit", "?"), mib(int(env.get("squashfs_bytes", 0))),
                   n, "" if n == 1 else "s"))
    out.append("| method | seconds to the marker | × local disk | × download | bytes over HTTP | × stored bytes "
               "| read from its device | per round (s) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")

    def ratio(a, b):
        return median_of([r[a][0] / r[b][0] for r in rounds.values() if a in r and b in r])

    figures = {}
    for method, label in METHODS:
        times = [r[method][0] for r in rounds.values() if method in r]
        if not times:
            continue
        nbytes = median_of([r[method][1] for r in rounds.values() if method in r])
        device_reads = median_of([r[method][2] for r in rounds.values() if method in r])
        figures[method] = (median_of(times), ratio(method, "local"), nbytes, device_reads)
        vs_download = ratio(method, "download") if method != "download" else None
        share = nbytes / stored if stored and method not in ("local", "download") else None
        out.append("| %s | %.1f | %s | %s | %s | %s | %s | %s |" % (
            label, figures[method][0], "%.2f" % figures[method][1] if figures[method][1] is not None else "–",
            "%.2f" % vs_download if vs_download is not None else "–", mib(nbytes) if nbytes else "0",
            "%.2f" % share if share is not None else "–", mib(device_reads) if device_reads else "–",
            " ".join("%.1f" % x for x in times)))
    out.append("")

    # What a cold boot's bytes come from: the kernel's reads, spread over the image.
    if "cold" in figures and figures["cold"][3] and stored:
        out.append("What a cold boot fetches: the booted kernel read %s from /dev/httpcloop0 (its own readahead "
                   "included), in pieces of files, directories and inodes; the cold boot fetched the %s KiB blocks "
                   "that hold them, and those the daemon's readahead added: %s, %.0f %% of the stored bytes "
                   "(docs/design.md, \"What a cold root boot fetches\").\n" % (
                       mib(figures["cold"][3]), int(env.get("block_size", 0)) // 1024 or "?",
                       mib(figures["cold"][2]), 100 * figures["cold"][2] / stored))

    def verdict(ok):
        return "yes" if ok else "**no**"

    out.append("Targets (issue 10):\n")
    out.append("| target | figure | met |")
    out.append("|---|---:|---|")
    if "cold" in figures and stored:
        share = figures["cold"][2] / stored
        out.append("| a cold boot fetches ≤ 25 %% of the stored bytes: with the defaults | %.1f %% | %s |" % (
            100 * share, verdict(share <= 0.25)))
    if "lean" in figures and stored:
        share = figures["lean"][2] / stored
        out.append("| … with the byte-saving parameters (%.2f × the local-disk boot) | %.1f %% | %s |" % (
            figures["lean"][1] if figures["lean"][1] is not None else float("nan"), 100 * share,
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
