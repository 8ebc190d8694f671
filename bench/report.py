#!/usr/bin/env python3
"""Turns one `make bench` run's raw results into bench/results/latest.{md,png,json}.

usage: report.py RAW_DIR RESULTS_DIR

RAW_DIR holds vm-passes.tsv and host-passes.tsv (one line per timed pass, bench/lib.sh), the fio JSON
of each pass, micro.json (Google Benchmark), env.txt and vm-env.txt (key=value), and
mkimage.txt / trace.txt. Every figure is the median over the rounds; every ratio is taken
against the limit measured in the same round (loop in the VM, the local file on the host)
before the median, so that a slow round (TCG, a busy host) moves both sides together.
"""
import collections
import json
import math
import os
import statistics
import subprocess
import sys

WORKLOADS = ["seq_cold", "seq_warm", "rand_cold", "rand_warm", "rand16_cold", "rand16_warm", "trace_cold", "trace_warm"]
WORKLOAD_TITLES = {
    "seq_cold": "sequential, cold", "seq_warm": "sequential, warm",
    "rand_cold": "random 4K, cold", "rand_warm": "random 4K, warm",
    "rand16_cold": "random 4K qd16, cold", "rand16_warm": "random 4K qd16, warm",
    "trace_cold": "boot trace, cold", "trace_warm": "boot trace, warm",
}
# Sections of latest.md written by bench/boot_report.py, update_report.py, miss_report.py,
# scale_report.py, sweep_report.py and fusefloor_report.py.
OWNED_ELSEWHERE = ["## Booting a whole system from HTTP", "## Updates: version 1 to version 2",
                   "## Miss latency: a 4 KiB read of a block not yet cached",
                   "## Scale: image size and many devices", "## Block size sweep",
                   "## The FUSE variant against FUSE's own floor"]
ENVS = {
    "vm": {"limit": "loop", "methods": ["loop", "kernel", "fuse", "nbdkit", "httpfs2"]},
    "host": {"limit": "local", "methods": ["local", "fuse", "httpfs2", "curl"]},
    # The network profiles (bench/vm-guest.sh): the VM's methods with the HTTP traffic shaped.
    "vm-1g2ms": {"limit": "loop", "methods": ["loop", "kernel", "fuse", "nbdkit", "httpfs2"]},
    "vm-100m20ms": {"limit": "loop", "methods": ["loop", "kernel", "fuse", "nbdkit", "httpfs2"]},
}
# The links, loopback first, and what each must reach against the best anchor (issue 12:
# a median ratio of throughput to the better of nbdkit and httpfs2 in the same round).
PROFILES = [
    ("vm", "loopback (the guest's lo, unshaped)", {}),
    ("vm-1g2ms", "1 Gbit/s, 2 ms round trip", {"seq_cold": 1.5, "rand_cold": 1.5, "rand16_cold": 1.5,
                                                "trace_cold": 1.5}),
    ("vm-100m20ms", "100 Mbit/s, 20 ms round trip", {"seq_cold": 3.0, "trace_cold": 2.0, "rand_cold": 0.9,
                                                      "rand16_cold": 2.0}),
]
ANCHORS = ["nbdkit", "httpfs2"]
METHOD_TITLES = {
    "loop": "loop driver, plaintext in tmpfs (limit)",
    "kernel": "httpcloop /dev/httpcloop0",
    "fuse": "httpcloop mount-fuse",
    "nbdkit": "nbdkit curl + nbd-client",
    "httpfs2": "httpfs2",
    "local": "local file in tmpfs, O_DIRECT (limit)",
    "curl": "curl, one GET",
}
SHORT = {"loop": "loop (limit)", "kernel": "httpcloop kernel", "fuse": "httpcloop FUSE", "nbdkit": "nbdkit+nbd",
         "httpfs2": "httpfs2", "local": "local file (limit)", "curl": "curl"}
NO_CACHE = {"nbdkit", "httpfs2", "curl"}


def read_kv(path):
    values = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                key, value = line.rstrip("\n").split("=", 1)
                values[key] = value
    return values


def replace_section(path, header, text):
    """Puts `text` (a section starting with the line `header`) into the Markdown file at
    `path`: in place of an older section with that header, else at the end; the rest of
    the file is kept."""
    old = open(path).read() if os.path.exists(path) else "# httpcloop benchmark: latest run\n\n"
    start = old.find(header)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        following = old.find("\n## ", start + len(header))
        new = old[:start] + text + (old[following + 1:] if following >= 0 else "")
    with open(path, "w") as f:
        f.write(new)


def section_main(doc, header, section):
    """The main of a report that owns one section of latest.md: `section(raw)` makes its
    text from RAW_DIR; it goes into RESULTS_DIR/latest.md and to stdout."""
    if len(sys.argv) != 3:
        sys.exit(doc)
    raw, results = sys.argv[1], sys.argv[2]
    text = section(raw)
    replace_section(os.path.join(results, "latest.md"), header, text)
    print(text)


