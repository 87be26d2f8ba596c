"""The FastAPI app: REST API, the web page and an offline API reference.

Endpoints: `POST /v1/predict`, `POST /v1/predict/batch`, `GET /v1/model`, `GET /v1/glyphs/{index}.png`,
`GET /healthz`, `GET /openapi.json`, `GET /docs` (Swagger UI) and `GET /redoc` (ReDoc), and the page
at `/`. The routes are declared once, on `router`; `create_app` puts a loaded model, its settings,
the micro-batcher and the decode budget on `app.state`, where the routes' dependencies find them.
Request bodies are read by the bounded parser of `serve.upload` (a dependency), never by
Starlette's spooling form parser; the OpenAPI schema of requests and answers comes from the
pydantic models below. FastAPI's own docs pages pull Swagger UI and ReDoc from a CDN, which an
offline machine cannot reach: here they come from the copies the `fastapi-offline` package ships.
Everything a page loads comes from this server (a Content-Security-Policy says so).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import torch
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect

from smileynet.images import BadImage
from smileynet.model.config import MAX_CLASSES
from smileynet.serve.batcher import MicroBatcher
from smileynet.serve.budget import DECODE_BUDGET_PIXELS, PixelBudget, return_freed_memory
from smileynet.serve.predictor import Predictor
from smileynet.serve.upload import MAX_FILES, Upload, UploadError, read_upload

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
DEFAULT_TOP_K = 5


# -- requests --


class PredictOptions(BaseModel):
    """Options of a prediction, from the query string or the body (the body's wins)."""

    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=MAX_CLASSES, description="how many emojis to list")
    embedding: bool = Field(False, description="also return the full embedding (logits) and every emoji's probability")


class PredictForm(PredictOptions):
    """`multipart/form-data` body of `POST /v1/predict`."""

    file: bytes = Field(description="the image (JPEG, PNG, GIF, WebP, ...)")


class PredictJSON(PredictOptions):
    """`application/json` body of `POST /v1/predict`."""

    image_base64: str = Field(description="the image file, base64 (a data: URI is accepted)")


class BatchForm(PredictOptions):
    """`multipart/form-data` body of `POST /v1/predict/batch`."""

    file: list[bytes] = Field(min_length=1, max_length=MAX_FILES, description="the images, one `file` field each")


def request_body(models: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route whose body the upload parser reads, from the pydantic
    model of each media type it takes."""
    content = {media_type: {"schema": model.model_json_schema()} for media_type, model in models.items()}
    return {"requestBody": {"required": True, "content": content}}


# -- answers --


class Emoji(BaseModel):
    index: int = Field(description="position in the vocabulary: the embedding dimension")
    emoji: str
    name: str = Field(description="Unicode name")


class TopEmoji(Emoji):
    probability: float = Field(description="sigmoid of the logit (the model is multi-label)")


class Sentiment(BaseModel):
    score: float = Field(description="probability-weighted lexicon sentiment")
    label: Literal["positive", "negative"]


class ZeroShotSentiment(BaseModel):
    """The paper's zero-shot sentiment (sec. 4.2): lexicon weights as signs, or as values."""

    binary: Sentiment
    continuous: Sentiment


class Fingerprint(BaseModel):
    """The image's emotional profile: its probabilities weighted by each emoji's fingerprint."""

    classes: list[str]
    values: list[float]


class ImageSize(BaseModel):
    width: int
    height: int


class Prediction(BaseModel):
    top: list[TopEmoji] = Field(description="the top_k emojis, most probable first")
    sentiment: ZeroShotSentiment
    fingerprint: Fingerprint | None = Field(None, description="with --fingerprints only")
    embedding: list[float] | None = Field(None, description="the logits, one per vocabulary entry (embedding=true)")
    probabilities: list[float] | None = Field(None, description="their sigmoids (embedding=true)")
    image: ImageSize = Field(description="the uploaded image's size")


class FilePrediction(Prediction):
    filename: str


class BatchPrediction(BaseModel):
    results: list[FilePrediction] = Field(description="one answer per `file` field, in the order sent")


class VocabularyEntry(Emoji):
    subgroup: str = Field(description="Unicode subgroup")
    sentiment: float = Field(description="lexicon sentiment, -1 to 1")


class ModelInfo(BaseModel):
    arch: str
    num_classes: int
    image_size: int
    format_version: int
    version: str = Field(description="smileynet's version")
    vocabulary: list[VocabularyEntry]
    lexicon_fallback: list[str] = Field(description="emojis whose sentiment is their subgroup's mean")
    fingerprint_classes: list[str] | None = None
    glyphs: bool = Field(description="whether /v1/glyphs/{index}.png draws glyphs (an emoji font is installed)")
    max_upload_bytes: int
    demo: bool = Field(description="a model trained by `smileynet demo`")
    note: str | None = Field(None, description="what a client should say about the model (demo models)")


class Health(BaseModel):
    status: Literal["ok", "starting"]


class ErrorDetail(BaseModel):
    detail: str = Field(description="the reason, one line")


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDetail, "description": "not a usable image, or a malformed request"},
    408: {"model": ErrorDetail, "description": "upload not received in time"},
    413: {"model": ErrorDetail, "description": "upload over the size limit"},
    415: {"model": ErrorDetail, "description": "unsupported body type"},
}


