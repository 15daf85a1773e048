#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Durability probe for `coffer kms serve`, with PyKMIP's client.

  durability.py stream PORT PKI LOG   Create keys until the server goes
      away. After each Create response append "ID" to LOG, and after the
      Get that follows append "ID HEX" (flushed and fsynced each time).
  durability.py verify PORT PKI LOG   Every ID in LOG must still be
      retrievable as a 32-byte key, equal to HEX where it was recorded.
"""
import os
import sys

from kmip.core import enums
from kmip.pie.client import ProxyKmipClient

mode, port, pki, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def client():
    c = ProxyKmipClient(hostname="127.0.0.1", port=port,
                        cert=os.path.join(pki, "alice.crt"),
                        key=os.path.join(pki, "alice.key"),
                        ca=os.path.join(pki, "ca.crt"), config_file=os.devnull)
    c.open()
    return c


def record(f, line):
    f.write(line + "\n")
    f.flush()
    os.fsync(f.fileno())


if mode == "stream":
    c = client()
    with open(log, "a") as f:
        for _ in range(100000):
            try:
                uid = c.create(enums.CryptographicAlgorithm.AES, 256)
                record(f, uid)
                record(f, uid + " " + c.get(uid).value.hex())
            except Exception:
                break
    sys.exit(0)

keys = {}
for line in open(log):
    parts = line.split()
    if len(parts) == 1:
        keys.setdefault(parts[0], None)
    elif len(parts) == 2:
        keys[parts[0]] = parts[1]
c = client()
for uid, expected in keys.items():
    value = c.get(uid).value
    if len(value) != 32 or (expected is not None and value.hex() != expected):
        print("FAIL: key %s changed or was lost after SIGKILL" % uid)
        sys.exit(1)
c.close()
print("durability: %d answered Creates all retrievable and unchanged" % len(keys))