def load_fio(path):
    text = open(path).read()
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON in " + path)
    read = json.loads(text[start:])["jobs"][0]["read"]
    busy = read["lat_ns"]["mean"] * read["total_ios"] / 1e9
    pct = read["clat_ns"].get("percentile", {})
    return {
        "bytes": read["io_bytes"], "ios": read["total_ios"], "seconds": busy,
        "wall_seconds": read.get("runtime", 0) / 1e3,
        "p50_ms": pct.get("50.000000", 0) / 1e6, "p99_ms": pct.get("99.000000", 0) / 1e6,
    }


def load_passes(raw):
    passes = []
    lines = []
    for env in ENVS:
        path = os.path.join(raw, env + "-passes.tsv")
        if os.path.exists(path):
            lines += open(path).readlines()
    for line in lines:
        f = line.rstrip("\n").split("\t")
        if len(f) < 11:
            continue
        env, rnd, method, workload, status, fio_json, requests, http_bytes, rss, secs, nbytes = f[:11]
        p = {"env": env, "round": int(rnd), "method": method, "workload": workload, "ok": status == "ok",
             "http_requests": int(requests), "http_bytes": int(http_bytes), "rss_kib": int(rss),
             "note": f[11] if len(f) > 11 else ""}
        if p["ok"] and fio_json != "-":
            try:
                p.update(load_fio(os.path.join(raw, fio_json)))
            except (OSError, ValueError, KeyError) as e:
                print("report: %s: %s" % (fio_json, e), file=sys.stderr)
                p["ok"] = False
        elif p["ok"]:
            p.update({"bytes": int(nbytes), "ios": 1, "seconds": float(secs), "wall_seconds": float(secs),
                      "p50_ms": None, "p99_ms": None})
        if p["ok"] and workload.startswith("rand16") and p.get("wall_seconds"):
            p["seconds"] = p["wall_seconds"]  # 16 reads at a time: the busy time overlaps
        if p["ok"] and p["seconds"] > 0:
            p["mibs"] = p["bytes"] / 2**20 / p["seconds"]
            if p.get("wall_seconds"):
                p["wall_mibs"] = p["bytes"] / 2**20 / p["wall_seconds"]
            p["iops"] = p["ios"] / p["seconds"]
        passes.append(p)
    return passes


