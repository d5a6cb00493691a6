"""Where the mail adapters keep attachment bytes (contract 10): KEFU_ATTACHMENTS_URL names a
directory (a path or file:///…) or an S3-compatible bucket (s3://bucket/prefix). Each mail's
files go under the first 32 hex of sha256(message_id), so storing the same mail twice gives
the same place and the same bytes."""

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aioboto3

from kefu.shared.settings import Settings, SettingsError

PRIVATE_DIR = 0o700  # attachments are customer data; mkstemp makes their files 0600
NOT_A_FILE_NAME = ("", ".", "..")


class AttachmentStore(Protocol):
    async def put(self, message_id: str, filename: str, content_type: str, data: bytes) -> str:
        """Keep the bytes; return the url for the message's attachment metadata."""
        ...


def attachment_store(settings: Settings) -> AttachmentStore | None:
    """The store KEFU_ATTACHMENTS_URL names; None when it is unset (the bytes are dropped)."""
    url = settings.attachments_url
    if not url:
        return None
    where = urlsplit(url)
    match where.scheme, where.netloc:
        case "", _:
            return DirectoryStore(Path(url))
        case "file", "" | "localhost" if where.path:
            return DirectoryStore(Path(unquote(where.path)))
        case "file", _:
            problem = "a file URL names a directory of this machine: file:///path"
        case "s3", "":
            problem = "an S3 URL needs a bucket: s3://bucket/prefix"
        case "s3", bucket:
            return S3Store(bucket, where.path.strip("/"))
        case _:
            problem = f"{where.scheme}:// is not a store: give a directory or s3://bucket/prefix"
    raise SettingsError(f"KEFU_ATTACHMENTS_URL: {problem}")


class DirectoryStore:
    """Files at <dir>/<2 hex>/<32 hex>/<filename>: one folder a mail, spread over 256."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()  # Path.as_uri needs an absolute path

    async def put(self, message_id: str, filename: str, content_type: str, data: bytes) -> str:
        path = await asyncio.to_thread(
            self._write, mail_digest(message_id), plain_file_name(filename), data
        )
        return path.as_uri()

    def _write(self, digest: str, filename: str, data: bytes) -> Path:
        folder = self.root
        folder.mkdir(PRIVATE_DIR, parents=True, exist_ok=True)
        for name in (digest[:2], digest):
            folder = folder / name
            folder.mkdir(PRIVATE_DIR, exist_ok=True)
        write_atomically(folder / filename, data)
        return folder / filename


class S3Store:
    """Objects at <prefix>/<32 hex>/<filename> in a bucket; the endpoint and credentials come
    from the AWS_* environment as boto3 reads it, so MinIO, Ceph and R2 serve as well as S3."""

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix
        # boto3 reads only AWS_DEFAULT_REGION; AWS_REGION is the name the other AWS SDKs read
        self.session = aioboto3.Session(region_name=os.environ.get("AWS_REGION"))

    async def put(self, message_id: str, filename: str, content_type: str, data: bytes) -> str:
        names = (self.prefix, mail_digest(message_id), plain_file_name(filename))
        key = "/".join(name for name in names if name)
        async with self.session.client("s3") as s3:
            await s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return f"s3://{self.bucket}/{key}"


def mail_digest(message_id: str) -> str:
    return hashlib.sha256(message_id.encode()).hexdigest()[:32]


def plain_file_name(filename: str) -> str:
    """The caller sanitised it already; a name that could leave the mail's folder is refused
    all the same."""
    if filename in NOT_A_FILE_NAME or "/" in filename or "\\" in filename:
        raise ValueError(f"not a plain file name: {filename!r}")
    return filename


def write_atomically(path: Path, data: bytes) -> None:
    """A temporary file beside it, synced, then renamed over it: a crash leaves the old file
    or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
