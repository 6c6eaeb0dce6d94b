#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/.

Each seed is a valid (or nearly valid) input in the encoding the targets
read (tests/fuzz/fuzz_common.c), so the fuzzer starts deep in the module
instead of rediscovering PKCS#11 from nothing.  Key material comes from the
openssl command line, so the seeds change on every run of this script; the
committed ones are what the tests use.

usage: tests/fuzz/make_corpus.py [output dir, default tests/fuzz/corpus]
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- constants (PKCS#11 3.0, vendor-mechs/include/softse/softse-pkcs11.h) ---
CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY = 0, 1, 2, 3, 4
CKK_RSA, CKK_EC, CKK_GENERIC_SECRET, CKK_AES, CKK_EC_EDWARDS = 0, 3, 0x10, 0x1F, 0x40
CKC_X_509 = 0
CKM = {
    'SHA256': 0x250, 'SHA256_HMAC': 0x251, 'RSA_PKCS_OAEP': 0x9, 'SHA256_RSA_PKCS_PSS': 0x43,
    'RSA_PKCS_PSS': 0xD, 'ECDSA_SHA256': 0x1044, 'EDDSA': 0x1057, 'AES_KEY_GEN': 0x1080,
    'AES_CBC_PAD': 0x1085, 'AES_CTR': 0x1086, 'AES_GCM': 0x1087, 'AES_CMAC': 0x108A,
    'AES_KEY_WRAP': 0x2109, 'AES_KEY_WRAP_KWP': 0x210B, 'ECDH1_DERIVE': 0x1050,
    'HKDF_DERIVE': 0x402A, 'HKDF_DATA': 0x402B, 'SP800_108_COUNTER_KDF': 0x3AC,
    'GENERIC_SECRET_KEY_GEN': 0x350,
    'SE_GKEA': 0x80534501, 'SE_KI_RSA_RAW': 0x80534511, 'SE_KI_RSA_OAEP': 0x80534512,
    'SE_KI_EC_ELGAMAL': 0x80534513, 'SE_SK3_Q1': 0x80534521, 'SE_SK3_Q2': 0x80534522,
    'SE_SK3_Q3': 0x80534523, 'SE_SK3_Q4': 0x80534524, 'SE_SK3_SERVER': 0x80534525,
    'SE_SK3_HOST_DERIVE': 0x80534526, 'SE_SK3_KEY_GEN': 0x80534527,
}
CKG_MGF1_SHA256, CKD_NULL, CKD_SHA256_KDF = 2, 1, 6
CKF_HKDF_SALT_DATA = 2
P256_OID = bytes.fromhex('06082a8648ce3d030107')
P384_OID = bytes.fromhex('06052b81040022')
ED25519_OID = bytes.fromhex('06032b6570')


# ---- the encoding of fuzz_common.c ---------------------------------------
def u8(v):
    return bytes([v & 0xFF])


def ulong(v):
    return struct.pack('<Q', v & 0xFFFFFFFFFFFFFFFF)


def length(n):
    if n <= 250:
        return u8(n)
    if n <= 0xFFFF:
        return u8(251) + struct.pack('<H', n)
    return u8(252) + struct.pack('<I', n)


def buffer(data):
    """mode 2: a length, then exactly that many bytes"""
    return u8(2) + length(len(data)) + data


def null_buffer(n=0):
    return u8(1) + length(n) if n else u8(0)


def attribute_names():
    """fz_attribute_types[] of fuzz_common.c, in order."""
    src = open(os.path.join(HERE, 'fuzz_common.c')).read()
    body = re.search(r'fz_attribute_types\[\] = \{(.*?)\};', src, re.S).group(1)
    return [n.strip() for n in body.split(',') if n.strip()]


ATTRS = attribute_names()


def attr_type(name):
    if isinstance(name, int):  # a raw type: selector past the table
        return u8(0xFF) + ulong(name)
    return u8(ATTRS.index(name))


def attr(name, value):
    if isinstance(value, bool):
        value = b'\x01' if value else b'\x00'
    elif isinstance(value, int):
        value = ulong(value)
    elif isinstance(value, str):
        value = value.encode()
    return attr_type(name) + buffer(value)


def template(*attrs):
    return u8(len(attrs)) + b''.join(attrs)


def get_template(*entries):
    """(name, size): a buffer of size bytes; (name, None): a size query"""
    out = u8(len(entries))
    for name, size in entries:
        out += attr_type(name)
        out += length(size or 0) + u8(1 if size is None else 0)
    return out


# ---- key material from openssl --------------------------------------------
def der_read(data, pos=0):
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[pos:pos + k], 'big')
        pos += k
    return tag, data[pos:pos + n], pos + n


