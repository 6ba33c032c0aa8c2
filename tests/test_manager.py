"""The pipeline manager: lazy, shared weights, memory budget, clear errors, serialised generations."""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
import warnings
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines import manager as manager_module
from pipelines.errors import (
    CorruptCheckpointError,
    OfflineModelError,
    OutOfMemoryError,
    UnknownModelError,
    UnsafeCheckpointError,
)
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import (
    BUNDLED_CLIP,
    DEFAULT_MODELS_DIR,
    HUB_CLIP,
    IMG2IMG,
    INPAINT,
    TXT2IMG,
    UNCLIP,
    ModelRegistry,
)
from pipelines.text_to_image import TextToImageRequest, text_to_image


def test_nothing_is_loaded_until_first_request(manager):
    assert manager.report() == []
    assert not manager.is_loaded("tiny-sd")
    manager.pipeline("tiny-sd")
    (loaded,) = manager.report()
    assert loaded.name == "tiny-sd" and loaded.device == "cpu" and loaded.dtype == "fp32"
    assert 1 < loaded.size_mb < 20


def test_default_model_is_the_bundled_one(manager):
    assert manager.entry(None).name == "tiny-sd"
    assert manager.entry(None).native_size == 64


def test_txt2img_img2img_inpaint_share_one_copy_of_the_weights(manager):
    t2i = manager.pipeline("tiny-sd", TXT2IMG)
    i2i = manager.pipeline("tiny-sd", IMG2IMG)
    inp = manager.pipeline("tiny-sd", INPAINT)
    assert type(i2i).__name__ == "StableDiffusionImg2ImgPipeline"
    assert type(inp).__name__ == "StableDiffusionInpaintPipeline"
    for component in ("unet", "vae", "text_encoder"):
        modules = [getattr(p, component) for p in (t2i, i2i, inp)]
        assert len({id(m) for m in modules}) == 1
        ptrs = {next(m.parameters()).data_ptr() for m in modules}
        assert len(ptrs) == 1
    (loaded,) = manager.report()
    assert set(loaded.pipelines) == {TXT2IMG, IMG2IMG, INPAINT}
    assert loaded.size_mb < 20  # counted once, not three times


def test_request_pipeline_has_fresh_scheduler_and_shared_weights(manager):
    shared = manager.pipeline("tiny-sd")
    a = manager.request_pipeline("tiny-sd", sampler="Euler a")
    b = manager.request_pipeline("tiny-sd", sampler="DPM++ 2M Karras")
    assert a.unet is shared.unet and b.vae is shared.vae
    assert a.scheduler is not b.scheduler and a.scheduler is not shared.scheduler
    assert type(a.scheduler).__name__ == "EulerAncestralDiscreteScheduler"
    assert b.scheduler.config.use_karras_sigmas
    assert type(shared.scheduler).__name__ == "DDIMScheduler"  # the shared one is never changed


def test_least_recently_used_model_is_evicted_under_a_small_budget(copy_model, tmp_path):
    first = copy_model("model-a")
    copy_model("model-b")
    one_model = sum(p.stat().st_size for p in Path(first).rglob("*.safetensors"))
    config = ManagerConfig(models_dir=tmp_path / "models", device="cpu", memory_budget=int(one_model * 1.5))
    manager = PipelineManager(config)
    manager.pipeline("model-a")
    manager.pipeline("model-b")
    assert [m.name for m in manager.report()] == ["model-b"]
    manager.pipeline("model-a")
    assert [m.name for m in manager.report()] == ["model-a"]


def test_a_big_budget_keeps_both_models(copy_model, tmp_path):
    copy_model("model-a")
    copy_model("model-b")
    manager = PipelineManager(ManagerConfig(models_dir=tmp_path / "models", device="cpu", memory_budget=2**30))
    manager.pipeline("model-a")
    manager.pipeline("model-b")
    assert [m.name for m in manager.report()] == ["model-a", "model-b"]


def test_unknown_model_is_named_in_the_error(manager):
    with pytest.raises(UnknownModelError, match="unknown model 'nope'.*tiny-sd"):
        manager.pipeline("nope")


