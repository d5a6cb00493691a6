"""A MIME mail's pieces as text, for the mail parser (adapters/mail.py): bytes in any charset,
header fields (8-bit ones too), RFC 2047 words, RFC 2231 parameters, the body, and the
attachments with names safe to store under.

The standard library decodes each RFC 2047 word alone and trusts charset labels, so a Chinese
subject whose character a mailer split across two words, or a "gb2312" mail written in GBK,
comes out garbled: the fields are read from their raw values here instead."""

import binascii
import codecs
import re
import unicodedata
import urllib.parse
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses
from mimetypes import MimeTypes
from os.path import splitext

from inscriptis import get_text

# Mailers label text with the smaller charset and write characters only the larger one has
# (GBK's in "gb2312" mail, HKSCS's in "big5", Windows quotes in "iso-8859-1").
SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "euc_kr": "cp949",
    "iso8859-1": "cp1252",
}
ENCODED_WORD = re.compile(
    r"=\?(?P<charset>[^?*\s]+)(?:\*[^?\s]*)?\?(?P<encoding>[QqBb])\?(?P<text>[^?\s]*)\?="
)
PARAMETER = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
# controls, and format characters such as the right-to-left override that disguises an extension
UNSAFE_IN_NAMES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
MAX_NAME_BYTES = 255
MAX_EXTENSION_BYTES = 32
BUILT_IN_TYPES = MimeTypes()  # Python's table, not the host's: one mail gets one name anywhere
AS_RECEIVED = policy.default.clone(refold_source="none")  # a forwarded mail's fields unchanged


@dataclass(frozen=True)
class File:
    """An attachment's bytes, for the adapter to store (kefu's messages carry metadata only)."""

    filename: str  # no path parts, control characters or leading dots; at most 255 bytes
    content_type: str  # a media type without parameters, application/octet-stream if odd
    data: bytes


def decoded_text(data: bytes, charset: str | None) -> str:
    """`data` in its charset (read as the charset's superset); without one, or with one Python
    lacks, or US-ASCII (which 8-bit mail often wrongly claims): UTF-8, else GB18030. Bytes the
    charset has no character for become U+FFFD."""
    declared = _codec(charset)
    if declared not in (None, "ascii"):
        with suppress(LookupError, UnicodeError):  # binary codecs (base64), idna's strictness
            return data.decode(SUPERSETS.get(declared, declared), "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", "replace")


def _codec(charset: str | None) -> str | None:
    try:
        return codecs.lookup((charset or "").strip()).name
    except (LookupError, ValueError):
        return None


def header(part: Message, name: str) -> str | None:
    """The first `name` field of `part`, unfolded, its raw 8-bit bytes (mailers that skip
    RFC 2047) decoded. RFC 2047 words stay: address fields are split before they are read."""
    wanted = name.lower()
    for key, value in part.raw_items():
        if key.lower() == wanted:
            unfolded = "".join(value.splitlines())
            return decoded_text(unfolded.encode("utf-8", "surrogateescape"), None)
    return None


def text_header(part: Message, name: str) -> str | None:
    field = header(part, name)
    return None if field is None else decoded_words(field)


def addresses(part: Message, name: str) -> list[tuple[str, str]]:
    """(display name, address) of each mailbox in the field, the names decoded."""
    field = header(part, name)
    mailboxes = getaddresses([field]) if field is not None else []
    return [(decoded_words(shown).strip(), address.strip()) for shown, address in mailboxes]


def decoded_words(text: str) -> str:
    """`text` with its RFC 2047 encoded words decoded. A run of words in one charset is decoded
    as one (mailers split a character's bytes across words); blanks between words go."""
    runs: list[tuple[str | None, bytes]] = []  # (charset of joined words, or None: plain text)
    position = 0
    for word in ENCODED_WORD.finditer(text):
        between, position = text[position : word.start()], word.end()
        data, charset = _word_bytes(word), word["charset"].lower()
        if data is None:
            runs.append((None, (between + word.group()).encode()))
            continue
        if between and not (between.isspace() and runs and runs[-1][0] is not None):
            runs.append((None, between.encode()))
        if runs and runs[-1][0] == charset:
            runs[-1] = (charset, runs[-1][1] + data)
        else:
            runs.append((charset, data))
    runs.append((None, text[position:].encode()))
    return "".join(decoded_text(data, charset) for charset, data in runs)


