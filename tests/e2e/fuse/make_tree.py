# SPDX-License-Identifier: Apache-2.0
"""Write a test tree for format compatibility: the sizes around block
boundaries, empty files, sparse files with holes, names at the 255-byte
limit (stored as gocryptfs long names), nested directories, symlinks and
hard links. Content comes from a fixed seed, so every run is the same."""

import os
import random
import sys


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main(root):
    rng = random.Random(20261204)
    os.makedirs(os.path.join(root, "dir", "nested", "deeper"), exist_ok=True)
    for size in (0, 1, 15, 16, 17, 4095, 4096, 4097, 8191, 8192, 8193, 65536, 1048576 + 3):
        write(os.path.join(root, f"size_{size}"), rng.randbytes(size))
    write(os.path.join(root, "empty"), b"")
    write(os.path.join(root, "dir", "nested", "deeper", "leaf.txt"), b"leaf\n")

    # Sparse files: data, a hole of whole blocks, more data; and a file
    # that is only a hole with one byte at the end.
    with open(os.path.join(root, "sparse"), "wb") as f:
        f.write(rng.randbytes(5000))
        f.seek(5 * 4096 + 100)
        f.write(rng.randbytes(300))
    with open(os.path.join(root, "hole_only"), "wb") as f:
        f.truncate(3 * 4096)
    with open(os.path.join(root, "hole_then_byte"), "wb") as f:
        f.seek(10 * 4096)
        f.write(b"x")

    # Names near and at the limit: the encoded form of names over 175
    # bytes exceeds 255 characters, so they use the long-name scheme.
    for length in (175, 176, 200, 255):
        write(os.path.join(root, "n" * length), f"name of {length} bytes\n".encode())
    long_dir = os.path.join(root, "D" * 230)
    os.makedirs(long_dir, exist_ok=True)
    write(os.path.join(long_dir, "inside"), b"inside a long-named directory\n")
    write(os.path.join(root, "dir", "üñí çødé ☃"), b"unicode\n")

    os.symlink("size_4096", os.path.join(root, "link_rel"))
    os.symlink("/nonexistent/absolute/target", os.path.join(root, "link_abs"))
    os.symlink("t" * 1000, os.path.join(root, "link_long_target"))
    os.link(os.path.join(root, "size_17"), os.path.join(root, "dir", "hardlink_17"))
    os.chmod(os.path.join(root, "size_1"), 0o600)


if __name__ == "__main__":
    main(sys.argv[1])