def median(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else None


def expected_reads(env, workload):
    """How many reads a workload makes when no time cap cuts it short."""
    try:
        if workload.startswith("seq"):
            return int(env["size_mib"])
        if workload.startswith("rand"):
            return int(env["rand_ios"])
        if workload.startswith("trace"):
            return int(env["trace_reads"])
    except (KeyError, ValueError):
        pass
    return None


def aggregate(passes, env_info):
    """{env: {method: {workload: figures}}}, medians over rounds; ratios per round first."""
    by_key = collections.defaultdict(list)
    for p in passes:
        by_key[(p["env"], p["method"], p["workload"])].append(p)
    limit_of = {}
    for p in passes:
        if p["ok"] and p["method"] == ENVS.get(p["env"], {}).get("limit"):
            limit_of[(p["env"], p["round"], p["workload"])] = p
    result = {}
    for (env, method, workload), runs in by_key.items():
        if workload == "setup":
            continue
        ok = [r for r in runs if r["ok"]]
        fig = {"rounds": len(runs), "failed": len(runs) - len(ok)}
        for key in ("mibs", "wall_mibs", "iops", "p50_ms", "p99_ms", "http_requests", "http_bytes", "bytes"):
            fig[key] = median([r.get(key) for r in ok])
        ratios = collections.defaultdict(list)
        for r in ok:
            lim = limit_of.get((env, r["round"], workload))
            if not lim:
                continue
            if r.get("mibs") and lim.get("mibs"):
                ratios["tput_x"].append(r["mibs"] / lim["mibs"])
            for key in ("p50_ms", "p99_ms"):
                if r.get(key) and lim.get(key):
                    ratios[key.replace("_ms", "_x")].append(r[key] / lim[key])
        for key in ("tput_x", "p50_x", "p99_x"):
            fig[key] = median(ratios[key])
        fig["http_per_byte"] = (fig["http_bytes"] / fig["bytes"]) if fig.get("bytes") else None
        notes = sorted({r["note"] for r in runs if r.get("note")})
        want = expected_reads(env_info, workload)
        ios = [r["ios"] for r in ok if "ios" in r]
        if want and method != "curl" and ios and min(ios) < want:
            notes.append("cut at %s s: %d-%d of %d reads" % (env_info.get("pass_seconds", "?"), min(ios), max(ios), want))
        fig["notes"] = notes
        fig["rss_mib"] = max([r["rss_kib"] for r in runs] + [0]) / 1024
        result.setdefault(env, {}).setdefault(method, {})[workload] = fig
    result["_rounds"] = {e: len({p["round"] for p in passes if p["env"] == e}) for e in ENVS}
    for p in passes:
        if p["workload"] == "setup":
            result.setdefault(p["env"], {}).setdefault(p["method"], {}).setdefault("setup_failures", 0)
            result[p["env"]][p["method"]]["setup_failures"] += 1
    return result


def load_micro(raw):
    path = os.path.join(raw, "micro.json")
    if not os.path.exists(path):
        return None
    data = json.load(open(path))
    rates = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        if "bytes_per_second" in b:
            if b.get("run_type") == "aggregate" or name not in rates:
                rates[name] = b["bytes_per_second"] / 1e6
    rows = []
    for codec in ("zlib", "zstd"):
        for size in (65536, 262144, 1048576):
            arg = "/%d" % size
            ours, raw_ = rates.get("ours/" + codec + arg), rates.get("raw/" + codec + arg)
            if not ours or not raw_:
                continue
            ours_p, raw_p = rates.get("ours_plain_hash/" + codec + arg), rates.get("raw_plain_hash/" + codec + arg)
            rows.append({"codec": codec, "block_kib": size // 1024, "ours_mbs": ours, "raw_mbs": raw_,
                         "ratio": ours / raw_, "ours_plain_mbs": ours_p, "raw_plain_mbs": raw_p,
                         "ratio_plain": (ours_p / raw_p) if ours_p and raw_p else None,
                         "decompress_mbs": rates.get("decompress/" + codec + arg),
                         "sha256_mbs": rates.get("sha256" + arg)})
    context = data.get("context", {})
    return {"rows": rows, "cpu": "%s × %s MHz" % (context.get("num_cpus", "?"), context.get("mhz_per_cpu", "?"))}


def fmt(value, spec="%.2f", none="–"):
    return none if value is None else spec % value


def ratio_cell(value):
    """Two significant digits, never in exponent form: 1.3, 0.21, 0.0042, 0.000031."""
    if value is None:
        return "–"
    if value >= 1:
        return "%.2f" % value
    if value <= 0:
        return "0"
    digits = 1 - math.floor(math.log10(value))
    return "%.*f" % (digits, value)


def summary_table(agg, env):
    cfg = ENVS[env]
    lines = ["| %s | %s |" % ("× limit (throughput)", " | ".join(WORKLOAD_TITLES[w] for w in WORKLOADS)),
             "|---|" + "---:|" * len(WORKLOADS)]
    for method in cfg["methods"]:
        figs = agg.get(env, {}).get(method)
        if not figs:
            continue
        cells = []
        for w in WORKLOADS:
            f = figs.get(w)
            if not f:
                cells.append("–")
            elif f["failed"]:
                cells.append("**FAILED**")
            else:
                cells.append(ratio_cell(f["tput_x"]) + ("*" if f["notes"] else ""))
        name = SHORT[method]
        if figs.get("setup_failures"):
            name += " (**setup FAILED** in %d rounds)" % figs["setup_failures"]
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    return "\n".join(lines)


def detail_table(agg, env):
    cfg = ENVS[env]
    lines = ["| workload | method | MiB/s | × limit | IOPS | p50 ms | × limit | p99 ms | × limit "
             "| HTTP MiB | × read | HTTP requests | peak RSS MiB | notes |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for w in WORKLOADS:
        for method in cfg["methods"]:
            f = agg.get(env, {}).get(method, {}).get(w)
            if not f:
                continue
            name = SHORT[method]
            if method in NO_CACHE and w.endswith("_warm"):
                name += " (no cache: 2nd read)"
            if f["failed"]:
                lines.append("| %s | %s | **FAILED** (%d of %d rounds) ||||||||||||" % (
                    WORKLOAD_TITLES[w], name, f["failed"], f["rounds"]))
                continue
            is_limit = method == cfg["limit"]
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                WORKLOAD_TITLES[w], name, fmt(f["mibs"], "%.1f"), "1" if is_limit else ratio_cell(f["tput_x"]),
                fmt(f["iops"], "%.0f"), fmt(f["p50_ms"], "%.3f"), "1" if is_limit else fmt(f["p50_x"], "%.1f"),
                fmt(f["p99_ms"], "%.3f"), "1" if is_limit else fmt(f["p99_x"], "%.1f"),
                fmt(f["http_bytes"] / 2**20 if f["http_bytes"] is not None else None, "%.1f"),
                fmt(f["http_per_byte"], "%.2f"), fmt(f["http_requests"], "%.0f"),
                fmt(f["rss_mib"], "%.1f") if f["rss_mib"] else "–", "; ".join(f["notes"])))
    return "\n".join(lines)


