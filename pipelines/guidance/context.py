"""What a guidance method may look at during one denoising step."""

from __future__ import annotations

from dataclasses import dataclass

import torch

PREDICTION_TYPES = ("epsilon", "v_prediction")


@dataclass
class StepContext:
    """One denoising step, in the VP notation of the papers.

    `x_t` is the model input after `scheduler.scale_model_input`, which for every diffusers scheduler is
    the variance-preserving x_t = sqrt(ᾱ_t)·x0 + sqrt(1-ᾱ_t)·ε. The model predicts ε or, for v-prediction
    models (SD 2.x 768, zero-terminal-SNR models), v = sqrt(ᾱ_t)·ε − sqrt(1−ᾱ_t)·x0; the conversions below
    let a method work on x̂0 or ε̂ whatever the model predicts.
    """

    x_t: torch.Tensor  # (B, C, H, W) scaled model input
    alpha_bar: float  # ᾱ_t of this step's timestep
    step: int  # 0-based index of this step
    num_steps: int
    latent: bool  # True for latent-diffusion models (x is a VAE latent), False for pixel-space models
    prediction_type: str = "epsilon"  # what the model outputs: "epsilon" or "v_prediction"

    def __post_init__(self) -> None:
        if self.prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"guidance supports models predicting {PREDICTION_TYPES}, not {self.prediction_type!r}")

    def x0_from_eps(self, eps: torch.Tensor) -> torch.Tensor:
        """x̂0 = (x_t − sqrt(1−ᾱ_t)·ε̂) / sqrt(ᾱ_t)."""
        return (self.x_t - (1 - self.alpha_bar) ** 0.5 * eps) / self.alpha_bar**0.5

    def eps_from_x0(self, x0: torch.Tensor) -> torch.Tensor:
        """ε̂ = (x_t − sqrt(ᾱ_t)·x̂0) / sqrt(1−ᾱ_t)."""
        return (self.x_t - self.alpha_bar**0.5 * x0) / (1 - self.alpha_bar) ** 0.5

    def x0_from_prediction(self, prediction: torch.Tensor) -> torch.Tensor:
        """x̂0 from the model's output (for v: x̂0 = sqrt(ᾱ_t)·x_t − sqrt(1−ᾱ_t)·v̂)."""
        if self.prediction_type == "epsilon":
            return self.x0_from_eps(prediction)
        return self.alpha_bar**0.5 * self.x_t - (1 - self.alpha_bar) ** 0.5 * prediction

    def prediction_from_x0(self, x0: torch.Tensor) -> torch.Tensor:
        """The model output that implies x̂0 (for v: v̂ = (sqrt(ᾱ_t)·x_t − x̂0) / sqrt(1−ᾱ_t))."""
        if self.prediction_type == "epsilon":
            return self.eps_from_x0(x0)
        return (self.alpha_bar**0.5 * self.x_t - x0) / (1 - self.alpha_bar) ** 0.5

    def eps_from_prediction(self, prediction: torch.Tensor) -> torch.Tensor:
        """ε̂ from the model's output (for v: ε̂ = sqrt(ᾱ_t)·v̂ + sqrt(1−ᾱ_t)·x_t)."""
        if self.prediction_type == "epsilon":
            return prediction
        return self.alpha_bar**0.5 * prediction + (1 - self.alpha_bar) ** 0.5 * self.x_t

    def prediction_from_eps(self, eps: torch.Tensor) -> torch.Tensor:
        """The model output that implies ε̂ (for v: v̂ = (ε̂ − sqrt(1−ᾱ_t)·x_t) / sqrt(ᾱ_t); needs ᾱ_t > 0)."""
        if self.prediction_type == "epsilon":
            return eps
        return (eps - (1 - self.alpha_bar) ** 0.5 * self.x_t) / self.alpha_bar**0.5
