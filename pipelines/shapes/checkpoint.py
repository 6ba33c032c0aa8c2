"""Resumable training checkpoints in safetensors only (model, EMA and Adam state as flat tensors, the
step in the metadata), so resuming never unpickles anything."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def save_checkpoint(
    path: Path, step: int, modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer
) -> None:
    tensors: dict[str, torch.Tensor] = {}
    for prefix, module in modules.items():
        for name, value in module.state_dict().items():
            tensors[f"{prefix}/{name}"] = value.detach().contiguous().clone()
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"optimizer/{index}/{key}"] = torch.as_tensor(value).contiguous().clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"step": json.dumps(step)})
    os.replace(tmp, path)  # atomic: a crash mid-save leaves the previous checkpoint intact


def read_checkpoint(path: Path) -> tuple[int, dict[str, torch.Tensor]]:
    """(the step it was saved at, its flat tensors: "<module>/<name>" and "optimizer/<index>/<key>")."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        step = json.loads(handle.metadata()["step"])
    return step, load_file(str(path))


def load_checkpoint(path: Path, modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer) -> int:
    """Restores modules and optimizer from `path`; returns the step to continue from."""
    step, tensors = read_checkpoint(path)
    for prefix, module in modules.items():
        module.load_state_dict({k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + "/")})
    state_dict = optimizer.state_dict()
    for key, value in tensors.items():
        if key.startswith("optimizer/"):
            _, index, name = key.split("/")
            state_dict["state"].setdefault(int(index), {})[name] = value
    optimizer.load_state_dict(state_dict)
    return step