def test_pickle_only_folder_is_refused(copy_model, tmp_path):
    folder = copy_model("pickled")
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_suffix(".bin"))
    manager = PipelineManager(ManagerConfig(models_dir=tmp_path / "models", device="cpu"))
    with pytest.raises(UnsafeCheckpointError, match="unet/ has only pickle checkpoints.*safetensors"):
        manager.pipeline("pickled")
    assert manager.report() == []


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_safetensors_is_refused(copy_model, tmp_path, damage):
    folder = copy_model("broken")
    weights = folder / "vae" / "diffusion_pytorch_model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage" * 10)
    manager = PipelineManager(ManagerConfig(models_dir=tmp_path / "models", device="cpu"))
    with pytest.raises(CorruptCheckpointError, match=r"vae/diffusion_pytorch_model.safetensors is corrupt"):
        manager.pipeline("broken")


def test_hub_model_on_an_offline_machine_says_so(manager):
    with pytest.raises(OfflineModelError, match="SD 1.5 needs a download from the Hugging Face Hub.*offline"):
        manager.pipeline("SD 1.5")


def test_local_models_from_a_config_file(tmp_path, copy_model):
    folder = copy_model("my-model", root=tmp_path / "elsewhere")
    config = tmp_path / "models.toml"
    config.write_text(f'[[models]]\nname = "My model"\npath = "{folder}"\n')
    registry = ModelRegistry.discover(models_dir=None, config_path=config, include_hub=False)
    entry = registry.get("My model")
    assert entry.kind == "local" and entry.native_size == 64
    manager = PipelineManager(ManagerConfig(models_dir=None, config_path=config, device="cpu"))
    assert manager.entry(None).name == "My model"
    manager.pipeline("My model")
    assert manager.is_loaded("My model")


def test_hub_presets_are_listed(manager):
    names = manager.registry.names()
    for name in (
        "SD 1.5",
        "SD 2.1",
        "SDXL base",
        "SDXL refiner",
        "SD inpainting",
        "Kandinsky 2.2",
        "SD 2.1 unCLIP",
        "DeepFloyd IF",
    ):
        assert name in names
    assert "SD 2.1 unCLIP" not in manager.registry.names(TXT2IMG)


def test_out_of_memory_frees_models_and_keeps_serving(manager):
    manager.pipeline("tiny-sd")

    def explode():
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(OutOfMemoryError, match="out of memory on cpu: all models were unloaded"):
        manager.run(explode)
    assert manager.report() == []
    result = text_to_image(manager, TextToImageRequest("a red circle", steps=2, seed=1))
    assert result.images[0].size == (64, 64)


def test_two_concurrent_requests_each_get_their_own_image(shared_manager):
    requests = [
        TextToImageRequest("a red circle on the left", seed=11, steps=4, sampler="Euler a"),
        TextToImageRequest("a blue square", seed=22, steps=4, sampler="DPM++ 2M"),
    ]
    expected = [np.asarray(text_to_image(shared_manager, r).images[0]) for r in requests]
    got: dict[int, np.ndarray] = {}

    def worker(i):
        got[i] = np.asarray(text_to_image(shared_manager, requests[i]).images[0])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for i in range(2):
        np.testing.assert_array_equal(got[i], expected[i])
    assert not np.array_equal(expected[0], expected[1])


# --------------------------------------------------------------------- offline, decided once
def test_a_hub_clip_is_dropped_at_once_when_the_hub_is_out_of_reach(models_dir, monkeypatch):
    """No --offline, no HF_HUB_OFFLINE, no network: one short probe, then the Hub CLIP is looked up in the local
    cache only (it used to wait ~23 s through transformers' retries before CLIP scores were dropped)."""
    import huggingface_hub
    from huggingface_hub import constants

    if isinstance(huggingface_hub.try_to_load_from_cache(HUB_CLIP, "config.json"), str):
        pytest.skip(f"{HUB_CLIP} is in this machine's Hugging Face cache")
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: an offline machine
    manager = PipelineManager(ManagerConfig(models_dir=models_dir, device="cpu"))
    entry = manager.entry("tiny-sd")
    assert entry.clip == HUB_CLIP
    started = time.perf_counter()
    assert manager.clip_scorer(entry) is None
    assert time.perf_counter() - started < 3
    assert manager.offline
    started = time.perf_counter()
    assert manager.clip_scorer(entry) is None  # known, not retried
    assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize("how", ["config", "env"])
