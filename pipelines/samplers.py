"""Samplers by the names WebUI users know, mapped to diffusers schedulers.

Each request builds a fresh scheduler from the loaded model's scheduler config (schedulers keep
per-call state and are not thread-safe), so a choice here never changes the shared pipeline.
"""

from __future__ import annotations

from typing import Any

from .choices import LabelledEnum


class Sampler(LabelledEnum):
    """The value is the label shown in the UI and written in the PNG `parameters` chunk."""

    DDIM = "DDIM"
    DDPM = "DDPM"
    EULER = "Euler"
    EULER_A = "Euler a"
    DPMPP_2M = "DPM++ 2M"
    DPMPP_2M_KARRAS = "DPM++ 2M Karras"
    LCM = "LCM"

    @classmethod
    def field(cls) -> str:
        return "sampler"

    @property
    def needs_distilled_model(self) -> bool:
        """LCM only gives images with a latent-consistency-distilled UNet (or an LCM LoRA)."""
        return self is Sampler.LCM

    def make_scheduler(self, base_config: dict[str, Any]):
        """A new scheduler of this kind, configured from the model's own scheduler config.

        Args:
            base_config: `pipe.scheduler.config` of the loaded model (betas, timestep spacing, prediction type).
        """
        import diffusers  # imported on first use: keeps `import app` (and the page) fast

        class_name, extra = _SCHEDULERS[self]
        return getattr(diffusers, class_name).from_config(dict(base_config), **extra)


_SCHEDULERS: dict[Sampler, tuple[str, dict[str, Any]]] = {
    Sampler.DDIM: ("DDIMScheduler", {}),
    Sampler.DDPM: ("DDPMScheduler", {}),
    Sampler.EULER: ("EulerDiscreteScheduler", {}),
    Sampler.EULER_A: ("EulerAncestralDiscreteScheduler", {}),
    Sampler.DPMPP_2M: ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    Sampler.DPMPP_2M_KARRAS: (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    Sampler.LCM: ("LCMScheduler", {}),
}