# The fetch engine's targets (issue "fetch engine for the real Internet"): each a ratio of
# two passes of the same round, in wall-clock time, then the median. The cold sequential
# reads here are dd's, checked by a second read (bench/vm-guest.sh read_compare_pass),
# timed like the limits (with and without the 20 ms round trip); the boot-trace figures
# compare fio passes with fio passes.
FETCH_FIGURES = [
    ("cold sequential × the limit", "min", 0.8,
     "/dev/httpcloop0, empty cache, against the smaller of curl fetching every stored block (8 at a time) "
     "and `httpcloop verify --stored-hash-only` decoding them on all cores, both in plaintext bytes"),
    ("cold sequential × the shared-CPU limit", "serial", None,
     "against curl and decode one after the other (the image over their summed times): what 2 vCPUs that "
     "run server, network, decoder and reader alike can give when each limit alone already fills them"),
    ("cold sequential × nbdkit", "nbdkit", 2.0,
     "against nbdkit's curl plugin + nbd-client reading the plaintext from the same nginx"),
    ("cold sequential with a 20 ms round trip × without", "rtt", 0.5,
     "tc netem on lo, 10 ms each way (within 2× of no delay: ≥ 0.5)"),
    ("boot trace, 20 ms RTT, empty cache: with a boot profile × without", "profile", 2.0,
     "the profile recorded by the run without; throughput over the reads made"),
]


def fetch_ratios(passes):
    """{key: [per-round ratio]} for FETCH_FIGURES, from the VM's passes."""
    by_round = collections.defaultdict(dict)
    for p in passes:
        if p["env"] == "vm" and p["ok"] and p.get("wall_mibs"):
            by_round[p["round"]][(p["method"], p["workload"])] = p["wall_mibs"]
    ratios = collections.defaultdict(list)
    for figs in by_round.values():
        cold = figs.get(("fetch_kernel", "seq_cold"))
        curl, decode = figs.get(("curl_blocks", "seq_cold")), figs.get(("decode", "seq_cold"))
        if cold and curl and decode:
            ratios["min"].append(cold / min(curl, decode))
            ratios["serial"].append(cold / (1 / (1 / curl + 1 / decode)))
        if cold and figs.get(("fetch_nbdkit", "seq_cold")):
            ratios["nbdkit"].append(cold / figs[("fetch_nbdkit", "seq_cold")])
        if cold and figs.get(("kernel_rtt20", "seq_cold")):
            ratios["rtt"].append(figs[("kernel_rtt20", "seq_cold")] / cold)
        plain, profiled = figs.get(("kernel_rtt20", "trace_cold")), figs.get(("kernel_rtt20_profile", "trace_cold"))
        if plain and profiled:
            ratios["profile"].append(profiled / plain)
    return ratios


def fetch_table(passes):
    ratios = fetch_ratios(passes)
    if not ratios:
        return None
    lines = ["| figure | median | rounds | target | met | what |", "|---|---:|---:|---:|---|---|"]
    for title, key, target, what in FETCH_FIGURES:
        values = ratios.get(key, [])
        med = median(values)
        met = "–" if target is None or med is None else ("yes" if med >= target else "**no**")
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            title, ratio_cell(med), " ".join(ratio_cell(v) for v in values) or "–",
            "≥ %g" % target if target else "–", met, what))
    return "\n".join(lines)


def fetch_limits_table(agg):
    lines = ["| pass (VM, median) | MiB/s of plaintext | HTTP requests |", "|---|---:|---:|"]
    rows = [("curl_blocks", "seq_cold", "curl, every stored block, 8 at a time"),
            ("decode", "seq_cold", "`httpcloop verify --stored-hash-only` (all cores, no network)"),
            ("fetch_kernel", "seq_cold", "/dev/httpcloop0, cold sequential"),
            ("fetch_nbdkit", "seq_cold", "nbdkit + nbd-client, sequential"),
            ("kernel_rtt20", "seq_cold", "/dev/httpcloop0, cold sequential, 20 ms RTT"),
            ("kernel_rtt20", "trace_cold", "boot trace, 20 ms RTT, empty cache"),
            ("kernel_rtt20_profile", "trace_cold", "boot trace, 20 ms RTT, empty cache + profile")]
    for method, workload, title in rows:
        f = agg.get("vm", {}).get(method, {}).get(workload)
        if not f:
            continue
        if f["failed"]:
            lines.append("| %s | **FAILED** (%d of %d rounds) | |" % (title, f["failed"], f["rounds"]))
            continue
        lines.append("| %s | %s | %s |" % (title, fmt(f.get("wall_mibs"), "%.1f"), fmt(f["http_requests"], "%.0f")))
    return "\n".join(lines)


def anchor_ratios(passes, env):
    """{(method, workload): [per-round throughput over the better anchor's]}."""
    by_round = collections.defaultdict(dict)
    for p in passes:
        if p["env"] == env and p["ok"] and p.get("mibs"):
            by_round[p["round"]][(p["method"], p["workload"])] = p["mibs"]
    ratios = collections.defaultdict(list)
    for figs in by_round.values():
        for w in WORKLOADS:
            best = max([figs.get((a, w)) or 0 for a in ANCHORS])
            for method in ("kernel", "fuse"):
                if best and figs.get((method, w)):
                    ratios[(method, w)].append(figs[(method, w)] / best)
    return ratios