def der_children(data):
    out, pos = [], 0
    while pos < len(data):
        tag, value, pos = der_read(data, pos)
        out.append((tag, value))
    return out


def openssl(*args, data=None):
    return subprocess.run(['openssl', *args], input=data, check=True, capture_output=True).stdout


class Material:
    def __init__(self, tmp):
        p = lambda name: os.path.join(tmp, name)
        openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('ec.pem'))
        openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', p('ec384.pem'))
        openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', p('rsa.pem'))
        openssl('genpkey', '-algorithm', 'ED25519', '-out', p('ed.pem'))
        pkcs8 = lambda pem: openssl('pkcs8', '-topk8', '-nocrypt', '-in', p(pem), '-outform', 'DER')
        self.ec_pkcs8 = pkcs8('ec.pem')
        self.rsa_pkcs8 = pkcs8('rsa.pem')
        self.ed_pkcs8 = pkcs8('ed.pem')
        self.ec_spki = openssl('pkey', '-in', p('ec.pem'), '-pubout', '-outform', 'DER')
        self.ec384_spki = openssl('pkey', '-in', p('ec384.pem'), '-pubout', '-outform', 'DER')
        self.rsa_spki = openssl('pkey', '-in', p('rsa.pem'), '-pubout', '-outform', 'DER')
        self.ed_spki = openssl('pkey', '-in', p('ed.pem'), '-pubout', '-outform', 'DER')
        self.cert = openssl('req', '-x509', '-key', p('ec.pem'), '-subj', '/CN=softse fuzz seed',
                            '-days', '1', '-outform', 'DER')
        # ECPrivateKey: version, privateKey, [0] parameters, [1] publicKey
        ec = der_children(der_read(openssl('ec', '-in', p('ec.pem'), '-outform', 'DER'))[1])
        self.ec_scalar = ec[1][1]
        point_bits = der_children(ec[3][1])[0][1]  # BIT STRING: unused-bits byte, point
        self.ec_point_raw = point_bits[1:]
        self.ec_point = b'\x04' + bytes([len(self.ec_point_raw)]) + self.ec_point_raw
        ed_bits = der_children(der_read(self.ed_spki)[1])[1][1]
        self.ed_point = b'\x04\x20' + ed_bits[1:]
        # RSAPrivateKey: version, n, e, d, p, q, dp, dq, qinv
        rsa = der_children(der_read(openssl('rsa', '-in', p('rsa.pem'), '-outform', 'DER',
                                            '-traditional'))[1])
        strip = lambda b: b.lstrip(b'\x00') or b'\x00'
        self.rsa = [strip(v) for _, v in rsa[1:9]]


