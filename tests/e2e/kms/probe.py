#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Raw TLS probes against `coffer kms serve`: certificate refusals and
hostile KMIP messages, built byte by byte (no KMIP library involved).

Usage:
  probe.py PORT PKI mtls      refused and accepted client certificates
  probe.py PORT PKI hostile   malformed messages; the server must reply
                              with a KMIP error or close, and keep serving
  probe.py PORT PKI load      64 concurrent connections, each creating and
                              fetching keys
  probe.py PORT PKI limits    against a server started with
                              --max-connections 4 --idle-timeout 1
Exits 0 when every check passes.
"""
import os
import socket
import ssl
import struct
import sys

PORT = int(sys.argv[1])
PKI = sys.argv[2]
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print("FAIL:", what)
        sys.exit(1)
    checks += 1


def item(tag, typ, value):
    if typ == 1:
        body = b"".join(value)
        pad = b""
    elif typ in (2, 5):
        body = struct.pack(">I", value & 0xFFFFFFFF)
        pad = b"\0" * 4
    elif typ in (7, 8):
        body = value.encode() if isinstance(value, str) else value
        pad = b"\0" * ((8 - len(body) % 8) % 8)
    else:
        raise ValueError(typ)
    return struct.pack(">I", tag)[1:] + bytes([typ]) + struct.pack(">I", len(body)) + body + pad


def structure(tag, *children):
    return item(tag, 1, list(children))


def request(items, count=None, version=(1, 4)):
    header = structure(0x420077,
                       structure(0x420069, item(0x42006A, 2, version[0]),
                                 item(0x42006B, 2, version[1])),
                       item(0x42000D, 2, len(items) if count is None else count))
    return structure(0x420078, header, *items)


def batch_item(operation, *payload, number=0):
    return structure(0x42000F, item(0x42005C, 5, operation),
                     item(0x420093, 8, struct.pack(">I", number)),
                     structure(0x420079, *payload))


DISCOVER = request([batch_item(0x1E)])


def context(cert=None, ca="ca.crt", version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(PKI, ca))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(os.path.join(PKI, cert + ".crt"), os.path.join(PKI, cert + ".key"))
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    elif version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def connect(cert="alice", **kwargs):
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    return context(cert, **kwargs).wrap_socket(raw, server_hostname="127.0.0.1")


def read_exact(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def exchange(conn, message):
    """Sends message and returns the response bytes, or None when the
    server closed the connection (or the TLS session failed)."""
    try:
        conn.sendall(message)
        header = read_exact(conn, 8)
        if header is None:
            return None
        length = struct.unpack(">I", header[4:8])[0]
        body = read_exact(conn, length)
        return None if body is None else header + body
    except (ssl.SSLError, OSError):
        return None


def result_of(response):
    """Returns (status, reason) of the first batch item of a response."""
    check(response[:4] == b"\x42\x00\x7b\x01", "response is a Response Message")
    status = reason = None
    i = response.find(b"\x42\x00\x7f\x05")
    if i >= 0:
        status = struct.unpack(">I", response[i + 8:i + 12])[0]
    i = response.find(b"\x42\x00\x7e\x05")
    if i >= 0:
        reason = struct.unpack(">I", response[i + 8:i + 12])[0]
    return status, reason


def refused(what, **kwargs):
    try:
        conn = connect(**kwargs)
    except (ssl.SSLError, OSError):
        check(True, what)
        return
    check(exchange(conn, DISCOVER) is None, what + ": the server must not answer")
    conn.close()


def mtls():
    refused("client without a certificate is refused", cert=None)
    refused("client certificate from another CA is refused", cert="rogue")
    refused("expired client certificate is refused", cert="expired")

    for version in ("1.2", "1.3"):
        conn = connect("alice", version=version)
        if version == "1.2":
            check(conn.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256",
                  "TLS 1.2 negotiates ECDHE-ECDSA-AES128-GCM-SHA256, got %s" % (conn.cipher(),))
        check(conn.version() == "TLSv" + version, "negotiated TLS " + version)
        status, _ = result_of(exchange(conn, DISCOVER))
        check(status == 0, "Discover Versions succeeds over TLS " + version)
        conn.close()

    conn = connect("carol")
    status, _ = result_of(exchange(conn, DISCOVER))
    check(status == 0, "a certificate with only a CN is accepted")
    conn.close()


def hostile():
    alice = connect("alice")
    check(result_of(exchange(alice, DISCOVER))[0] == 0, "baseline request succeeds")

    def expect_error_or_close(name, message, reason=None):
        conn = connect("alice")
        response = exchange(conn, message)
        if response is not None:
            status, got = result_of(response)
            check(status == 1, name + ": failure status")
            if reason is not None:
                check(got == reason, "%s: reason %s, expected %s" % (name, got, reason))
        conn.close()
        # Another client's connection, open all along, still works.
        check(result_of(exchange(alice, DISCOVER))[0] == 0, name + ": server keeps serving")

    invalid_message = 4
    # The inner item claims more bytes than its parent holds.
    inner = bytearray(request([batch_item(0x1E)]))
    inner[8 + 4:8 + 8] = struct.pack(">I", 0x1000)
    expect_error_or_close("length past the end", bytes(inner), invalid_message)
    expect_error_or_close("2 GiB length", b"\x42\x00\x78\x01\x80\x00\x00\x00" + b"\0" * 8)
    expect_error_or_close("length beyond 1 MiB", b"\x42\x00\x78\x01\x00\x20\x00\x00" + b"\0" * 8)

    deep = b""
    for _ in range(200):
        deep = structure(0x420079, deep) if deep else structure(0x420079)
    expect_error_or_close("deep nesting", request([structure(0x42000F, item(0x42005C, 5, 0x1E), deep)]),
                          invalid_message)

    wrong_type = request([structure(0x42000F, item(0x42005C, 2, 0x1E))])
    expect_error_or_close("Operation as Integer", wrong_type, invalid_message)
    get_wrong_id = request([batch_item(0x0A, item(0x420094, 2, 5))])
    expect_error_or_close("Unique Identifier as Integer", get_wrong_id, 7)
    expect_error_or_close("Batch Count mismatch", request([batch_item(0x1E)], count=3),
                          invalid_message)
    not_request = structure(0x420078, item(0x420020, 7, "x"))
    expect_error_or_close("no request header", not_request, invalid_message)
    padding = bytearray(request([batch_item(0x0A, item(0x420094, 7, "abc"))]))
    padding[-1] = 0xFF
    expect_error_or_close("non-zero padding", bytes(padding), invalid_message)
    expect_error_or_close("wrong outer tag", structure(0x42007B, item(0x420020, 2, 1)))

    # A truncated record: the header promises more than is ever sent, and
    # the client then closes its side.
    conn = connect("alice")
    conn.sendall(DISCOVER[:20])
    conn.close()
    check(result_of(exchange(alice, DISCOVER))[0] == 0, "truncated record: server keeps serving")

    many = request([batch_item(0x1E, number=i) for i in range(5000)])
    expect_error_or_close("5000 batch items", many, invalid_message)
    unknown = [batch_item(0x0A, item(0x420094, 7, "no-such-key-%d" % i), number=i)
               for i in range(1000)]
    conn = connect("alice")
    continue_header = structure(0x420077,
                                structure(0x420069, item(0x42006A, 2, 1), item(0x42006B, 2, 4)),
                                item(0x42000E, 5, 1), item(0x42000D, 2, 1000))
    response = exchange(conn, structure(0x420078, continue_header, *unknown))
    check(response is not None and response.count(b"\x42\x00\x0f\x01") == 1000,
          "1000 failing Gets with Continue get 1000 answers")
    conn.close()

    unsupported = request([batch_item(0x21)])
    conn = connect("alice")
    check(result_of(exchange(conn, unsupported)) == (1, 5), "unsupported operation is reported")
    conn.close()
    alice.close()


def create_request():
    template = structure(0x420091,
                         structure(0x420008, item(0x42000A, 7, "Cryptographic Algorithm"),
                                   item(0x42000B, 5, 3)),
                         structure(0x420008, item(0x42000A, 7, "Cryptographic Length"),
                                   item(0x42000B, 2, 256)))
    return request([batch_item(0x01, item(0x420057, 5, 2), template)])


def get_request(uid):
    return request([batch_item(0x0A, item(0x420094, 7, uid))])


def created_id(response):
    i = response.find(b"\x42\x00\x94\x07")
    length = struct.unpack(">I", response[i + 4:i + 8])[0]
    return response[i + 8:i + 8 + length].decode()


def load():
    import threading
    failures = []

    def worker(number):
        try:
            conn = connect("alice")
            for _ in range(10):
                response = exchange(conn, create_request())
                if response is None or result_of(response)[0] != 0:
                    failures.append("connection %d: Create failed" % number)
                    return
                response = exchange(conn, get_request(created_id(response)))
                if response is None or result_of(response)[0] != 0:
                    failures.append("connection %d: Get failed" % number)
                    return
            conn.close()
        except Exception as e:  # reported below, with the connection number
            failures.append("connection %d: %r" % (number, e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(not any(t.is_alive() for t in threads), "all 64 connections finished within 120 s")
    check(not failures, "64 concurrent connections: %s" % failures[:3])


def limits():
    import time
    held = [connect("alice") for _ in range(4)]
    for conn in held:
        check(result_of(exchange(conn, DISCOVER))[0] == 0, "connection within the limit works")
    refused("fifth connection over --max-connections 4 is closed")
    # Idle connections are closed after about one second.
    time.sleep(2.5)
    for conn in held:
        check(exchange(conn, DISCOVER) is None, "idle connection was closed by the server")
        conn.close()
    conn = connect("alice")
    check(result_of(exchange(conn, DISCOVER))[0] == 0, "new connection works after the idle ones closed")
    conn.close()


{"mtls": mtls, "hostile": hostile, "load": load, "limits": limits}[sys.argv[3]]()
print("%s: %d checks passed" % (sys.argv[3], checks))