def anchor_table(passes, env, targets):
    """Throughput × the best anchor, per workload, with the profile's targets."""
    ratios = anchor_ratios(passes, env)
    if not ratios:
        return None
    lines = ["| × best anchor (throughput) | %s |" % " | ".join(WORKLOAD_TITLES[w] for w in WORKLOADS),
             "|---|" + "---:|" * len(WORKLOADS)]
    for method in ("kernel", "fuse"):
        cells = [ratio_cell(median(ratios.get((method, w), []))) for w in WORKLOADS]
        lines.append("| %s | %s |" % (SHORT[method], " | ".join(cells)))
    if targets:
        cells = []
        for w in WORKLOADS:
            target = targets.get(w)
            value = median(ratios.get(("kernel", w), []))
            if target is None:
                cells.append("")
            elif value is None:
                cells.append("≥ %g: –" % target)
            else:
                cells.append("≥ %g: %s" % (target, "met" if value >= target else "**no**"))
        lines.append("| target (kernel) | %s |" % " | ".join(cells))
    return "\n".join(lines)


def profiles_section(agg, passes):
    out = ["## Over shaped links: network profiles\n", "![throughput × the best anchor, per profile]"
           "(latest-profiles.png)\n"]
    out.append("In the VM, the HTTP traffic (packets from or to nginx's port, and nothing else: nbd-client's "
               "socket to nbdkit stays local) through `tc netem` on lo, the same for every method; one round per "
               "profile after the loopback rounds. *Best anchor*: the faster of nbdkit+nbd and httpfs2 in the same "
               "round and workload; the targets are issue 12's. Passes cut at the time cap count the reads they "
               "made (the detail tables' notes).\n")
    for env, title, targets in PROFILES:
        table = anchor_table(passes, env, targets)
        if not table:
            continue
        out.append("### %s\n" % title)
        out.append(table + "\n")
        if env != "vm":
            out.append("Against the limit (the loop driver, which has no network to cross):\n")
            out.append(summary_table(agg, env) + "\n")
            out.append("<details><summary>every figure</summary>\n")
            out.append(detail_table(agg, env) + "\n")
            out.append("</details>\n")
    return "\n".join(out) if len(out) > 3 else ""


