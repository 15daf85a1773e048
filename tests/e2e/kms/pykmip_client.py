#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Drive `coffer kms serve` with PyKMIP's ProxyKmipClient (Debian's
python3-pykmip; run with /usr/bin/python3) and check every result.

Usage: pykmip_client.py PORT PKI_DIR KMIP_VERSION   (version: 1.2 or 1.4)
Exits 0 when every check passes; prints the failing check otherwise.
"""
import os
import sys

from kmip.core import enums
from kmip.core.attributes import CryptographicParameters
from kmip.core.factories import attributes as attribute_factories
from kmip.core.messages import messages, payloads
from kmip.core.messages.contents import Operation
from kmip.pie import objects
from kmip.pie.client import ProxyKmipClient
from kmip.pie.exceptions import KmipOperationFailure

PORT = int(sys.argv[1])
PKI = sys.argv[2]
VERSION = {"1.2": enums.KMIPVersion.KMIP_1_2,
           "1.4": enums.KMIPVersion.KMIP_1_4}[sys.argv[3]]
TAG = "v" + sys.argv[3].replace(".", "")
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print("FAIL (KMIP %s): %s" % (sys.argv[3], what))
        sys.exit(1)
    checks += 1


def client(who):
    c = ProxyKmipClient(hostname="127.0.0.1", port=PORT,
                        cert=os.path.join(PKI, who + ".crt"),
                        key=os.path.join(PKI, who + ".key"),
                        ca=os.path.join(PKI, "ca.crt"),
                        config_file=os.devnull, kmip_version=VERSION)
    c.open()
    return c


def expect_failure(reason, what, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except KmipOperationFailure as e:
        check(e.reason == reason, "%s: expected %s, got %s (%s)"
              % (what, reason, e.reason, e.message))
        return
    check(False, "%s: expected failure %s, but it succeeded" % (what, reason))


def attribute_map(c, uid):
    _, attrs = c.get_attributes(uid)
    out = {}
    for a in attrs:
        out.setdefault(a.attribute_name.value, []).append(a.attribute_value)
    return out


def state_of(c, uid):
    return attribute_map(c, uid)["State"][0].value


def send_raw(c, operation, payload):
    """Sends one batch item through PyKMIP's protocol layer, for fields
    (GCM tags) that ProxyKmipClient does not expose."""
    item = messages.RequestBatchItem(
        operation=Operation(operation),
        request_payload=payload)
    request = c.proxy._build_request_message(None, [item])
    response = c.proxy._send_and_receive_message(request)
    return response.batch_items[0]


def lifecycle(alice):
    name = "volume-key-" + TAG
    uid = alice.create(enums.CryptographicAlgorithm.AES, 256, name=name)
    check(isinstance(uid, str) and uid, "create returns an id")

    key = alice.get(uid)
    check(len(key.value) == 32, "get returns 32 bytes for AES-256")
    check(key.cryptographic_algorithm == enums.CryptographicAlgorithm.AES,
          "get reports AES")

    attrs = attribute_map(alice, uid)
    check(attrs["State"][0].value == enums.State.PRE_ACTIVE, "new key is Pre-Active")
    check(attrs["Cryptographic Length"][0].value == 256, "length attribute is 256")
    check(attrs["Name"][0].name_value.value == name, "Name attribute round-trips")

    names = alice.get_attribute_list(uid)
    for n in ("Unique Identifier", "Object Type", "State", "Name",
              "Cryptographic Algorithm", "Cryptographic Length"):
        check(n in names, "attribute list contains " + n)

    factory = attribute_factories.AttributeFactory()
    name_filter = factory.create_attribute(enums.AttributeType.NAME, name)
    found = alice.locate(attributes=[name_filter])
    check(found == [uid], "locate by Name finds exactly the key: %r" % found)
    type_filter = factory.create_attribute(enums.AttributeType.OBJECT_TYPE,
                                           enums.ObjectType.SYMMETRIC_KEY)
    found = alice.locate(maximum_items=1, attributes=[type_filter])
    check(len(found) == 1, "locate honours Maximum Items")

    expect_failure(enums.ResultReason.ILLEGAL_OPERATION,
                   "encrypt with a Pre-Active key", alice.encrypt, b"x", uid=uid,
                   cryptographic_parameters={
                       "block_cipher_mode": enums.BlockCipherMode.CBC,
                       "padding_method": enums.PaddingMethod.PKCS5})

    alice.activate(uid)
    check(state_of(alice, uid) == enums.State.ACTIVE, "activate makes the key Active")
    return uid


def cbc_round_trip(alice, uid):
    params = {"block_cipher_mode": enums.BlockCipherMode.CBC,
              "padding_method": enums.PaddingMethod.PKCS5,
              "cryptographic_algorithm": enums.CryptographicAlgorithm.AES}
    plain = b"coffer KMIP interop: AES-CBC with PKCS#5 padding"
    iv = bytes(range(16))
    ct, returned_iv = alice.encrypt(plain, uid=uid, cryptographic_parameters=params,
                                    iv_counter_nonce=iv)
    check(len(ct) == 64 and ct != plain[:len(ct)], "CBC ciphertext is padded to 64 bytes")
    check(returned_iv is None, "no IV returned when the client supplied one")
    check(alice.decrypt(ct, uid=uid, cryptographic_parameters=params,
                        iv_counter_nonce=iv) == plain, "CBC decrypt round-trips")

    # The server generates the IV when none is given and returns it.
    ct, server_iv = alice.encrypt(plain, uid=uid, cryptographic_parameters=params)
    check(server_iv is not None and len(server_iv) == 16, "server-generated CBC IV returned")
    check(alice.decrypt(ct, uid=uid, cryptographic_parameters=params,
                        iv_counter_nonce=server_iv) == plain,
          "CBC decrypt with the server IV round-trips")

    # The result is checked against an independent AES implementation.
    key = alice.get(uid).value
    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    dec = Cipher(algorithms.AES(key), modes.CBC(server_iv)).decryptor()
    unpadder = sym_padding.PKCS7(128).unpadder()
    local = unpadder.update(dec.update(ct) + dec.finalize()) + unpadder.finalize()
    check(local == plain, "CBC ciphertext decrypts with python3-cryptography")


def gcm_round_trip(alice, uid):
    if VERSION != enums.KMIPVersion.KMIP_1_4:
        # The Authenticated Encryption fields exist from KMIP 1.4 on, so
        # older versions must get a clean refusal.
        expect_failure(enums.ResultReason.FEATURE_NOT_SUPPORTED, "GCM before KMIP 1.4",
                       alice.encrypt, b"x", uid=uid,
                       cryptographic_parameters={"block_cipher_mode": enums.BlockCipherMode.GCM})
        return
    params = CryptographicParameters(block_cipher_mode=enums.BlockCipherMode.GCM,
                                     cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
                                     tag_length=16)
    plain = b"coffer KMIP interop: AES-GCM"
    aad = b"volume=v1"
    nonce = os.urandom(12)
    item = send_raw(alice, enums.Operation.ENCRYPT, payloads.EncryptRequestPayload(
        unique_identifier=uid, cryptographic_parameters=params, data=plain,
        iv_counter_nonce=nonce, auth_additional_data=aad))
    check(item.result_status.value == enums.ResultStatus.SUCCESS, "GCM encrypt succeeds")
    ct = item.response_payload.data
    tag = item.response_payload.auth_tag
    check(len(ct) == len(plain) and len(tag) == 16, "GCM returns ciphertext and a 16-byte tag")

    key = alice.get(uid).value
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    check(AESGCM(key).decrypt(nonce, ct + tag, aad) == plain,
          "GCM ciphertext decrypts with python3-cryptography")

    item = send_raw(alice, enums.Operation.DECRYPT, payloads.DecryptRequestPayload(
        unique_identifier=uid, cryptographic_parameters=params, data=ct,
        iv_counter_nonce=nonce, auth_additional_data=aad, auth_tag=tag))
    check(item.result_status.value == enums.ResultStatus.SUCCESS
          and item.response_payload.data == plain, "GCM decrypt round-trips")

    bad_tag = bytes([tag[0] ^ 1]) + tag[1:]
    item = send_raw(alice, enums.Operation.DECRYPT, payloads.DecryptRequestPayload(
        unique_identifier=uid, cryptographic_parameters=params, data=ct,
        iv_counter_nonce=nonce, auth_additional_data=aad, auth_tag=bad_tag))
    check(item.result_status.value == enums.ResultStatus.OPERATION_FAILED
          and item.result_reason.value == enums.ResultReason.CRYPTOGRAPHIC_FAILURE,
          "GCM decrypt with a wrong tag fails with Cryptographic Failure")


def register_objects(alice):
    material = bytes(range(32))
    sym = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, material,
                               name="registered-" + TAG)
    uid = alice.register(sym)
    got = alice.get(uid)
    check(got.value == material, "registered symmetric key comes back unchanged")
    check(state_of(alice, uid) == enums.State.PRE_ACTIVE, "registered key starts Pre-Active")

    secret = objects.SecretData(b"correct horse battery staple",
                                enums.SecretDataType.PASSWORD, name="secret-" + TAG)
    sid = alice.register(secret)
    got = alice.get(sid)
    check(isinstance(got, objects.SecretData), "get returns Secret Data")
    check(got.value == b"correct horse battery staple", "secret data comes back unchanged")
    check(got.data_type == enums.SecretDataType.PASSWORD, "secret data type is kept")
    return uid


def ownership(alice, bob, admin, uid):
    expect_failure(enums.ResultReason.PERMISSION_DENIED, "bob gets alice's key",
                   bob.get, uid)
    expect_failure(enums.ResultReason.PERMISSION_DENIED, "bob encrypts with alice's key",
                   bob.encrypt, b"0123456789abcdef", uid=uid,
                   cryptographic_parameters={"block_cipher_mode": enums.BlockCipherMode.CBC,
                                             "padding_method": enums.PaddingMethod.PKCS5})
    expect_failure(enums.ResultReason.PERMISSION_DENIED, "bob destroys alice's key",
                   bob.destroy, uid)
    check(bob.locate() == [] or uid not in bob.locate(), "bob cannot locate alice's key")
    check(len(admin.get(uid).value) == 32, "an administrator may get alice's key")


def revoke_destroy(alice, uid):
    expect_failure(enums.ResultReason.ILLEGAL_OPERATION, "destroy an Active key",
                   alice.destroy, uid)
    alice.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
    check(state_of(alice, uid) == enums.State.DEACTIVATED, "revoke makes the key Deactivated")
    alice.destroy(uid)
    check(state_of(alice, uid) == enums.State.DESTROYED, "destroy makes the key Destroyed")
    expect_failure(enums.ResultReason.ITEM_NOT_FOUND, "get a destroyed key", alice.get, uid)
    expect_failure(enums.ResultReason.ITEM_NOT_FOUND, "get an unknown id", alice.get,
                   "00000000-0000-4000-8000-000000000000")


def main():
    alice, bob, admin = client("alice"), client("bob"), client("admin")
    try:
        uid = lifecycle(alice)
        cbc_round_trip(alice, uid)
        gcm_round_trip(alice, uid)
        register_objects(alice)
        ownership(alice, bob, admin, uid)
        revoke_destroy(alice, uid)
    finally:
        for c in (alice, bob, admin):
            c.close()
    print("PyKMIP %s: %d checks passed" % (sys.argv[3], checks))


if __name__ == "__main__":
    main()
