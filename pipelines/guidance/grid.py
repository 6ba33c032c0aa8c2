"""The guidance lab's grid: one prompt and seed under several guidance methods (rows, each with its guidance
interval) and strengths (columns), every cell from the same initial noise, scored, and composed into one labelled
PNG. With `calibrate`, each method's cells use the strength that matches classifier-free guidance's CLIP score at
the column's s (`calibration.py`)."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw

from ..jobs import StepCounter, StepInfo, Stopped
from ..limits import LIMITS
from ..png_info import attach
from ..samplers import Sampler
from .calibration import ROUNDS, StrengthSearch, renders_per_search
from .methods import GuidanceMethod

MAX_CELLS = 36
MAX_CELLS_PER_BATCH = 16  # more cells in one batch buys no speed on a CPU and risks memory on a GPU
STRENGTH_IGNORED = "strength ignored"  # the note of a "No guidance" cell copied along its row
BYTES_PER_CELL_PIXEL = 6000  # rough activation memory of one cell per image pixel (SD 1.5, fp16: ~1.6 GB at 512²)
FULL = (0.0, 1.0)
# Rows calibration leaves at the column's strength: the reference itself, and the row whose strength is ignored.
NOT_CALIBRATED = (GuidanceMethod.CFG, GuidanceMethod.NONE)


@dataclass(frozen=True)
class GuidanceGridRequest:
    """One lab run. Strengths mean the guidance scale s, or the CLIP gradient scale for CLIP guidance.

    Rows are every method at every interval: `intervals` (start, stop) are fractions of the steps where guidance is
    on, e.g. ((0, 1), (0.25, 0.75)) shows each method with guidance on all steps and on the middle half.
    """

    prompt: str
    methods: tuple[str, ...] = (GuidanceMethod.NONE.label, GuidanceMethod.CFG.label)
    strengths: tuple[float, ...] = (3.0, 5.0, 7.5)
    intervals: tuple[tuple[float, float], ...] = (FULL,)
    calibrate: bool = False  # match each method's strength to CFG's CLIP score at the column's s
    negative_prompt: str = ""  # used by the "negative prompt" row only
    model: str | None = None
    sampler: str = Sampler.DPMPP_2M.label
    steps: int = 20
    seed: int = -1
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Row:
    """A grid row: a method with guidance on from `start` to `stop` (fractions of the steps)."""

    method: GuidanceMethod
    start: float = 0.0
    stop: float = 1.0

    @property
    def full(self) -> bool:
        return (self.start, self.stop) == FULL

    @property
    def label(self) -> str:
        if self.full:
            return self.method.label
        return f"{self.method.label}, guidance on {self.start:.0%}–{self.stop:.0%} of steps"


@dataclass(frozen=True)
class CellOutcome:
    row: Row
    strength: float  # the column's
    image: Image.Image | None  # None when the method does not apply to this model
    seconds: float = 0.0
    clip_score: float | None = None
    verdict: str | None = None  # the judge's ✓/✗ per attribute (bundled shapes models)
    note: str = ""  # why there is no image, or what the strength means here
    used_strength: float | None = None  # calibrated: the strength this cell used (None: the column's)

    @property
    def method(self) -> GuidanceMethod:
        return self.row.method

    @property
    def label(self) -> str:
        if self.used_strength is None:
            return f"{self.row.label} · {self.strength:g}"
        return f"{self.row.label} · {self.used_strength:.3g} (matched to CFG {self.strength:g})"


def validate_grid(request: GuidanceGridRequest) -> list[tuple[Row, float]]:
    """Checks the grid's own fields; returns the (row, strength) pairs in row-major order."""
    if not request.methods:
        raise ValueError("`methods` must name at least one guidance method, got none")
    if not request.strengths:
        raise ValueError("`strengths` must have at least one value, got none")
    if not request.intervals:
        raise ValueError(
            "`intervals` must have at least one (start, stop), got none; (0, 1) is guidance on every step"
        )
    methods = [GuidanceMethod.from_label(m) for m in request.methods]
    scale = LIMITS["cfg_scale"]
    for s in request.strengths:
        if not isinstance(s, (int, float)) or s != s or not scale.low <= s <= scale.high:
            raise ValueError(f"`strengths` must be numbers from {scale.low:g} to {scale.high:g}, got {s!r}")
    for interval in request.intervals:
        start, stop = interval if isinstance(interval, (tuple, list)) and len(interval) == 2 else (None, None)
        if not all(isinstance(v, (int, float)) and v == v for v in (start, stop)) or not 0 <= start < stop <= 1:
            raise ValueError(
                f"`intervals` must be (start, stop) fractions of the steps with 0 ≤ start < stop ≤ 1, got {interval!r}"
            )
    if request.calibrate and not any(m not in NOT_CALIBRATED for m in methods):
        raise ValueError("`calibrate` matches other methods to classifier-free guidance: pick at least one other")
    rows = [
        Row(m, float(start), float(stop))
        for m in dict.fromkeys(methods)
        for start, stop in dict.fromkeys(tuple(i) for i in request.intervals)
        if m is not GuidanceMethod.NONE or (start, stop) == request.intervals[0]  # "No guidance" has no interval
    ]
    if request.calibrate and GuidanceMethod.CFG not in methods:
        rows.insert(0, Row(GuidanceMethod.CFG))  # the reference the others are matched to
    cells = [(row, float(s)) for row in rows for s in dict.fromkeys(request.strengths)]
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
    why_not: Callable[[GuidanceMethod], str | None] = lambda method: method.unavailable_reason(True),
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
        why_not: why a method cannot run on this model (None when it can), shown in its cells.
        clip: a `ClipScorer` for CLIP guidance, CLIP scores and calibration, or None.
        verdict: `verdict(image, caption) -> "colour ✓ shape ✗ …"` (the shapes judge), or None.
        on_step, stop: the job contract (`pipelines/jobs.py`) over the whole grid; the cells finished before
            Stop stay.
    """
    pairs = validate_grid(request)
    if request.calibrate and clip is None:
        raise ValueError("`calibrate` matches CLIP scores, and no CLIP model is available for this model")
    outcomes: dict[tuple[Row, float], CellOutcome] = {}
    to_render: list[tuple[Row, float]] = []
    for row, strength in pairs:
        reason = why_not(row.method)
        if row.method is GuidanceMethod.CLIP and clip is None:
            reason = "CLIP guidance needs a CLIP model for this model family; none is available"
        if reason:
            outcomes[(row, strength)] = CellOutcome(row, strength, None, note=reason)
        elif row.method is GuidanceMethod.NONE and any(r.method is GuidanceMethod.NONE for r, _ in to_render):
            continue  # the strength is ignored: one render serves the whole row
        else:
            to_render.append((row, strength))
    render = _Renderer(make_pipeline, run_on_device, request, batch, clip, verdict)
    searched = [(row, s) for row, s in to_render if request.calibrate and row.method not in NOT_CALIBRATED]
    plain = [pair for pair in to_render if pair not in searched]
    cells_to_render = len(plain) + len(searched) * renders_per_search()
    render.counter = StepCounter(request.steps * render.batches(cells_to_render), on_step, stop)

    def report():
        _fill_no_guidance_row(pairs, outcomes)
        render.counter.report([outcomes[p] for p in pairs if p in outcomes])

    try:
        render(plain, into=outcomes, report=report)
        if searched:
            _calibrate(render, searched, outcomes, report)
    except Stopped:
        pass  # Stop pressed: the cells rendered so far stay
    _fill_no_guidance_row(pairs, outcomes)
    return [outcomes[p] for p in pairs if p in outcomes], render.counter.stopped_at


def _calibrate(render, searched, outcomes, report) -> None:
    """Each searched (row, column s) cell: the strength whose CLIP score matches CFG's at s, and its image."""
    targets = {s: outcomes[(row, s)].clip_score for (row, s) in outcomes if row == Row(GuidanceMethod.CFG)}
    searches = {pair: StrengthSearch(pair[1], targets[pair[1]]) for pair in searched if pair[1] in targets}
    tried: dict[tuple[Row, float], dict[float, CellOutcome]] = {pair: {} for pair in searches}
    for round_ in range(ROUNDS):
        cells = [(pair, strength) for pair, search in searches.items() for strength in search.candidates(round_)]
        results: dict[tuple[Row, float], CellOutcome] = {}
        render([(pair[0], strength) for pair, strength in cells], into=results)
        for pair, strength in cells:
            outcome = results[(pair[0], strength)]
            searches[pair].record(strength, outcome.clip_score)
            tried[pair][strength] = outcome
        for pair, search in searches.items():
            best = tried[pair][search.best()]
            outcomes[pair] = replace(
                best,
                strength=pair[1],
                used_strength=search.best(),
                note=f"CLIP {best.clip_score:.1f} against CFG's {search.target:.1f} at {pair[1]:g}",
            )
        report()