# -- what the routes depend on --


@dataclass(frozen=True)
class ServeSettings:
    """The limits a server enforces on every request."""

    max_upload_bytes: int
    body_timeout: float


def get_predictor(request: Request) -> Predictor:
    return request.app.state.predictor


def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


def get_batcher(request: Request) -> MicroBatcher:
    return request.app.state.batcher


def get_decode_budget(request: Request) -> PixelBudget:
    return request.app.state.decode_budget


PredictorDep = Annotated[Predictor, Depends(get_predictor)]
SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
BatcherDep = Annotated[MicroBatcher, Depends(get_batcher)]
BudgetDep = Annotated[PixelBudget, Depends(get_decode_budget)]


class UploadReader:
    """Dependency: the request's images and option fields, read by the bounded parser."""

    def __init__(self, max_files: int) -> None:
        self.max_files = max_files

    async def __call__(self, request: Request, settings: SettingsDep) -> Upload:
        try:
            return await read_upload(request, settings.max_upload_bytes, self.max_files, settings.body_timeout)
        except ClientDisconnect:
            raise UploadError(400, "client disconnected during the upload") from None


TopK = Annotated[
    int,
    Query(ge=1, le=MAX_CLASSES, description="how many emojis to list (a body field of the same name wins)"),
]
WantEmbedding = Annotated[
    bool,
    Query(description="also return the full embedding (logits) and every emoji's probability (the body's wins)"),
]


def options_of(upload: Upload, top_k: int, embedding: bool) -> PredictOptions:
    """The query's options overridden by the body's (an empty form field counts as not sent)."""
    given = {name: value for name, value in upload.options.items() if value != ""}
    try:
        return PredictOptions.model_validate({"top_k": top_k, "embedding": embedding} | given)
    except ValidationError as err:
        raise UploadError(400, validation_message(err.errors())) from None


# -- routes --

router = APIRouter()


@router.post(
    "/v1/predict",
    response_model=Prediction,
    response_model_exclude_none=True,
    responses=REFUSALS,
    openapi_extra=request_body({"multipart/form-data": PredictForm, "application/json": PredictJSON}),
)
async def predict(
    upload: Annotated[Upload, Depends(UploadReader(1))],
    predictor: PredictorDep,
    batcher: BatcherDep,
    budget: BudgetDep,
    top_k: TopK = DEFAULT_TOP_K,
    embedding: WantEmbedding = False,
) -> dict[str, Any]:
    """Top-k emojis with names and probabilities, zero-shot sentiment (binary and continuous),
    the emotional fingerprint when the server has one, and the full embedding with `embedding=true`.
    Send the image as multipart field `file` or as JSON `image_base64`. Options come from the
    query string or the body (the body wins)."""
    options = options_of(upload, top_k, embedding)
    (result,) = await answers(upload, options, predictor, batcher, budget, single=True)
    return result


