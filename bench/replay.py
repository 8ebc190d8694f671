#!/usr/bin/env python3
"""Replays a fio iolog (v2, `trace read OFFSET LENGTH` lines, from gen-trace.py) against a
device with O_DIRECT, one read at a time as a booting system mostly does, and compares
every byte read with the same range of the source image. Prints the seconds it took.

usage: replay.py IOLOG DEVICE SOURCE_IMAGE
"""
import mmap
import os
import sys
import time


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    log, device, source = sys.argv[1:]
    reads = []
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4 and parts[1] == "read":
                reads.append((int(parts[2]), int(parts[3])))
    longest = max(length for _, length in reads)
    buffer = mmap.mmap(-1, longest)  # page-aligned, as O_DIRECT wants
    dev = os.open(device, os.O_RDONLY | os.O_DIRECT)
    src = os.open(source, os.O_RDONLY)
    start = time.monotonic()
    for offset, length in reads:
        view = memoryview(buffer)[:length]
        got = os.preadv(dev, [view], offset)
        if got != length or view.tobytes() != os.pread(src, length, offset):
            sys.exit("%s: wrong bytes at %d+%d" % (device, offset, length))
    print("%.3f" % (time.monotonic() - start))


if __name__ == "__main__":
    main()
