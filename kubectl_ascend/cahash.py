"""CA certificate hashes for `kubeadm join --discovery-token-ca-cert-hash`.

The hash is SHA-256 over the certificate's DER-encoded SubjectPublicKeyInfo,
which works for any key type (RSA, ECDSA, Ed25519) — unlike the openssl
pipeline in the runbook, which pipes through `openssl rsa` and so only handles RSA.

The SubjectPublicKeyInfo is cut out of the DER directly (a few dozen lines of
TLV walking): importing cryptography's x509 module costs ~50 ms, a sixth of
join-cmd's whole run. Anything the walker cannot read goes to cryptography,
which also validates the walker in the unit tests.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re

from kubectl_ascend.errors import InvalidInput

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER element at pos."""
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    end = pos + length
    if end > len(buf):
        raise ValueError("truncated DER")
    return tag, pos, end


def spki_der(cert_der: bytes) -> bytes:
    """The DER bytes of a certificate's subjectPublicKeyInfo (RFC 5280 §4.1)."""
    tag, start, _ = _tlv(cert_der, 0)             # Certificate ::= SEQUENCE
    if tag != 0x30:
        raise ValueError("not a certificate")
    tag, pos, _ = _tlv(cert_der, start)           # tbsCertificate ::= SEQUENCE
    if tag != 0x30:
        raise ValueError("no tbsCertificate")
    fields: list[tuple[int, int, int]] = []
    while len(fields) < 7:
        tag, vstart, vend = _tlv(cert_der, pos)
        fields.append((tag, pos, vend))
        pos = vend
    if fields[0][0] == 0xA0:                     # [0] EXPLICIT version is optional
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    tag, begin, end = fields[5]
    if tag != 0x30:
        raise ValueError("no subjectPublicKeyInfo")
    return cert_der[begin:end]


def _hash_with_cryptography(pem: bytes) -> list[str]:
    import warnings

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        with warnings.catch_warnings():
            # Some CAs (KWOK's among them) carry a negative serial number; irrelevant to the key hash.
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise InvalidInput(f"the CA bundle holds no readable PEM certificate ({e})") from e
    out = []
    for cert in certs:
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        out.append("sha256:" + hashlib.sha256(spki).hexdigest())
    return out


def ca_cert_hashes(pem: bytes) -> list[str]:
    """`sha256:<hex>` for every certificate in a PEM bundle, in bundle order."""
    blocks = _PEM.findall(pem)
    if not blocks:
        raise InvalidInput("the CA bundle holds no readable PEM certificate")
    try:
        return ["sha256:" + hashlib.sha256(spki_der(base64.b64decode(b, validate=False))).hexdigest()
                for b in blocks]
    except (ValueError, IndexError, binascii.Error):
        return _hash_with_cryptography(pem)
