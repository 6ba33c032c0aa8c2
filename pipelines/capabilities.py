"""Which model families each of the studio's actions runs on, and why the others are not offered.

One table: a tab lists `models_for(registry, action)` in its model picker, and the action itself calls `require`, so
an API call with a model the tab does not offer gets a message that says why and names the models that can.
The registry's `tasks` (pipelines/models.py) say what diffusers' pipelines can do with a folder; this says what the
studio's own loops can do with it (the lab and inpainting (a) run SD/SDXL's loop step by step, paint with words
rewrites SD/SDXL cross-attention, unCLIP needs an image-embedding UNet).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UnsupportedTaskError
from .models import FAMILY_TASKS, INPAINT, NEEDS_EXTRA, TXT2IMG, UNCLIP, UPSCALE, ModelEntry, ModelRegistry

TEXT_UNETS = ("sd", "sdxl")  # latent UNets conditioned on the prompt's token embeddings through SD/SDXL's encoders


@dataclass(frozen=True)
class Action:
    """One thing a person does in a tab, and the models it can do it with."""

    label: str  # as the tab names it
    task: str  # the registry task whose pipeline it runs
    families: tuple[str, ...]
    why_not: dict[str, str] = field(default_factory=dict, hash=False)  # family -> reason, before the general ones


TEXT_TO_IMAGE = Action("Text to image", TXT2IMG, ("sd", "sdxl", "kandinsky22", "if", "other"))
GUIDANCE_LAB = Action("The guidance lab", TXT2IMG, TEXT_UNETS)
INPAINT_ANY_MODEL = Action("Inpainting method (a), any model", TXT2IMG, TEXT_UNETS)
_NOT_AN_INPAINTER = "it is not an inpainting model (its UNet takes no mask): use it with method (a), any model"
INPAINT_MODEL = Action(
    "Inpainting method (b), inpainting model",
    INPAINT,
    ("sd-inpaint", "sdxl-inpaint"),
    {"sd": _NOT_AN_INPAINTER, "sdxl": _NOT_AN_INPAINTER, "other": _NOT_AN_INPAINTER},
)
PAINT_WITH_WORDS = Action("Paint with words", TXT2IMG, TEXT_UNETS)
_NOT_UNCLIP = "it is not an unCLIP model: its UNet takes no CLIP image embedding"
UNCLIP_ACTIONS = Action(
    "unCLIP",
    UNCLIP,
    ("sd-unclip",),
    {family: _NOT_UNCLIP for family in ("sd", "sdxl", "if", "other", "sd-inpaint", "sdxl-inpaint", "sdxl-refiner")}
    | {"kandinsky22": "Kandinsky 2.2 decodes image embeddings, but the unCLIP tab is written for Stable unCLIP"},
)

_NOT_AN_UPSCALER = "it draws from noise: an upscaler is a second stage conditioned on a low-resolution image"
UPSCALE_ACTION = Action(
    "Upscale x4",
    UPSCALE,
    ("sd-upscaler", "if-stage2"),
    {family: _NOT_AN_UPSCALER for family in ("sd", "sdxl", "if", "kandinsky22", "other")},
)

ACTIONS = (
    TEXT_TO_IMAGE,
    GUIDANCE_LAB,
    INPAINT_ANY_MODEL,
    INPAINT_MODEL,
    PAINT_WITH_WORDS,
    UNCLIP_ACTIONS,
    UPSCALE_ACTION,
)

# Why a family is not offered by an action that does not list it.
_WHY_NOT: dict[str, str] = {
    "kandinsky22": (
        "Kandinsky 2.2's UNet is conditioned on a CLIP image embedding made by its prior, not on the prompt's "
        "words, so there is no text conditioning for this to work on"
    ),
    "if": (
        "DeepFloyd IF is a pixel-space cascade whose UNet also predicts its own variance; this is written for the "
        "latent SD/SDXL loop"
    ),
    "sd-inpaint": "it is an inpainting model (its UNet also takes a mask): use it in Inpainting, method (b)",
    "sdxl-inpaint": "it is an inpainting model (its UNet also takes a mask): use it in Inpainting, method (b)",
    "kandinsky22-inpaint": (
        "Kandinsky 2.2's inpainting decoder draws from its prior's image embedding and takes no denoising strength, "
        "so the Inpainting tab's methods do not apply to it"
    ),
    "sdxl-refiner": (
        "the SDXL refiner only refines the last, low-noise steps: pick the SDXL base and set 'Refiner: switch at'"
    ),
    "sd-unclip": "an unCLIP model draws from an image embedding: use it in the unCLIP tab",
    "kandinsky22-prior": "it is the prior of a Kandinsky 2.2 model, not a model that draws",
    "if-stage2": "it is the super-resolution stage of a DeepFloyd IF cascade, not a model that draws from text",
    "sd-upscaler": "it is a super-resolution stage (it needs a low-resolution image): use it as Upscale x4",
}


def why_not(action: Action, entry: ModelEntry) -> str | None:
    """Why `action` cannot use `entry`, in words for a person; None when it can."""
    if entry.family in action.families:
        if action.task in entry.tasks:
            return None
        extra = NEEDS_EXTRA.get(entry.family)
        if extra:
            return f"it needs its {extra} (add `extras = {{ {extra} = ... }}` to its entry in the config file)"
        return f"it cannot do {action.task}"
    return action.why_not.get(entry.family) or _WHY_NOT.get(entry.family, f"it is a {entry.family} model")


def models_for(registry: ModelRegistry, action: Action) -> list[str]:
    """The models a tab offers for `action`, in the registry's order."""
    return [e.name for e in registry.entries() if why_not(action, e) is None]


