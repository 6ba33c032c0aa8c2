"""The guidance lab's grid: one prompt and seed under several guidance methods (rows) and strengths
(columns), every cell from the same initial noise, scored, and composed into one labelled PNG."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw

from ..jobs import StepCounter, StepInfo, Stopped
from ..limits import LIMITS
from ..png_info import attach
from ..samplers import Sampler
from .methods import GuidanceMethod

MAX_CELLS = 36
MAX_CELLS_PER_BATCH = 16  # more cells in one batch buys no speed on a CPU and risks memory on a GPU
STRENGTH_IGNORED = "strength ignored"  # the note of a "No guidance" cell copied along its row
BYTES_PER_CELL_PIXEL = 6000  # rough activation memory of one cell per image pixel (SD 1.5, fp16: ~1.6 GB at 512²)


@dataclass(frozen=True)
class GuidanceGridRequest:
    """One lab run. Strengths mean the guidance scale s, or the CLIP gradient scale for CLIP guidance."""

    prompt: str
    methods: tuple[str, ...] = (GuidanceMethod.NONE.label, GuidanceMethod.CFG.label)
    strengths: tuple[float, ...] = (3.0, 5.0, 7.5)
    negative_prompt: str = ""  # used by the "negative prompt" row only
    model: str | None = None
    sampler: str = Sampler.DPMPP_2M.label
    steps: int = 20
    seed: int = -1
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class CellOutcome:
    method: GuidanceMethod
    strength: float
    image: Image.Image | None  # None when the method does not apply to this model
    seconds: float = 0.0
    clip_score: float | None = None
    verdict: str | None = None  # the judge's ✓/✗ per attribute (bundled shapes models)
    note: str = ""  # why there is no image, or what the strength means here

    @property
    def label(self) -> str:
        return f"{self.method.label} · {self.strength:g}"


def validate_grid(request: GuidanceGridRequest) -> list[tuple[GuidanceMethod, float]]:
    """Checks the grid's own fields; returns the (method, strength) pairs in row-major order."""
    if not request.methods:
        raise ValueError("`methods` must name at least one guidance method, got none")
    if not request.strengths:
        raise ValueError("`strengths` must have at least one value, got none")
    methods = [GuidanceMethod.from_label(m) for m in request.methods]
    scale = LIMITS["cfg_scale"]
    for s in request.strengths:
        if not isinstance(s, (int, float)) or s != s or not scale.low <= s <= scale.high:
            raise ValueError(f"`strengths` must be numbers from {scale.low:g} to {scale.high:g}, got {s!r}")
    cells = [(m, float(s)) for m in dict.fromkeys(methods) for s in dict.fromkeys(request.strengths)]
    if len(cells) > MAX_CELLS:
        raise ValueError(f"the grid may have at most {MAX_CELLS} cells, got {len(cells)}")
    return cells


