"""PyKCS11 on softse (tests/consumers/pykcs11.sh, issue 19).

Key pairs generated on the token through PyKCS11, signatures made by the
token and verified by the `cryptography` package from the public values
read back (CKA_EC_POINT, CKA_MODULUS/CKA_PUBLIC_EXPONENT); before login a
R/W public session stores a public data object but no private key.

usage: python3 pykcs11.py MODULE TOKEN_LABEL USER_PIN
"""
import sys

import PyKCS11
from PyKCS11 import LowLevel
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

FAILURES = 0
P256_OID = bytes.fromhex("06082a8648ce3d030107")  # DER OID of prime256v1


def check(ok, what):
    global FAILURES
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        FAILURES += 1


def expect_error(code, what, call):
    try:
        call()
    except PyKCS11.PyKCS11Error as e:
        check(e.value == code, "%s: %s (expected %s)" % (what, e, PyKCS11.CKR[code]))
        return
    check(False, "%s: succeeded, expected %s" % (what, PyKCS11.CKR[code]))


def open_session(lib, label):
    for slot in lib.getSlotList(tokenPresent=True):
        if lib.getTokenInfo(slot).label.strip() == label:
            return lib.openSession(slot, PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
    raise SystemExit("FAIL: no token labelled %s" % label)


def ec_keypair(session, label, token, private_key_private=True):
    public = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_TOKEN, token),
              (PyKCS11.CKA_EC_PARAMS, P256_OID), (PyKCS11.CKA_VERIFY, True),
              (PyKCS11.CKA_LABEL, label)]
    private = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_TOKEN, token),
               (PyKCS11.CKA_PRIVATE, private_key_private), (PyKCS11.CKA_SIGN, True),
               (PyKCS11.CKA_LABEL, label)]
    return session.generateKeyPair(public, private,
                                   mecha=PyKCS11.Mechanism(PyKCS11.CKM_EC_KEY_PAIR_GEN))


def ec_public_key(session, handle):
    point = bytes(session.getAttributeValue(handle, [PyKCS11.CKA_EC_POINT])[0])
    if point[0] == 0x04 and point[1] == len(point) - 2:  # DER OCTET STRING
        point = point[2:]
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def test_ec(session):
    pub, priv = ec_keypair(session, "pykcs11-ec", True)
    data = b"signed on softse through PyKCS11"
    raw = bytes(session.sign(priv, data, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256)))
    check(len(raw) == 64, "CKM_ECDSA_SHA256 gives r||s of 64 bytes")
    signature = utils.encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                           int.from_bytes(raw[32:], "big"))
    key = ec_public_key(session, pub)
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        check(True, "cryptography verifies the token's ECDSA signature")
    except InvalidSignature:
        check(False, "cryptography rejects the token's ECDSA signature")
    try:
        key.verify(signature, data + b"!", ec.ECDSA(hashes.SHA256()))
        check(False, "a signature of other data verified")
    except InvalidSignature:
        check(True, "the signature does not verify other data")
    check(session.verify(pub, data, raw, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256)),
          "the token verifies its own signature")
    found = session.findObjects([(PyKCS11.CKA_LABEL, "pykcs11-ec"),
                                 (PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY)])
    check([h.value() for h in found] == [priv.value()],
          "the private key is found on the token by label")
    sensitive, extractable = session.getAttributeValue(
        priv, [PyKCS11.CKA_SENSITIVE, PyKCS11.CKA_EXTRACTABLE])
    check(sensitive and not extractable, "the private key is sensitive and not extractable")


