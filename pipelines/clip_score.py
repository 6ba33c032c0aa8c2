"""CLIP similarity between images and captions, with any transformers CLIP folder (the bundled
`shapes-clip` or a Hub CLIP such as openai/clip-vit-base-patch32). Used for CLIP score, zero-shot
caption retrieval and CLIP guidance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


class ClipScorer:
    """Embeds images and captions with a CLIP pair and compares them by cosine similarity."""

    def __init__(self, folder: str | Path, device: str = "cpu", local_files_only: bool = True) -> None:
        from transformers import AutoTokenizer, CLIPModel

        self.model = CLIPModel.from_pretrained(folder, use_safetensors=True, local_files_only=local_files_only)
        self.model = self.model.to(device).eval().requires_grad_(False)
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=local_files_only)
        self.device = device
        vision = self.model.config.vision_config
        self.image_size = vision.image_size
        processor_config = Path(folder) / "preprocessor_config.json"
        mean, std = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]
        if processor_config.exists():
            import json

            config = json.loads(processor_config.read_text())
            mean, std = config.get("image_mean", mean), config.get("image_std", std)
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable: images (B, 3, H, W) in [0, 1] -> normalised pixel values at CLIP's resolution."""
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = torch.nn.functional.interpolate(
                images, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False
            )
        return (images - self.mean) / self.std

    def image_embeddings(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-norm image embeddings (B, D) of images (B, 3, H, W) in [0, 1]; differentiable."""
        features = self.model.get_image_features(pixel_values=self.preprocess(images.to(self.device)))
        features = getattr(features, "pooler_output", features)
        return torch.nn.functional.normalize(features, dim=-1)

    @torch.no_grad()
    def text_embeddings(self, captions: list[str]) -> torch.Tensor:
        """Unit-norm text embeddings (N, D)."""
        max_length = self.tokenizer.model_max_length
        if max_length > 512:
            max_length = self.model.config.text_config.max_position_embeddings
        tokens = self.tokenizer(
            captions, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt"
        )
        features = self.model.get_text_features(input_ids=tokens.input_ids.to(self.device))
        features = getattr(features, "pooler_output", features)
        return torch.nn.functional.normalize(features, dim=-1)

    @staticmethod
    def to_tensor(images: list[Image.Image] | list[np.ndarray]) -> torch.Tensor:
        arrays = [np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image) for image in images]
        return torch.from_numpy(np.stack(arrays).astype(np.float32) / 255.0).permute(0, 3, 1, 2)

    @torch.no_grad()
    def score(self, images: list[Image.Image] | list[np.ndarray], captions: list[str]) -> list[float]:
        """CLIP score of each image with its caption: 100 x cosine similarity, floored at 0 (Hessel et al. 2021)."""
        image_features = self.image_embeddings(self.to_tensor(images))
        text_features = self.text_embeddings(captions)
        return [max(0.0, 100.0 * float(s)) for s in (image_features * text_features).sum(-1)]

    @torch.no_grad()
    def best_captions(self, images: list[Image.Image] | list[np.ndarray], candidates: list[str]) -> list[str]:
        """For each image, the candidate caption CLIP finds most similar (zero-shot retrieval)."""
        similarity = self.image_embeddings(self.to_tensor(images)) @ self.text_embeddings(candidates).T
        return [candidates[i] for i in similarity.argmax(-1).tolist()]
