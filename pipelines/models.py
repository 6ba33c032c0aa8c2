"""The model registry: every model the studio knows, by name.

Three sources, one shape (`ModelEntry`):
- bundled: each folder under the models dir (default `assets/models/`) holding a diffusers `model_index.json`;
- Hub presets: well-known repo ids, downloaded by diffusers on first use (needs a network);
- local folders a user adds with `--config models.toml` (or `.json`).

Config file format (TOML; JSON has the same keys)::

    [[models]]
    name = "My SD 1.5"           # shown in the model picker
    path = "/data/sd15"          # a diffusers folder (model_index.json + safetensors)
    family = "sd"                # optional, read from the folder: sd, sdxl, sdxl-refiner, sd-inpaint, ...
    native_size = 512            # optional, read from the folder when absent
    extras = { refiner = "My SDXL refiner" }  # optional: other models this one works with, by name or path
    clip = "/data/clip-vit-large"  # optional: the CLIP pair (transformers CLIPModel folder or Hub id) for CLIP
                                   # scores, CLIP guidance and unCLIP text diffs; default openai/clip-vit-base-patch32

`extras` keys: `refiner` (SDXL base: the late expert), `prior` (Kandinsky 2.2 decoder: its prior, without which
it cannot draw from a caption), `stage_2` (DeepFloyd IF: the super-resolution stage). Values are model names from
the registry, or folders (relative to the config file) / Hub repo ids.
"""

from __future__ import annotations

import json
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UnknownModelError

logger = logging.getLogger(__name__)

DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"

# Tasks a model can serve; a tab asks the registry for the models that can do its task.
TXT2IMG, IMG2IMG, INPAINT, UNCLIP, UPSCALE = "txt2img", "img2img", "inpaint", "unclip", "upscale"

# Pipeline class (from model_index.json) -> family and the tasks diffusers' pipelines serve for it (the first is
# the class itself; the others are built from its components with the AutoPipeline classes' `from_pipe`).
_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "StableDiffusionPipeline": ("sd", (TXT2IMG, IMG2IMG, INPAINT)),  # SD 1.x and 2.x
    "StableDiffusionXLPipeline": ("sdxl", (TXT2IMG, IMG2IMG, INPAINT)),
    "StableDiffusionXLImg2ImgPipeline": ("sdxl-refiner", (IMG2IMG,)),  # no first text encoder: not a txt2img model
    "StableDiffusionInpaintPipeline": ("sd-inpaint", (INPAINT,)),  # 9-channel UNet: inpainting only
    "StableDiffusionXLInpaintPipeline": ("sdxl-inpaint", (INPAINT,)),  # SDXL's 9-channel inpainting UNet
    "StableUnCLIPImg2ImgPipeline": ("sd-unclip", (UNCLIP,)),
    # A decoder draws from a CLIP image embedding only: its tasks need its prior (extras "prior"), else none.
    # Kandinsky 2.2 inpaints with its own 9-channel decoder (kandinsky-2-2-decoder-inpaint), not the plain one.
    "KandinskyV22Pipeline": ("kandinsky22", (TXT2IMG, IMG2IMG)),
    "KandinskyV22CombinedPipeline": ("kandinsky22", (TXT2IMG, IMG2IMG)),
    "KandinskyV22InpaintPipeline": ("kandinsky22-inpaint", (INPAINT,)),
    "KandinskyV22InpaintCombinedPipeline": ("kandinsky22-inpaint", (INPAINT,)),
    "KandinskyV22PriorPipeline": ("kandinsky22-prior", ()),  # a part of a Kandinsky 2.2 model, not one itself
    "IFPipeline": ("if", (TXT2IMG, IMG2IMG, INPAINT)),  # stage I (64x64 on the Hub); IF's own img2img/inpainting
    "IFSuperResolutionPipeline": ("if-stage2", (UPSCALE,)),  # the upscaler of an IF cascade (extras "stage_2")
    "StableDiffusionUpscalePipeline": ("sd-upscaler", (UPSCALE,)),  # SD's x4 upscaler
}
# family -> the tasks its entry has (with its extras, for a family that needs one)
FAMILY_TASKS: dict[str, tuple[str, ...]] = {family: tasks for family, tasks in _FAMILIES.values()}
NEEDS_EXTRA = {"kandinsky22": "prior", "kandinsky22-inpaint": "prior"}  # family -> the extra it cannot do without


HUB_CLIP = "openai/clip-vit-base-patch32"
BUNDLED_CLIP = "shapes-clip"  # the bundled CLIP pair, a sibling folder of the bundled diffusion models


