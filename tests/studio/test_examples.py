"""Every example prompt a tab offers for the bundled shapes models is a caption the shapes world can read."""

from __future__ import annotations

import pytest

from pipelines.shapes.grammar import parse_caption, unknown_words
from studio import guidance_lab_tab, text_to_image_tab


@pytest.mark.parametrize("prompt", [*text_to_image_tab.SHAPES_EXAMPLES, *guidance_lab_tab.SHAPES_EXAMPLES])
def test_example_prompts_parse_in_the_shapes_grammar(prompt):
    assert unknown_words(prompt) == []
    assert parse_caption(prompt).objects
