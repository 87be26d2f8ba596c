"""CLI commands of this stage (thin: parse flags, call one function of the stage). Numeric flags
are checked where they are parsed, by `cli_common.Command`."""

from pathlib import Path

import typer

from smileynet.cli_common import BACKEND, DEVICE, MODEL_HELP, QUIET, VERBOSE, start
from smileynet.extras import require


def serve(
    model: Path = typer.Argument(..., help=MODEL_HELP + " Or an .onnx file from `smileynet export`."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    processes: int = typer.Option(1, "--processes", help="Server processes, each with its own copy of the model."),
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Largest accepted image upload (larger: 413)."),
    fingerprints: Path = typer.Option(
        None,
        "--fingerprints",
        help="emoji_fingerprints.csv from `smileynet transfer` (FI emotions) for the emotion chart.",
    ),
    max_batch: int = typer.Option(32, "--max-batch", help="Most images in one forward pass."),
    max_wait_ms: float = typer.Option(
        5.0, "--max-wait-ms", help="How long a request waits for others to share its forward pass."
    ),
    header_timeout: float = typer.Option(
        10.0, "--header-timeout", help="Seconds a client has to send each request's headers."
    ),
    body_timeout: float = typer.Option(
        30.0, "--body-timeout", help="Seconds a client has to send an upload's body (else 408)."
    ),
    decode_mpx: float = typer.Option(
        100.0,
        "--decode-megapixels",
        help="Megapixels being decoded at once, all requests together (about 10 bytes each while decoding); "
        "requests beyond wait their turn.",
    ),
    allowed_hosts: str = typer.Option(
        None,
        "--allowed-hosts",
        help="Comma-separated Host header values to answer (e.g. localhost,127.0.0.1); others get 400.",
    ),
    backend: str = BACKEND,
    device: str = DEVICE,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Web page and REST API for a trained model (/v1/predict, /v1/predict/batch, /v1/model, /healthz, /docs, /redoc)."""
    start("serve", quiet, verbose, extra="serve")
    if backend == "onnx" or model.suffix.lower() == ".onnx":
        require("onnx", "serving an ONNX model")
    from smileynet.serve.server import ServeConfig
    from smileynet.serve.server import serve as run

    run(
        ServeConfig(
            model=model,
            host=host,
            port=port,
            workers=processes,
            max_upload_mb=max_upload_mb,
            fingerprints=fingerprints,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            decode_budget=max(1, int(decode_mpx * 1_000_000)),
            backend=backend,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            allowed_hosts=tuple(h.strip() for h in allowed_hosts.split(",") if h.strip()) if allowed_hosts else None,
            device=device,
            quiet=quiet,
            verbose=verbose,
        )
    )