def cells_per_batch(width: int, height: int, memory_budget: int) -> int:
    return max(1, min(MAX_CELLS_PER_BATCH, memory_budget // (width * height * BYTES_PER_CELL_PIXEL)))


def run_grid(
    make_pipeline: Callable[[], object],
    run_on_device: Callable,
    request: GuidanceGridRequest,
    *,
    latent: bool = True,
    batch: int = MAX_CELLS_PER_BATCH,
    clip=None,
    verdict: Callable[[Image.Image, str], str | None] | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
) -> tuple[list[CellOutcome], int | None]:
    """Renders the grid in batches; returns the outcomes in row-major order and the step Stop came at (or None).

    After each batch, `on_step` gets a `StepInfo` whose `partial` is the outcomes so far (to stream them).

    Args:
        make_pipeline: returns a per-request pipeline with a fresh scheduler (the manager's `request_pipeline`).
        run_on_device: runs a function holding the device lock (the manager's `run`).
        request: resolved (seed, width and height set) and validated by the caller.
        latent: whether the model is a latent-diffusion model (decides where thresholding applies).
        clip: a `ClipScorer` for CLIP guidance and CLIP scores, or None.
        verdict: `verdict(image, caption) -> "colour ✓ shape ✗ …"` (the shapes judge), or None.
        on_step, stop: the job contract (`pipelines/jobs.py`) over the whole grid; the cells finished before
            Stop stay.
    """
    from .lab import Cell, render_cells  # torch: imported when a grid runs, not when the UI is built

    pairs = validate_grid(request)
    outcomes: dict[tuple[GuidanceMethod, float], CellOutcome] = {}
    to_render: list[Cell] = []
    for method, strength in pairs:
        reason = method.unavailable_reason(latent)
        if reason:
            outcomes[(method, strength)] = CellOutcome(method, strength, None, note=reason)
        elif method is GuidanceMethod.NONE and any(c.method is GuidanceMethod.NONE for c in to_render):
            continue  # the strength is ignored: one render serves the whole row
        elif method is GuidanceMethod.CLIP and clip is None:
            outcomes[(method, strength)] = CellOutcome(
                method,
                strength,
                None,
                note="CLIP guidance needs a CLIP model for this model family; none is available",
            )
        else:
            to_render.append(Cell(method, strength))
    batches = [to_render[i : i + batch] for i in range(0, len(to_render), batch)]
    counter = StepCounter(request.steps * len(batches), on_step, stop)
    for cells in batches:
        if counter.stopped_at is not None:
            break
        try:
            results = run_on_device(
                render_cells,
                make_pipeline(),
                cells,
                request.prompt,
                request.negative_prompt,
                request.seed,
                request.steps,
                request.width,
                request.height,
                clip=clip,
                counter=counter,
            )
        except Stopped:
            break  # Stop pressed: the cells rendered so far stay
        scores = (
            clip.score([r.image for r in results], [request.prompt] * len(results)) if clip else [None] * len(results)
        )
        for result, score in zip(results, scores):
            summary = verdict(result.image, request.prompt) if verdict else None
            outcome = CellOutcome(
                result.cell.method, result.cell.strength, result.image, result.seconds, score, summary
            )
            outcomes[(result.cell.method, result.cell.strength)] = outcome
        for method, strength in pairs:  # the "no guidance" row: one render, every column
            if method is GuidanceMethod.NONE and (method, strength) not in outcomes:
                first = next((o for (m, _), o in outcomes.items() if m is GuidanceMethod.NONE and o.image), None)
                if first is not None:
                    outcomes[(method, strength)] = replace(first, strength=strength, note=STRENGTH_IGNORED)
        counter.report([outcomes[p] for p in pairs if p in outcomes])
    return [outcomes[p] for p in pairs if p in outcomes], counter.stopped_at


def compose_grid(
    outcomes: list[CellOutcome], strengths: list[float], parameters: str, cell_size: int = 192
) -> Image.Image:
    """One PNG: rows = methods, columns = strengths, each cell labelled with its time and scores.

    `parameters` goes into the PNG's `parameters` text chunk.
    """
    methods = list(dict.fromkeys(o.method for o in outcomes))
    label_w, header_h, foot_h = 230, 28, 34
    grid = Image.new(
        "RGB", (label_w + cell_size * len(strengths), header_h + (cell_size + foot_h) * len(methods)), "white"
    )
    draw = ImageDraw.Draw(grid)
    for j, s in enumerate(strengths):
        draw.text((label_w + j * cell_size + 6, 8), f"strength {s:g}", fill="black")
    by_key = {(o.method, o.strength): o for o in outcomes}
    for i, method in enumerate(methods):
        top = header_h + i * (cell_size + foot_h)
        draw.text((6, top + cell_size // 2), method.label, fill="black")
        for j, s in enumerate(strengths):
            left = label_w + j * cell_size
            outcome = by_key.get((method, float(s)))
            if outcome is None or outcome.image is None:
                draw.rectangle([left, top, left + cell_size - 1, top + cell_size - 1], fill=(225, 225, 225))
                draw.text((left + 6, top + 6), "not available\nfor this model", fill="black")
                continue
            grid.paste(outcome.image.convert("RGB").resize((cell_size, cell_size), Image.NEAREST), (left, top))
            foot = f"{outcome.seconds:.2f}s"
            if outcome.clip_score is not None:
                foot += f"  CLIP {outcome.clip_score:.1f}"
            draw.text((left + 4, top + cell_size + 2), foot, fill="black")
            if outcome.verdict:
                ascii_verdict = outcome.verdict.replace("✓", "+").replace("✗", "-")  # the default font is ASCII
                draw.text((left + 4, top + cell_size + 16), ascii_verdict, fill="black")
    return attach(grid, parameters)


@dataclass(frozen=True)
class GridResult:
    """What a lab run gives back."""

    request: GuidanceGridRequest  # with model, seed and size resolved
    outcomes: list[CellOutcome]  # row-major; a Stop leaves out the cells not rendered
    grid: Image.Image  # all cells in one labelled PNG, with the grid's parameters
    stopped_at: int | None = None  # the step Stop was honoured at (steps of all batches counted together)


def guidance_grid(
    manager,
    request: GuidanceGridRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> GridResult:
    """Runs a grid through the pipeline manager (the job contract of `pipelines/jobs.py`).

    `on_step` also receives each finished batch's outcomes so far as `StepInfo.partial`; `preview_every` is
    accepted for the contract's sake: the grid streams finished cells instead of previews.

    Raises:
        ValueError: a bad field, named with the value received.
    """
    from ..capabilities import GUIDANCE_LAB, require
    from ..errors import require_text
    from ..limits import check_fields, concrete_seed
    from ..models import TXT2IMG
    from ..text_to_image import check_size

    # 1. Check inputs, with the limits every action shares
    entry = require(manager, GUIDANCE_LAB, request.model)
    require_text(request.prompt, "prompt", "type what to draw")
    Sampler.from_label(request.sampler)
    check_fields(request, "steps", "seed")
    width, height = request.width or entry.native_size, request.height or entry.native_size
    check_size(width, height, entry)
    validate_grid(request)
    seed = concrete_seed(request.seed)
    request = replace(request, model=entry.name, seed=seed, width=width, height=height)

    # 2. Scorers: the family's CLIP (for CLIP guidance and scores) and, for shapes models, the judge
    clip = manager.clip_scorer(entry)
    verdict = _shapes_verdict if entry.vocabulary == "shapes" else None

    # 3. The cells, batched
    outcomes, stopped_at = run_grid(
        lambda: manager.request_pipeline(entry.name, TXT2IMG, request.sampler),
        manager.run,
        request,
        latent=True,
        batch=cells_per_batch(request.width, request.height, manager.memory_budget),
        clip=clip,
        verdict=verdict,
        on_step=on_step,
        stop=stop,
    )
    grid = compose_grid(outcomes, list(dict.fromkeys(request.strengths)), grid_parameters(request))
    return GridResult(request=request, outcomes=outcomes, grid=grid, stopped_at=stopped_at)


def _shapes_verdict(image: Image.Image, caption: str) -> str | None:
    from ..shapes.grammar import CaptionError
    from ..shapes.judge import judge

    try:
        return judge(image, caption).summary()
    except CaptionError:
        return None  # a caption outside the shapes grammar cannot be judged


def grid_parameters(request: GuidanceGridRequest) -> str:
    """The A1111-style parameters text of a grid, with the lab's rows and columns."""
    return (
        f"{request.prompt}\nNegative prompt: {request.negative_prompt}\n"
        f"Steps: {request.steps}, Sampler: {request.sampler}, Seed: {request.seed}, "
        f"Size: {request.width}x{request.height}, Model: {request.model}, "
        f"Guidance methods: {' | '.join(request.methods)}, Strengths: {', '.join(f'{s:g}' for s in request.strengths)}"
    )
