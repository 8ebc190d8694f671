#!/usr/bin/env python3
"""The scale section of bench/results/latest.md (issue 12, item 5).

usage: scale_report.py RAW_DIR RESULTS_DIR
Reads RAW_DIR/scale.txt (bench/scale.sh: image sizes on the host, mount-fuse) and, when
the VM part ran, RAW_DIR/vm-scale.txt (bench/vm-guest.sh: many devices at once); writes
the section "Scale" into RESULTS_DIR/latest.md (replacing an older one; the rest of the
file is kept) and prints it.
"""
import os
import re

from report import section_main  # bench/report.py, beside this file

HEADER = "## Scale: image size and many devices"
TARGET_RSS_MIB = 64      # issue 12: daemon RSS for any image size
TARGET_ATTACH_S = 5.0    # issue 12: a 1 TiB image attaches once its manifest is local


def records(path):
    if not os.path.exists(path):
        return []
    return [{k: float(v) for k, v in re.findall(r"(\w+)=(\S+)", line)} for line in open(path) if "=" in line]


def mib(kib):
    return kib / 1024.0


def section(raw):
    sizes = sorted(records(os.path.join(raw, "scale.txt")), key=lambda r: r["gib"])
    devices = records(os.path.join(raw, "vm-scale.txt"))
    out = [HEADER, ""]
    if sizes:
        out.append("On the host (`bench/scale.sh`): sparse images with 16 extents of 1 MiB of data, mkimage's default "
                   "block size (it grows with the image: `Manifest::default_block_size`); "
                   "`mount-fuse` with an empty cache (the manifest over HTTP from nginx on 127.0.0.1) and again "
                   "with that cache (its manifest copy local), the seconds until the mount is ready and the "
                   "daemon's peak resident memory (VmHWM); then after "
                   "reading the 16 extents, each compared with the source. `mkimage` skips the holes of a "
                   "sparse file (SEEK_DATA).")
        out.append("")
        out.append("| image | block size | blocks | manifest | mkimage s | mount, empty cache: s | peak RSS MiB | after reads: peak RSS MiB "
                   "| mount, manifest local: s | peak RSS MiB |")
        out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in sizes:
            block_kib = r["gib"] * 1048576 / r["blocks"]
            out.append("| %d GiB | %s | %d | %.1f MiB | %.2f | %.2f | %.1f | %.1f | %.2f | %.1f |"
                       % (r["gib"], "%d MiB" % (block_kib / 1024) if block_kib >= 1024 else "%d KiB" % block_kib,
                          r["blocks"], r["manifest_bytes"] / 1048576.0, r["mkimage_s"], r["cold_s"],
                          mib(r["cold_hwm_kib"]), mib(r["read_hwm_kib"]), r["warm_s"], mib(r["warm_hwm_kib"])))
        out.append("")
        # The slope from the two smallest images: larger ones get larger blocks, whose
        # buffers (a few blocks in flight) weigh on the memory too.
        small, large = sizes[0], sizes[min(1, len(sizes) - 1)]
        if large["blocks"] > small["blocks"]:
            per_block = (large["warm_hwm_kib"] - small["warm_hwm_kib"]) * 1024.0 / (large["blocks"] - small["blocks"])
            fixed = mib(small["warm_hwm_kib"]) - per_block * small["blocks"] / 1048576.0
            limit_blocks = (TARGET_RSS_MIB - fixed) * 1048576.0 / per_block if per_block > 0 else float("inf")
            out.append("Memory grows by **%.0f bytes a block** (the manifest's 80-byte entries, held in memory) over "
                       "a fixed %.1f MiB: the %d MiB target holds up to about %.0f blocks. The default block size "
                       "keeps an image within 409600 blocks up to 1.6 TiB (4 MiB blocks, the format's largest), so "
                       "the target holds by default up to about %.1f TiB; beyond, `--block-size` cannot go larger."
                       % (per_block, fixed, TARGET_RSS_MIB, limit_blocks, limit_blocks * 4 / 1048576.0))
            out.append("")
        tib = [r for r in sizes if r["gib"] >= 1024]
        if tib:
            r = tib[0]
            out.append("Targets (issue 12): a %d GiB image mounts in %.2f s once its manifest is local (≤ %.0f s: %s); "
                       "daemon memory ≤ %d MiB for any size: %.0f MiB at %d GiB (%s)."
                       % (r["gib"], r["warm_s"], TARGET_ATTACH_S, "met" if r["warm_s"] <= TARGET_ATTACH_S else
                          "**missed**", TARGET_RSS_MIB, mib(r["warm_hwm_kib"]), r["gib"],
                          "met" if mib(r["warm_hwm_kib"]) <= TARGET_RSS_MIB else "**missed**: the in-memory manifest"))
        out.append("")
    for d in devices:
        out.append("In the VM (`bench/vm-guest.sh`, kernel driver): %d devices attached at once to the bench image, "
                   "each with its own empty cache, attached in %.2f s (%.2f s each); the first %d MiB of every one "
                   "read at the same time and compared: %.2f s, against %.2f s for one device alone: **%.1f ×** the "
                   "data in %.1f × the time (%.2f × one device's throughput in total). The daemons' memory: "
                   "%.0f MiB together (PSS: the libraries they share counted once), %.1f MiB the largest peak RSS. All of it — nginx, %d daemons, the readers — "
                   "shares the VM's 2 vCPUs."
                   % (d["devices"], d["attach_s"], d["attach_s"] / d["devices"], d["mib"], d["parallel_s"],
                      d["alone_s"], d["devices"], d["parallel_s"] / d["alone_s"],
                      d["devices"] * d["alone_s"] / d["parallel_s"], mib(d["pss_kib_total"]), mib(d["hwm_kib_max"]),
                      d["devices"]))
        out.append("")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    section_main(__doc__, HEADER, section)
