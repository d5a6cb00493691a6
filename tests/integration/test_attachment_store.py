"""Attachment stores (contract 10): KEFU_ATTACHMENTS_URL chooses one; the directory store on a
real directory (names in any script, idempotence, 0700/0600, no escape from the mail's
folder, no half file); the S3 store against moto's S3 HTTP API on a free port, through the
real client."""

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aioboto3
import pytest
from moto.server import ThreadedMotoServer

from kefu.adapters.attachments import DirectoryStore, S3Store, attachment_store
from kefu.embedded import free_port
from kefu.shared.settings import Settings, SettingsError

MESSAGE_ID = "<CAF=2026.invoice@mail.example.com>"
DIGEST = hashlib.sha256(MESSAGE_ID.encode()).hexdigest()
FILENAME = "发票 2026年12月.pdf"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64
BUCKET = "kefu-attachments"


def store_of(url: str | None):
    return attachment_store(Settings(attachments_url=url))


def test_unset_means_no_store():
    assert store_of(None) is None


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("/srv/kefu/attachments", Path("/srv/kefu/attachments")),
        ("file:///srv/kefu/%E9%99%84%E4%BB%B6%20x", Path("/srv/kefu/附件 x")),
        ("file://localhost/srv/kefu", Path("/srv/kefu")),
        ("attachments", Path.cwd() / "attachments"),
    ],
)
def test_a_path_or_file_url_is_a_directory_store(url, root):
    store = store_of(url)
    assert isinstance(store, DirectoryStore)
    assert store.root == root


@pytest.mark.parametrize(
    ("url", "prefix"), [("s3://bucket/mail/in/", "mail/in"), ("s3://bucket", "")]
)
def test_an_s3_url_is_an_s3_store(url, prefix):
    store = store_of(url)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == ("bucket", prefix)


@pytest.mark.parametrize("url", ["ftp://x", "s3://", "s3:///prefix", "file://host/srv"])
def test_other_urls_are_refused_naming_the_variable(url):
    with pytest.raises(SettingsError, match="KEFU_ATTACHMENTS_URL"):
        store_of(url)


def path_of(url: str) -> Path:
    assert url.startswith("file:///")
    return Path(unquote(urlsplit(url).path))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_directory_store_keeps_private_files_under_the_mail_digest(tmp_path):
    root = tmp_path / "attachments"
    url = await DirectoryStore(root).put(MESSAGE_ID, FILENAME, "application/pdf", PDF)
    path = root / DIGEST[:2] / DIGEST[:32] / FILENAME
    assert url == path.as_uri()
    assert " " not in url and "发" not in url  # percent-encoded
    assert path_of(url).read_bytes() == PDF
    assert mode_of(path) == 0o600
    assert [mode_of(folder) for folder in (root, path.parent.parent, path.parent)] == [0o700] * 3


async def test_storing_the_same_mail_twice_gives_the_same_file(tmp_path):
    store = DirectoryStore(tmp_path)
    first = await store.put(MESSAGE_ID, FILENAME, "application/pdf", PDF)
    again = await store.put(MESSAGE_ID, FILENAME, "application/pdf", PDF)
    assert again == first
    assert path_of(again).read_bytes() == PDF
    assert os.listdir(path_of(again).parent) == [FILENAME]  # no temporary file left


@pytest.mark.parametrize("filename", ["../x", "a/b", "a\\b", ".", "..", ""])
async def test_a_name_that_could_leave_the_mail_folder_is_refused(tmp_path, filename):
    with pytest.raises(ValueError, match="not a plain file name"):
        await DirectoryStore(tmp_path / "attachments").put(MESSAGE_ID, filename, "text/plain", b"x")
    assert not (tmp_path / "attachments").exists()


async def test_a_failed_write_leaves_neither_half_a_file_nor_its_temporary(tmp_path, monkeypatch):
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        await DirectoryStore(tmp_path).put(MESSAGE_ID, FILENAME, "application/pdf", PDF)
    assert os.listdir(tmp_path / DIGEST[:2] / DIGEST[:32]) == []


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_environment(s3_endpoint, monkeypatch):
    """The standard AWS variables, as an operator would set them for MinIO or R2."""
    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "kefu-test",
        "AWS_SECRET_ACCESS_KEY": "kefu-test-secret",
        "AWS_REGION": "eu-central-1",
    }.items():
        monkeypatch.setenv(name, value)


async def test_the_s3_store_puts_the_object_with_its_content_type(s3_environment):
    async with aioboto3.Session(region_name="eu-central-1").client("s3") as s3:
        await s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        url = await store_of(f"s3://{BUCKET}/mail").put(
            MESSAGE_ID, FILENAME, "application/pdf", PDF
        )
        key = f"mail/{DIGEST[:32]}/{FILENAME}"
        assert url == f"s3://{BUCKET}/{key}"
        stored = await s3.get_object(Bucket=BUCKET, Key=key)
        assert stored["ContentType"] == "application/pdf"
        assert await stored["Body"].read() == PDF