# ---- seeds of each target --------------------------------------------------
def template_seeds(k):
    seeds = {}
    # ops: 2 get, 4 set, 8 copy, 16 get on copy, 32 find
    data = template(attr('CKA_CLASS', CKO_DATA), attr('CKA_TOKEN', True),
                    attr('CKA_LABEL', 'seed-data'), attr('CKA_APPLICATION', 'fuzz'),
                    attr('CKA_VALUE', 'hello world'))
    seeds['data-object'] = (u8(2 | 4 | 8 | 16 | 32) + data + u8(0) +
                            get_template(('CKA_LABEL', 64), ('CKA_VALUE', None), ('CKA_CLASS', 8)) +
                            template(attr('CKA_LABEL', 'renamed')) +
                            template(attr('CKA_LABEL', 'copied')) +
                            get_template(('CKA_LABEL', 3)) +
                            template(attr('CKA_LABEL', 'renamed')) + u8(0) + u8(16))
    aes = template(attr('CKA_CLASS', CKO_SECRET_KEY), attr('CKA_KEY_TYPE', CKK_AES),
                   attr('CKA_TOKEN', False), attr('CKA_SENSITIVE', True),
                   attr('CKA_EXTRACTABLE', False), attr('CKA_ENCRYPT', True),
                   attr('CKA_VALUE', bytes(range(32))))
    seeds['aes-sensitive'] = (u8(2 | 4 | 8) + aes + u8(0) +
                              get_template(('CKA_VALUE', 32), ('CKA_VALUE_LEN', 8),
                                           ('CKA_CHECK_VALUE', 3)) +
                              template(attr('CKA_SENSITIVE', False)) +
                              template(attr('CKA_EXTRACTABLE', True)))
    seeds['ec-public'] = (u8(2 | 32) + template(
        attr('CKA_CLASS', CKO_PUBLIC_KEY), attr('CKA_KEY_TYPE', CKK_EC), attr('CKA_TOKEN', True),
        attr('CKA_EC_PARAMS', P256_OID), attr('CKA_EC_POINT', k.ec_point),
        attr('CKA_LABEL', 'seed-ec')) + u8(0) +
        get_template(('CKA_PUBLIC_KEY_INFO', 200), ('CKA_EC_POINT', None)) +
        template(attr('CKA_KEY_TYPE', CKK_EC)) + u8(0) + u8(4))
    names = ['CKA_MODULUS', 'CKA_PUBLIC_EXPONENT', 'CKA_PRIVATE_EXPONENT', 'CKA_PRIME_1',
             'CKA_PRIME_2', 'CKA_EXPONENT_1', 'CKA_EXPONENT_2', 'CKA_COEFFICIENT']
    seeds['rsa-private'] = (u8(2 | 4) + template(
        attr('CKA_CLASS', CKO_PRIVATE_KEY), attr('CKA_KEY_TYPE', CKK_RSA), attr('CKA_TOKEN', False),
        attr('CKA_SENSITIVE', True), attr('CKA_SIGN', True),
        *[attr(n, v) for n, v in zip(names, k.rsa)]) + u8(0) +
        get_template(('CKA_PRIVATE_EXPONENT', 256), ('CKA_MODULUS', 256), ('CKA_PUBLIC_KEY_INFO', None)) +
        template(attr('CKA_SENSITIVE', False), attr('CKA_LABEL', 'x')))
    seeds['certificate'] = (u8(2 | 8) + template(
        attr('CKA_CLASS', CKO_CERTIFICATE), attr('CKA_CERTIFICATE_TYPE', CKC_X_509),
        attr('CKA_TOKEN', True), attr('CKA_VALUE', k.cert), attr('CKA_LABEL', 'seed-cert')) + u8(0) +
        get_template(('CKA_SUBJECT', None), ('CKA_VALUE', 2000)) +
        template(attr('CKA_TOKEN', False)))
    seeds['fixed-key'] = (u8(1 | 2 | 4 | 32) + template() + u8(1) +
                          get_template(('CKA_VALUE', 32), ('CKA_UNIQUE_ID', 64)) +
                          template(attr('CKA_SENSITIVE', False)) +
                          template(attr('CKA_CLASS', CKO_SECRET_KEY)) + u8(0) + u8(8) + u8(8))
    seeds['lifecycle-object'] = (u8(1 | 2 | 4) + template() + u8(3) +
                                 get_template(('CKA_VALUE', 1), ('CKA_HW_FEATURE_TYPE', 8)) +
                                 template(attr('CKA_VALUE', b'\x02')))
    return seeds


def mech_seed(mech, op, key, param=b'', tmpl_kind=7, tmpl_extra=b'', data=b'', multipart=0,
              value_len=None):
    """op: 0 encrypt 1 decrypt 2 sign 3 verify 4 digest 5 derive 7 generate 8 unwrap 9 wrap;
    key: fuzz_mech.c's enum (0 AES-256 … 11 attestation)"""
    out = u8(0xFF) + ulong(CKM[mech]) + u8(op) + u8(key) + u8(0) + param
    out += (u8(0xFF) + ulong(value_len)) if value_len is not None else u8(0)
    out += u8(tmpl_kind) + tmpl_extra + u8(0) + u8(multipart) + data
    return out


