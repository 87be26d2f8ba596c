"""Where this process sits in a distributed run, read from the launcher's environment.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; a SLURM `srun` sets
SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID (MASTER_ADDR/PORT then come from the job script).
A plain `smileynet train` is rank 0 of 1 and never touches torch.distributed; a one-process
torchrun does join a process group (DDP over one GPU), so that it runs the code of a multi-GPU run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from smileynet.errors import UserError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    torchrun: bool = False  # launched by torchrun (even as a single process)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 or self.torchrun

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launcher_env(env: dict[str, str] | None = None) -> DistInfo:
    """Rank, world size and local rank from torchrun's variables, else SLURM's, else a single process."""
    env = dict(os.environ if env is None else env)
    if "RANK" in env and "WORLD_SIZE" in env:
        keys = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
        keys = ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID")
    else:
        return DistInfo()
    try:
        return DistInfo(
            int(env[keys[0]]), int(env[keys[1]]), int(env.get(keys[2], "0")), torchrun="TORCHELASTIC_RUN_ID" in env
        )
    except ValueError:
        raise UserError(f"launcher variables {', '.join(keys)} are not integers") from None


def init(device_type: str) -> DistInfo:
    """Join the process group when launched as several processes: nccl on GPUs, gloo on CPU."""
    info = launcher_env()
    if not info.distributed:
        return info
    if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
        raise UserError("distributed launch without MASTER_ADDR/MASTER_PORT: use torchrun, or export them under SLURM")
    os.environ.setdefault("RANK", str(info.rank))
    os.environ.setdefault("WORLD_SIZE", str(info.world_size))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return info


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Give every process process 0's buffers (batch-norm running statistics). DDP broadcasts them
    at the start of each forward pass, so after a step each process holds the statistics of its
    own last batch: without this, processes would validate slightly different models."""
    if dist.is_available() and dist.is_initialized():
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def all_gather_rows(rows: np.ndarray, device: torch.device) -> np.ndarray:
    """Every process's float32 rows (N_r x C, N_r may differ), concatenated in rank order, on every
    process; `rows` itself when not distributed. Split-wide metrics (AUC, mtop-k, mAP) are not
    averages of per-process ones, so a split validated in pieces is scored on the gathered rows.
    `device` is where the collective runs: the GPU under nccl, the CPU under gloo."""
    if not (dist.is_available() and dist.is_initialized()):
        return rows
    local = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32)).to(device)
    counts = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, torch.tensor([len(local)], dtype=torch.int64, device=device))
    sizes = [int(c.item()) for c in counts]
    if not max(sizes):
        return rows
    padded = torch.zeros((max(sizes), *local.shape[1:]), dtype=local.dtype, device=device)
    padded[: len(local)] = local
    pieces = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(pieces, padded)
    return np.concatenate([piece[:size].cpu().numpy() for piece, size in zip(pieces, sizes)])


def resolve_device(device: str) -> str:
    """`--device` as torch names it: auto is a CUDA GPU when torch sees one, else the CPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA GPU is visible to torch")
    if device != "cpu" and not device.startswith("cuda"):
        raise UserError(f"unknown device {device!r}: use auto, cpu or cuda[:N]")
    return device
