"""What a guidance method may look at during one denoising step."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class StepContext:
    """One denoising step, in the VP notation of the papers.

    `x_t` is the model input after `scheduler.scale_model_input`, which for every diffusers scheduler is
    the variance-preserving x_t = sqrt(ᾱ_t)·x0 + sqrt(1-ᾱ_t)·ε, so x̂0 and ε convert through `alpha_bar`.
    """

    x_t: torch.Tensor  # (B, C, H, W) scaled model input
    alpha_bar: float  # ᾱ_t of this step's timestep
    step: int  # 0-based index of this step
    num_steps: int
    latent: bool  # True for latent-diffusion models (x is a VAE latent), False for pixel-space models

    def x0_from_eps(self, eps: torch.Tensor) -> torch.Tensor:
        """x̂0 = (x_t − sqrt(1−ᾱ_t)·ε̂) / sqrt(ᾱ_t)."""
        return (self.x_t - (1 - self.alpha_bar) ** 0.5 * eps) / self.alpha_bar**0.5

    def eps_from_x0(self, x0: torch.Tensor) -> torch.Tensor:
        """ε̂ = (x_t − sqrt(ᾱ_t)·x̂0) / sqrt(1−ᾱ_t)."""
        return (self.x_t - self.alpha_bar**0.5 * x0) / (1 - self.alpha_bar) ** 0.5