def mech_seeds(k):
    AES256, AES128, GENERIC, RSA_PUB, RSA_PRIV, EC_PUB, EC_PRIV, ED_PUB, ED_PRIV = range(9)
    SK3_SERVER, SK3_HOST = 9, 10
    s = {}
    gcm = buffer(bytes(12)) + length(96) + buffer(b'aad') + u8(128)  # tag bits: one byte
    s['aes-gcm-encrypt'] = mech_seed('AES_GCM', 0, AES256, gcm, data=buffer(b'plaintext'))
    s['aes-gcm-decrypt-multi'] = mech_seed('AES_GCM', 1, AES128, gcm, multipart=1,
                                           data=u8(1) + buffer(bytes(40)) + length(64) + length(64))
    s['aes-cbc-pad-decrypt'] = mech_seed('AES_CBC_PAD', 1, AES256, buffer(bytes(16)),
                                         data=buffer(bytes(32)))
    s['aes-ctr-encrypt'] = mech_seed('AES_CTR', 0, AES128, u8(32) + bytes(16), data=buffer(b'x' * 40))
    # hash and MGF: indexes of fuzz_mech.c's tables (SHA-256); source: CKZ_DATA_SPECIFIED
    oaep = u8(2) + u8(2) + u8(1) + buffer(b'label')
    s['rsa-oaep-encrypt'] = mech_seed('RSA_PKCS_OAEP', 0, RSA_PUB, oaep, data=buffer(b'secret'))
    s['rsa-pss-sign'] = mech_seed('SHA256_RSA_PKCS_PSS', 2, RSA_PRIV, u8(2) + u8(2) + length(32),
                                  data=buffer(b'message'))
    s['ecdsa-sign-multi'] = mech_seed('ECDSA_SHA256', 2, EC_PRIV, null_buffer(), multipart=1,
                                      data=u8(2) + buffer(b'a') + length(0) + buffer(b'b') + length(0) + length(80))
    s['eddsa-sign'] = mech_seed('EDDSA', 2, ED_PRIV, u8(0) + null_buffer(), data=buffer(b'msg'))
    s['eddsa-ctx-sign'] = mech_seed('EDDSA', 2, ED_PRIV, u8(0) + buffer(b'context'), data=buffer(b'msg'))
    s['hmac-verify'] = mech_seed('SHA256_HMAC', 3, GENERIC, null_buffer(),
                                 data=buffer(b'message') + buffer(bytes(32)))
    s['cmac-sign'] = mech_seed('AES_CMAC', 2, AES128, null_buffer(), data=buffer(b'message'))
    s['digest'] = mech_seed('SHA256', 4, AES256, null_buffer(), data=buffer(b'abc'))
    hkdf = (u8(1) + u8(1) + u8(2) + u8(1) + buffer(b'salt') + u8(0) + buffer(b'info'))
    s['hkdf-derive'] = mech_seed('HKDF_DERIVE', 5, GENERIC, hkdf, tmpl_kind=2)
    s['hkdf-data'] = mech_seed('HKDF_DATA', 5, GENERIC, hkdf, tmpl_kind=6,
                               tmpl_extra=template(attr('CKA_CLASS', CKO_DATA), attr('CKA_VALUE_LEN', 32)))
    s['ecdh-derive-kdf'] = mech_seed('ECDH1_DERIVE', 5, EC_PRIV, u8(3) + null_buffer() + u8(0),
                                     tmpl_kind=1)
    s['ecdh-derive-raw'] = mech_seed('ECDH1_DERIVE', 5, EC_PRIV, u8(0) + null_buffer() + u8(1),
                                     tmpl_kind=2)
    kb_data = (u8(0) + u8(1) + u8(0) + u8(3) +           # iteration variable, 32-bit counter
               u8(3) + u8(0) + buffer(b'label') +         # byte array
               u8(2) + u8(1) + u8(1) + u8(0) + u8(3))     # DKM length: sum of keys, 32 bits
    kbkdf = u8(2) + u8(3) + u8(0) + kb_data + u8(0)  # no additional keys
    s['sp800-108-derive'] = mech_seed('SP800_108_COUNTER_KDF', 5, GENERIC, kbkdf, tmpl_kind=1)
    s['aes-kwp-wrap'] = mech_seed('AES_KEY_WRAP_KWP', 9, AES256, null_buffer(), data=u8(0))
    s['aes-kwp-wrap-rsa'] = mech_seed('AES_KEY_WRAP_KWP', 9, AES256, null_buffer(), data=u8(1))
    s['aes-kw-unwrap'] = mech_seed('AES_KEY_WRAP', 8, AES256, null_buffer(), tmpl_kind=0,
                                   data=buffer(bytes(40)))
    s['aes-keygen'] = mech_seed('AES_KEY_GEN', 7, AES256, null_buffer(), tmpl_kind=1)
    gkea = (u8(0) + u8(1) + buffer(b'0123456789abcdef') + u8(2) + length(200) + u8(2) + length(200))
    s['gkea-ec'] = mech_seed('SE_GKEA', 7, AES256, gkea, tmpl_kind=1)
    gkea_rsa = (u8(0) + u8(0) + buffer(b'0123456789abcdef0123') + u8(1) + length(0) + u8(1) + length(0))
    s['gkea-rsa-query'] = mech_seed('SE_GKEA', 7, AES256, gkea_rsa, tmpl_kind=1)
    s['ki-oaep'] = mech_seed('SE_KI_RSA_OAEP', 7, AES256, u8(2) + u8(0) + u8(2) + length(256),
                             tmpl_kind=1, value_len=16)
    s['ki-raw'] = mech_seed('SE_KI_RSA_RAW', 7, AES256, u8(0) + u8(0) + u8(2) + length(256),
                            tmpl_kind=1, value_len=16)
    s['ki-elgamal'] = mech_seed('SE_KI_EC_ELGAMAL', 7, AES256, u8(2) + u8(1) + u8(2) + length(100),
                                tmpl_kind=1, value_len=16)
    s['sk3-q1'] = mech_seed('SE_SK3_Q1', 2, SK3_HOST, null_buffer(), data=buffer(b''))
    s['sk3-q2'] = mech_seed('SE_SK3_Q2', 5, SK3_HOST, b'fuzz-host-00001\0' + bytes(96), tmpl_kind=2)
    s['sk3-q3'] = mech_seed('SE_SK3_Q3', 5, SK3_HOST, b'fuzz-host-00001\0' + bytes(224), tmpl_kind=2)
    s['sk3-q4'] = mech_seed('SE_SK3_Q4', 3, SK3_HOST, b'fuzz-host-00001\0' + bytes(64),
                            data=buffer(b'') + buffer(bytes(32)))
    s['sk3-server'] = mech_seed('SE_SK3_SERVER', 2, SK3_SERVER, null_buffer(),
                                data=buffer(b'fuzz-host-00001\0fuzz-host-00002\0'))
    s['sk3-host-derive'] = mech_seed('SE_SK3_HOST_DERIVE', 5, SK3_SERVER, b'fuzz-host-00003\0')
    s['sk3-host-key'] = mech_seed('SE_SK3_HOST_DERIVE', 5, SK3_SERVER, b'fuzz-host-00003\0',
                                  tmpl_kind=5, tmpl_extra=b'fuzz-host-00003\0')
    return s


