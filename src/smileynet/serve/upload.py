"""Reading image uploads from a request body, in memory, with the size limit enforced as it arrives.

Starlette's own form parser spools large files to a temporary file and only then lets the
handler see their size; here the body is read chunk by chunk and the request is refused (413)
as soon as the images pass the limit, or answered 408 when the whole body has not arrived
within the body deadline (a client dribbling bytes would otherwise hold a request open). Nothing
of the request (name, file name, bytes) touches the disk. A refused body is still read, up to a bound, before the answer goes out: clients such
as Python's urllib.request send the whole body before they read anything, and a server that
closes with unread bytes makes their kernel see a reset instead of the 413.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FORM_OVERHEAD = 64 * 1024  # headers of the parts and the small option fields
MAX_FIELD = 1024  # bytes of an option field (top_k, embedding)
MAX_FILES = 8  # images in one batch request
OPTIONS = ("top_k", "embedding")
DRAIN_BYTES = 64 * 1024 * 1024  # what is read of a refused body at most, so that its sender hears the 413
DRAIN_SECONDS = 10.0


class UploadError(Exception):
    """A request the server refuses; `status` is the HTTP status, the message the reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """The images of a request (with their file names, "" when none) and its option fields."""

    images: list[bytes]
    filenames: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> bytes:
        """The image of a one-image request."""
        return self.images[0]


def _too_large(limit: int) -> UploadError:
    return UploadError(413, f"upload larger than the limit of {limit / 1e6:g} MB")


class Body:
    """The request body as it arrives, remembering whether all of it has been read."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.done:
            message = await self.request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            self.done = not message.get("more_body", False)
            yield message.get("body", b"")

    async def drain(self) -> None:
        """Read and drop the rest of the body, at most DRAIN_BYTES within DRAIN_SECONDS."""
        declared = self.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > DRAIN_BYTES:
            return  # more than is worth reading: the answer goes out with `Connection: close` unread

        async def read() -> None:
            left = DRAIN_BYTES
            async for chunk in self.chunks():
                left -= len(chunk)
                if left <= 0:
                    return

        with contextlib.suppress(asyncio.TimeoutError, ClientDisconnect):
            await asyncio.wait_for(read(), DRAIN_SECONDS)


async def read_upload(request: Request, limit: int, max_files: int = 1, body_timeout: float = 30.0) -> Upload:
    """The images and option fields of a multipart (field `file`, up to `max_files` of them) or
    JSON (`image_base64`) request, read within `body_timeout` seconds; `limit` bounds the bytes
    of each image."""
    body = Body(request)
    try:
        async with asyncio.timeout(body_timeout):
            return await _read_upload(request, body, limit, max_files)
    except TimeoutError:
        raise UploadError(408, f"request body not received within {body_timeout:g} s") from None
    except UploadError as err:
        if err.status == 413 and not body.done:
            await body.drain()
        raise


async def _read_upload(request: Request, body: Body, limit: int, max_files: int) -> Upload:
    media_type, params = parse_options_header(request.headers.get("content-type", ""))
    if media_type == b"multipart/form-data":
        body_limit = (limit + FORM_OVERHEAD) * max_files
    elif media_type == b"application/json" and max_files == 1:
        body_limit = limit * 4 // 3 + FORM_OVERHEAD  # base64 is a third larger than the image
    else:
        raise UploadError(
            415,
            "send the image as multipart/form-data (field 'file') or JSON {\"image_base64\": ...}"
            if max_files == 1
            else "send the images as multipart/form-data, one field 'file' per image",
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_limit:
        raise _too_large(limit)
    if media_type == b"application/json":
        return _parse_json(await _read_body(body, body_limit, limit), limit)
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadError(400, "multipart request without a boundary")
    return await _parse_multipart(body, boundary, body_limit, limit, max_files)


async def _read_body(body: Body, body_limit: int, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in body.chunks():
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
    options = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in data.items() if k in OPTIONS}
    return Upload([image], [""], options)


async def _parse_multipart(body: Body, boundary: bytes, body_limit: int, limit: int, max_files: int) -> Upload:
    parts: list[dict] = []
    header: list[bytes] = [b"", b""]

    def on_part_begin() -> None:
        if len(parts) >= max_files + len(OPTIONS):
            raise UploadError(
                400, f"too many form fields (at most {max_files} 'file' and the options {', '.join(OPTIONS)})"
            )
        parts.append({"headers": {}, "name": "", "filename": "", "data": bytearray()})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        parts[-1]["headers"][header[0].lower()] = header[1]
        header[0], header[1] = b"", b""

    def on_headers_finished() -> None:
        part = parts[-1]
        _, params = parse_options_header(part["headers"].get(b"content-disposition", b""))
        part["name"] = name = params.get(b"name", b"").decode("utf-8", "replace")
        part["filename"] = params.get(b"filename", b"").decode("utf-8", "replace")
        if name != "file" and name not in OPTIONS:
            raise UploadError(
                400,
                f"unknown form field {name[:40]!r}: send the image in the field 'file' (options: {', '.join(OPTIONS)})",
            )
        if name == "file" and sum(p["name"] == "file" for p in parts) > max_files:
            raise UploadError(
                400,
                "one image per request here: send several 'file' fields to POST /v1/predict/batch"
                if max_files == 1
                else f"at most {max_files} 'file' fields per request",
            )

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        part["data"] += data[start:end]
        if part["name"] == "file" and len(part["data"]) > limit:
            raise _too_large(limit)
        if part["name"] != "file" and len(part["data"]) > MAX_FIELD:
            raise UploadError(400, f"form field {part['name']!r} is too long")

    callbacks: MultipartCallbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
    }
    parser = MultipartParser(boundary, callbacks)
    size = 0
    try:
        async for chunk in body.chunks():
            size += len(chunk)
            if size > body_limit:
                raise _too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as err:
        raise UploadError(400, f"malformed multipart body ({err})") from None
    files = [p for p in parts if p["name"] == "file"]
    if not files:
        raise UploadError(400, "multipart body has no field 'file'")
    try:
        options = {p["name"]: bytes(p["data"]).decode("utf-8") for p in parts if p["name"] in OPTIONS}
    except UnicodeDecodeError:
        raise UploadError(400, "form fields must be UTF-8 text") from None
    return Upload([bytes(p["data"]) for p in files], [p["filename"] for p in files], options)
