# SPDX-License-Identifier: Apache-2.0
"""Concurrent writers and readers of one file. Four writer threads fill
adjacent regions whose borders fall inside 4 KiB blocks, in unaligned
chunks of random size and order, so neighbouring writers modify the same
block at the same time. Reader threads meanwhile check that every byte
they see is either still zero or already its final value. At the end the
whole file must equal the expected content."""

import os
import random
import sys
import threading

WRITERS = 4
REGION = 256 * 1024 + 1000  # not a multiple of 4096: borders share blocks
SIZE = WRITERS * REGION


def expected_bytes(seed):
    return random.Random(seed).randbytes(SIZE)


def main(path, seed):
    expected = expected_bytes(seed)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.ftruncate(fd, SIZE)
    errors = []
    done = threading.Event()

    def writer(index):
        rng = random.Random(seed * 100 + index)
        start = index * REGION
        chunks, off = [], start
        while off < start + REGION:
            n = min(rng.randrange(1, 9000), start + REGION - off)
            chunks.append((off, n))
            off += n
        rng.shuffle(chunks)
        for off, n in chunks:
            os.pwrite(fd, expected[off:off + n], off)

    def reader(index):
        rng = random.Random(seed * 1000 + index)
        rfd = os.open(path, os.O_RDONLY)
        try:
            for _ in range(3000):
                if done.is_set():
                    break
                off = rng.randrange(0, SIZE)
                data = os.pread(rfd, rng.randrange(1, 20000), off)
                for i, b in enumerate(data):
                    if b != 0 and b != expected[off + i]:
                        errors.append(f"reader {index}: byte {off + i} is {b}, neither 0"
                                      f" nor {expected[off + i]}")
                        return
        finally:
            os.close(rfd)

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(2)]
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in readers:
        t.join()
    os.fsync(fd)
    os.close(fd)

    with open(path, "rb") as f:
        final = f.read()
    if final != expected:
        first = next(i for i in range(min(len(final), SIZE)) if final[i] != expected[i]) \
            if len(final) == SIZE else min(len(final), SIZE)
        errors.append(f"final content differs at byte {first} (size {len(final)})")
    for e in errors:
        print(f"FAIL: seed={seed}: {e}", file=sys.stderr)
    if not errors:
        print(f"concurrent: {WRITERS} writers and 2 readers agree (seed={seed})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