@router.post(
    "/v1/predict/batch",
    response_model=BatchPrediction,
    response_model_exclude_none=True,
    responses=REFUSALS,
    openapi_extra=request_body({"multipart/form-data": BatchForm}),
)
async def predict_batch(
    upload: Annotated[Upload, Depends(UploadReader(MAX_FILES))],
    predictor: PredictorDep,
    batcher: BatcherDep,
    budget: BudgetDep,
    top_k: TopK = DEFAULT_TOP_K,
    embedding: WantEmbedding = False,
) -> dict[str, Any]:
    """The answer of `/v1/predict` for each `file` field (up to 8), in the order sent, with its file name."""
    options = options_of(upload, top_k, embedding)
    return {"results": await answers(upload, options, predictor, batcher, budget, single=False)}


async def answers(
    upload: Upload,
    options: PredictOptions,
    predictor: Predictor,
    batcher: MicroBatcher,
    budget: PixelBudget,
    single: bool,
) -> list[dict[str, Any]]:
    """Decode each image within the decode budget, then run them through the shared forward pass."""
    decoded = []
    for number, (image, filename) in enumerate(zip(upload.images, upload.filenames), 1):
        which = "" if single else f" {number} ({filename[:60]!r})"
        pixels = await run_in_threadpool(predictor.declared_pixels, image)  # a header parse: off the event loop
        async with budget.hold(pixels):
            try:
                decoded.append(await run_in_threadpool(decode, predictor, image, pixels))
            except BadImage as err:
                raise UploadError(400, f"bad image{which}: {err}") from None
            except Exception as err:  # whatever else a hostile file provokes in a decoder is still bad input
                raise UploadError(400, f"bad image{which}: cannot decode ({type(err).__name__})") from None
    logits = await asyncio.gather(*(batcher.submit(tensor) for tensor, _ in decoded))
    return [
        predictor.answer(row, top_k=options.top_k, embedding=options.embedding)
        | {"image": {"width": w, "height": h}, "filename": name}
        for row, (_, (w, h)), name in zip(logits, decoded, upload.filenames)
    ]


def decode(predictor: Predictor, image: bytes, pixels: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """The eval crop and size of `image`; what decoding it freed goes back to the system."""
    try:
        return predictor.preprocess(image)
    finally:
        return_freed_memory(pixels)


@router.get("/v1/model", response_model=ModelInfo)
def model_info(predictor: PredictorDep, settings: SettingsDep) -> dict[str, Any]:
    """The model's architecture, input size, versions and vocabulary (index, emoji, name,
    Unicode subgroup, lexicon sentiment): the meaning of each embedding dimension."""
    return predictor.info() | {"max_upload_bytes": settings.max_upload_bytes}


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "still starting"}})
def healthz(batcher: BatcherDep) -> JSONResponse:
    """200 when the model is loaded and the batching loop runs, else 503."""
    ok = batcher.running
    return JSONResponse({"status": "ok" if ok else "starting"}, status_code=200 if ok else 503)


@router.get(
    "/v1/glyphs/{index}.png",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}},
        400: {"model": ErrorDetail, "description": "an index that is not a whole number from 0"},
        404: {"model": ErrorDetail, "description": "no such glyph"},
    },
)
def glyph(index: Annotated[int, Path(ge=0, le=MAX_CLASSES)], predictor: PredictorDep) -> Response:
    """The colour glyph of vocabulary entry `index` (404 without an emoji font: show the name)."""
    image = predictor.glyph_png(index)
    if image is None:
        return JSONResponse({"detail": "no glyph for this index"}, status_code=404)
    return Response(image, media_type="image/png", headers={"cache-control": "public, max-age=86400"})


@router.get("/", include_in_schema=False)
def page() -> Response:
    return Response(_asset("page.html"), media_type="text/html; charset=utf-8")


@router.get("/favicon.ico", include_in_schema=False)
def favicon(predictor: PredictorDep) -> Response:
    image = predictor.glyph_png(0)
    return Response(image, media_type="image/png") if image else Response(status_code=204)


@router.get("/docs", include_in_schema=False)
def docs() -> Response:
    return Response(_asset("swagger.html"), media_type="text/html; charset=utf-8")


@router.get("/redoc", include_in_schema=False)
def redoc() -> Response:
    return Response(_asset("redoc.html"), media_type="text/html; charset=utf-8")


