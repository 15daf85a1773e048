#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Compare version pairs with each ecosystem's own implementation.

Usage: version_oracle.py SCHEME PAIRS_FILE
PAIRS_FILE contains one "a<TAB>b" pair per line; the script prints -1, 0 or 1
per line. Oracles: dpkg --compare-versions (dpkg), python3-rpm's
labelCompare (rpm), python3-packaging (pep440) and node-semver (semver).
"""

import json
import os
import subprocess
import sys


def sign(value):
    return (value > 0) - (value < 0)


def compare_dpkg(pairs):
    for a, b in pairs:
        if subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0:
            yield -1
        elif subprocess.run(["dpkg", "--compare-versions", a, "eq", b]).returncode == 0:
            yield 0
        else:
            yield 1


def split_evr(text):
    epoch = None
    if ":" in text:
        epoch, text = text.split(":", 1)
    release = None
    if "-" in text:
        text, release = text.rsplit("-", 1)
    return (epoch, text, release)


def compare_rpm(pairs):
    import rpm

    for a, b in pairs:
        yield sign(rpm.labelCompare(split_evr(a), split_evr(b)))


def compare_pep440(pairs):
    from packaging.version import Version

    for a, b in pairs:
        va, vb = Version(a), Version(b)
        yield (va > vb) - (va < vb)


NODE_SCRIPT = """
const semver = require('semver');
const pairs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(pairs.map(([a, b]) => semver.compare(a, b))));
"""


def compare_semver(pairs):
    env = dict(os.environ)
    # Debian installs node modules such as node-semver under /usr/share/nodejs.
    env["NODE_PATH"] = env.get("NODE_PATH", "") + ":/usr/share/nodejs"
    out = subprocess.run(["node", "-e", NODE_SCRIPT], input=json.dumps(pairs),
                         capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)


ORACLES = {
    "dpkg": compare_dpkg,
    "rpm": compare_rpm,
    "pep440": compare_pep440,
    "semver": compare_semver,
}


def main():
    scheme, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        pairs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for result in ORACLES[scheme](pairs):
        print(result)


if __name__ == "__main__":
    main()
