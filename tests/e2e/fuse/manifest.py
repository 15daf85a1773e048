# SPDX-License-Identifier: Apache-2.0
"""Print a sorted manifest of a directory tree: type, mode, size, and the
SHA-256 of each file or the target of each symlink, one line per entry,
so two trees compare with diff. Hard links are listed once per name."""

import hashlib
import os
import stat
import sys


def describe(path, rel):
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return f"link {mode:o} {rel} -> {os.readlink(path)}"
    if stat.S_ISDIR(st.st_mode):
        return f"dir {mode:o} {rel}"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return f"file {mode:o} {st.st_size} {digest.hexdigest()} {rel}"


def main(root):
    lines = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            lines.append(describe(path, os.path.relpath(path, root)))
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1])