def test_offline_by_flag_or_environment_needs_no_probe(models_dir, monkeypatch, how):
    monkeypatch.setattr("pipelines.manager.hub_reachable", lambda *a, **k: pytest.fail("the Hub was probed"))
    if how == "env":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    manager = PipelineManager(ManagerConfig(models_dir=models_dir, device="cpu", offline=how == "config"))
    assert manager.offline


def test_a_reachable_hub_is_probed_once(models_dir, monkeypatch):
    calls = []
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("pipelines.manager.hub_reachable", lambda *a, **k: calls.append(1) or True)
    manager = PipelineManager(ManagerConfig(models_dir=models_dir, device="cpu"))
    assert calls == []  # nothing at start: a Space's first request must not wait for a probe it does not need
    assert not manager.offline and not manager.offline
    assert calls == [1]


# --------------------------------------------------------------------- side models: CLIP scorers, priors
@pytest.fixture()
def clip_entry(manager):
    """The tiny model with the bundled (local) shapes CLIP as its CLIP."""
    return dataclasses.replace(manager.entry("tiny-sd"), clip=str(DEFAULT_MODELS_DIR / BUNDLED_CLIP))


def test_a_loaded_clip_scorer_shows_in_the_report(manager, clip_entry):
    scorer = manager.clip_scorer(clip_entry)
    assert scorer is not None and manager.clip_scorer(clip_entry) is scorer  # loaded once
    (row,) = manager.report()
    assert row.kind == "side" and row.name == f"CLIP {BUNDLED_CLIP}" and row.pipelines == ("CLIP scores and guidance",)
    assert row.device == "cpu" and row.dtype == "fp32" and 1 < row.size_mb < 10


def test_unload_all_also_unloads_the_clip_scorers(manager, clip_entry):
    manager.pipeline("tiny-sd")
    scorer = manager.clip_scorer(clip_entry)
    assert len(manager.report()) == 2
    manager.unload()
    assert manager.report() == []
    assert manager.clip_scorer(clip_entry) is not scorer  # loads again when asked


def test_out_of_memory_also_unloads_the_side_models(manager, clip_entry):
    manager.pipeline("tiny-sd")
    manager.clip_scorer(clip_entry)
    manager.side_model("prior", lambda: torch.nn.Linear(8, 8), label="a prior", use="caption -> z_i")

    def explode():
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(OutOfMemoryError):
        manager.run(explode)
    assert manager.report() == []


def test_side_models_count_against_the_memory_budget(copy_model, tmp_path):
    first = copy_model("model-a")
    copy_model("model-b")
    model_bytes = sum(p.stat().st_size for p in first.rglob("*.safetensors"))
    config = ManagerConfig(models_dir=tmp_path / "models", device="cpu", memory_budget=model_bytes + 2**20)
    manager = PipelineManager(config)
    manager.pipeline("model-a")
    manager.side_model("big", lambda: torch.nn.Linear(1024, 1024), label="big side model", use="test")  # 4 MB
    # Over budget, but the model used last stays: the side model is likely for it (a CLIP scorer for its grid).
    assert [m.name for m in manager.report()] == ["model-a", "big side model"]
    manager.pipeline("model-b")
    assert [m.name for m in manager.report()] == ["model-b"]  # both made room: the side model counted
    manager.side_model("small", lambda: torch.nn.Linear(8, 8), label="small side model", use="test")
    assert [m.name for m in manager.report()] == ["model-b", "small side model"]  # fits: nothing evicted