def micro_table(micro):
    lines = ["| codec | block | ours MB/s | raw MB/s | **ours / raw** | ours + plaintext SHA-256 | raw + plaintext "
             "SHA-256 | **ours / raw** | decompress alone | SHA-256 alone |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in micro["rows"]:
        lines.append("| %s | %d KiB | %.0f | %.0f | **%.3f** | %s | %s | **%s** | %s | %s |" % (
            r["codec"], r["block_kib"], r["ours_mbs"], r["raw_mbs"], r["ratio"], fmt(r["ours_plain_mbs"], "%.0f"),
            fmt(r["raw_plain_mbs"], "%.0f"), fmt(r["ratio_plain"], "%.3f"), fmt(r["decompress_mbs"], "%.0f"),
            fmt(r["sha256_mbs"], "%.0f")))
    return "\n".join(lines)


def write_markdown(path, agg, micro, env, vm_env, raw, passes):
    rounds = "%s in the VM, %s on the host" % (agg.get("_rounds", {}).get("vm", 0), agg.get("_rounds", {}).get("host", 0))
    mkimage = open(os.path.join(raw, "mkimage.txt")).read().split("\n")[0] if os.path.exists(
        os.path.join(raw, "mkimage.txt")) else ""
    trace = open(os.path.join(raw, "trace.txt")).read().strip() if os.path.exists(
        os.path.join(raw, "trace.txt")) else ""
    out = []
    out.append("# httpcloop benchmark: latest run\n")
    out.append("`make bench` (bench/run) on %s, commit %s. Medians of %s rounds; every ratio is against the "
               "limit measured in the same round, then the median taken. Under QEMU TCG the absolute "
               "numbers mean little: compare the ratios.\n" % (env.get("date", "?"), env.get("commit", "?"), rounds))
    out.append("![ratios against the limit](latest.png)\n")
    out.append("## Machine and versions\n")
    out.append("| | |\n|---|---|")
    rows = [
        ("host", "%s, %s CPUs, kernel %s" % (env.get("host_cpu", "?"), env.get("host_cpus", "?"),
                                            env.get("host_kernel", "?"))),
        ("VM", "QEMU TCG (%s), %s vCPUs, %s MiB, kernel %s" % (
            env.get("qemu", "?").replace("QEMU emulator version ", ""), vm_env.get("cpus", "?"),
            vm_env.get("memory_mib", "?"), vm_env.get("kernel", "?"))),
        ("host load", "1/5/15-minute load average %s before the host part, %s before the VM part (the machine "
                      "is shared: a busy host slows the FUSE paths most)" % (
                          env.get("host_load_before_host_part", "?"), env.get("host_load_before_vm_part", "?"))),
        ("httpcloop", "%s (commit %s)" % (env.get("httpcloop", "?"), env.get("commit", "?"))),
        ("nbdkit / nbd-client", "%s / %s" % (env.get("pkg_nbdkit", "?"), env.get("pkg_nbd-client", "?"))),
        ("httpfs2", env.get("pkg_httpfs2", "?")),
        ("fio", env.get("pkg_fio", "?")),
        ("curl", env.get("curl", "?")),
        ("nginx", env.get("nginx", "?")),
        ("zstd / zlib / OpenSSL / libfuse3", "%s / %s / %s / %s" % (
            env.get("pkg_libzstd1", "?"), env.get("pkg_zlib1g", "?"), env.get("pkg_libssl3", "?"),
            env.get("pkg_libfuse3-3", "?"))),
        ("Google Benchmark", env.get("pkg_libbenchmark-dev", "?")),
        ("image", "%s MiB; %s" % (env.get("size_mib", "?"), mkimage.replace("mkimage: ", ""))),
        ("workloads", "sequential: the whole image in 1 MiB reads; random: %s reads of 4 KiB (fixed seed), one at a time and 16 at a time (qd16); "
                      "boot trace: %s" % (env.get("rand_ios", "?"), trace.replace("trace: ", ""))),
    ]
    for k, v in rows:
        out.append("| %s | %s |" % (k, v))
    out.append("")
    out.append("## Throughput as a fraction of the limit (1 = as fast as the limit)\n")
    out.append("In the VM (Debian 12's kernel under QEMU TCG; limit: the loop driver on the plaintext in tmpfs):\n")
    out.append(summary_table(agg, "vm") + "\n")
    out.append("On the host (limit: the local file in tmpfs, O_DIRECT; curl: one download of the plaintext):\n")
    out.append(summary_table(agg, "host") + "\n")
    out.append("\\* see the notes in the detailed tables (a pass cut short by the time cap, a cache not full).\n")
    fetch = fetch_table(passes)
    if fetch:
        out.append("## The fetch engine: its targets\n")
        out.append("In the VM, each a ratio of two passes of the same round, in wall-clock time, then the median "
                   "(the rounds' own ratios beside it). The cold sequential reads are dd's 1 MiB O_DIRECT reads "
                   "into /dev/null, timed like the limits, then read again and compared with the plaintext by `cmp` "
                   "(for httpcloop from the cache the first read was served from), with and without the 20 ms round "
                   "trip; the boot-trace figures compare fio passes (their whole runtime) with fio passes. All of it — nginx, the loopback "
                   "network, the daemon's hashing and decompression, the kernel — shares "
                   "the same 2 vCPUs, where SHA-256 runs at about 57 MB/s a core under TCG (no SHA extensions): "
                   "see docs/design.md, \"Where a cold read's time goes\".\n")
        out.append(fetch + "\n")
        out.append(fetch_limits_table(agg) + "\n")
    profiles = profiles_section(agg, passes)
    if profiles:
        out.append(profiles)
    out.append("## In the VM, in detail\n")
    out.append(detail_table(agg, "vm") + "\n")
    out.append("## On the host, in detail\n")
    out.append(detail_table(agg, "host") + "\n")
    if micro:
        out.append("## Micro-benchmarks: the per-block hot path against the raw libraries\n")
        out.append("bench/micro/ (Google Benchmark, host, one thread, %s). *ours* is `decode_block()` as the "
                   "daemon's decode pool calls it (`PlaintextCheck::by_stored_hash`): size check, SHA-256 of the "
                   "stored bytes, decompress to the exact length; *raw* is the same calls made straight on OpenSSL, "
                   "zlib (one z_stream, `inflateReset`) and libzstd (one `ZSTD_DCtx`). *+ plaintext SHA-256*: "
                   "`PlaintextCheck::hash` (what `httpcloop verify` uses) against raw with a second `SHA256()`. "
                   "MB/s of plaintext, medians of 3 repetitions.\n" % micro["cpu"])
        out.append(micro_table(micro) + "\n")
    out.append("## How it is measured\n")
    out.append("""- **Same image, same server**: one image, written by fio with a verification header and CRC32C in
  every 4 KiB (half incompressible, half 75 % compressible), is published both as httpcloop blocks (zstd,
  256 KiB) and as the plaintext file by one nginx on 127.0.0.1; nbdkit, httpfs2 and curl read the plaintext.
- **Every read is verified**: fio checks each 4 KiB it reads (its header names its offset; its CRC32C its
  bytes) and fails the pass on the first mismatch (`verify=crc32c`, `verify_interval=4096`,
  `verify_fatal=1`); curl's download (to tmpfs, timed by curl) is hashed afterwards and compared. A failed pass is shown as FAILED.
- **Timing**: fio with `psync`, one read at a time, `O_DIRECT`. Throughput and IOPS are bytes (reads) over
  the time spent inside the reads (fio's mean latency × reads), so the checking fio does between reads is
  not counted; p50/p99 are fio's completion latencies. *qd16*: the same random reads issued 16 at a time
  (`libaio`, `iodepth=16`); they overlap, so throughput and IOPS are over the pass's wall-clock time.
- **Cold / warm**: httpcloop's cold passes start with an empty cache directory (a new `attach` or
  `mount-fuse` for each), its warm passes run after a full sequential read filled the cache. nbdkit, httpfs2
  and curl keep no cache: their warm pass is a second read. Every VM pass starts with the
  page cache of what it reads dropped (`blockdev --flushbufs` of the device and, for a loop device over a
  FUSE file, `POSIX_FADV_DONTNEED` of that file), not the whole page cache: the guest runs its programs from
  the host over 9p, and processes whose memory is not locked (nbdkit, httpfs2, fio) would otherwise fault
  their code back in from the host inside the pass. The loop device's backing file and httpcloop's cache are
  both in the guest's tmpfs (on the host: /dev/shm, read with O_DIRECT), so the limit reads the same storage.
- **HTTP**: requests and body bytes from nginx's access log for each pass; *× read* is bytes over HTTP per
  byte the workload read. **Peak RSS**: VmHWM of the serving process (httpcloop's daemon, nbdkit, httpfs2)
  at the end of the pass: its peak since it started.
""")
    old = open(path).read() if os.path.exists(path) else ""
    open(path, "w").write("\n".join(out))
    # The sections other reports own (boot_report.py, update_report.py) stay as they were
    # when their parts did not run this time (BENCH_ONLY); when they did, they replace them.
    for header in OWNED_ELSEWHERE:
        start = old.find(header)
        if start >= 0:
            following = old.find("\n## ", start + len(header))
            replace_section(path, header, old[start:following + 1] if following >= 0 else old[start:])


def histogram_preamble(path, height):
    """The settings every chart of the report shares: a PNG of clustered histograms."""
    return """
set terminal pngcairo size 1500,%d font 'DejaVu Sans,11'
set output '%s'
set datafile missing '?'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left horizontal maxrows 1 font ',10' opaque box samplen 2
set grid ytics""" % (height, path)


def run_gnuplot(tmp, script, what):
    """Runs `script` in the scratch directory `tmp` (its data files), then removes it;
    says on stderr why nothing was drawn. True when the chart was drawn."""
    with open(os.path.join(tmp, "chart.gp"), "w") as f:
        f.write(script)
    drawn = subprocess.run(["gnuplot", os.path.join(tmp, "chart.gp")], stderr=subprocess.PIPE, text=True)
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)
    if drawn.returncode != 0:
        print("report: no %s (gnuplot: %s)" % (what, drawn.stderr.strip().splitlines()[-1:]), file=sys.stderr)
    return drawn.returncode == 0