@dataclass(frozen=True)
class ModelEntry:
    """One model the studio can load."""

    name: str  # unique, shown in the model picker
    source: str  # a local folder path, or a Hub repo id
    kind: str  # "bundled", "local" or "hub"
    family: str = "sd"  # architecture family: decides which sibling pipelines can share its components
    tasks: tuple[str, ...] = (TXT2IMG, IMG2IMG, INPAINT)
    native_size: int = 512  # the resolution it was trained at, the default width/height
    max_pixels: int = 1024 * 1024  # width*height cap, to keep a typo from eating all memory
    size_multiple: int = 8  # width/height must be multiples of this (the VAE downsampling factor)
    supports_lcm: bool = False  # LCM-distilled UNet: the LCM sampler gives images
    vocabulary: str | None = None  # "shapes" for the bundled shapes-world models (word-level tokenizer)
    loader: str = "DiffusionPipeline"  # diffusers class whose from_pretrained loads it
    variant: str | None = None  # e.g. "fp16" for Hub repos that ship half-precision weights
    clip: str | None = HUB_CLIP  # CLIP folder or repo for CLIP guidance and CLIP scores
    extras: dict[str, str] = field(default_factory=dict, hash=False, compare=False)  # e.g. {"prior": repo}
    description: str = ""

    @property
    def is_local(self) -> bool:
        return self.kind in ("bundled", "local")


HUB_PRESETS: tuple[ModelEntry, ...] = (
    ModelEntry(
        "SD 1.5",
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        "hub",
        "sd",
        native_size=512,
        description="Stable Diffusion 1.5 (latent diffusion, CLIP ViT-L text encoder)",
    ),
    ModelEntry(
        "SD 2.1",
        "stabilityai/stable-diffusion-2-1",
        "hub",
        "sd",
        native_size=768,
        description="Stable Diffusion 2.1 (OpenCLIP text encoder, v-prediction)",
    ),
    ModelEntry(
        "SDXL base",
        "stabilityai/stable-diffusion-xl-base-1.0",
        "hub",
        "sdxl",
        native_size=1024,
        max_pixels=2048 * 2048,
        variant="fp16",
        extras={"refiner": "SDXL refiner"},
        description="SDXL base; with the refiner, an experts-by-noise split (eDiff-I)",
    ),
    ModelEntry(
        "SDXL refiner",
        "stabilityai/stable-diffusion-xl-refiner-1.0",
        "hub",
        "sdxl-refiner",
        tasks=(IMG2IMG,),
        native_size=1024,
        max_pixels=2048 * 2048,
        variant="fp16",
        description="SDXL refiner: the late (low-noise) expert",
    ),
    ModelEntry(
        "SD inpainting",
        "stable-diffusion-v1-5/stable-diffusion-inpainting",
        "hub",
        "sd-inpaint",
        tasks=(INPAINT,),
        native_size=512,
        loader="StableDiffusionInpaintPipeline",
        description="SD 1.5 fine-tuned for inpainting (UNet takes mask + masked image)",
    ),
    ModelEntry(
        "Kandinsky 2.2",
        "kandinsky-community/kandinsky-2-2-decoder",
        "hub",
        "kandinsky22",
        native_size=768,
        tasks=(TXT2IMG, IMG2IMG),
        loader="AutoPipelineForText2Image",
        extras={"prior": "kandinsky-community/kandinsky-2-2-prior"},
        description="unCLIP-style: a prior maps text to a CLIP image embedding, a decoder draws it",
    ),
    ModelEntry(
        "SD 2.1 unCLIP",
        "stabilityai/stable-diffusion-2-1-unclip",
        "hub",
        "sd-unclip",
        tasks=(UNCLIP,),
        native_size=768,
        loader="StableUnCLIPImg2ImgPipeline",
        description="Image variations from a CLIP image embedding (DALL-E 2 idea on SD 2.1)",
    ),
    ModelEntry(
        "DeepFloyd IF",
        "DeepFloyd/IF-I-XL-v1.0",
        "hub",
        "if",
        tasks=(TXT2IMG, IMG2IMG, INPAINT),
        native_size=64,
        size_multiple=8,
        max_pixels=64 * 64,
        variant="fp16",
        extras={"stage_2": "IF stage II"},
        description="Pixel-space cascade (Imagen-like), stage I at 64x64 with dynamic thresholding",
    ),
    ModelEntry(
        "SD x4 upscaler",
        "stabilityai/stable-diffusion-x4-upscaler",
        "hub",
        "sd-upscaler",
        tasks=(UPSCALE,),
        native_size=512,
        max_pixels=1024 * 1024,
        description="A second stage: 4x super-resolution conditioned on the low-resolution image and the prompt",
    ),
    ModelEntry(
        "IF stage II",
        "DeepFloyd/IF-II-L-v1.0",
        "hub",
        "if-stage2",
        tasks=(UPSCALE,),
        native_size=256,
        max_pixels=256 * 256,
        variant="fp16",
        description="DeepFloyd IF's 64 -> 256 super-resolution stage (pixel space, text-conditioned)",
    ),
)