def test_unloading_a_model_drops_the_side_models_it_owns(manager):
    manager.pipeline("tiny-sd")
    manager.side_model("mine", lambda: torch.nn.Linear(8, 8), label="mine", use="test", owner="tiny-sd")
    manager.side_model("shared", lambda: torch.nn.Linear(8, 8), label="shared", use="test")
    manager.unload("tiny-sd")
    assert [m.name for m in manager.report()] == ["shared"]


def test_unload_all_also_unloads_the_unclip_prior(tmp_path):
    """Caption -> image keeps the prior's parts loaded; "Unload all" (and the OOM path) must free them too."""
    from pipelines.testing import build_tiny_unclip_folder
    from pipelines.unclip import CaptionRequest, caption_to_image

    build_tiny_unclip_folder(tmp_path / "models" / "tiny-unclip")
    manager = PipelineManager(ManagerConfig(models_dir=tmp_path / "models", device="cpu", offline=True))
    result = caption_to_image(manager, CaptionRequest("a red circle", prior_steps=2, steps=2, seed=1))
    assert result.images[0].size == (64, 64)
    rows = {m.name: m for m in manager.report()}
    assert "tiny-unclip" in rows
    assert any(m.kind == "side" and "prior" in m.name for m in rows.values()), rows
    manager.unload()
    assert manager.report() == []


# --------------------------------------------------------------------- unloading frees every module
@pytest.fixture(scope="module")
def several_families(tmp_path_factory, tiny_folder) -> Path:
    """A `--config` file listing tiny SD, SDXL, Kandinsky 2.2 (decoder + prior: one combined pipeline) and SD unCLIP
    (with a prior: a side model) folders."""
    from pipelines.testing import (
        build_tiny_kandinsky22_folder,
        build_tiny_kandinsky22_prior_folder,
        build_tiny_sdxl_folder,
        build_tiny_unclip_folder,
    )

    root = tmp_path_factory.mktemp("several")
    build_tiny_sdxl_folder(root / "tiny-sdxl")
    build_tiny_kandinsky22_prior_folder(root / "tiny-kandinsky22-prior")
    build_tiny_kandinsky22_folder(root / "tiny-kandinsky22")
    build_tiny_unclip_folder(root / "tiny-unclip")
    config = root / "models.toml"
    config.write_text(
        f'[[models]]\nname = "tiny-sd"\npath = "{tiny_folder.as_posix()}"\n\n'
        f'[[models]]\nname = "tiny-sdxl"\npath = "{(root / "tiny-sdxl").as_posix()}"\n\n'
        f'[[models]]\nname = "tiny-kandinsky22-prior"\npath = "{(root / "tiny-kandinsky22-prior").as_posix()}"\n\n'
        f'[[models]]\nname = "tiny-kandinsky22"\npath = "{(root / "tiny-kandinsky22").as_posix()}"\n'
        'extras = { prior = "tiny-kandinsky22-prior" }\n\n'
        f'[[models]]\nname = "tiny-unclip"\npath = "{(root / "tiny-unclip").as_posix()}"\n'
    )
    return config


def _several_config(config: Path) -> ManagerConfig:
    return ManagerConfig(models_dir=None, config_path=config, device="cpu", offline=True, include_hub=False)


def _live_modules() -> dict[int, weakref.ref]:
    """Every torch module alive in the process, by id."""
    gc.collect()
    with warnings.catch_warnings():  # isinstance() on some of torch's deprecated module attributes warns
        warnings.simplefilter("ignore", FutureWarning)
        return {id(o): weakref.ref(o) for o in gc.get_objects() if isinstance(o, torch.nn.Module)}


def _alive(refs: dict[int, weakref.ref]) -> list[str]:
    """The class names of the modules in `refs` still alive after a collection (with what holds the first one)."""
    gc.collect()
    alive = [r() for r in refs.values() if r() is not None]
    if not alive:
        return []
    holders = [type(h).__name__ for h in gc.get_referrers(alive[0]) if h is not alive]
    return sorted({type(m).__name__ for m in alive}) + [f"(a {type(alive[0]).__name__} is held by {holders})"]


