"""`smileynet serve`: the app under uvicorn, in one process or several (`--processes N`)."""

from __future__ import annotations

import errno
import json
import os
import socket
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from smileynet.errors import UserError
from smileynet.images import MAX_PIXELS
from smileynet.serve.budget import DECODE_BUDGET_PIXELS


@dataclass
class ServeConfig:
    """The `smileynet serve` flags (checked by the CLI); travels to `--processes` processes as
    JSON in the environment. `model`: a model dir, a run folder or an exported .onnx file."""

    model: Path
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_upload_mb: float = 10.0
    fingerprints: Path | None = None
    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_pixels: int = MAX_PIXELS
    decode_budget: int = DECODE_BUDGET_PIXELS
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    allowed_hosts: tuple[str, ...] | None = None
    backend: str = "auto"
    device: str = "auto"
    quiet: bool = False
    verbose: bool = False


def serve(config: ServeConfig) -> None:
    """Load the model (bad paths fail here, in one line), claim the port (one line when it is
    taken), then serve."""
    import torch
    import uvicorn

    from smileynet.distributed import resolve_device
    from smileynet.serve.app import ENV_CONFIG, create_app
    from smileynet.serve.predictor import Predictor
    from smileynet.serve.timeouts import http_protocol

    config = replace(config, device=resolve_device(config.device))
    predictor = Predictor.from_dir(config.model, config.fingerprints, config.max_pixels, config.backend, config.device)
    listener = listen_socket(config.host, config.port)
    log_level = _log_level(config)
    if not config.quiet:
        print(
            f"smileynet serve: {config.model} ({predictor.config.arch}, {len(predictor.vocab)} emojis, {config.backend}) "
            f"on http://{config.host}:{config.port}/",
            flush=True,
        )
    if config.workers == 1:
        app = create_app(
            predictor,
            config.max_upload_mb,
            config.max_batch,
            config.max_wait_ms,
            config.body_timeout,
            config.allowed_hosts,
            config.decode_budget,
        )
        uvicorn.Server(uvicorn_config(app, config)).run(sockets=[listener])
        return
    # Each worker process loads its own copy; the cores are shared out between them. uvicorn
    # binds the port itself for them: it was free a moment ago.
    listener.close()
    del predictor
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
    os.environ[ENV_CONFIG] = json.dumps(settings)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // config.workers)))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // config.workers))
    uvicorn.run(
        "smileynet.serve.app:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers,
        log_level=log_level,
        http=http_protocol(config.header_timeout),
    )


def uvicorn_config(app, config: ServeConfig):
    """uvicorn's settings for `app` under `config`: its address and the header deadline."""
    import uvicorn

    from smileynet.serve.timeouts import http_protocol

    return uvicorn.Config(
        app, host=config.host, port=config.port, log_level=_log_level(config), http=http_protocol(config.header_timeout)
    )


def listen_socket(host: str, port: int) -> socket.socket:
    """The listening socket uvicorn would bind (its address family and options), or one UserError
    line saying why not, instead of uvicorn's log and exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        where = f"port {port} on {host}"
        if err.errno == errno.EADDRINUSE:
            raise UserError(
                f"{where} is in use (another server is listening there): pick another with --port"
            ) from None
        if err.errno == errno.EACCES:
            raise UserError(f"{where}: permission denied (ports below 1024 need privileges)") from None
        reason = err.strerror or str(err)
        raise UserError(f"cannot listen on {where}: {reason} (is {host} an address of this machine?)") from None
    sock.set_inheritable(True)
    return sock


def _log_level(config: ServeConfig) -> str:
    return "debug" if config.verbose else "warning" if config.quiet else "info"
