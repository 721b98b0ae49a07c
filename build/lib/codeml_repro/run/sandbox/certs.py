"""A certificate authority of one run, trusted only by that run's kernel.

The download proxy (see :mod:`.proxy_inside`) answers ``https://`` URLs by terminating TLS
itself, so the kernel must trust a certificate for each declared host. Each run makes a CA
of its own here, on the host: its private key stays in the runner's memory and is never
written anywhere the sandbox can read; only its certificate (``SSL_CERT_FILE``,
``REQUESTS_CA_BUNDLE`` in the kernel's environment) and a leaf certificate and key per
declared host go to the run's proxy folder. A leaf key lets its holder pose as that host
to this run's kernel only, which trusts nothing else; the CA expires within two days.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field
from typing import Any

VALID_FOR = datetime.timedelta(days=2)


def _name(common: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())  # fast to make, accepted by every TLS stack


def _pem_cert(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(cert.public_bytes(serialization.Encoding.PEM))


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))


def _alt_name(host: str) -> Any:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@dataclass
class RunCA:
    """A CA made for one run: :meth:`leaf` signs a certificate for one host name or address."""

    key: Any = field(default_factory=_key, repr=False)
    cert: Any = None

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        now = datetime.datetime.now(datetime.timezone.utc)
        name = _name("codeml-repro run CA")
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        """The CA's certificate: the only one the kernel trusts."""
        return _pem_cert(self.cert)

    def leaf(self, host: str) -> tuple[bytes, bytes]:
        """(certificate, key) in PEM for ``host`` (a name or an IP address), signed by this CA."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.x509.oid import ExtendedKeyUsageOID

        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        issuer_key = x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        cert = (
            x509.CertificateBuilder().subject_name(_name(host[:64])).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID_FOR)
            .add_extension(x509.SubjectAlternativeName([_alt_name(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(issuer_key, critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return _pem_cert(cert) + _pem_cert(self.cert), _pem_key(key)