def _watch_the_recovery(monkeypatch, refs: dict[int, weakref.ref]) -> list[list[str]]:
    """Records, each time the manager frees device memory, which modules of `refs` are alive right after."""
    seen: list[list[str]] = []
    free = manager_module._free_device_memory

    def watched(device):
        free(device)
        seen.append(_alive(refs))

    monkeypatch.setattr(manager_module, "_free_device_memory", watched)
    return seen


def _use_everything(manager: PipelineManager) -> dict[int, weakref.ref]:
    """Loads every pipeline of every model, draws with each family, loads the CLIP scorer and the unCLIP prior;
    returns weak references to every torch module that appeared meanwhile (all of them loaded by the manager)."""
    from pipelines.unclip import CaptionRequest, caption_to_image

    before = _live_modules()
    for entry in manager.registry.entries():
        for task in entry.tasks:
            manager.pipeline(entry.name, task)
            manager.request_pipeline(entry.name, task)
    for name in ("tiny-sd", "tiny-sdxl", "tiny-kandinsky22"):
        assert text_to_image(manager, TextToImageRequest("a red circle", model=name, steps=2, seed=1)).images
    caption = CaptionRequest("a red circle", model="tiny-unclip", prior_steps=2, steps=2)
    assert caption_to_image(manager, caption).images
    clip_entry = dataclasses.replace(manager.entry("tiny-sd"), clip=str(DEFAULT_MODELS_DIR / BUNDLED_CLIP))
    assert manager.clip_scorer(clip_entry) is not None
    kinds = {m.kind for m in manager.report()}
    assert kinds == {"model", "side"}, manager.report()  # the CLIP scorer and the unCLIP prior are side models
    after = _live_modules()
    return {i: r for i, r in after.items() if i not in before or before[i]() is None}


def test_after_unload_all_no_module_the_manager_loaded_is_alive(several_families):
    manager = PipelineManager(_several_config(several_families))
    loaded = _use_everything(manager)
    names = {type(r()).__name__ for r in loaded.values()}
    expected = {"UNet2DConditionModel", "CLIPModel", "PriorTransformer", "VQModel", "CLIPTextModelWithProjection"}
    assert expected <= names, expected - names
    manager.unload()
    assert manager.report() == []
    assert _alive(loaded) == []


def test_out_of_memory_recovery_frees_every_module_before_it_answers(several_families, monkeypatch):
    """The memory is free when the manager says so: at its collection inside the recovery, while the failed request's
    caller is still waiting, not only once the error has unwound."""
    from pipelines.unclip import CaptionRequest, caption_to_image

    manager = PipelineManager(_several_config(several_families))
    loaded = _use_everything(manager)
    seen = _watch_the_recovery(monkeypatch, loaded)

    def out_of_memory(module, args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    # Deep inside a job: the decoder's UNet fails while the prior's parts and the pipeline are in use.
    manager.pipeline("tiny-unclip", UNCLIP).unet.register_forward_pre_hook(out_of_memory)
    with pytest.raises(OutOfMemoryError, match="all models were unloaded"):
        caption_to_image(manager, CaptionRequest("a red circle", model="tiny-unclip", prior_steps=2, steps=2))
    assert seen == [[]]
    assert manager.report() == [] and _alive(loaded) == []


def test_out_of_memory_recovery_drops_what_the_job_was_given(manager, monkeypatch):
    """A job handed a per-request pipeline and a scorer (the guidance grid does) does not keep them alive through
    the recovery."""
    clip_entry = dataclasses.replace(manager.entry("tiny-sd"), clip=str(DEFAULT_MODELS_DIR / BUNDLED_CLIP))
    before = _live_modules()
    manager.pipeline("tiny-sd")
    manager.clip_scorer(clip_entry)
    loaded = {i: r for i, r in _live_modules().items() if i not in before or before[i]() is None}
    seen = _watch_the_recovery(monkeypatch, loaded)

    def job(pipe, *, scorer):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(OutOfMemoryError):
        manager.run(job, manager.request_pipeline("tiny-sd"), scorer=manager.clip_scorer(clip_entry))
    assert seen == [[]]
