"""CLIP guidance on the bundled model and its CLIP: at the lab's strengths it must raise the CLIP score of the
image over no guidance, and not break the image at a strong setting (a strength unit 100× too large once broke
every image, CLIP score 56 → 6, while a unit test on toy embeddings still passed)."""

import numpy as np
import pytest

from pipelines.guidance import GuidanceMethod
from pipelines.guidance.lab import Cell, render_cells
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import DEFAULT_MODELS_DIR

pytestmark = pytest.mark.slow
PROMPTS = ["a red circle", "a blue square at the top", "a yellow triangle on the left"]


def test_clip_guidance_raises_the_clip_score_at_lab_strengths():
    manager = PipelineManager(ManagerConfig(models_dir=DEFAULT_MODELS_DIR, device="cpu", offline=True))
    clip = manager.clip_scorer(manager.entry("shapes-sd"))
    cells = [Cell(GuidanceMethod.NONE, 0.0), Cell(GuidanceMethod.CLIP, 3.0), Cell(GuidanceMethod.CLIP, 7.5)]
    scores = []
    for prompt in PROMPTS:
        pipe = manager.request_pipeline("shapes-sd", sampler="DPM++ 2M")
        results = manager.run(render_cells, pipe, cells, prompt, "", 0, 12, 64, 64, clip=clip)
        scores.append(clip.score([r.image for r in results], [prompt] * len(results)))
    none, weak, strong = np.mean(scores, axis=0)
    assert weak > none + 2 and strong > none, (none, weak, strong)
