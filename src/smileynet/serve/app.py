"""The FastAPI app: REST API, the web page and an offline API reference.

Endpoints: `POST /v1/predict`, `POST /v1/predict/batch`, `GET /v1/model`, `GET /v1/glyphs/{index}.png`,
`GET /healthz`, `GET /openapi.json`, `GET /docs` (Swagger UI) and `GET /redoc` (ReDoc), and the page
at `/`. FastAPI's own docs pages pull Swagger UI and ReDoc from a CDN, which an offline machine
cannot reach: here they come from the copies the `fastapi-offline` package ships. Everything a
page loads comes from this server (a Content-Security-Policy says so).
"""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import asynccontextmanager
from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect

from smileynet.images import BadImage
from smileynet.serve.batcher import MicroBatcher
from smileynet.serve.predictor import Predictor
from smileynet.serve.upload import MAX_FILES, UploadError, read_upload

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
# Swagger UI and ReDoc render with inline styles, and ReDoc starts a worker from a blob: URL.
DOCS_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
STATIC = {"page.js": "text/javascript", "page.css": "text/css", "swagger-init.js": "text/javascript"}
DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
}
ENV_CONFIG = "SMILEYNET_SERVE_CONFIG"

PREDICT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "the image (JPEG, PNG, GIF, WebP, ...)",
                    },
                    "top_k": {"type": "integer", "default": 5},
                    "embedding": {"type": "boolean", "default": False},
                },
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["image_base64"],
                "properties": {
                    "image_base64": {
                        "type": "string",
                        "description": "the image file, base64 (a data: URI is accepted)",
                    },
                    "top_k": {"type": "integer", "default": 5},
                    "embedding": {"type": "boolean", "default": False},
                },
            }
        },
    },
}

BATCH_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "maxItems": MAX_FILES,
                        "description": "the images, one `file` field each",
                    },
                    "top_k": {"type": "integer", "default": 5},
                    "embedding": {"type": "boolean", "default": False},
                },
            }
        }
    },
}

PREDICT_QUERY = [
    {
        "name": "top_k",
        "in": "query",
        "schema": {"type": "integer", "default": 5},
        "description": "how many emojis to list",
    },
    {
        "name": "embedding",
        "in": "query",
        "schema": {"type": "boolean", "default": False},
        "description": "also return the full embedding (logits) and every emoji's probability",
    },
]


class Emoji(BaseModel):
    index: int
    emoji: str
    name: str


class TopEmoji(Emoji):
    probability: float


class Sentiment(BaseModel):
    score: float
    label: str


class Fingerprint(BaseModel):
    classes: list[str]
    values: list[float]


class Prediction(BaseModel):
    top: list[TopEmoji]
    sentiment: dict[str, Sentiment]
    fingerprint: Fingerprint | None = None
    embedding: list[float] | None = None
    probabilities: list[float] | None = None
    image: dict[str, int]


class FilePrediction(Prediction):
    filename: str


class BatchPrediction(BaseModel):
    results: list[FilePrediction]


class VocabularyEntry(Emoji):
    subgroup: str
    sentiment: float


class ModelInfo(BaseModel):
    arch: str
    num_classes: int
    image_size: int
    format_version: int
    version: str
    vocabulary: list[VocabularyEntry]
    lexicon_fallback: list[str]
    fingerprint_classes: list[str] | None = None
    glyphs: bool
    max_upload_bytes: int