def entry_from_folder(folder: Path, name: str, kind: str, **overrides) -> ModelEntry:
    """Builds an entry for a diffusers folder, reading family and native size from its configs.

    A folder the registry cannot make sense of (model_index.json unreadable, a pipeline class it does not know) is
    still listed, as an "other" model for text to image, with a logged warning: a model that vanished from the picker
    would leave its owner guessing, while picking it and loading it says what is wrong with the folder (the manager's
    folder check), and the studio starts and serves the other models either way.
    """
    try:
        index = json.loads((folder / "model_index.json").read_text())
        class_name = index.get("_class_name", "DiffusionPipeline")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as e:
        logger.warning(
            "model %r (folder %s): model_index.json cannot be read (%s); listed, loading it says so", name, folder, e
        )
        extras = overrides.pop("extras", None) or {}
        fields = {k: v for k, v in overrides.items() if v is not None}
        fields["tasks"] = tuple(fields.get("tasks", (TXT2IMG,)))
        fields.setdefault("family", "other")
        fields.setdefault("description", "model_index.json cannot be read")
        return ModelEntry(name=name, source=str(folder), kind=kind, extras=dict(extras), **fields)
    if not isinstance(class_name, str):  # ["pipeline", "MyPipeline"]: a custom pipeline (code in the folder)
        class_name = str(class_name[-1]) if isinstance(class_name, list) and class_name else repr(class_name)
    family, tasks = _FAMILIES.get(class_name, ("other", (TXT2IMG,)))
    if class_name not in _FAMILIES:
        logger.warning(
            "model %r (folder %s): model_index.json names %s, a pipeline class the studio does not know; offered for "
            "text to image, and loading it will say whether diffusers can",
            name,
            folder,
            class_name,
        )
    native, multiple = _native_size(folder)
    extras = overrides.pop("extras", None) or {}
    vocabulary = "shapes" if kind == "bundled" and name.startswith("shapes") else None
    bundled_clip = folder.parent / BUNDLED_CLIP
    fields = dict(
        family=family,
        tasks=tasks,
        native_size=native,
        size_multiple=max(multiple, 8),  # the SD pipelines check height/width % 8
        max_pixels=max(native * native * 4, 64 * 64),
        vocabulary=vocabulary,
        clip=str(bundled_clip) if vocabulary == "shapes" and bundled_clip.is_dir() else HUB_CLIP,
        supports_lcm="lcm" in name.lower(),
        description=class_name,
    )
    fields.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(fields.get("tasks"), list):
        fields["tasks"] = tuple(fields["tasks"])
    needed = NEEDS_EXTRA.get(fields["family"])
    if needed and needed not in extras and "Combined" not in class_name:
        logger.warning("%s needs its %s (`extras = { %s = ... }` in the config); not offered", name, needed, needed)
        fields["tasks"] = ()
        fields["description"] = f"{class_name}: needs its {needed} (extras)"
    return ModelEntry(name=name, source=str(folder), kind=kind, extras=dict(extras), **fields)


def _native_size(folder: Path) -> tuple[int, int]:
    """(native image size, latent downsampling factor) from the UNet and autoencoder (VAE, or Kandinsky's MoVQ)
    configs: factor 1 for pixel-space models (DeepFloyd IF: no autoencoder); (512, 8) when unknown."""
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        index = {}
    autoencoder = next((name for name in ("vae", "movq") if name in index), None)
    try:
        vae = json.loads((folder / (autoencoder or "vae") / "config.json").read_text())
        factor = 2 ** (len(vae.get("block_out_channels", [0, 0, 0, 0])) - 1)
    except (OSError, ValueError):
        factor = 8 if autoencoder or "unet" not in index else 1
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text())
        sample = unet.get("sample_size")
        if isinstance(sample, list):
            sample = sample[0]
        return int(sample) * factor, factor
    except (OSError, ValueError, TypeError):
        return 512, factor


