#!/usr/bin/env python3
"""Miss latency: one 4 KiB read in each of COUNT distinct blocks, each a cache miss.

usage: miss.py TARGET SOURCE BLOCK_SIZE COUNT SEED OUT_JSON

TARGET is /dev/httpcloop0 or mount-fuse's MOUNTPOINT/image with an empty cache and no
readahead (`--no-readahead`), so that every read is its block's first; SOURCE is the
plaintext image. The blocks are drawn without repeats and read in that random order, one
read at a time, each at a random 4 KiB-aligned offset inside its block, with O_DIRECT (no
page cache); every read is timed on its own (the clock around the pread) and compared
with SOURCE's bytes. Writes {"latencies_ms": [...], "blocks": [...]} to OUT_JSON and
exits 1 on the first read that differs or fails.
"""
import json
import mmap
import os
import random
import sys
import time

READ = 4096


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    target, source, block_size, count, seed, out = sys.argv[1:]
    block_size, count = int(block_size), int(count)
    size = os.stat(source).st_size
    blocks_total = size // block_size  # whole blocks only: a read never falls past the end
    if count > blocks_total:
        sys.exit("miss.py: %d reads wanted, the image has %d whole blocks" % (count, blocks_total))
    rng = random.Random(int(seed))
    blocks = rng.sample(range(blocks_total), count)
    buffer = mmap.mmap(-1, READ)  # page-aligned, as O_DIRECT needs
    latencies = []
    fd = os.open(target, os.O_RDONLY | os.O_DIRECT)
    with open(source, "rb") as plain:
        for block in blocks:
            offset = block * block_size + rng.randrange(block_size // READ) * READ
            start = time.perf_counter_ns()
            got = os.preadv(fd, [buffer], offset)
            latencies.append((time.perf_counter_ns() - start) / 1e6)
            plain.seek(offset)
            if got != READ or buffer[:READ] != plain.read(READ):
                sys.exit("miss.py: %s differs from %s at offset %d (%d bytes read)" % (target, source, offset, got))
    os.close(fd)
    with open(out, "w") as f:
        json.dump({"latencies_ms": latencies, "blocks": blocks, "block_size": block_size}, f)


if __name__ == "__main__":
    main()
