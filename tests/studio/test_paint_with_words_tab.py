"""The Paint with words tab's helpers: read the paint layer (not the composite), keep the table in step."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.paint_with_words import PALETTE
from studio.paint_with_words_tab import (
    HEADERS,
    colour_label,
    colour_name,
    layout_preview,
    paint_layer,
    regions_from_table,
    sync_table,
)

RED, BLUE = PALETTE[0], PALETTE[1]


def editor(layer: np.ndarray, background: np.ndarray | None = None) -> dict:
    return {"background": background, "layers": [layer], "composite": background if background is not None else layer}


def red_and_blue() -> np.ndarray:
    layer = np.zeros((32, 32, 4), np.uint8)
    layer[:16, :16] = (*RED.rgb, 255)
    layer[16:, 16:] = (*BLUE.rgb, 255)
    return layer


def test_the_paint_layer_is_read_not_the_composite_with_an_uploaded_picture():
    picture = np.zeros((32, 32, 4), np.uint8)
    picture[...] = (*RED.rgb, 255)  # a photo that happens to be red must not count as paint
    layer = np.zeros((32, 32, 4), np.uint8)
    layer[:4, :4] = (*BLUE.rgb, 255)
    got = paint_layer(editor(layer, picture))
    assert got is not None and got.shape == (32, 32, 4)
    rows = sync_table(editor(layer, picture), None)
    assert [colour_name(r[0]) for r in rows] == ["blue"]
    assert paint_layer(None) is None and paint_layer({"background": None, "layers": [], "composite": None}) is None


def test_table_lists_painted_colours_and_keeps_typed_phrases():
    typed = pd.DataFrame([[colour_label("blue"), "blue square", 0.5]], columns=HEADERS)
    rows = sync_table(editor(red_and_blue()), typed)
    assert [(colour_name(r[0]), r[1], r[2]) for r in rows] == [("red", "", 1.0), ("blue", "blue square", 0.5)]


def test_rows_become_regions_and_rows_without_words_are_reported():
    table = pd.DataFrame(
        [[colour_label("red"), "red circle", 1.0], [colour_label("blue"), "", 1.0], ["#43a047", "x", ""]],
        columns=HEADERS,
    )
    regions, skipped = regions_from_table(table)
    assert [(r.colour, r.phrase, r.weight) for r in regions] == [("red", "red circle", 1.0), ("#43a047", "x", 1.0)]
    assert skipped == ["blue"]


def test_preview_is_the_snapped_map_at_the_image_size():
    preview = np.asarray(layout_preview(editor(red_and_blue()), 64))
    assert preview.shape == (64, 64, 3)
    assert {tuple(c) for c in preview.reshape(-1, 3)} == {RED.rgb, BLUE.rgb, (255, 255, 255)}
