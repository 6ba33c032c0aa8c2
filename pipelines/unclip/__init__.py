"""unCLIP (DALL-E 2, Ramesh et al. 2022): an image is a pair (CLIP image embedding z_i, noise x_T).

Runs on Stable unCLIP folders (`StableUnCLIPImg2ImgPipeline`: the bundled `shapes-unclip`, or
stabilityai/stable-diffusion-2-1-unclip), always through the pipeline's own call with `image_embeds=` and
`latents=`; only DDIM inversion is a loop of ours (diffusers has no inversion for this pipeline).

- `variations.py`: z_i of an image decoded from fresh noise.
- `interpolation.py`: slerp between two images' z_i (and their DDIM-inverted x_T): a strip of frames, a GIF.
- `text_diff.py`: z_i turned towards the difference of two captions' CLIP text embeddings.
- `caption.py`: caption -> z_i by a prior, then the decoder.
- `common.py`: what they share: checks, encoding, decoding, DDIM inversion.
- `examples.py`: shapes-world pictures and captions to start from.

Nothing here imports gradio; errors are ValueErrors naming the parameter. The names below are the package's
public face, what the studio, the benchmarks and the tests import.
"""

from .caption import CaptionRequest, caption_to_image, has_prior
from .common import UnclipResult, ddim_invert, encode_image
from .examples import example_image, shapes_captions
from .interpolation import InterpolationRequest, NoiseMode, interpolate, save_gif, slerp
from .text_diff import TextDiffRequest, best_caption, text_diff, text_embedding_pair
from .variations import VariationsRequest, variations

__all__ = [
    "CaptionRequest",
    "InterpolationRequest",
    "NoiseMode",
    "TextDiffRequest",
    "UnclipResult",
    "VariationsRequest",
    "best_caption",
    "caption_to_image",
    "ddim_invert",
    "encode_image",
    "example_image",
    "has_prior",
    "interpolate",
    "save_gif",
    "shapes_captions",
    "slerp",
    "text_diff",
    "text_embedding_pair",
    "variations",
]