def test_rsa(session):
    public = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_TOKEN, False),
              (PyKCS11.CKA_MODULUS_BITS, 2048), (PyKCS11.CKA_PUBLIC_EXPONENT, (0x01, 0x00, 0x01)),
              (PyKCS11.CKA_VERIFY, True)]
    private = [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_TOKEN, False),
               (PyKCS11.CKA_SIGN, True)]
    pub, priv = session.generateKeyPair(
        public, private, mecha=PyKCS11.Mechanism(PyKCS11.CKM_RSA_PKCS_KEY_PAIR_GEN))
    modulus, exponent = session.getAttributeValue(
        pub, [PyKCS11.CKA_MODULUS, PyKCS11.CKA_PUBLIC_EXPONENT])
    key = rsa.RSAPublicNumbers(int.from_bytes(bytes(exponent), "big"),
                               int.from_bytes(bytes(modulus), "big")).public_key()
    check(key.key_size == 2048, "a 2048-bit RSA key")
    data = b"RSA on softse through PyKCS11"
    pss = PyKCS11.RSA_PSS_Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS_PSS, PyKCS11.CKM_SHA256,
                                    PyKCS11.CKG_MGF1_SHA256, 32)
    for name, mechanism, pad in (
            ("SHA256-RSA-PKCS", PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS), padding.PKCS1v15()),
            ("SHA256-RSA-PKCS-PSS", pss,
             padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32))):
        signature = bytes(session.sign(priv, data, mechanism))
        try:
            key.verify(signature, data, pad, hashes.SHA256())
            check(True, "cryptography verifies the token's %s signature" % name)
        except InvalidSignature:
            check(False, "cryptography rejects the token's %s signature" % name)


def test_before_login(session):
    """A R/W public session: public objects yes, keys no (README)."""
    data = session.createObject([(PyKCS11.CKA_CLASS, PyKCS11.CKO_DATA), (PyKCS11.CKA_TOKEN, True),
                                 (PyKCS11.CKA_PRIVATE, False), (PyKCS11.CKA_LABEL, "public-note"),
                                 (PyKCS11.CKA_VALUE, b"not secret")])
    check(data is not None, "before login: a public data object is stored on the token")
    expect_error(LowLevel.CKR_USER_NOT_LOGGED_IN, "before login: a private object",
                 lambda: ec_keypair(session, "too-early", True))
    # A public (CKA_PRIVATE false) private key is a public object for
    # PKCS#11, but its key values are sealed under the master key.
    expect_error(LowLevel.CKR_USER_NOT_LOGGED_IN,
                 "before login: a token key pair, even with a public private key",
                 lambda: ec_keypair(session, "too-early", True, private_key_private=False))
    expect_error(LowLevel.CKR_USER_NOT_LOGGED_IN,
                 "before login: a public token AES key (C_GenerateKey)",
                 lambda: session.generateKey([(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
                                              (PyKCS11.CKA_TOKEN, True),
                                              (PyKCS11.CKA_PRIVATE, False),
                                              (PyKCS11.CKA_VALUE_LEN, 32)],
                                             PyKCS11.Mechanism(PyKCS11.CKM_AES_KEY_GEN)))
    expect_error(LowLevel.CKR_USER_NOT_LOGGED_IN,
                 "before login: a public token AES key (C_CreateObject)",
                 lambda: session.createObject([(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY),
                                               (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES),
                                               (PyKCS11.CKA_TOKEN, True),
                                               (PyKCS11.CKA_PRIVATE, False),
                                               (PyKCS11.CKA_VALUE, bytes(16))]))
    pub, priv = ec_keypair(session, "session-key", False, private_key_private=False)
    check(pub is not None, "before login: a public session key pair is made")
    signature = session.sign(priv, b"data", PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256))
    check(session.verify(pub, b"data", signature, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA_SHA256)),
          "before login: the session key signs")


def main():
    module, label, pin = sys.argv[1:4]
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    session = open_session(lib, label)
    test_before_login(session)
    expect_error(LowLevel.CKR_PIN_INCORRECT, "login with a wrong PIN",
                 lambda: session.login("000000"))
    session.login(pin)
    test_ec(session)
    test_rsa(session)
    session.logout()
    session.closeSession()
    if FAILURES:
        sys.exit("%d check(s) FAILED" % FAILURES)


if __name__ == "__main__":
    main()
