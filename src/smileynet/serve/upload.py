"""Reading an image upload from a request body, in memory, with the size limit enforced as it arrives.

Starlette's own form parser spools large files to a temporary file and only then lets the
handler see their size; here the body is read chunk by chunk and the request is refused (413)
as soon as the image part passes the limit, or answered 408 when the whole body has not arrived
within the body deadline (a client dribbling bytes would otherwise hold a request open). Nothing
of the request (name, file name, bytes) touches the disk.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

FORM_OVERHEAD = 64 * 1024  # headers of the parts and the small option fields
MAX_FIELD = 1024  # bytes of an option field (top_k, embedding)
MAX_PARTS = 8


class UploadError(Exception):
    """A request the server refuses; `status` is the HTTP status, the message the reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    image: bytes
    options: dict[str, str] = field(default_factory=dict)


def _too_large(limit: int) -> UploadError:
    return UploadError(413, f"upload larger than the limit of {limit / 1e6:g} MB")


async def read_upload(request: Request, limit: int, body_timeout: float = 30.0) -> Upload:
    """The image and option fields of a multipart (`file`) or JSON (`image_base64`) request,
    read within `body_timeout` seconds."""
    try:
        async with asyncio.timeout(body_timeout):
            return await _read_upload(request, limit)
    except TimeoutError:
        raise UploadError(408, f"request body not received within {body_timeout:g} s") from None


async def _read_upload(request: Request, limit: int) -> Upload:
    media_type, params = parse_options_header(request.headers.get("content-type", ""))
    if media_type == b"multipart/form-data":
        body_limit = limit + FORM_OVERHEAD
    elif media_type == b"application/json":
        body_limit = limit * 4 // 3 + FORM_OVERHEAD  # base64 is a third larger than the image
    else:
        raise UploadError(415, "send the image as multipart/form-data (field 'file') or JSON {\"image_base64\": ...}")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit:
        raise _too_large(limit)
    if media_type == b"application/json":
        return _parse_json(await _read_body(request, body_limit, limit), limit)
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadError(400, "multipart request without a boundary")
    return await _parse_multipart(request, boundary, body_limit, limit)


async def _read_body(request: Request, body_limit: int, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > body_limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(body: bytes, limit: int) -> Upload:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise UploadError(400, "body is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("image_base64"), str):
        raise UploadError(400, "JSON body needs a string field 'image_base64'")
    text = data["image_base64"]
    if text.startswith("data:") and "," in text:  # a data URI, as browsers produce
        text = text.split(",", 1)[1]
    try:
        image = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError(400, "image_base64 is not valid base64") from None
    if len(image) > limit:
        raise _too_large(limit)
    options = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in data.items() if k in ("top_k", "embedding")}
    return Upload(image, options)


async def _parse_multipart(request: Request, boundary: bytes, body_limit: int, limit: int) -> Upload:
    parts: list[dict] = []
    header: list[bytes] = [b"", b""]

    def on_part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise UploadError(400, f"too many form fields (at most {MAX_PARTS})")
        parts.append({"headers": {}, "name": "", "data": bytearray()})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        parts[-1]["headers"][header[0].lower()] = header[1]
        header[0], header[1] = b"", b""

    def on_headers_finished() -> None:
        _, params = parse_options_header(parts[-1]["headers"].get(b"content-disposition", b""))
        parts[-1]["name"] = params.get(b"name", b"").decode("utf-8", "replace")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        part["data"] += data[start:end]
        name = part["name"]
        if name == "file" and len(part["data"]) > limit:
            raise _too_large(limit)
        if name != "file" and len(part["data"]) > MAX_FIELD:
            raise UploadError(400, f"form field {name!r} is too long")

    callbacks = {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
    }
    parser = MultipartParser(boundary, callbacks)
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > body_limit:
                raise _too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as err:
        raise UploadError(400, f"malformed multipart body ({err})") from None
    fields = {p["name"]: bytes(p["data"]) for p in parts}
    if "file" not in fields:
        raise UploadError(400, "multipart body has no field 'file'")
    try:
        options = {k: v.decode("utf-8") for k, v in fields.items() if k in ("top_k", "embedding")}
    except UnicodeDecodeError:
        raise UploadError(400, "form fields must be UTF-8 text") from None
    return Upload(fields["file"], options)

