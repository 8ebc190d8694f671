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
# (method, its limit, label, image: "ext4" or "sorted")
METHODS = [
    ("local", "local", "ext4 image on a local virtio disk (`root=/dev/vda`): its limit", "ext4"),
    ("cold", "local", "httpcloop, ext4, cold (empty cache)", "ext4"),
    ("profile", "local", "httpcloop, ext4, cold with the boot profile of an earlier boot", "ext4"),
    ("warm", "local", "httpcloop, ext4, warm (cache disk filled by an earlier boot)", "ext4"),
    ("record", "local", "httpcloop, ext4, cold, recording that profile onto a cache disk (not compared)", "ext4"),
    ("sorted-local", "sorted-local", "sorted squashfs on a local virtio disk (tmpfs overlay): its limit", "sorted"),
    ("download", "sorted-local", "that squashfs downloaded whole into RAM, then booted (as live-boot `fetch=`): the reference", "sorted"),
    ("sorted-cold", "sorted-local", "httpcloop, sorted squashfs, cold (empty cache)", "sorted"),
    ("sorted-profile", "sorted-local", "httpcloop, sorted squashfs, cold with the boot profile of an earlier boot", "sorted"),
    ("sorted-warm", "sorted-local", "httpcloop, sorted squashfs, warm (cache disk filled by an earlier boot)", "sorted"),
    ("sorted-record", "sorted-local", "httpcloop, sorted squashfs, cold, recording its profile (not compared)", "sorted"),
]


