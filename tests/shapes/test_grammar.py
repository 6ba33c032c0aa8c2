import random

import pytest

from pipelines.shapes.grammar import CaptionError, Scene, ShapeSpec, describe, parse_caption, unknown_words
from pipelines.shapes.tokenizer import MAX_LENGTH, build_tokenizer
from pipelines.shapes.world import (
    HELD_OUT_COUNTS,
    HELD_OUT_PAIRS,
    HELD_OUT_TRIPLES,
    held_out_counting_prompts,
    held_out_prompts,
    sample_example,
)


@pytest.mark.parametrize(
    ("caption", "scene"),
    [
        ("a red circle", Scene((ShapeSpec("red", "circle"),))),
        ("a red circle on the left", Scene((ShapeSpec("red", "circle", None, "left"),))),
        ("a small blue square at the top", Scene((ShapeSpec("blue", "square", "small", "top"),))),
        ("A big orange box in the top-right corner.", Scene((ShapeSpec("orange", "square", "large", "top right"),))),
        (
            "a red circle above a blue square",
            Scene((ShapeSpec("red", "circle"), ShapeSpec("blue", "square")), "above"),
        ),
        (
            "a green triangle to the left of a yellow circle",
            Scene((ShapeSpec("green", "triangle"), ShapeSpec("yellow", "circle")), "to the left of"),
        ),
        (
            "a purple square under a large red triangle",
            Scene((ShapeSpec("purple", "square"), ShapeSpec("red", "triangle", "large")), "below"),
        ),
        ("two red circles", Scene((ShapeSpec("red", "circle", None, None, 2),))),
        ("The three small violet boxes.", Scene((ShapeSpec("purple", "square", "small", None, 3),))),
    ],
)
def test_user_captions_parse(caption, scene):
    assert parse_caption(caption) == scene


def test_unknown_words_get_a_clear_message():
    assert unknown_words("a pink elephant on the left") == ["pink", "elephant"]
    with pytest.raises(CaptionError, match="does not know the word.*'pink'.*'elephant'"):
        parse_caption("a pink elephant")


@pytest.mark.parametrize("caption", ["", "a red", "red circle blue", "a red circle on the moon"])
def test_malformed_captions_raise_caption_error(caption):
    with pytest.raises(CaptionError):
        parse_caption(caption)


@pytest.mark.parametrize(
    ("caption", "message"),
    [
        ("two red circle", "mixes one and many: write 'a red circle' for one, 'two red circles' for two"),
        ("a blue squares", "mixes one and many"),
        ("two red circles on the left", "A place can be given for one object only.*Try 'two red circles'"),
        ("three red circles above a blue square", "Counts work for one kind of object alone"),
    ],
)
def test_counts_the_world_cannot_draw_say_why(caption, message):
    with pytest.raises(CaptionError, match=message):
        parse_caption(caption)


def test_counting_words_come_after_the_first_vocabulary_so_released_token_ids_stay():
    vocab = build_tokenizer().get_vocab()
    counting = ["two", "three", "circles", "squares", "triangles", "boxes"]
    assert sorted(vocab[w] for w in counting) == list(range(len(vocab) - len(counting), len(vocab)))
    from transformers import AutoTokenizer

    released = AutoTokenizer.from_pretrained("assets/models/shapes-sd-inpaint/tokenizer", local_files_only=True)
    assert all(vocab[word] == i for word, i in released.get_vocab().items())


def test_counted_scenes_are_drawn_apart_and_the_judge_counts_them():
    from pipelines.shapes.judge import judge_scene

    rng = random.Random(8)
    for _ in range(300):
        example = sample_example(rng, "train", count_fraction=1.0)
        (spec,) = example.scene.objects
        assert spec.count in (2, 3) and len(example.layout) == spec.count
        assert (spec.colour, spec.shape, spec.count) not in HELD_OUT_COUNTS
        assert judge_scene(example.image, example.scene).all_correct, example.caption


def test_counting_prompts_are_held_out_triples():
    prompts = held_out_counting_prompts()
    assert len(prompts) == 3 * len(HELD_OUT_COUNTS)
    for prompt in prompts:
        (spec,) = parse_caption(prompt).objects
        assert (spec.colour, spec.shape, spec.count) in HELD_OUT_COUNTS


def test_every_generated_caption_round_trips():
    rng = random.Random(3)
    for _ in range(500):
        example = sample_example(rng)
        assert parse_caption(example.caption) == example.scene
        assert describe(example.scene) == example.caption


def test_training_never_draws_a_held_out_combination():
    rng = random.Random(5)
    for _ in range(2000):
        example = sample_example(rng, "train")
        kinds = frozenset((s.colour, s.shape) for s in example.layout)
        assert kinds not in HELD_OUT_PAIRS
    assert len(HELD_OUT_TRIPLES) >= 10 and len(HELD_OUT_PAIRS) >= 10


def test_held_out_prompts_are_readable_and_fit_the_tokenizer():
    tokenizer = build_tokenizer()
    for prompt in held_out_prompts():
        parse_caption(prompt)
        ids = tokenizer(prompt).input_ids
        assert len(ids) <= MAX_LENGTH
        assert tokenizer.unk_token_id not in ids


def test_tokenizer_reloads_offline_with_auto_tokenizer(tmp_path):
    from transformers import AutoTokenizer

    build_tokenizer().save_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    ids = tokenizer("a red circle", padding="max_length", max_length=MAX_LENGTH).input_ids
    assert tokenizer.convert_ids_to_tokens(ids[:5]) == ["<|startoftext|>", "a", "red", "circle", "<|endoftext|>"]
    assert len(ids) == MAX_LENGTH


def test_a_model_released_before_the_counting_words_reports_them_unknown():
    from pipelines.shapes.tokenizer import folder_vocabulary

    before_counting = folder_vocabulary("assets/models/shapes-unclip")
    assert unknown_words("two red circles", before_counting) == ["two", "circles"]
    assert unknown_words("a red circle above a blue box", before_counting) == []
    assert unknown_words("three violet boxes") == []  # the grammar knows them all