def default_for(registry: ModelRegistry, action: Action) -> ModelEntry | None:
    """The first bundled (else local, else Hub) model `action` can use."""
    for kind in ("bundled", "local", "hub"):
        for entry in registry.entries():
            if entry.kind == kind and why_not(action, entry) is None:
                return entry
    return None


def require(manager, action: Action, name: str | None, field_name: str = "model") -> ModelEntry:
    """The entry of `name` (None or "": `action`'s default model), or an UnsupportedTaskError that says why it
    cannot be used and names the models that can."""
    if not name:
        entry = default_for(manager.registry, action)
        if entry is None:
            raise UnsupportedTaskError(f"no model can do {action.label.lower()}: add one with --config")
        return entry
    entry = manager.registry.get(name)
    reason = why_not(action, entry)
    if reason is not None:
        can = models_for(manager.registry, action)
        raise UnsupportedTaskError(
            f"`{field_name}` {entry.name!r} cannot be used for {action.label.lower()}: {reason}. "
            f"Models that can: {', '.join(can) if can else 'none is listed'}."
        )
    return entry


FAMILY_LABELS = {
    "sd": "SD 1.x / 2.x (and the bundled shapes-sd)",
    "sdxl": "SDXL base",
    "sdxl-refiner": "SDXL refiner",
    "sd-inpaint": "SD inpainting (and shapes-sd-inpaint)",
    "sdxl-inpaint": "SDXL inpainting",
    "kandinsky22": "Kandinsky 2.2 (decoder + prior)",
    "kandinsky22-inpaint": "Kandinsky 2.2 inpainting",
    "sd-unclip": "Stable unCLIP (and shapes-unclip)",
    "if": "DeepFloyd IF",
    "sd-upscaler": "SD x4 upscaler",
    "if-stage2": "DeepFloyd IF stage II",
}


def matrix_markdown() -> str:
    """README's families × tabs table: ✓, or a numbered note saying why the tab does not offer the family."""
    notes: list[str] = []
    lines = ["| family | " + " | ".join(a.label for a in ACTIONS) + " |", "|---" * (len(ACTIONS) + 1) + "|"]
    for family, label in FAMILY_LABELS.items():
        cells = []
        for action in ACTIONS:
            probe = ModelEntry(label, "", "local", family=family, tasks=FAMILY_TASKS.get(family, ()))
            reason = why_not(action, probe)
            if reason is None:
                cells.append("✓")
                continue
            if reason not in notes:
                notes.append(reason)
            cells.append(f"no ({notes.index(reason) + 1})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [""] + [f"{i}. Not offered: {reason}." for i, reason in enumerate(notes, 1)]
    return "\n".join(lines)