def gnuplot_chart(path, agg, micro):
    tmp = path + ".d"
    os.makedirs(tmp, exist_ok=True)

    def write_cluster(name, env, methods, key):
        with open(os.path.join(tmp, name), "w") as f:
            f.write("workload " + " ".join('"%s"' % SHORT[m] for m in methods) + "\n")
            for w in WORKLOADS:
                cells = []
                for m in methods:
                    fig = agg.get(env, {}).get(m, {}).get(w)
                    v = fig.get(key) if fig and not fig["failed"] else None
                    cells.append("?" if not v else "%.6g" % v)
                f.write('"%s" %s\n' % (WORKLOAD_TITLES[w].replace(", ", "\\n"), " ".join(cells)))

    vm_methods = [m for m in ENVS["vm"]["methods"][1:] if m in agg.get("vm", {})]
    host_methods = [m for m in ENVS["host"]["methods"][1:] if m in agg.get("host", {})]
    write_cluster("vm.dat", "vm", vm_methods, "tput_x")
    write_cluster("host.dat", "host", host_methods, "tput_x")
    write_cluster("http.dat", "vm", vm_methods, "http_per_byte")
    with open(os.path.join(tmp, "micro.dat"), "w") as f:
        f.write('block "ours" "raw libraries" "ours +plaintext hash" "raw +plaintext hash"\n')
        for r in (micro or {"rows": []})["rows"]:
            f.write('"%s\\n%d KiB" %.1f %.1f %s %s\n' % (r["codec"], r["block_kib"], r["ours_mbs"], r["raw_mbs"],
                                                      fmt(r["ours_plain_mbs"], "%.1f", "?"),
                                                      fmt(r["raw_plain_mbs"], "%.1f", "?")))

    micro_top = 1.3 * max([r["raw_mbs"] for r in (micro or {"rows": []})["rows"]] + [100])

    def histogram(data, ncols, title, ylabel, log=True, yrange="[0.0001:20]", ref=1):
        s = ['set title "%s"' % title, 'set ylabel "%s"' % ylabel]
        s.append("set logscale y" if log else "unset logscale y")
        s.append("set yrange %s" % yrange)
        if ref:
            s.append("set arrow 1 from graph 0, first %g to graph 1, first %g nohead dt 2 lw 1.5 lc rgb '#444444'"
                     % (ref, ref))
        else:
            s.append("unset arrow 1")
        s.append("plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)" % (ncols + 1, data))
        return "\n".join(s)

    script = histogram_preamble(path, 1100) + """
set xtics font ',10'
set bmargin 4
set multiplot layout 2,2 title "httpcloop benchmark: ratios against the limit measured in the same run (medians)" font ',14'
set linetype 1 lc rgb '#1f77b4'
set linetype 2 lc rgb '#6baed6'
set linetype 3 lc rgb '#ff7f0e'
set linetype 4 lc rgb '#d62728'
%(vm)s
%(host)s
%(http)s
%(micro)s
unset multiplot
""" % {
        "vm": histogram(os.path.join(tmp, "vm.dat"), len(vm_methods),
                        "VM (QEMU TCG, Debian 6.1): throughput / loop driver (log; higher is better)",
                        "× limit"),
        "host": histogram(os.path.join(tmp, "host.dat"), len(host_methods),
                          "Host: throughput / local file (log; higher is better)", "× limit",
                          yrange="[0.0001:100]"),
        "http": histogram(os.path.join(tmp, "http.dat"), len(vm_methods),
                          "VM: bytes over HTTP per byte read (log; lower is better; no bar: none)",
                          "HTTP bytes / bytes read", yrange="[0.01:3000]"),
        "micro": "set linetype 1 lc rgb '#2ca02c'\nset linetype 2 lc rgb '#98df8a'\n"
                 "set linetype 3 lc rgb '#9467bd'\nset linetype 4 lc rgb '#c5b0d5'\n" + histogram(
                     os.path.join(tmp, "micro.dat"), 4,
                     "Host: per-block verify + decompress, MB/s of plaintext (ours = raw: no overhead)",
                     "MB/s", log=False, yrange="[0:%d]" % micro_top, ref=0),
    }
    # A partial run (BENCH_ONLY, BENCH_VM_METHODS) may leave a panel with nothing to draw.
    run_gnuplot(tmp, script, "chart")