def der_seeds(k):
    # kinds of fuzz_der.c
    EC_PUBLIC, EC_PRIVATE, PUBLIC_INFO, CERTIFICATE, PKCS8, UNWRAP, GKEA, KI, EC_GENERATE, ECDH = range(10)
    ec = lambda params, rest: length(len(params)) + params + rest
    return {
        'ec-public-p256': u8(EC_PUBLIC) + u8(0) + ec(P256_OID, k.ec_point),
        'ec-public-raw-point': u8(EC_PUBLIC) + u8(0) + ec(P256_OID, k.ec_point_raw),
        'ed25519-public': u8(EC_PUBLIC) + u8(1) + ec(ED25519_OID, k.ed_point),
        'ed25519-public-name': u8(EC_PUBLIC) + u8(1) + ec(b'\x13\x0cedwards25519', k.ed_point),
        'ec-private-p256': u8(EC_PRIVATE) + u8(0) + ec(P256_OID, k.ec_scalar),
        'spki-ec': u8(PUBLIC_INFO) + u8(0) + k.ec_spki,
        'spki-rsa': u8(PUBLIC_INFO) + u8(1) + k.rsa_spki,
        'spki-ed25519': u8(PUBLIC_INFO) + u8(2) + k.ed_spki,
        'spki-with-point': u8(PUBLIC_INFO) + u8(4) + k.ec_spki,
        'certificate': u8(CERTIFICATE) + u8(1) + k.cert,
        'pkcs8-ec': u8(PKCS8) + u8(0) + k.ec_pkcs8,
        'pkcs8-rsa': u8(PKCS8) + u8(0) + k.rsa_pkcs8,
        'pkcs8-ed25519': u8(PKCS8) + u8(0) + k.ed_pkcs8,
        'unwrap-ec': u8(UNWRAP) + u8(0) + k.ec_pkcs8,
        'unwrap-rsa': u8(UNWRAP) + u8(1) + k.rsa_pkcs8,
        'unwrap-any': u8(UNWRAP) + u8(4) + k.ed_pkcs8,
        'gkea-rsa': u8(GKEA) + u8(0) + k.rsa_spki,
        'gkea-ec': u8(GKEA) + u8(0) + k.ec_spki,
        'gkea-p384': u8(GKEA) + u8(0) + k.ec384_spki,
        'ki-raw': u8(KI) + u8(0) + k.rsa_spki,
        'ki-oaep': u8(KI) + u8(1) + k.rsa_spki,
        'ki-elgamal': u8(KI) + u8(2) + k.ec_spki,
        'ec-generate-p384': u8(EC_GENERATE) + u8(0) + P384_OID,
        'ec-generate-ed25519': u8(EC_GENERATE) + u8(1) + ED25519_OID,
        'ecdh-der-point': u8(ECDH) + u8(0) + k.ec_point,
        'ecdh-raw-point': u8(ECDH) + u8(1) + k.ec_point_raw,
    }


