"""The TLS context kefu gives aiokafka, against a real TLS server on loopback: it trusts the CA
of KEFU_KAFKA_SSL_CAFILE and presents the client certificate of KEFU_KAFKA_SSL_CERTFILE and
KEFU_KAFKA_SSL_KEYFILE, as Strimzi's TLS listener with mTLS users requires."""

import asyncio
import ssl
import subprocess
from pathlib import Path

import pytest

from kefu.shared.bus import tls_context
from kefu.shared.settings import SettingsError, load_settings


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(cwd: Path, name: str, subject: str, extensions: str) -> None:
    (cwd / f"{name}.ext").write_text(extensions)
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", subject, cwd=cwd)  # fmt: skip
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-out", f"{name}.crt",
             "-extfile", f"{name}.ext", cwd=cwd)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cluster CA, a broker certificate for localhost and a user certificate, as Strimzi
    makes them."""
    cwd = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
             "-out", "ca.crt", "-days", "1", "-subj", "/CN=cluster-ca", cwd=cwd)  # fmt: skip
    _issue(cwd, "broker", "/CN=broker", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _issue(cwd, "user", "/CN=kefu-intake", "extendedKeyUsage=clientAuth\n")
    return cwd


async def _handshake(pki: Path, context: ssl.SSLContext) -> str | None:
    """The common name of the client certificate the server saw, or None."""
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki / "ca.crt")
    server_side.load_cert_chain(pki / "broker.crt", pki / "broker.key")
    server_side.verify_mode = ssl.CERT_REQUIRED
    seen: list[str | None] = []

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        seen.append(dict(pair[0] for pair in peer.get("subject", ())).get("commonName"))
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server_side)
    port = server.sockets[0].getsockname()[1]
    async with server:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="localhost"
        )
        await asyncio.sleep(0.1)
        writer.close()
    return seen[0] if seen else None


async def test_the_client_trusts_the_cluster_ca_and_presents_its_certificate(pki) -> None:
    settings = load_settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki / "ca.crt",
        kafka_ssl_certfile=pki / "user.crt",
        kafka_ssl_keyfile=pki / "user.key",
    )
    assert await _handshake(pki, tls_context(settings)) == "kefu-intake"


async def test_without_the_cluster_ca_the_broker_is_not_trusted(pki) -> None:
    context = tls_context(load_settings(kafka_security_protocol="SSL"))
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(pki, context)


def test_a_file_that_is_no_certificate_is_refused_by_name(pki) -> None:
    settings = load_settings(kafka_security_protocol="SSL", kafka_ssl_cafile=pki / "user.ext")
    with pytest.raises(SettingsError, match="KEFU_KAFKA_SSL_"):
        tls_context(settings)