def profiles_chart(path, passes):
    """latest-profiles.png: a panel per network profile, httpcloop's throughput over the best
    anchor's by workload (log scale; the dashed line is parity)."""
    panels = [(env, title) for env, title, _ in PROFILES if anchor_ratios(passes, env)]
    if not panels:
        return False
    tmp = path + ".d"
    os.makedirs(tmp, exist_ok=True)
    plots = []
    for env, title in panels:
        ratios = anchor_ratios(passes, env)
        data = os.path.join(tmp, env + ".dat")
        with open(data, "w") as f:
            f.write('workload "%s" "%s"\n' % (SHORT["kernel"], SHORT["fuse"]))
            for w in WORKLOADS:
                cells = [median(ratios.get((m, w), [])) for m in ("kernel", "fuse")]
                f.write('"%s" %s\n' % (WORKLOAD_TITLES[w].replace(", ", "\\n"),
                                        " ".join("?" if not v else "%.6g" % v for v in cells)))
        plots.append('set title "%s: throughput / the best anchor (log; higher is better)"\n'
                     "plot for [i=2:3] '%s' using i:xtic(1) title columnheader(i)" % (title, data))
    script = histogram_preamble(path, 380 * len(plots) + 60) + """
set logscale y
set yrange [0.01:1000]
set bmargin 4
set ylabel "× best anchor"
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb '#444444'
set linetype 1 lc rgb '#1f77b4'
set linetype 2 lc rgb '#6baed6'
set multiplot layout %(rows)d,1 title "httpcloop over shaped links, against the better of nbdkit and httpfs2 (medians)" font ',14'
%(plots)s
unset multiplot
""" % {"rows": len(plots), "plots": "\n".join(plots)}
    return run_gnuplot(tmp, script, "profiles chart")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    raw, results = sys.argv[1], sys.argv[2]
    os.makedirs(results, exist_ok=True)
    env = read_kv(os.path.join(raw, "env.txt"))
    vm_env = read_kv(os.path.join(raw, "vm-env.txt"))
    passes = load_passes(raw)
    agg = aggregate(passes, env)
    micro = load_micro(raw)
    write_markdown(os.path.join(results, "latest.md"), agg, micro, env, vm_env, raw, passes)
    gnuplot_chart(os.path.join(results, "latest.png"), agg, micro)
    profiles_chart(os.path.join(results, "latest-profiles.png"), passes)
    anchors = {env: {"%s %s" % key: values for key, values in anchor_ratios(passes, env).items()}
               for env, _, _ in PROFILES}
    with open(os.path.join(results, "latest.json"), "w") as f:
        json.dump({"env": env, "vm_env": vm_env, "results": agg, "micro": micro,
                   "fetch_engine": fetch_ratios(passes), "best_anchor": anchors}, f, indent=1, sort_keys=True)
    print(open(os.path.join(results, "latest.md")).read().split("## In the VM, in detail")[0])


if __name__ == "__main__":
    main()
