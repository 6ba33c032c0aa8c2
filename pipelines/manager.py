"""The pipeline manager: the one object that loads models, shares their weights and keeps memory in check.

- Lazy: nothing is loaded until a pipeline is asked for; `report()` says what is loaded, where, how big.
- Sharing: a model's text-to-image, img2img and inpainting pipelines are built with `from_pipe` from one
  loaded pipeline, so they hold the same UNet/VAE/text-encoder objects (one copy of the weights).
- Per-request pipelines: `request_pipeline()` returns a shallow copy of the shared pipeline with a fresh
  scheduler, because schedulers and per-call state (`_guidance_scale`, `_interrupt`) live on the pipeline
  object and are not thread-safe.
- Memory budget: least recently used models are evicted to fit; on CUDA a model larger than the budget
  is offloaded (model → group → sequential offload, chosen by budget) instead.
- Side models (CLIP scorers, the unCLIP prior's parts) are held by the manager too (`side_model`): they count
  against the budget, show in `report()` and go with `unload()` and the out-of-memory path.
- Offline is decided once (`offline`): `ManagerConfig.offline`, `HF_HUB_OFFLINE`, else one short probe of the Hub;
  offline, Hub files load from the local cache only, so a missing one fails at once instead of after retries.
- One lock per manager (= per device): generations and loads are serialised; `run()` also turns CUDA
  out-of-memory into freed memory plus a friendly error, and the server keeps serving.
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch

from . import devices
from .errors import (
    CorruptCheckpointError,
    ModelLoadError,
    OfflineModelError,
    OutOfMemoryError,
    UnsafeCheckpointError,
    UnsupportedTaskError,
)
from .models import DEFAULT_MODELS_DIR, IMG2IMG, INPAINT, TXT2IMG, ModelEntry, ModelRegistry
from .samplers import Sampler

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Decoders that draw from a CLIP image embedding -> the pipeline that runs them with their prior from a caption.
_WITH_PRIOR = {
    "KandinskyV22Pipeline": "KandinskyV22CombinedPipeline",
    "KandinskyV22InpaintPipeline": "KandinskyV22InpaintCombinedPipeline",
}
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")
OFFLOAD_MODES = ("auto", "none", "model", "group", "sequential")
ZEROGPU_BUDGET = 40 * 2**30  # a ZeroGPU slice has at least 40 GB; free memory cannot be asked before a GPU is attached


@dataclass
class ManagerConfig:
    """How the manager finds models and uses the device. Every field has a working default."""

    models_dir: Path | None = DEFAULT_MODELS_DIR  # bundled models: each sub-folder with a model_index.json
    config_path: Path | None = None  # TOML/JSON listing local model folders (see pipelines/models.py)
    device: str | None = None  # "cuda", "cuda:1", "mps", "cpu"; None = best available
    dtype: str | None = None  # "fp32", "fp16", "bf16"; None = fp16 on accelerators, fp32 on CPU
    memory_budget: int | None = None  # bytes for loaded models; None = 80 % of free device memory at first load
    offload: str = "auto"  # CUDA only: "auto" (by budget), "none", "model", "group", "sequential"
    offline: bool = False  # never contact the Hub: Hub models (and a Hub CLIP) load only from the local cache
    include_hub: bool = True  # list the Hub presets in the registry
    zerogpu: bool = False  # Hugging Face ZeroGPU: models go to CUDA whole (no offload hooks), preloaded at start


@dataclass(frozen=True)
class LoadedModel:
    """One line of `PipelineManager.report()`."""

    name: str
    device: str
    dtype: str
    size_mb: float
    offload: str  # "none", "model", "group" or "sequential"
    pipelines: tuple[str, ...]  # tasks whose pipelines are built (they share the weights); a side model's use
    kind: str = "model"  # "model" (a diffusion model's pipelines) or "side" (a CLIP scorer, an unCLIP prior...)


@dataclass
class _Family:
    entry: ModelEntry
    pipes: dict[str, Any]  # task -> pipeline; all share the components of the first one
    size_bytes: int
    offload: str
    loaded_at: float = field(default_factory=time.monotonic)


@dataclass
class _Side:
    """A model loaded beside the diffusion pipelines (a CLIP scorer, a prior's parts), held by the manager."""

    label: str  # shown in `report()`
    use: str  # what it is for, e.g. "CLIP scores and guidance"
    value: Any
    size_bytes: int
    owner: str | None  # the model whose unloading also drops it; None = only `unload()` of everything
    dtype: str


class PipelineManager:
    """Hands out ready pipelines by model name and task. Create one per process (per device) and pass it on."""

    def __init__(self, config: ManagerConfig | None = None, registry: ModelRegistry | None = None):
        self.config = config or ManagerConfig()
        if self.config.offload not in OFFLOAD_MODES:
            raise ValueError(f"`offload` must be one of {OFFLOAD_MODES}, got {self.config.offload!r}")
        self.registry = registry or ModelRegistry.discover(
            self.config.models_dir, self.config.config_path, include_hub=self.config.include_hub
        )
        # ZeroGPU emulates CUDA outside its GPU functions: the device is "cuda" even before a GPU is attached.
        self.device = torch.device("cuda") if self.config.zerogpu else devices.pick_device(self.config.device)
        self.dtype = devices.pick_dtype(self.device, self.config.dtype)
        self._budget = self.config.memory_budget or (ZEROGPU_BUDGET if self.config.zerogpu else None)
        self._families: OrderedDict[str, _Family] = OrderedDict()  # least recently used first
        self._lock = threading.RLock()  # one device: loads and generations run one at a time
        self._side: OrderedDict[Any, _Side] = OrderedDict()  # key -> side model, least recently used first
        self._clip_unavailable: dict[str, str] = {}  # CLIP folder/repo -> why it cannot load here (not retried)
        self._offline: bool | None = True if self.config.offline or _env_offline() else None

    # ----------------------------------------------------------------- public API
    @property
    def offline(self) -> bool:
        """Whether the Hugging Face Hub is out of reach, decided once: `ManagerConfig.offline` or `HF_HUB_OFFLINE`,
        else one short probe, made the first time something would come from the Hub."""
        if self._offline is None:
            started = time.perf_counter()
            self._offline = not hub_reachable()
            logger.info(
                "the Hugging Face Hub is %s (probed in %.2f s)",
                "out of reach: Hub files load from the local cache only" if self._offline else "reachable",
                time.perf_counter() - started,
            )
        return self._offline

    @property
    def memory_budget(self) -> int:
        """Bytes the loaded models may use (resolved from free memory on first use when not configured)."""
        if self._budget is None:
            self._budget = int(devices.free_memory_bytes(self.device) * 0.8)
        return self._budget

    def entry(self, name: str | None, task: str = TXT2IMG) -> ModelEntry:
        """The registry entry for `name` (None = the default model for `task`)."""
        if name is None or name == "":
            entry = self.registry.default(task)
            if entry is None:
                raise UnsupportedTaskError(f"no model can do {task!r}; add one with --models-dir or --config")
            return entry
        return self.registry.get(name)

    def pipeline(self, name: str | None, task: str = TXT2IMG):
        """The shared pipeline for `name` and `task`, loading the model on first use.

        Do not change its scheduler or call it from two threads: use `request_pipeline` for generation.
        """
        entry = self.entry(name, task)
        if task not in entry.tasks:
            raise UnsupportedTaskError(f"model {entry.name!r} cannot do {task!r}; it can do {', '.join(entry.tasks)}")
        with self._lock:
            family = self._families.get(entry.name)
            if family is None:
                family = self._load(entry)
            self._families.move_to_end(entry.name)
            if task not in family.pipes:
                family.pipes[task] = self._sibling(family, task)
            return family.pipes[task]

    def request_pipeline(self, name: str | None, task: str = TXT2IMG, sampler: Sampler | str | None = None):
        """A per-request pipeline: same components (weights) as the shared one, its own fresh scheduler.

        It is a shallow copy, so per-call state (`_interrupt`, `_guidance_scale`) and the scheduler are its own.
        """
        shared = self.pipeline(name, task)
        clone = copy.copy(shared)
        base_config = shared.scheduler.config
        if sampler is None:
            scheduler = type(shared.scheduler).from_config(base_config)
        else:
            scheduler = Sampler.from_label(sampler).make_scheduler(base_config)
        clone.scheduler = scheduler  # DiffusionPipeline.__setattr__ updates only the clone's config
        # Combined pipelines (Kandinsky 2.2 prior + decoder) run sub-pipelines: give the clone its own of those too.
        for attr in ("prior_pipe", "decoder_pipe"):
            sub = shared.__dict__.get(attr)
            if sub is not None:
                sub = copy.copy(sub)
                sub.scheduler = (
                    scheduler if attr == "decoder_pipe" else type(sub.scheduler).from_config(sub.scheduler.config)
                )
                clone.__dict__[attr] = sub
        return clone

    def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Runs `fn` holding the device lock; turns out-of-memory into freed memory and an `OutOfMemoryError`."""
        with self._lock:
            try:
                return fn(*args, **kwargs)
            except (torch.OutOfMemoryError, MemoryError):
                pass  # leave the except block first: its traceback holds the frames (and tensors) to free
            except RuntimeError as e:
                if "can't allocate memory" not in str(e) and "out of memory" not in str(e).lower():
                    raise
            # The arguments may hold models too (a per-request pipeline, a CLIP scorer's bound method): drop them.
            fn = args = kwargs = None
            self._recover_from_oom()
        raise OutOfMemoryError(
            "out of memory on "
            f"{self.device}: all models were unloaded to free it. Try a smaller size or batch, fewer models at once, "
            "or start the studio with a smaller --memory-budget so large models are offloaded."
        )

    def clip_scorer(self, entry: ModelEntry):
        """The `ClipScorer` of `entry`'s family (CLIP guidance, CLIP scores), or None when it cannot load here
        (e.g. a Hub CLIP not in the cache of an offline machine: known at once, and not retried); loaded on first
        use, held as a side model (in the budget and `report()`, dropped by `unload()`)."""
        if not entry.clip:
            return None
        with self._lock:
            if entry.clip in self._clip_unavailable:
                return None
            from .clip_score import ClipScorer

            def load():
                local = Path(entry.clip).is_dir() or self.offline
                return ClipScorer(entry.clip, device=str(self.device), local_files_only=local)

            label = f"CLIP {Path(entry.clip).name if Path(entry.clip).is_dir() else entry.clip}"
            try:
                return self.side_model(("clip", entry.clip), load, label=label, use="CLIP scores and guidance")
            except OSError as e:
                logger.warning("CLIP %s is not available: %s", entry.clip, e)
                self._clip_unavailable[entry.clip] = str(e)
                return None

    def side_model(self, key: Any, load: Callable[[], T], *, label: str, use: str, owner: str | None = None) -> T:
        """A model used beside the diffusion pipelines (a CLIP scorer, an unCLIP prior's parts), loaded once by
        `load()` and held here: it counts against the memory budget, shows in `report()` and is dropped by
        `unload()` (of everything, or of `owner`) and by the out-of-memory path.

        Args:
            key: identifies it (hashable), e.g. ("unclip-prior", folder).
            load: returns the model: an `nn.Module`, an object with `.model`, or a tuple/list/dict of those.
            label: its line in `report()`.
            use: what it is for, shown beside it.
            owner: the model name whose unloading also drops it.
        """
        with self._lock:
            side = self._side.get(key)
            if side is None:
                started = time.perf_counter()
                value = load()
                modules = _side_modules(value)
                size = _modules_bytes(modules)
                dtype = next((p.dtype for m in modules for p in m.parameters()), self.dtype)
                side = _Side(label, use, value, size, owner, devices.dtype_name(dtype))
                self._side[key] = side
                logger.info("loaded %s in %.1f s: %.1f MB", label, time.perf_counter() - started, size / 2**20)
                # Room is made among the others: the model used last is the one this side model is likely for.
                self._make_room(0, keep=(key, next(reversed(self._families), None)))
            self._side.move_to_end(key)
            return side.value

    def report(self) -> list[LoadedModel]:
        """What is loaded, least recently used first."""
        with self._lock:
            return [
                LoadedModel(
                    name=name,
                    device=str(self.device),
                    dtype=devices.dtype_name(self.dtype),
                    size_mb=round(f.size_bytes / 2**20, 1),
                    offload=f.offload,
                    pipelines=tuple(f.pipes),
                )
                for name, f in self._families.items()
            ] + [
                LoadedModel(
                    name=s.label,
                    device=str(self.device),
                    dtype=s.dtype,
                    size_mb=round(s.size_bytes / 2**20, 1),
                    offload="none",
                    pipelines=(s.use,),
                    kind="side",
                )
                for s in self._side.values()
            ]

    def is_loaded(self, name: str) -> bool:
        return name in self._families

    def preload(self, names: list[str] | None = None) -> list[str]:
        """Loads `names` (default: the default text-to-image model and its CLIP scorer) ahead of the first request.

        Used in the background right after the page is served (`--preload`), and at import in ZeroGPU mode, where
        models must be on CUDA before any GPU function runs. Returns the names loaded; a model that cannot load is
        logged and left for its first request to explain.
        """
        if names is None:
            default = self.registry.default(TXT2IMG)
            names = [default.name] if default else []
        loaded = []
        for name in names:
            try:
                entry = self.entry(name)
                self.pipeline(entry.name, entry.tasks[0])
                self.clip_scorer(entry)
                loaded.append(entry.name)
            except Exception as e:  # the first request that needs it says why, in the UI
                logger.warning("could not preload %s: %s", name, e)
        return loaded

    def unload(self, name: str | None = None) -> None:
        """Unloads one model and its side models (or, with None, every model and side model) and frees the memory."""
        with self._lock:
            names = [name] if name is not None else list(self._families)
            for n in names:
                family = self._families.pop(n, None)
                if family is not None:
                    logger.info("unloading %s (%.1f MB)", n, family.size_bytes / 2**20)
                    _remove_hooks(family.pipes)  # a helper: no loop variable here keeps a pipeline alive
                family = None  # drop the last reference before collecting
            for key in [k for k, s in self._side.items() if name is None or s.owner == name]:
                self._drop_side(key)
            _free_device_memory(self.device)

    def _drop_side(self, key: Any) -> None:
        side = self._side.pop(key)
        logger.info("unloading %s (%.1f MB)", side.label, side.size_bytes / 2**20)

    # ----------------------------------------------------------------- loading
    def _load(self, entry: ModelEntry) -> _Family:
        import diffusers  # heavy; imported on first load only

        if entry.is_local:
            estimate = _check_folder(entry)
            self._make_room(int(estimate * _dtype_ratio(self.dtype)))
        kwargs: dict[str, Any] = {
            "dtype": self.dtype,
            "use_safetensors": True,
            "local_files_only": entry.is_local or self.offline,
        }
        if entry.variant and self.dtype == torch.float16:
            kwargs["variant"] = entry.variant
        loader = getattr(diffusers, entry.loader)
        logger.info("loading %s from %s", entry.name, entry.source)
        started = time.perf_counter()
        try:
            pipe = loader.from_pretrained(entry.source, **kwargs)
        except OSError as e:
            raise self._explain_load_error(entry, e) from e
        except Exception as e:  # anything the folder check did not foresee: diffusers' own words
            raise ModelLoadError(f"{_where(entry)}: diffusers could not load it: {e}") from e
        if type(pipe).__name__ in _WITH_PRIOR:
            pipe = self._with_prior(entry, pipe, kwargs)
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        size = _pipeline_bytes(pipe)
        offload = self._place(pipe, size)
        family = _Family(entry=entry, pipes={entry.tasks[0]: pipe}, size_bytes=size, offload=offload)
        self._families[entry.name] = family
        logger.info(
            "loaded %s in %.1f s: %.1f MB on %s (%s), offload=%s",
            entry.name,
            time.perf_counter() - started,
            size / 2**20,
            self.device,
            self.dtype,
            offload,
        )
        if offload == "none":
            self._make_room(0, keep=(entry.name,))
        return family

    def extra_entry(self, entry: ModelEntry, key: str) -> ModelEntry | None:
        """The model `entry` names in its `extras[key]` (e.g. "refiner", "prior", "stage_2"): a registry entry when
        the value is a model name, else an unlisted entry for the folder or Hub repo; None when there is none."""
        value = entry.extras.get(key)
        if not value:
            return None
        if value in self.registry.names():
            return self.registry.get(value)
        kind = "local" if Path(value).is_dir() else "hub"
        return ModelEntry(name=f"{entry.name} {key}", source=value, kind=kind, family=key, tasks=())

    def _with_prior(self, entry: ModelEntry, decoder, kwargs: dict[str, Any]):
        """A Kandinsky 2.2 decoder with its prior (`extras["prior"]`) as one combined pipeline (`_WITH_PRIOR`)."""
        import diffusers

        prior_entry = self.extra_entry(entry, "prior")
        if prior_entry is None:
            raise UnsupportedTaskError(
                f"model {entry.name!r} is a Kandinsky 2.2 decoder, which draws from a CLIP image embedding only: "
                'name its prior in the config (`extras = { prior = "..." }`)'
            )
        if prior_entry.is_local:
            _check_folder(prior_entry)
        try:
            prior = diffusers.KandinskyV22PriorPipeline.from_pretrained(
                prior_entry.source, **{**kwargs, "local_files_only": prior_entry.is_local or self.offline}
            )
        except OSError as e:
            raise self._explain_load_error(prior_entry, e) from e
        parts = {f"prior_{name}": component for name, component in prior.components.items()}
        return getattr(diffusers, _WITH_PRIOR[type(decoder).__name__])(**decoder.components, **parts)

    def _explain_load_error(self, entry: ModelEntry, e: OSError) -> Exception:
        text = str(e)
        if not entry.is_local and any(
            s in text
            for s in (
                "not fully cached",
                "outgoing traffic has been disabled",
                "Couldn't connect",
                "connection",
                "offline",
                "cannot find the requested files",
            )
        ):
            return OfflineModelError(
                f"{entry.name} needs a download from the Hugging Face Hub ({entry.source}); this machine is offline "
                "— pick a bundled model or put the model in a local folder (--config)"
            )
        if "safetensors" in text:
            return UnsafeCheckpointError(
                f"model {entry.name!r} has no .safetensors weights; the studio refuses pickle checkpoints "
                "(.bin/.ckpt), which can run code when loaded. Convert it to safetensors first."
            )
        return ModelLoadError(f"{_where(entry)}: diffusers could not load it: {text}")

    def _place(self, pipe, size: int) -> str:
        """Moves `pipe` to the device, or sets up offloading on CUDA when it does not fit the budget."""
        mode = self.config.offload
        if self.device.type != "cuda" or self.config.zerogpu:  # ZeroGPU: whole models on CUDA, no offload hooks
            pipe.to(self.device)
            return "none"
        if mode == "auto":
            self._make_room(size)
            if size <= self.memory_budget:
                mode = "none"
            elif _largest_component_bytes(pipe) <= self.memory_budget:
                mode = "model"  # one component at a time on the GPU: fast, needs the biggest to fit
            else:
                mode = "group"  # leaf-level groups streamed in: slower, fits almost anything
        if mode == "none":
            pipe.to(self.device)
        elif mode == "model":
            pipe.enable_model_cpu_offload(device=self.device)
        elif mode == "group":
            pipe.enable_group_offload(onload_device=self.device, offload_type="leaf_level", use_stream=True)
        else:
            pipe.enable_sequential_cpu_offload(device=self.device)
        return mode

    def _make_room(self, needed: int, keep: tuple = ()) -> None:
        """Evicts least recently used models, then side models, until the resident ones plus `needed` bytes fit
        the budget; `keep` (model names, side models' keys) stay."""
        budget = self.memory_budget
        while True:
            resident = sum(f.size_bytes for f in self._families.values() if f.offload == "none")
            resident += sum(s.size_bytes for s in self._side.values())
            victims = [n for n in self._families if n not in keep]
            sides = [k for k in self._side if k not in keep]
            if resident + needed <= budget or not (victims or sides):
                return
            if victims:
                logger.info("memory budget %.0f MB exceeded: evicting %s", budget / 2**20, victims[0])
                self.unload(victims[0])
            else:
                logger.info("memory budget %.0f MB exceeded: evicting %s", budget / 2**20, self._side[sides[0]].label)
                self._drop_side(sides[0])

    def _sibling(self, family: _Family, task: str):
        """A pipeline for `task` built from the family's loaded components (no new weights)."""
        import diffusers

        base = next(iter(family.pipes.values()))
        auto = {
            TXT2IMG: diffusers.AutoPipelineForText2Image,
            IMG2IMG: diffusers.AutoPipelineForImage2Image,
            INPAINT: diffusers.AutoPipelineForInpainting,
        }.get(task)
        if auto is None:
            raise UnsupportedTaskError(f"model {family.entry.name!r} has no {task!r} pipeline")
        sibling = auto.from_pipe(base)
        if hasattr(sibling, "set_progress_bar_config"):
            sibling.set_progress_bar_config(disable=True)
        if family.offload == "model":
            sibling.enable_model_cpu_offload(device=self.device)  # diffusers: re-apply offloading after from_pipe
        return sibling

    def _recover_from_oom(self) -> None:
        logger.warning("out of memory on %s: unloading every model", self.device)
        self.unload()


# --------------------------------------------------------------------- helpers
def _check_folder(entry: ModelEntry) -> int:
    """Refuses a model folder diffusers would fail on, with a message naming the folder and what is wrong with it in
    words (missing, not a diffusers folder, unreadable model_index.json, a pipeline class diffusers lacks, a listed
    component without its sub-folder, pickle-only or missing weights, a corrupt or truncated .safetensors file)
    before diffusers sees it; returns the bytes of its weights."""
    import diffusers

    folder = Path(entry.source)
    where = _where(entry)
    if not folder.is_dir():
        raise ModelLoadError(f"{where}: the folder does not exist; check the path in the config")
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise ModelLoadError(
            f"{where}: not a diffusers model folder (no model_index.json); "
            "save it with `pipe.save_pretrained(folder, safe_serialization=True)`"
        )
    try:
        index = json.loads(index_path.read_text())
        if not isinstance(index, dict):
            raise ValueError(f"it holds a JSON {type(index).__name__}, not an object")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        why = f"it is not valid JSON (line {e.lineno}, column {e.colno})" if isinstance(e, json.JSONDecodeError) else e
        raise ModelLoadError(
            f"{where}: model_index.json cannot be read: {why}; copy it again from the model's source"
        ) from e
    class_name = index.get("_class_name")
    if isinstance(class_name, list):  # ["pipeline", "MyPipeline"]: a custom pipeline, code shipped in the folder
        raise ModelLoadError(
            f"{where}: model_index.json names a custom pipeline ({class_name[-1]!r}, code in the folder), which the "
            "studio does not run: loading it would execute that code"
        )
    if entry.loader == "DiffusionPipeline" and class_name is None:
        raise ModelLoadError(f"{where}: model_index.json does not say which pipeline it is (no `_class_name`)")
    if entry.loader == "DiffusionPipeline" and not (isinstance(class_name, str) and hasattr(diffusers, class_name)):
        raise ModelLoadError(
            f"{where}: model_index.json names the pipeline class {class_name!r}, which diffusers "
            f"{diffusers.__version__} does not have; it may need a newer diffusers, or `_class_name` is misspelt"
        )
    if not hasattr(diffusers, entry.loader):
        raise ModelLoadError(f"{where}: `loader` {entry.loader!r} is not a diffusers pipeline class; fix the config")
    total = 0
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list) or None in spec[:2]:
            continue
        sub = folder / component
        if not sub.is_dir():
            kind = spec[1] if len(spec) > 1 else "a component"
            raise ModelLoadError(
                f"{where}: model_index.json lists the component `{component}` ({kind}), but there is no "
                f"{component}/ sub-folder; copy the whole model folder again"
            )
        safetensors = sorted(sub.glob("*.safetensors"))
        pickles = [p for p in sub.iterdir() if p.suffix in PICKLE_SUFFIXES]
        if pickles and not safetensors:
            raise UnsafeCheckpointError(
                f"{where}: {component}/ has only pickle checkpoints ({pickles[0].name}); the studio "
                "refuses them because loading a pickle can run arbitrary code. Convert to .safetensors first."
            )
        if not safetensors and (sub / "config.json").is_file() and not _tokenizer_like(sub):
            raise ModelLoadError(
                f"{where}: {component}/ has a config.json but no weights (.safetensors); copy the whole model "
                "folder again"
            )
        for path in safetensors:
            problem = _safetensors_problem(path)
            if problem:
                name = path.relative_to(folder)
                raise CorruptCheckpointError(
                    f"{where}: {name} is corrupt or truncated ({problem}); download or copy it again"
                )
            total += path.stat().st_size
    return total


def _where(entry: ModelEntry) -> str:
    """How an error names a model: its name and its folder (or Hub repo)."""
    return f"model {entry.name!r} ({'folder ' if entry.is_local else ''}{entry.source})"


_SAFETENSORS_MAX_HEADER = 100_000_000  # bytes; the safetensors format refuses larger headers


def _safetensors_problem(path: Path) -> str | None:
    """What is wrong with a .safetensors file, in words, or None when it reads: its 8-byte header length, its JSON
    header and the data its tensors need are all there, and safetensors itself opens it."""
    from safetensors import safe_open

    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else None
        if length is None or length > _SAFETENSORS_MAX_HEADER:
            return "its first bytes are not a safetensors header"
        if 8 + length > size:
            return f"the file ends at {size:,} bytes, inside its own header"
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, ValueError):
            return "its header is not readable"
    if not isinstance(header, dict):
        return "its header is not readable"
    offsets = [v.get("data_offsets") for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    needed = 8 + length + max((o[1] for o in offsets if isinstance(o, list) and len(o) == 2), default=0)
    if needed > size:
        return f"only {size:,} of its {needed:,} bytes are there"
    try:
        with safe_open(str(path), framework="pt") as f:
            f.keys()
    except Exception as e:  # SafetensorError, OSError: anything else the format check found
        logger.info("%s: %s", path, e)
        return "its contents do not match its header"
    return None


def _tokenizer_like(sub: Path) -> bool:
    """Whether a sub-folder holds no weights by design (a tokenizer, scheduler or image processor with a config)."""
    names = {p.name for p in sub.iterdir()}
    return bool(names & {"tokenizer_config.json", "scheduler_config.json", "preprocessor_config.json", "vocab.json"})


def _remove_hooks(pipes: dict[str, Any]) -> None:
    """Removes offloading hooks (accelerate's), which hold the modules, from a family's pipelines."""
    for pipe in pipes.values():
        if hasattr(pipe, "remove_all_hooks"):
            pipe.remove_all_hooks()


def _dtype_ratio(dtype: torch.dtype) -> float:
    """Weights on disk are usually fp32 (bundled) — scale the estimate to the dtype they load in."""
    return torch.tensor([], dtype=dtype).element_size() / 4


def _modules(pipe) -> list[torch.nn.Module]:
    return [m for m in pipe.components.values() if isinstance(m, torch.nn.Module)]


def _module_bytes(module: torch.nn.Module, seen: set[int]) -> int:
    total = 0
    for t in list(module.parameters()) + list(module.buffers()):
        key = t.data_ptr() if t.device.type != "meta" else id(t)
        if key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total


def _pipeline_bytes(pipe) -> int:
    return _modules_bytes(_modules(pipe))


def _modules_bytes(modules: list[torch.nn.Module]) -> int:
    seen: set[int] = set()
    return sum(_module_bytes(m, seen) for m in modules)


def _side_modules(value: Any) -> list[torch.nn.Module]:
    """The torch modules in a side model: a module, an object with `.model` (ClipScorer), or containers of those."""
    if isinstance(value, torch.nn.Module):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [m for v in value for m in _side_modules(v)]
    inner = getattr(value, "model", None)
    return [inner] if isinstance(inner, torch.nn.Module) else []


def _env_offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to a true value."""
    return any(
        os.environ.get(v, "").strip().upper() in ("1", "ON", "YES", "TRUE")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face Hub endpoint answers within `timeout` seconds (any HTTP answer counts)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception as e:  # httpx connect/timeout errors, DNS failure, proxy refusal
        logger.debug("Hub probe failed: %s", e)
        return False
    return True


def _largest_component_bytes(pipe) -> int:
    return max((_module_bytes(m, set()) for m in _modules(pipe)), default=0)


def _free_device_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()