# The device each method's root file system is read from (the marker's "device reads").
def root_device(method):
    if method in ("local", "sorted-local"):
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
    stored = {"ext4": int(env.get("stored_bytes", "0")) or None,
              "sorted": int(env.get("sorted_stored_bytes", "0")) or None}
    n = len(rounds)
    out = [HEADER, ""]
    out.append("bench/boot.sh: the root-boot tests' Debian 12 system (systemd, minbase) booted under QEMU TCG "
               "(2 vCPUs, %s MiB, kernel %s) from QEMU's start to its marker unit (multi-user.target reached), "
               "with the link to the server shaped to %s ms round trip and %s Mbit/s (bench/shaper.py). "
               "Two images of the same tree, both as `scripts/mkroot` makes them: **ext4** (its default; "
               "%s, %s stored as httpcloop blocks) and **sorted squashfs** (`--fs squashfs --boot-files`: "
               "the %s files that the ext4 image's first recorded boot read, listed by `scripts/boot-files`, "
               "laid out first in the order they were read; uncompressed, %s, %s stored). The download "
               "reference fetches a zstd squashfs of the tree (%s), as live systems ship it. Every method "
               "boots the same Debian initramfs (initramfs-tools, `MODULES=most`); the download reference and "
               "the local squashfs add a boot script to it (bench/fetchroot). *Read from its device*: what the "
               "booted kernel read from the device its root is on (`/sys/block/*/stat` when the marker ran: "
               "vda, httpcloop0, or the download's loop0), the kernel's own readahead included. Medians of %d "
               "round%s; ratios are taken within a round. Every boot passed the root-boot tests' checks (the "
               "file read there matches the source, no kernel warning).\n" % (
                   env.get("memory_mib", "?"), env.get("kernel", "?"), env.get("rtt_ms", "?"),
                   env.get("rate_mbit", "?"), mib(int(env.get("image_bytes", 0))), mib(stored["ext4"] or 0),
                   env.get("boot_files", "?"), mib(int(env.get("sorted_image_bytes", 0))),
                   mib(stored["sorted"] or 0), mib(int(env.get("squashfs_bytes", 0))), n, "" if n == 1 else "s"))
    out.append("| method | seconds to the marker | × its image's local disk | × download | bytes over HTTP "
               "| × stored bytes | read from its device | per round (s) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")

    def ratio(a, b):
        return median_of([r[a][0] / r[b][0] for r in rounds.values() if a in r and b in r])

    figures = {}
    for method, limit, label, image in METHODS:
        times = [r[method][0] for r in rounds.values() if method in r]
        if not times:
            continue
        nbytes = median_of([r[method][1] for r in rounds.values() if method in r])
        device_reads = median_of([r[method][2] for r in rounds.values() if method in r])
        figures[method] = (median_of(times), ratio(method, limit), nbytes, device_reads)
        t, vs_limit, b, _ = figures[method]
        vs_download = ratio(method, "download")
        share = b / stored[image] if stored[image] and method != limit and method != "download" else None
        out.append("| %s | %.1f | %s | %s | %s | %s | %s | %s |" % (
            label, t, "%.2f" % vs_limit if vs_limit is not None else "–",
            "%.2f" % vs_download if vs_download is not None and method != "download" else "–",
            mib(b) if b else "0", "%.2f" % share if share is not None else "–",
            mib(device_reads) if device_reads else "–", " ".join("%.1f" % x for x in times)))
    out.append("")

    # What no layout or block size can go below: the bytes the kernel asked its device
    # for, compressed as well as the image's blocks are on average.
    floors = []
    for method, image, key in (("cold", "ext4", "compression_ratio"), ("sorted-cold", "sorted",
                                                                         "sorted_compression_ratio")):
        if method in figures and figures[method][3] and stored[image] and env.get(key):
            need = figures[method][3] / float(env[key])
            floors.append("%s: the kernel read %s from /dev/httpcloop0, about %s once compressed as the "
                          "image's blocks are (%.2f:1), %.0f %% of the stored bytes; it fetched %s (%.0f %%)" % (
                              image, mib(figures[method][3]), mib(need), float(env[key]), 100 * need / stored[image],
                              mib(figures[method][2]), 100 * figures[method][2] / stored[image]))
    if floors:
        out.append("What bounds the bytes of a cold boot: what the booted kernel asks its root device for. "
                   "%s. Fetching whole blocks adds what lies beside the reads in the same block; the rest is "
                   "the boot's own reading (the kernel's readahead included).\n" % "; ".join(floors))

    def verdict(ok):
        return "yes" if ok else "**no**"

    out.append("Targets (issue 10), for each image:\n")
    out.append("| target | ext4 | met | sorted squashfs | met |")
    out.append("|---|---:|---|---:|---|")

    def row(label, values):
        cells = []
        for value in values:
            cells += ["–", "–"] if value is None else [value[0], verdict(value[1])]
        out.append("| %s | %s |" % (label, " | ".join(cells)))

    def share(method, image):
        if method not in figures or not stored[image]:
            return None
        value = figures[method][2] / stored[image]
        return ("%.0f %%" % (100 * value), value <= 0.25)

    def to_limit(method, bound):
        value = figures.get(method, (None, None))[1]
        return None if value is None else ("%.2f" % value, value <= bound)

    def to_download(method):
        value = ratio(method, "download")
        return None if value is None else ("%.2f ×" % value, value < 1)

    row("a cold boot fetches ≤ 25 % of the stored bytes", [share("cold", "ext4"), share("sorted-cold", "sorted")])
    row("cold with a profile ≤ 1.5 × the local-disk boot", [to_limit("profile", 1.5), to_limit("sorted-profile", 1.5)])
    row("cold with a profile faster than the whole-image download", [to_download("profile"),
                                                                   to_download("sorted-profile")])
    row("warm ≤ 1.1 × the local-disk boot", [to_limit("warm", 1.1), to_limit("sorted-warm", 1.1)])
    cold = [ratio("cold", "download"), ratio("sorted-cold", "download")]
    out.append("| (cold without a profile × the whole-image download) | %s | – | %s | – |" % tuple(
        "–" if v is None else "%.2f ×" % v for v in cold))
    out.append("")
    return "\n".join(out) + "\n"


def main():
    section_main(__doc__, HEADER, section)


if __name__ == "__main__":
    main()