def _word_bytes(word: re.Match[str]) -> bytes | None:
    text = word["text"].encode()
    if word["encoding"] in "Qq":
        return binascii.a2b_qp(text, header=True)
    try:
        return binascii.a2b_base64(text + b"=" * (-len(text) % 4))
    except binascii.Error:
        return None


def parameter(field: str | None, name: str) -> str | None:
    """Parameter `name` of a Content-Type or Content-Disposition field: the RFC 2231 one (its
    sections joined, its charset applied) before the plain one, whose RFC 2047 words (what
    Outlook and Chinese mailers write in file names) are decoded."""
    plain, sections = None, {}
    for key, value in PARAMETER.findall(field or ""):
        base, star, section = key.lower().partition("*")
        if base != name:
            continue
        if star:
            sections.setdefault(section, _unquoted(value))
        elif plain is None:
            plain = _unquoted(value)
    extended = _rfc2231(sections)
    if extended is not None:
        return extended
    return None if plain is None else decoded_words(plain)


def _unquoted(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value.strip('"')


def _rfc2231(sections: dict[str, str]) -> str | None:
    """`name*=charset'lang'%E6%8A…`, or `name*0*=…; name*1*=…` (section "" or "0*", "1*" …)."""
    if "" in sections:
        pieces = [(True, sections[""])]
    else:
        numbered = sorted(
            (int(key.rstrip("*")), key.endswith("*"), text)
            for key, text in sections.items()
            if key.rstrip("*").isdecimal()
        )
        pieces = [(encoded, text) for _, encoded, text in numbered]
    if not pieces:
        return None
    charset = None
    if pieces[0][0] and pieces[0][1].count("'") >= 2:
        charset, _language, first = pieces[0][1].split("'", 2)
        pieces[0] = (True, first)
    data = b"".join(
        urllib.parse.unquote_to_bytes(text) if encoded else text.encode()
        for encoded, text in pieces
    )
    return decoded_text(data, charset)


def own_parts(message: Message) -> Iterator[Message]:
    """`message` and the parts in it, depth first, not those of a mail attached to it (a
    forwarded mail's body and files are the attachment's, not this mail's)."""
    waiting = [message]
    while waiting:
        part = waiting.pop()
        yield part
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            waiting.extend(reversed(part.get_payload()))


def body_text(message: EmailMessage) -> str:
    """The first text/plain part that is no attachment, else the first text/html one as text
    (inscriptis keeps tables and lists readable), else ""."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    charset = parameter(header(part, "Content-Type"), "charset")
    text = decoded_text(part.get_payload(decode=True) or b"", charset)
    return (get_text(text) if part.get_content_subtype() == "html" else text).strip()


def is_attachment(part: Message) -> bool:
    """Content-Disposition attachment, a forwarded mail, or an inline non-text part with a
    file name (a picture in the text)."""
    content_type = part.get_content_type()
    if part.get_content_maintype() == "multipart":
        return False
    if content_type == "message/rfc822" or part.get_content_disposition() == "attachment":
        return True
    return part.get_content_maintype() != "text" and _given_filename(part) is not None


def attachment(part: Message) -> File:
    content_type = part.get_content_type()
    if not MEDIA_TYPE.fullmatch(content_type):
        content_type = "application/octet-stream"
    name = safe_filename(_given_filename(part), content_type)
    return File(name, content_type, _content(part))


def _given_filename(part: Message) -> str | None:
    disposition = parameter(header(part, "Content-Disposition"), "filename")
    return disposition or parameter(header(part, "Content-Type"), "name")


def _content(part: Message) -> bytes:
    if part.is_multipart():  # message/rfc822: the forwarded mail
        return b"".join(inner.as_bytes(policy=AS_RECEIVED) for inner in part.get_payload())
    return part.get_payload(decode=True) or b""


def safe_filename(name: str | None, content_type: str) -> str:
    """`name` without path parts, control or format characters and leading dots, at most
    255 bytes of UTF-8 with its extension kept; "attachment" and the type's extension when
    nothing is left."""
    visible = "".join(c for c in name or "" if unicodedata.category(c) not in UNSAFE_IN_NAMES)
    last = re.split(r"[/\\]", visible)[-1].lstrip(". ").rstrip()
    if not last:
        return "attachment" + (BUILT_IN_TYPES.guess_extension(content_type) or "")
    if len(last.encode()) <= MAX_NAME_BYTES:
        return last
    stem, extension = splitext(last)
    if len(extension.encode()) > MAX_EXTENSION_BYTES:
        stem, extension = last, ""
    room = MAX_NAME_BYTES - len(extension.encode())
    return stem.encode()[:room].decode(errors="ignore") + extension
