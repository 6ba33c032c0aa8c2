"""The Guidance lab tab: one prompt and seed under several guidance methods and strengths, side by side.

Its main action is the stable API endpoint `/guidance_grid`; its named inputs are the parameters of `run`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import gradio as gr

from pipelines.capabilities import GUIDANCE_LAB, default_for, models_for, require
from pipelines.guidance import GuidanceMethod
from pipelines.guidance.grid import STRENGTH_IGNORED, GuidanceGridRequest, guidance_grid
from pipelines.manager import PipelineManager

from .components import DEVICE_EVENT, limit_slider, result_gallery, run_buttons, sampler_dropdown, seed_box, wire_stop
from .errors import explain_unreadable_inputs
from .runner import bind, build_request, run_action, seed_of, warn_unknown_words
from .sessions import StopFlags

DEFAULTS = GuidanceGridRequest(prompt="")
SHAPES_EXAMPLES = [  # two-object prompts, where the methods differ most on the bundled model
    "a red circle above a blue square",
    "a green triangle to the left of a yellow circle",
    "a small purple square at the top",
]
EXPLAINER = """Every cell starts from **the same noise** (the seed), so the differences you see come from the
guidance method and its strength alone. Strength is the guidance scale *s* (for CLIP guidance: the CLIP
gradient scale). Under each cell: seconds, CLIP score (how well the image matches the prompt, by CLIP)
and, on the bundled shapes models, the judge's verdict per attribute. **Guidance on** limits guidance to part of
the steps (each range adds a row per method); **Calibrate** runs each method at the strength that matches
classifier-free guidance's CLIP score at each column's *s*, since the same number means a different push to each."""


@dataclass
class GuidanceLabTab:
    run_event: gr.events.Dependency


def _method_notes(latent: bool = True) -> str:
    lines = ["| Method | What it does |", "|---|---|"]
    for method in GuidanceMethod:
        reason = method.unavailable_reason(latent)
        text = f"*Not available on latent models:* {reason}" if reason else method.description(latent)
        lines.append(f"| {method.label} | {text} |")
    return "\n".join(lines)


def parse_strengths(text: str) -> tuple[float, ...]:
    """'3, 5, 7.5' -> (3.0, 5.0, 7.5); a clear message for anything else."""
    parts = [p for p in str(text or "").replace(";", ",").split(",") if p.strip()]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"`strengths` must be numbers separated by commas, like 3, 5, 7.5 — got {text!r}") from None
    return values


def parse_intervals(text: str) -> tuple[tuple[float, float], ...]:
    """'0-1, 0.25-0.75' -> ((0.0, 1.0), (0.25, 0.75)); empty = guidance on every step; a clear message otherwise."""
    parts = [p.strip() for p in str(text or "").replace(";", ",").split(",") if p.strip()]
    intervals = []
    for part in parts or ["0-1"]:
        try:
            start, stop = (float(v) for v in part.replace("–", "-").split("-"))
        except ValueError:
            raise ValueError(
                f"`intervals` must be ranges of the steps as fractions, like 0-1, 0.25-0.75 — got {part!r}"
            ) from None
        intervals.append((start, stop))
    return tuple(intervals)


# ---------------------------------------------------------------------------------------------- handlers
def run(
    manager: PipelineManager,
    stop_flags: StopFlags,
    prompt: str,
    negative_prompt: str = "",
    model: str | None = None,
    methods: list[str] | None = None,
    strengths: str = "3, 5, 7.5",
    sampler: str = DEFAULTS.sampler,
    steps: float = DEFAULTS.steps,
    seed: float = DEFAULTS.seed,
    intervals: str = "0-1",
    calibrate: bool = False,
    request: gr.Request = None,
    progress=gr.Progress(),  # noqa: B008 (Gradio injects the tracker through this default)
):
    """Renders one prompt and seed under several guidance methods (rows) and strengths (columns), all from the same
    initial noise, so the differences come from the guidance alone; each cell is scored (CLIP score, and the shapes
    judge's verdict per attribute on the bundled models).

    Args:
        prompt: what to draw, e.g. "a red circle above a blue square".
        negative_prompt: used by the "Classifier-free + negative prompt" row only.
        model: a model name from the studio's model list; empty = the default model.
        methods: guidance method labels, e.g. ["No guidance", "Classifier-free", "CFG-Zero*"] (the rows).
        strengths: comma-separated numbers, each {cfg_scale}, e.g. "3, 5, 7.5": each column's guidance scale s.
        sampler: DDIM, DDPM, Euler, Euler a, DPM++ 2M, DPM++ 2M Karras.
        steps: denoising steps, {steps}.
        seed: -1 for random; every cell starts from this seed's noise.
        intervals: where guidance is on, as fractions of the steps, comma-separated, e.g. "0-1, 0.25-0.75": each
            method gets a row per range (guidance interval, Kynkäänniemi et al. 2024).
        calibrate: run each method at the strength whose CLIP score matches classifier-free guidance's at each
            column's s (a short search on the same seed); each cell says the strength it used.

    Returns:
        the cells (images captioned with method, strength, seconds, CLIP score, verdict), a status line, and the whole
        grid as one PNG with its parameters.
    """
    req = build_request(
        lambda: GuidanceGridRequest(
            prompt=prompt or "",
            methods=tuple(methods or ()),
            strengths=parse_strengths(strengths),
            intervals=parse_intervals(intervals),
            calibrate=bool(calibrate),
            negative_prompt=negative_prompt or "",
            model=model or None,
            sampler=sampler or DEFAULTS.sampler,
            steps=int(steps),
            seed=seed_of(seed),
        )
    )
    entry = build_request(lambda: require(manager, GUIDANCE_LAB, req.model))
    warn_unknown_words(entry, req.prompt, req.negative_prompt)
    req = replace(req, model=entry.name)

    def show(info):
        return _gallery(info.partial), f"{len(info.partial)} cells so far", gr.skip()

    finished = yield from run_action(
        guidance_grid, req, manager, stop_flags, request, progress, show=show, desc="Rendering the grid"
    )
    result = finished.result
    done = "Stopped" if finished.stopped else "Done"
    yield _gallery(result.outcomes), f"{done}: {len(result.outcomes)} cells · seed {result.request.seed}", result.grid


# ---------------------------------------------------------------------------------------------- layout
def build(manager: PipelineManager, stop_flags: StopFlags) -> GuidanceLabTab:
    registry = manager.registry
    default = default_for(registry, GUIDANCE_LAB)
    gr.Markdown(EXPLAINER)
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=320):
            model = gr.Dropdown(
                models_for(registry, GUIDANCE_LAB),
                value=default.name if default else None,
                label="Model",
                elem_id="lab-model",
            )
            prompt = gr.Textbox(
                label="Prompt", lines=2, placeholder="e.g. a red circle above a blue square", elem_id="lab-prompt"
            )
            if default and default.vocabulary == "shapes":
                gr.Examples(SHAPES_EXAMPLES, inputs=[prompt], label="Try", cache_examples=False)
            negative = gr.Textbox(
                value="", label="Negative prompt (used by the 'negative prompt' row)", lines=1, elem_id="lab-negative"
            )
            methods = gr.CheckboxGroup(
                GuidanceMethod.labels(), value=list(DEFAULTS.methods), label="Methods (rows)", elem_id="lab-methods"
            )
            strengths = gr.Textbox(
                value=", ".join(f"{s:g}" for s in DEFAULTS.strengths),
                label="Strengths (columns), comma-separated",
                elem_id="lab-strengths",
            )
            with gr.Row():
                intervals = gr.Textbox(
                    value="0-1",
                    label="Guidance on (fractions of the steps; one row per range)",
                    placeholder="e.g. 0-1, 0.25-0.75",
                    elem_id="lab-intervals",
                )
                calibrate = gr.Checkbox(
                    value=False, label="Calibrate: match each method to CFG's CLIP score", elem_id="lab-calibrate"
                )
            with gr.Row():
                sampler = sampler_dropdown(DEFAULTS.sampler, "lab-sampler")
                steps = limit_slider("steps", DEFAULTS.steps, "Steps", "lab-steps")
            seed = seed_box(DEFAULTS.seed, "Seed (-1 = random)", "lab-seed")
            run_btn, stop_btn = run_buttons("Run the grid", "lab")
            with gr.Accordion("What each method does", open=False):
                gr.Markdown(_method_notes())
        with gr.Column(scale=6, min_width=320):
            cells = result_gallery("Cells (rows = methods, columns = strengths)", "lab-cells", columns=3, height=520)
            status = gr.Markdown("", elem_id="lab-status")
            grid_png = gr.Image(
                label="The whole grid (PNG with its parameters)",
                type="pil",
                format="png",
                interactive=False,
                elem_id="lab-grid",
            )

    lab_inputs = [prompt, negative, model, methods, strengths, sampler, steps, seed, intervals, calibrate]
    handler = bind(run, manager, stop_flags, name="guidance_grid")
    explain_unreadable_inputs(lab_inputs, handler)  # an undecodable value: a message, not a crash
    run_event = run_btn.click(
        handler,
        inputs=lab_inputs,
        outputs=[cells, status, grid_png],
        api_name="guidance_grid",
        **DEVICE_EVENT,
        show_progress_on=[cells],
    )
    wire_stop(stop_btn, stop_flags, status)
    return GuidanceLabTab(run_event=run_event)


def _gallery(outcomes) -> list[tuple]:
    """Gallery items, one per distinct image: a row whose strength does not matter ("No guidance") or that
    cannot run on this model shows once (identical images in one gallery update also race in Gradio's cache)."""
    items, shown_once = [], set()
    for o in outcomes:
        if o.image is None or o.note == STRENGTH_IGNORED or o.method is GuidanceMethod.NONE:
            if o.row in shown_once:
                continue
            shown_once.add(o.row)
        if o.image is None:
            items.append((_blank(), f"{o.row.label} — {o.note}"))
            continue
        caption = f"{o.row.label} · any strength" if o.method is GuidanceMethod.NONE else o.label
        caption += f" — {o.seconds:.2f} s"
        if o.clip_score is not None:
            caption += f" · CLIP {o.clip_score:.1f}"
        if o.verdict:
            caption += f" · {o.verdict}"
        items.append((o.image, caption))
    return items


def _blank():
    from PIL import Image

    return Image.new("RGB", (64, 64), (225, 225, 225))