class _Renderer:
    """Renders (row, strength) cells in batches on the device, scoring each; counts their steps."""

    def __init__(self, make_pipeline, run_on_device, request, batch, clip, verdict) -> None:
        self.make_pipeline, self.run_on_device, self.request = make_pipeline, run_on_device, request
        self.batch, self.clip, self.verdict = batch, clip, verdict
        self.counter: StepCounter | None = None

    def batches(self, cells: int) -> int:
        return -(-cells // self.batch)

    def __call__(self, pairs, *, into: dict, report: Callable[[], None] | None = None) -> None:
        """Renders `pairs` and puts each outcome in `into` under its (row, strength), calling `report` after each
        batch; raises `Stopped` when Stop came (the outcomes of the batches finished are in `into`)."""
        from .lab import Cell, render_cells  # torch: imported when a grid runs, not when the UI is built

        request = self.request
        for i in range(0, len(pairs), self.batch):
            chunk = pairs[i : i + self.batch]
            cells = [Cell(row.method, strength, row.start, row.stop) for row, strength in chunk]
            results = self.run_on_device(
                render_cells,
                self.make_pipeline(),
                cells,
                request.prompt,
                request.negative_prompt,
                request.seed,
                request.steps,
                request.width,
                request.height,
                clip=self.clip,
                counter=self.counter,
            )
            images = [r.image for r in results]
            scores = self.clip.score(images, [request.prompt] * len(images)) if self.clip else [None] * len(images)
            for (row, strength), result, score in zip(chunk, results, scores):
                summary = self.verdict(result.image, request.prompt) if self.verdict else None
                into[(row, strength)] = CellOutcome(row, strength, result.image, result.seconds, score, summary)
            if report is not None:
                report()
            if self.counter.stopped_at is not None:
                raise Stopped


def _fill_no_guidance_row(pairs, outcomes) -> None:
    """The "no guidance" row: one render, every column."""
    first = next((o for (r, _), o in outcomes.items() if r.method is GuidanceMethod.NONE and o.image), None)
    for row, strength in pairs:
        if row.method is GuidanceMethod.NONE and (row, strength) not in outcomes and first is not None:
            outcomes[(row, strength)] = replace(first, strength=strength, note=STRENGTH_IGNORED)


def compose_grid(
    outcomes: list[CellOutcome], strengths: list[float], parameters: str, cell_size: int = 192
) -> Image.Image:
    """One PNG: rows = methods (with their intervals), columns = strengths, each cell labelled with its time and
    scores (and, calibrated, the strength it used).

    `parameters` goes into the PNG's `parameters` text chunk.
    """
    rows = list(dict.fromkeys(o.row for o in outcomes))
    label_w, header_h, foot_h = 230, 28, 48
    grid = Image.new(
        "RGB", (label_w + cell_size * len(strengths), header_h + (cell_size + foot_h) * len(rows)), "white"
    )
    draw = ImageDraw.Draw(grid)
    for j, s in enumerate(strengths):
        draw.text((label_w + j * cell_size + 6, 8), f"strength {s:g}", fill="black")
    by_key = {(o.row, o.strength): o for o in outcomes}
    for i, row in enumerate(rows):
        top = header_h + i * (cell_size + foot_h)
        draw.text((6, top + cell_size // 2), textwrap.fill(row.label, 36), fill="black")
        for j, s in enumerate(strengths):
            left = label_w + j * cell_size
            outcome = by_key.get((row, float(s)))
            if outcome is None or outcome.image is None:
                draw.rectangle([left, top, left + cell_size - 1, top + cell_size - 1], fill=(225, 225, 225))
                draw.text((left + 6, top + 6), "not available\nfor this model", fill="black")
                continue
            grid.paste(outcome.image.convert("RGB").resize((cell_size, cell_size), Image.NEAREST), (left, top))
            foot = f"{outcome.seconds:.2f}s"
            if outcome.clip_score is not None:
                foot += f"  CLIP {outcome.clip_score:.1f}"
            if outcome.used_strength is not None:
                foot += f"  used s={outcome.used_strength:.3g}"
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
    from .guiders import why_not_on

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
    unet = manager.pipeline(entry.name, TXT2IMG).unet
    outcomes, stopped_at = run_grid(
        lambda: manager.request_pipeline(entry.name, TXT2IMG, request.sampler),
        manager.run,
        request,
        why_not=lambda method: why_not_on(method, unet, latent=True),
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
    intervals = ", ".join(f"{start:g}-{stop:g}" for start, stop in request.intervals)
    strengths = ", ".join(f"{s:g}" for s in request.strengths)
    return (
        f"{request.prompt}\nNegative prompt: {request.negative_prompt}\n"
        f"Steps: {request.steps}, Sampler: {request.sampler}, Seed: {request.seed}, "
        f"Size: {request.width}x{request.height}, Model: {request.model}, "
        f"Guidance methods: {' | '.join(request.methods)}, Strengths: {strengths}, "
        f"Guidance intervals: {intervals}, Calibrated: {'yes' if request.calibrate else 'no'}"
    )
