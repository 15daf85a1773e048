# SPDX-License-Identifier: Apache-2.0
"""Randomized differential file-system test in the style of fsx.

One seeded sequence of operations is applied to a plaintext directory and
to a coffer mount: write at any offset, append, truncate, mmap write,
fsync, rename, link, symlink, unlink, mkdir, rmdir and chmod. After every step
the entries touched are compared (type, mode, size, link count, content or
target) together with the listing of the whole tree, and every 100 steps
all content is compared. On a mismatch the seed, the step and the last
operations are printed so the run can be repeated."""

import argparse
import errno
import mmap
import os
import random
import stat
import sys

MAX_FILE = 300 * 1024
NAMES = ["f0", "f1", "f2", "f3", "d0/f4", "d0/f5", "d1/f6", "d0/sub/f7"]
DIRS = ["d0", "d1", "d0/sub", "d2"]


class Mismatch(Exception):
    pass


def outcome(fn):
    """Runs fn and returns its result or the errno it raised."""
    try:
        return ("ok", fn())
    except OSError as e:
        return ("err", e.errno)


def describe(root, rel):
    path = os.path.join(root, rel)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    info = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_nlink)
    if stat.S_ISLNK(st.st_mode):
        return info + (os.readlink(path),)
    if stat.S_ISDIR(st.st_mode):
        return info
    return info + (st.st_size,)


