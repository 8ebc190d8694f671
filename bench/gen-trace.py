#!/usr/bin/env python3
"""Writes the "boot-like" read trace as a fio iolog (version 2), always the same for the
same arguments (random.Random with a fixed seed).

usage: gen-trace.py IMAGE_SIZE_BYTES COUNT OUT.iolog [SEED]

What a system does while it boots from a disk image, roughly: a few hot regions
(superblock, inode tables, directories, the libraries everyone loads) read again and
again in small pieces; files read front to back in runs of growing reads (readahead);
and scattered small reads anywhere. Every read is 4 KiB aligned and 4 KiB to 256 KiB
long, so fio can check each 4 KiB against the verification header the image carries.

fio replays it with --read_iolog=OUT.iolog --replay_redirect=DEVICE (the file name in
the log is a placeholder). The last line, a comment, summarises the trace.
"""
import random
import sys

K = 1024
SMALL = [4 * K, 4 * K, 4 * K, 8 * K, 8 * K, 12 * K, 16 * K]


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    size, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) == 5 else 42)
    pages = size // (4 * K)
    if pages < 1024:
        sys.exit("image too small for a trace")

    def page(lo, hi):
        return rng.randrange(lo, hi) * 4 * K

    # Hot regions: 12 of 256 KiB to 4 MiB; the first one at the start (superblock, group
    # descriptors), the others clustered in the first half, where a fresh file system
    # puts the files written first (the system's own).
    hot = [(0, 1024 * K)]
    for _ in range(11):
        length = rng.choice([256, 512, 1024, 2048, 4096]) * K
        start = page(0, pages // 2) if rng.random() < 0.8 else page(0, pages)
        hot.append((min(start, size - length), length))

    reads = []

    def add(offset, length):
        length = min(length, 256 * K)
        offset = max(0, min(offset, size - length))
        reads.append((offset, length))

    while len(reads) < count:
        kind = rng.random()
        if kind < 0.55:
            # Metadata and hot libraries: small reads inside a hot region, often re-read.
            start, length = rng.choice(hot)
            add(start + page(0, length // (4 * K)), rng.choice(SMALL))
        elif kind < 0.8:
            # A file read front to back: readahead grows from 4-16 KiB up to 32-256 KiB.
            if rng.random() < 0.6:
                start, length = rng.choice(hot)
                offset = start + page(0, length // (4 * K))
            else:
                offset = page(0, pages)
            step = rng.choice([4 * K, 8 * K, 16 * K])
            for _ in range(rng.randint(2, 6)):
                add(offset, step)
                offset += step
                step = min(step * 2, rng.choice([32 * K, 64 * K, 128 * K, 256 * K]))
        else:
            # Scattered: a lone small or medium read anywhere.
            add(page(0, pages), rng.choice(SMALL + [32 * K, 64 * K]))
    reads = reads[:count]

    with open(out, "w") as f:
        f.write("fio version 2 iolog\ntrace add\ntrace open\n")
        for offset, length in reads:
            f.write("trace read %d %d\n" % (offset, length))
        f.write("trace close\n")
    total = sum(length for _, length in reads)
    touched = set()
    for offset, length in reads:
        touched.update(range(offset // (4 * K), (offset + length + 4 * K - 1) // (4 * K)))
    print("trace: %d reads, %.1f MiB read, %.1f MiB distinct (%.0f%% of the image)" % (
        len(reads), total / 2**20, len(touched) * 4 * K / 2**20, 100.0 * len(touched) * 4 * K / size))


if __name__ == "__main__":
    main()