class ModelRegistry:
    """Every known model by name, in display order: bundled first, then local, then Hub presets."""

    def __init__(self, entries: list[ModelEntry] | tuple[ModelEntry, ...]):
        self._entries: dict[str, ModelEntry] = {}
        for entry in entries:
            if entry.name in self._entries:
                logger.warning("two models are named %r; keeping the first", entry.name)
                continue
            self._entries[entry.name] = entry

    @classmethod
    def discover(
        cls,
        models_dir: str | Path | None = DEFAULT_MODELS_DIR,
        config_path: str | Path | None = None,
        include_hub: bool = True,
    ) -> ModelRegistry:
        """Bundled models from `models_dir`, local ones from `config_path`, then the Hub presets."""
        entries: list[ModelEntry] = []
        if models_dir is not None:
            entries += bundled_entries(Path(models_dir))
        if config_path is not None:
            entries += config_entries(Path(config_path))
        if include_hub:
            entries += HUB_PRESETS
        return cls(entries)

    def get(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownModelError(f"unknown model {name!r}; known models: {', '.join(self._entries)}") from None

    def names(self, task: str | None = None) -> list[str]:
        return [e.name for e in self._entries.values() if task is None or task in e.tasks]

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def default(self, task: str = TXT2IMG) -> ModelEntry | None:
        """The first bundled (else local, else Hub) model that can do `task`."""
        for kind in ("bundled", "local", "hub"):
            for entry in self._entries.values():
                if entry.kind == kind and task in entry.tasks:
                    return entry
        return None


def bundled_entries(models_dir: Path) -> list[ModelEntry]:
    """One entry per sub-folder of `models_dir` with a model_index.json (others, e.g. a CLIP, are skipped)."""
    if not models_dir.is_dir():
        logger.info("models dir %s does not exist; no bundled models", models_dir)
        return []
    return [
        entry_from_folder(sub, sub.name, "bundled")
        for sub in sorted(models_dir.iterdir())
        if (sub / "model_index.json").is_file()
    ]


def config_entries(config_path: Path) -> list[ModelEntry]:
    """Local model folders listed in a TOML or JSON file (see the module docstring)."""
    text = config_path.read_text()
    data = tomllib.loads(text) if config_path.suffix == ".toml" else json.loads(text)
    entries = []
    names = {item.get("name", Path(str(item.get("path", ""))).name) for item in data.get("models", [])}
    for i, item in enumerate(data.get("models", [])):
        if "path" not in item:
            raise ValueError(f"{config_path}: model #{i + 1} needs a `path`, got keys {sorted(item)}")
        folder = Path(item["path"]).expanduser()
        if not folder.is_absolute():
            folder = (config_path.parent / folder).resolve()
        name = item.get("name", folder.name)
        keys = ("family", "native_size", "max_pixels", "supports_lcm", "tasks", "loader", "clip")
        overrides = {k: item.get(k) for k in keys}
        if overrides["clip"] is not None:
            overrides["clip"] = _resolve_clip(overrides["clip"], config_path)
        extras = item.get("extras", {})
        if not isinstance(extras, dict) or not all(isinstance(v, str) for v in extras.values()):
            raise ValueError(f"{config_path}: model {name!r}: `extras` must be a table of texts, got {extras!r}")
        overrides["extras"] = {k: v if v in names else _resolve_extra(v, config_path) for k, v in extras.items()}
        if (folder / "model_index.json").is_file():
            entries.append(entry_from_folder(folder, name, "local", **overrides))
        else:
            # Not a diffusers folder (yet): keep it listed so loading explains what is missing.
            entries.append(
                ModelEntry(
                    name=name,
                    source=str(folder),
                    kind="local",
                    **{k: v for k, v in overrides.items() if v is not None},
                )
            )
    return entries


def _resolve_clip(value: object, config_path: Path) -> str:
    """A config `clip`: a CLIP folder (relative to the config file) or a Hub repo id."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{config_path}: `clip` must be a CLIP folder or a Hub repo id, got {value!r}")
    candidate = Path(value).expanduser()
    if not candidate.is_absolute() and (config_path.parent / candidate).is_dir():
        return str((config_path.parent / candidate).resolve())
    return str(candidate) if candidate.is_absolute() else value


def _resolve_extra(value: str, config_path: Path) -> str:
    """A config `extras` value that is not a model name: a relative folder becomes absolute (next to the config)."""
    candidate = Path(value).expanduser()
    if not candidate.is_absolute() and (config_path.parent / candidate / "model_index.json").is_file():
        return str((config_path.parent / candidate).resolve())
    return value
