"""Builds the whole studio (`gr.Blocks`) around one pipeline manager.

Each tab lives in `studio/<name>_tab.py` with a `build(manager, stop_flags)` function; this file lays
them out, adds the Models panel and the session cleanup, and configures the queue.
"""

from __future__ import annotations

import gradio as gr

from pipelines.manager import PipelineManager

from . import guidance_lab_tab, inpaint_tab, paint_with_words_tab, text_to_image_tab, unclip_tab
from .components import DEVICE_EVENT, PRIVATE
from .sessions import StopFlags

QUEUE_MAX_SIZE = 32  # waiting requests beyond this are refused with "queue full" instead of piling up
MAX_FILE_SIZE = "20mb"  # uploads (PNG parameters, images to edit)

CSS = """
#studio-header h1 {margin-bottom: 0}
#txt2img-gallery img, #lab-cells img, #lab-grid img, #inpaint-gallery img, #inpaint-mask-preview img {
  image-rendering: pixelated;
}
#txt2img-status {min-height: 1.5em}
"""
STYLESHEET = CSS + paint_with_words_tab.CSS + unclip_tab.CSS  # one stylesheet; a tab's <style> block leaves a gap

INTRO = """# Diffusion studio
Try the ideas behind text-to-image models — classifier-free guidance, samplers, latent diffusion — on real
models in your browser. Type a prompt and press **Generate**; every image keeps its settings inside the PNG.
"""


def build_app(manager: PipelineManager) -> gr.Blocks:
    """The studio UI; loads no model (the manager loads lazily on the first request)."""
    stop_flags = StopFlags()
    with gr.Blocks(title="Diffusion studio") as demo:
        gr.Markdown(INTRO, elem_id="studio-header")
        with gr.Tabs(elem_id="studio-tabs"):
            with gr.Tab("Text to image", id="txt2img", elem_id="tab-txt2img"):
                txt2img = text_to_image_tab.build(manager, stop_flags)
            with gr.Tab("Guidance lab", id="guidance-lab", elem_id="tab-guidance-lab"):
                guidance_lab_tab.build(manager, stop_flags)
            with gr.Tab("Inpainting", id="inpaint", elem_id="tab-inpaint"):
                inpaint_tab.build(manager, stop_flags, txt2img_gallery=txt2img.gallery)
            with gr.Tab("Paint with words", id="pww", elem_id="tab-pww"):
                paint_with_words_tab.build(manager, stop_flags)
            with gr.Tab("unCLIP", id="unclip", elem_id="tab-unclip"):
                unclip_tab.build(manager, stop_flags, txt2img_gallery=txt2img.gallery)
        with gr.Accordion("Models", open=False, elem_id="models-panel"):
            models_md = gr.Markdown(_models_markdown(manager), elem_id="models-report")
            with gr.Row():
                refresh_btn = gr.Button("Refresh", size="sm", elem_id="models-refresh")
                unload_btn = gr.Button("Unload all", size="sm", elem_id="models-unload")

        def report():
            return _models_markdown(manager)

        def unload_all():
            manager.unload()
            return _models_markdown(manager)

        refresh_btn.click(report, outputs=[models_md], **PRIVATE)
        unload_btn.click(unload_all, outputs=[models_md], api_visibility="private", **DEVICE_EVENT)
        txt2img.generate_event.then(report, outputs=[models_md], **PRIVATE)
        demo.load(report, outputs=[models_md], **PRIVATE)

        def cleanup(request: gr.Request):
            if request is not None and request.session_hash:
                stop_flags.discard(request.session_hash)

        demo.unload(cleanup)
    demo.queue(max_size=QUEUE_MAX_SIZE)
    return demo


def launch_options() -> dict:
    """Keyword arguments for `demo.launch()` (Gradio 6 takes theme and css there)."""
    return {"theme": gr.themes.Soft(), "css": STYLESHEET, "max_file_size": MAX_FILE_SIZE}


def _models_markdown(manager: PipelineManager) -> str:
    loaded = manager.report()
    budget_mb = manager.config.memory_budget / 2**20 if manager.config.memory_budget else None
    lines = [
        f"**Device** {manager.device} · **dtype** {str(manager.dtype).removeprefix('torch.')}"
        + (f" · **memory budget** {budget_mb:.0f} MB" if budget_mb else " · **memory budget** 80 % of free memory")
    ]
    if loaded:
        lines += [
            "",
            "| Loaded model | Device | dtype | Size (MB) | Offload | Pipelines |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {m.name} | {m.device} | {m.dtype} | {m.size_mb:.1f} | {m.offload} | {', '.join(m.pipelines)} |"
            for m in loaded
        ]
    else:
        lines += ["", "Nothing loaded yet: a model loads on its first use."]
    lines += ["", "| Available model | Source | Can do |", "|---|---|---|"]
    lines += [f"| {e.name} | {e.kind}: `{e.source}` | {', '.join(e.tasks)} |" for e in manager.registry.entries()]
    return "\n".join(lines)
