"""CA hashes: RSA (checked against the runbook's openssl pipeline), ECDSA, bundles, garbage."""
from __future__ import annotations

import datetime
import hashlib
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kubectl_ascend.cahash import ca_cert_hashes
from kubectl_ascend.errors import InvalidInput

pytestmark = pytest.mark.unit


def _ca(key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _spki_hash(key) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def test_rsa_matches_runbook_openssl_pipeline(rsa_key, tmp_path):
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to compare against the runbook pipeline")
    pem = _ca(rsa_key)
    (tmp_path / "ca.crt").write_bytes(pem)
    out = subprocess.run(
        "openssl x509 -pubkey -in ca.crt | openssl rsa -pubin -outform der 2>/dev/null | "
        "openssl dgst -sha256 -hex | sed 's/^.* //'",
        shell=True, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert len(out) == 64
    assert ca_cert_hashes(pem) == [f"sha256:{out}"]


def test_ecdsa_hash_is_spki_sha256(ec_key):
    pem = _ca(ec_key)
    assert ca_cert_hashes(pem) == [_spki_hash(ec_key)]


def test_bundle_gives_one_hash_per_cert_in_order(rsa_key, ec_key):
    assert ca_cert_hashes(_ca(ec_key) + _ca(rsa_key)) == [_spki_hash(ec_key), _spki_hash(rsa_key)]


def test_garbage_is_a_clear_error():
    with pytest.raises(InvalidInput, match="no readable PEM certificate"):
        ca_cert_hashes(b"not a certificate")


def test_fast_path_agrees_with_cryptography(rsa_key, ec_key):
    from kubectl_ascend.cahash import _hash_with_cryptography

    bundle = _ca(rsa_key) + _ca(ec_key) + _ca(ec.generate_private_key(ec.SECP384R1()))
    assert ca_cert_hashes(bundle) == _hash_with_cryptography(bundle)


def test_truncated_certificate_falls_back_and_fails_clearly(rsa_key):
    pem = _ca(rsa_key).decode()
    body = pem.split("\n")[1:-2]
    broken = "-----BEGIN CERTIFICATE-----\n" + "\n".join(body[:3]) + "\n-----END CERTIFICATE-----\n"
    with pytest.raises(InvalidInput):
        ca_cert_hashes(broken.encode())
