"""CA certificate hashes for `kubeadm join --discovery-token-ca-cert-hash`.

The hash is SHA-256 over the certificate's DER-encoded SubjectPublicKeyInfo,
which works for any key type (RSA, ECDSA, Ed25519) — unlike the openssl
pipeline in the runbook, which pipes through `openssl rsa` and so only handles RSA.
"""
from __future__ import annotations

import hashlib

from kubectl_ascend.errors import InvalidInput


def ca_cert_hashes(pem: bytes) -> list[str]:
    """`sha256:<hex>` for every certificate in a PEM bundle, in bundle order."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    import warnings

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
