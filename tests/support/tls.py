"""A throw-away certificate authority for TLS tests, made with the openssl command."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

KEY_PASSWORD = "client-key-password-0123"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate (PEM)
    server_cert: Path  # for 127.0.0.1 and localhost
    server_key: Path
    client_cert: Path
    client_key: Path
    client_key_encrypted: Path  # the same key, encrypted with KEY_PASSWORD
    other_ca: Path  # a CA that signed nothing here


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def _signed(
    directory: Path, name: str, ca: tuple[Path, Path], extensions: str
) -> tuple[Path, Path]:
    cert, key, csr = directory / f"{name}.pem", directory / f"{name}.key", directory / f"{name}.csr"
    ext = directory / f"{name}.ext"
    ext.write_text(extensions)
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return cert, key


def make_tls_files(directory: Path) -> TlsFiles:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is absent")
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca(directory, "antenna-test-ca")
    other_ca, _ = _ca(directory, "unrelated-ca")
    server = _signed(
        directory,
        "broker",
        ca,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    client = _signed(directory, "antenna-client", ca, "extendedKeyUsage=clientAuth\n")
    encrypted = directory / "antenna-client-encrypted.key"
    _openssl(
        "pkey", "-in", str(client[1]), "-aes256", "-passout", f"pass:{KEY_PASSWORD}",
        "-out", str(encrypted),
    )  # fmt: skip
    return TlsFiles(ca[0], server[0], server[1], client[0], client[1], encrypted, other_ca)