def content(root, rel):
    path = os.path.join(root, rel)
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def listing(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            out.append((rel, describe(root, rel)))
    return sorted(out)


class Runner:
    def __init__(self, plain, mounted, seed):
        self.roots = [plain, mounted]
        self.rng = random.Random(seed)
        self.log = []

    def both(self, fn):
        results = [outcome(lambda r=r: fn(r)) for r in self.roots]
        if results[0] != results[1]:
            raise Mismatch(f"results differ: plain {results[0]} mount {results[1]}")
        return results[0]

    def compare(self, rels, full):
        for rel in rels:
            a, b = (describe(r, rel) for r in self.roots)
            if a != b:
                raise Mismatch(f"metadata of {rel} differs: plain {a} mount {b}")
            ca, cb = (content(r, rel) for r in self.roots)
            if ca != cb:
                first = next((i for i in range(min(len(ca), len(cb))) if ca[i] != cb[i]),
                             min(len(ca), len(cb)))
                raise Mismatch(f"content of {rel} differs at byte {first}")
        la, lb = (listing(r) for r in self.roots)
        if la != lb:
            raise Mismatch(f"trees differ: plain-only {sorted(set(la) - set(lb))[:5]}"
                           f" mount-only {sorted(set(lb) - set(la))[:5]}")
        if full:
            for rel, info in la:
                if info is not None and info[0] == stat.S_IFREG:
                    ca, cb = (content(r, rel) for r in self.roots)
                    if ca != cb:
                        raise Mismatch(f"content of {rel} differs in the full check")

    # ---- operations: each returns the paths it touched ----

    def op_write(self):
        rel = self.rng.choice(NAMES)
        off = self.rng.randrange(0, MAX_FILE)
        data = self.rng.randbytes(self.rng.choice([1, 17, 4095, 4096, 4097, self.rng.randrange(1, 70000)]))
        self.log.append(f"write {rel} off={off} len={len(data)}")

        def fn(root):
            fd = os.open(os.path.join(root, rel), os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                return os.pwrite(fd, data, off)
            finally:
                os.close(fd)
        self.both(fn)
        return [rel]

    def op_append(self):
        rel = self.rng.choice(NAMES)
        data = self.rng.randbytes(self.rng.randrange(1, 9000))
        self.log.append(f"append {rel} len={len(data)}")

        def fn(root):
            fd = os.open(os.path.join(root, rel), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                return os.write(fd, data)
            finally:
                os.close(fd)
        self.both(fn)
        return [rel]

    def op_truncate(self):
        rel = self.rng.choice(NAMES)
        size = self.rng.choice([0, 4096, 4097, self.rng.randrange(0, MAX_FILE)])
        self.log.append(f"truncate {rel} size={size}")
        self.both(lambda root: os.truncate(os.path.join(root, rel), size))
        return [rel]

    def op_mmap_write(self):
        rel = self.rng.choice(NAMES)
        seed = self.rng.randrange(1 << 30)
        self.log.append(f"mmap_write {rel} seed={seed}")

        def fn(root):
            local = random.Random(seed)
            with open(os.path.join(root, rel), "r+b") as f:
                size = os.fstat(f.fileno()).st_size
                if size == 0:
                    return 0
                with mmap.mmap(f.fileno(), size) as m:
                    off = local.randrange(0, size)
                    n = min(size - off, local.randrange(1, 20000))
                    m[off:off + n] = local.randbytes(n)
                    m.flush()
                return n
        self.both(fn)
        return [rel]

    def op_read(self):
        rel = self.rng.choice(NAMES)
        off = self.rng.randrange(0, MAX_FILE)
        n = self.rng.randrange(1, 70000)
        self.log.append(f"read {rel} off={off} len={n}")

        def fn(root):
            fd = os.open(os.path.join(root, rel), os.O_RDONLY)
            try:
                return os.pread(fd, n, off)
            finally:
                os.close(fd)
        self.both(fn)
        return []

    def op_fsync(self):
        rel = self.rng.choice(NAMES)
        data_only = self.rng.random() < 0.5
        self.log.append(f"fsync {rel} datasync={data_only}")

        def fn(root):
            fd = os.open(os.path.join(root, rel), os.O_RDWR)
            try:
                (os.fdatasync if data_only else os.fsync)(fd)
            finally:
                os.close(fd)
        self.both(fn)
        return [rel]

    def op_rename(self):
        if self.rng.random() < 0.2:
            a, b = self.rng.choice(DIRS), self.rng.choice(DIRS)
        else:
            a, b = self.rng.choice(NAMES), self.rng.choice(NAMES)
        self.log.append(f"rename {a} -> {b}")
        self.both(lambda root: os.rename(os.path.join(root, a), os.path.join(root, b)))
        return [a, b]

    def op_link(self):
        a, b = self.rng.choice(NAMES), self.rng.choice(NAMES)
        self.log.append(f"link {a} -> {b}")
        self.both(lambda root: os.link(os.path.join(root, a), os.path.join(root, b)))
        return [a, b]

    def op_symlink(self):
        rel = self.rng.choice(NAMES)
        target = self.rng.choice(["f0", "../f1", "/absolute/target", "x" * 300])
        self.log.append(f"symlink {rel} -> {target}")
        self.both(lambda root: os.symlink(target, os.path.join(root, rel)))
        return [rel]

    def op_unlink(self):
        rel = self.rng.choice(NAMES)
        self.log.append(f"unlink {rel}")
        self.both(lambda root: os.unlink(os.path.join(root, rel)))
        return [rel]

    def op_mkdir(self):
        rel = self.rng.choice(DIRS)
        self.log.append(f"mkdir {rel}")
        self.both(lambda root: os.mkdir(os.path.join(root, rel), 0o755))
        return [rel]

    def op_rmdir(self):
        rel = self.rng.choice(DIRS)
        self.log.append(f"rmdir {rel}")
        self.both(lambda root: os.rmdir(os.path.join(root, rel)))
        return [rel]

    def op_chmod(self):
        rel = self.rng.choice(NAMES)
        mode = self.rng.choice([0o600, 0o644, 0o640, 0o755])
        self.log.append(f"chmod {rel} {mode:o}")
        self.both(lambda root: os.chmod(os.path.join(root, rel), mode))
        return [rel]

    def run(self, ops):
        table = [(self.op_write, 30), (self.op_append, 8), (self.op_truncate, 10),
                 (self.op_mmap_write, 6), (self.op_read, 15), (self.op_fsync, 4),
                 (self.op_rename, 6), (self.op_link, 3), (self.op_symlink, 2),
                 (self.op_unlink, 4), (self.op_mkdir, 5), (self.op_rmdir, 3),
                 (self.op_chmod, 4)]
        funcs = [f for f, _ in table]
        weights = [w for _, w in table]
        for root in self.roots:
            for d in ("d0", "d1", "d0/sub"):
                os.makedirs(os.path.join(root, d), exist_ok=True)
        for step in range(ops):
            op = self.rng.choices(funcs, weights)[0]
            touched = op()
            self.compare(touched, full=(step % 100 == 99))
        self.compare([], full=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("plain")
    parser.add_argument("mounted")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--ops", type=int, default=3000)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    runner = Runner(args.plain, args.mounted, seed)
    try:
        runner.run(args.ops)
    except (Mismatch, OSError) as e:
        print(f"FAIL: seed={seed} step={len(runner.log)}: {e}", file=sys.stderr)
        for line in runner.log[-15:]:
            print(f"  {line}", file=sys.stderr)
        print(f"repeat with: fsx.py PLAIN MOUNT --seed {seed} --ops {args.ops}", file=sys.stderr)
        return 1
    print(f"fsx: {args.ops} operations matched (seed={seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