def create_app(
    predictor: Predictor,
    max_upload_mb: float = 10.0,
    max_batch: int = 32,
    max_wait_ms: float = 5.0,
    body_timeout: float = 30.0,
    allowed_hosts: list[str] | tuple[str, ...] | None = None,
) -> FastAPI:
    """The app around a loaded model. Use it inside a lifespan (uvicorn, or `with TestClient(app)`):
    the micro-batching loop starts and stops with it. An upload must arrive within `body_timeout`
    seconds (else 408); with `allowed_hosts`, a request whose Host header is not one of them is
    refused (400), which stops DNS-rebinding pages from reaching a server on 127.0.0.1."""
    limit = int(max_upload_mb * 1_000_000)
    batcher = MicroBatcher(predictor.forward, max_batch=max_batch, max_wait_ms=max_wait_ms)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="SmileyNet",
        version=predictor.info()["version"],
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Emoji embedding for visual sentiment analysis: top emojis, zero-shot sentiment, "
        "emotional fingerprint. Send an image as multipart field `file` or JSON `image_base64`.",
    )
    app.state.predictor, app.state.batcher = predictor, batcher
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path in ("/docs", "/redoc"):
            response.headers["content-security-policy"] = DOCS_CSP
        return response

    @app.exception_handler(UploadError)
    async def refused(request: Request, err: UploadError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(err)},
            status_code=err.status,
            headers={"connection": "close"} if err.status in (408, 413) else None,
        )

    @app.post(
        "/v1/predict",
        response_model=Prediction,
        response_model_exclude_none=True,
        openapi_extra={"requestBody": PREDICT_BODY, "parameters": PREDICT_QUERY},
        responses={
            400: {"description": "not a usable image, or a malformed request"},
            408: {"description": "upload not received in time"},
            413: {"description": "upload over the size limit"},
            415: {"description": "unsupported body type"},
        },
    )
    async def predict(request: Request) -> dict:
        """Top-k emojis with names and probabilities, zero-shot sentiment (binary and continuous),
        the emotional fingerprint when the server has one, and the full embedding with `embedding=true`.
        Options come from the query string or the body (the body wins)."""
        (result,) = await answers(request, max_files=1)
        return result

    @app.post(
        "/v1/predict/batch",
        response_model=BatchPrediction,
        response_model_exclude_none=True,
        openapi_extra={"requestBody": BATCH_BODY, "parameters": PREDICT_QUERY},
        responses={
            400: {"description": "an image that is not usable (named), or a malformed request"},
            408: {"description": "upload not received in time"},
            413: {"description": "an image over the size limit"},
        },
    )
    async def predict_batch(request: Request) -> dict:
        """The answer of `/v1/predict` for each `file` field (up to 8), in the order sent, with its file name."""
        return {"results": await answers(request, max_files=MAX_FILES)}

    async def answers(request: Request, max_files: int) -> list[dict]:
        try:
            upload = await read_upload(request, limit, max_files, body_timeout)
        except ClientDisconnect:
            raise UploadError(400, "client disconnected during the upload") from None
        options = {**request.query_params, **upload.options}
        top_k = _int_option(options.get("top_k", "5"), "top_k")
        embedding = _bool_option(options.get("embedding", "false"), "embedding")
        decoded = []
        for number, (image, filename) in enumerate(zip(upload.images, upload.filenames), 1):
            which = "" if max_files == 1 else f" {number} ({filename[:60]!r})"
            try:
                decoded.append(await run_in_threadpool(predictor.preprocess, image))
            except BadImage as err:
                raise UploadError(400, f"bad image{which}: {err}") from None
            except Exception as err:  # whatever else a hostile file provokes in a decoder is still bad input
                raise UploadError(400, f"bad image{which}: cannot decode ({type(err).__name__})") from None
        logits = await asyncio.gather(*(batcher.submit(tensor) for tensor, _ in decoded))
        return [
            predictor.answer(row, top_k=top_k, embedding=embedding)
            | {"image": {"width": w, "height": h}, "filename": name}
            for row, (_, (w, h)), name in zip(logits, decoded, upload.filenames)
        ]

    @app.get("/v1/model", response_model=ModelInfo)
    def model_info() -> dict:
        """The model's architecture, input size, versions and vocabulary (index, emoji, name,
        Unicode subgroup, lexicon sentiment): the meaning of each embedding dimension."""
        return predictor.info() | {"max_upload_bytes": limit}

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 when the model is loaded and the batching loop runs, else 503."""
        ok = batcher.running
        return JSONResponse({"status": "ok" if ok else "starting"}, status_code=200 if ok else 503)

    @app.get("/v1/glyphs/{index}.png", responses={200: {"content": {"image/png": {}}}, 404: {}})
    def glyph(index: int) -> Response:
        """The colour glyph of vocabulary entry `index` (404 without an emoji font: show the name)."""
        image = predictor.glyph_png(index)
        if image is None:
            return JSONResponse({"detail": "no glyph for this index"}, status_code=404)
        return Response(image, media_type="image/png", headers={"cache-control": "public, max-age=86400"})

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        return Response(_asset("page.html"), media_type="text/html; charset=utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        image = predictor.glyph_png(0)
        return Response(image, media_type="image/png") if image else Response(status_code=204)

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return Response(_asset("swagger.html"), media_type="text/html; charset=utf-8")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> Response:
        return Response(_asset("redoc.html"), media_type="text/html; charset=utf-8")

    @app.get("/static/docs/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        if name not in DOCS_ASSETS:  # a fixed list: the name never becomes a path
            return JSONResponse({"detail": "not found"}, status_code=404)
        return Response(
            _docs_asset(name),
            media_type=DOCS_ASSETS[name] + "; charset=utf-8",
            headers={"cache-control": "public, max-age=86400"},
        )

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC:  # a fixed list: the name never becomes a path
            return JSONResponse({"detail": "not found"}, status_code=404)
        return Response(_asset(name), media_type=STATIC[name] + "; charset=utf-8")

    return app


def _int_option(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise UploadError(400, f"{name} must be a whole number, not {value[:20]!r}") from None
    if number < 1:
        raise UploadError(400, f"{name} must be at least 1")
    return number


def _bool_option(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise UploadError(400, f"{name} must be true or false, not {value[:20]!r}")


def _asset(name: str) -> bytes:
    return resources.files("smileynet.serve").joinpath("static", name).read_bytes()


@cache
def _docs_asset(name: str) -> bytes:
    """Swagger UI's and ReDoc's files as the maintained `fastapi-offline` package bundles them."""
    return resources.files("fastapi_offline").joinpath("static", name).read_bytes()


def app_from_env() -> FastAPI:
    """App factory for uvicorn's worker processes (`--processes N`): settings come from the environment."""
    settings = json.loads(os.environ[ENV_CONFIG])
    fingerprints = settings["fingerprints"]
    predictor = Predictor.from_dir(
        Path(settings["model"]),
        Path(fingerprints) if fingerprints else None,
        settings["max_pixels"],
        settings["backend"],
        settings["device"],
    )
    return create_app(
        predictor,
        settings["max_upload_mb"],
        settings["max_batch"],
        settings["max_wait_ms"],
        settings["body_timeout"],
        settings["allowed_hosts"],
    )