@router.get("/static/docs/{name}", include_in_schema=False)
def docs_asset(name: str) -> Response:
    if name not in DOCS_ASSETS:  # a fixed list: the name never becomes a path
        return JSONResponse({"detail": "not found"}, status_code=404)
    return Response(
        _docs_asset(name),
        media_type=DOCS_ASSETS[name] + "; charset=utf-8",
        headers={"cache-control": "public, max-age=86400"},
    )


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    if name not in STATIC:  # a fixed list: the name never becomes a path
        return JSONResponse({"detail": "not found"}, status_code=404)
    return Response(_asset(name), media_type=STATIC[name] + "; charset=utf-8")


# -- the app --


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The micro-batching loop runs while the server does."""
    app.state.batcher.start()
    yield
    await app.state.batcher.stop()


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    if request.url.path in ("/docs", "/redoc"):
        response.headers["content-security-policy"] = DOCS_CSP
    return response


async def refused(request: Request, err: Exception) -> JSONResponse:
    """An UploadError as its status and a one-line `detail`; after 408 and 413 the connection closes."""
    assert isinstance(err, UploadError)
    return JSONResponse(
        {"detail": str(err)},
        status_code=err.status,
        headers={"connection": "close"} if err.status in (408, 413) else None,
    )


async def invalid_parameter(request: Request, err: Exception) -> JSONResponse:
    """A query or path parameter that does not validate: 400 and one line, like a bad body field."""
    assert isinstance(err, RequestValidationError)
    return JSONResponse({"detail": validation_message(err.errors())}, status_code=400)


def validation_message(errors: Sequence[Any]) -> str:
    """pydantic's first error as one line naming the parameter."""
    error = errors[0]
    name = str(error["loc"][-1]) if error.get("loc") else "request"
    shown = repr(str(error.get("input", "")))[:24]
    limits = error.get("ctx") or {}
    return {
        "int_parsing": f"{name} must be a whole number, not {shown}",
        "int_from_float": f"{name} must be a whole number, not {shown}",
        "bool_parsing": f"{name} must be true or false, not {shown}",
        "greater_than_equal": f"{name} must be at least {limits.get('ge')}",
        "less_than_equal": f"{name} must be at most {limits.get('le')}",
    }.get(error.get("type", ""), f"{name}: {error.get('msg', 'invalid')}")


def create_app(
    predictor: Predictor,
    max_upload_mb: float = 10.0,
    max_batch: int = 32,
    max_wait_ms: float = 5.0,
    body_timeout: float = 30.0,
    allowed_hosts: list[str] | tuple[str, ...] | None = None,
    decode_budget: int = DECODE_BUDGET_PIXELS,
) -> FastAPI:
    """The app around a loaded model. Use it inside a lifespan (uvicorn, or `with TestClient(app)`):
    the micro-batching loop starts and stops with it. An upload must arrive within `body_timeout`
    seconds (else 408); images being decoded hold at most `decode_budget` pixels together; with
    `allowed_hosts`, a request whose Host header is not one of them is refused (400), which stops
    DNS-rebinding pages from reaching a server on 127.0.0.1."""
    app = FastAPI(
        title="SmileyNet",
        version=predictor.info()["version"],
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Emoji embedding for visual sentiment analysis: top emojis, zero-shot sentiment, "
        "emotional fingerprint. Send an image as multipart field `file` or JSON `image_base64`.",
    )
    app.state.predictor = predictor
    app.state.settings = ServeSettings(max_upload_bytes=int(max_upload_mb * 1_000_000), body_timeout=body_timeout)
    app.state.batcher = MicroBatcher(predictor.forward, max_batch=max_batch, max_wait_ms=max_wait_ms)
    app.state.decode_budget = PixelBudget(decode_budget)
    app.include_router(router)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.middleware("http")(security_headers)
    app.add_exception_handler(UploadError, refused)
    app.add_exception_handler(RequestValidationError, invalid_parameter)
    app.openapi = schema_without_422(app.openapi)  # type: ignore[method-assign]
    return app


def schema_without_422(generate: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """FastAPI's OpenAPI schema less the 422 answers it lists for every route with parameters:
    here an invalid parameter is a 400 with one line (`invalid_parameter`), which REFUSALS lists."""

    def schema() -> dict[str, Any]:
        spec = generate()
        for operations in spec["paths"].values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            spec.get("components", {}).get("schemas", {}).pop(name, None)
        return spec

    return schema


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
        FilePath(settings["model"]),
        FilePath(fingerprints) if fingerprints else None,
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
        settings["decode_budget"],
    )