def store_seeds():
    # change kinds of fuzz_store.c: 0 value, 1 flip, 2 flags, 3 sealed, 4 type, 5 insert,
    # 6 delete, 7 token column, 8 pin column, 9 others; values: bind_any
    def change(kind, *fields):
        return u8(0) + u8(kind) + b''.join(fields)

    int_value = lambda v: u8(0) + ulong(v)
    blob_value = lambda b: u8(2) + length(len(b)) + b
    def seed(changes, writes=0):
        return u8(len(changes) - 1) + b''.join(changes) + u8(writes)
    return {
        'flip-sealed': seed([change(1, u8(4), struct.pack('<H', 20), u8(1), u8(0))], writes=0x0F),
        'truncate-sealed': seed([change(1, u8(4), struct.pack('<H', 3), u8(2), u8(1), u8(50))]),
        'value-blob': seed([change(0, u8(1), blob_value(b'replaced'))], writes=0x08),
        'flags': seed([change(2, u8(4), int_value(0))]),
        'sealed-off': seed([change(3, u8(3), int_value(0))], writes=0x20),
        'type': seed([change(4, u8(5), int_value(0x11))]),
        'insert-row': seed([change(5, u8(0), int_value(0x3), int_value(2), int_value(1),
                                   blob_value(bytes(40)))]),
        'delete-row': seed([change(6, u8(2))], writes=0x40),
        'token-lifecycle': seed([change(7, u8(3), int_value(9))], writes=0x80),
        'token-key-check': seed([change(7, u8(5), blob_value(bytes(31)))]),
        'token-iterations': seed([change(7, u8(4), int_value(0))], writes=0x02),
        'pin-failures': seed([change(8, u8(1), u8(1) + u8(1), int_value(1 << 40))], writes=0x01),
        'pin-wrapped': seed([change(8, u8(4), u8(1) + u8(1), blob_value(bytes(60)))], writes=0x04),
        'pin-salt-null': seed([change(8, u8(3), u8(1) + u8(0), u8(4))]),
        'audit-hash': seed([change(9, u8(6), blob_value(bytes(32)))]),
        'counter': seed([change(9, u8(2), int_value((1 << 64) - 1))], writes=0x20),
        'raw-byte': u8(0) + u8(0xEE) + struct.pack('<I', 100) + u8(0x40) + u8(0),
        'two-changes': seed([change(2, u8(7), int_value(3)), change(9, u8(0), int_value(1))],
                            writes=0xFF),
    }


def write(out, target, seeds):
    d = os.path.join(out, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
    print(f'{d}: {len(seeds)} seeds')


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, 'corpus')
    with tempfile.TemporaryDirectory() as tmp:
        k = Material(tmp)
        write(out, 'template', template_seeds(k))
        write(out, 'mech', mech_seeds(k))
        write(out, 'der', der_seeds(k))
    write(out, 'store', store_seeds())


if __name__ == '__main__':
    main()
