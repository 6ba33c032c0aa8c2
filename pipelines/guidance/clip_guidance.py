"""CLIP guidance (GLIDE, Nichol et al. 2021): push each step toward higher CLIP similarity between the
image and the caption.

    ε̂ = ε(x_t, c) − sqrt(1−ᾱ_t) · s · ∇_{x_t} sim(E_I(D(x̂0)), E_T(y))

GLIDE trained a noise-aware CLIP; the practical form scores the implied clean image x̂0 (decoded by the
VAE D for latent models) with an ordinary CLIP. The gradient is taken through the decoder and CLIP but
not through the UNet (x̂0 is treated as a function of x_t with ε̂ fixed), which keeps the cost at one
decoder and one CLIP backward pass per step.

Steps with ᾱ_t below `MIN_ALPHA_BAR` (the first one or two of 12-20) are left unguided. There x̂0 is a blurry
mean picture, or not defined at all (ᾱ = 0 at t = T on a zero-terminal-SNR schedule), and the formula moves x̂0
by (1−ᾱ)/ᾱ · s · ∇_{x̂0} sim, hundreds of times the gradient. Measured on the bundled zero-terminal-SNR model
(3 prompts, 12 steps): with every step guided down to ᾱ = 0.002, CLIP score 86.9 unguided fell to 70.2 / 59.7
at s = 3 / 7.5; from ᾱ ≥ 0.005, 85.5 / 76.9; from ᾱ ≥ 0.02, 87.0 / 87.1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers.guiders.guider_utils import BaseGuidance, GuiderOutput

from .context import StepContext

MIN_ALPHA_BAR = 0.02


def clip_guided(
    eps_cond: torch.Tensor,
    context: StepContext,
    scale: float,
    to_image: Callable[[torch.Tensor], torch.Tensor],
    image_embeddings: Callable[[torch.Tensor], torch.Tensor],
    text_embedding: torch.Tensor,
) -> torch.Tensor:
    """Args:
    eps_cond: the model's output for (x_t, c), ε or v as `context.prediction_type` says, (B, C, H, W).
    scale: s, the gradient scale on the cosine similarity (the lab's strength; 1–12 is the useful range on
        the bundled model, where it raises the CLIP score above classifier-free guidance's).
    to_image: x̂0 -> images in [0, 1], (B, 3, H', W') (the VAE decode for latent models).
    image_embeddings: images -> unit-norm CLIP embeddings (B, D); differentiable.
    text_embedding: unit-norm CLIP embedding of the caption, (1, D) or (B, D).
    """
    if scale == 0 or context.alpha_bar < MIN_ALPHA_BAR:
        return eps_cond
    eps = context.eps_from_prediction(eps_cond).detach()
    with torch.enable_grad():
        x_t = context.x_t.detach().requires_grad_(True)
        x0 = (x_t - (1 - context.alpha_bar) ** 0.5 * eps) / context.alpha_bar**0.5
        similarity = (image_embeddings(to_image(x0)) * text_embedding).sum()
        (gradient,) = torch.autograd.grad(similarity, x_t)
    return context.prediction_from_eps(eps - (1 - context.alpha_bar) ** 0.5 * scale * gradient)


class ClipGuidance(BaseGuidance):
    """`clip_guided` as a guider, in the shape of diffusers' guiders: the settings here, the step's `StepContext`
    given by `set_context` before `forward`, and only the conditional prediction needed.

    Args:
        scale: s, the gradient scale (the lab's strength).
        to_image, image_embeddings, text_embedding: as `clip_guided` takes them.
        start, stop: the guidance interval (fractions of the steps); outside it the conditional prediction passes.
    """

    _input_predictions = ["pred_cond"]

    def __init__(
        self,
        scale: float,
        to_image: Callable[[torch.Tensor], torch.Tensor] | None = None,
        image_embeddings: Callable[[torch.Tensor], torch.Tensor] | None = None,
        text_embedding: torch.Tensor | None = None,
        start: float = 0.0,
        stop: float = 1.0,
        enabled: bool = True,
    ) -> None:
        super().__init__(start, stop, enabled)
        self.scale, self.to_image, self.image_embeddings = scale, to_image, image_embeddings
        self.text_embedding = text_embedding
        self._context: StepContext | None = None

    def set_context(self, context: StepContext) -> None:
        self._context = context

    def prepare_inputs(self, data) -> list:
        return [self._prepare_batch(data, 0, "pred_cond")]

    def forward(self, pred_cond: torch.Tensor) -> GuiderOutput:
        if not self._is_guiding():
            return GuiderOutput(pred=pred_cond, pred_cond=pred_cond)
        if self.to_image is None:
            raise ValueError("CLIP guidance needs a CLIP model; none was given")
        pred = clip_guided(
            pred_cond, self._context, self.scale, self.to_image, self.image_embeddings, self.text_embedding
        )
        return GuiderOutput(pred=pred, pred_cond=pred_cond)

    def _is_guiding(self) -> bool:
        if not self._enabled:
            return False
        if self._num_inference_steps is None:
            return True
        n = self._num_inference_steps
        return int(self._start * n) <= self._step < int(self._stop * n)

    @property
    def is_conditional(self) -> bool:
        return True

    @property
    def num_conditions(self) -> int:
        return 1
