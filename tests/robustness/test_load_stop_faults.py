"""Many users at once, Stop, disconnects and faults inside a step: the studio keeps serving and loses nothing."""

from __future__ import annotations

import gc
import threading
import time

import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client
from PIL import Image
from robust_helpers import TALLY, TINY, image_path, raw_row, rss_bytes, wait_for

from pipelines.text_to_image import TextToImageRequest, text_to_image

pytestmark = pytest.mark.timeout(300)
CLIENTS, REQUESTS = 8, 3


def stop_flags_of(demo):
    """The app's per-session Stop flags (the object the Stop buttons set), found through the Stop handler."""
    for block_fn in demo.fns.values():
        if getattr(block_fn.fn, "__name__", "") == "stop_session":
            (stop_flags,) = block_fn.fn.bound_args
            return stop_flags
    raise AssertionError("no stop_session handler")


def generate(client, seed: int, steps: int = 2):
    gallery, used, status, _ = client.predict(
        prompt="a red circle", steps=steps, seed=seed, sampler="Euler", api_name="/txt2img"
    )
    assert used == seed and "1 image(s)" in status, status
    return np.asarray(Image.open(image_path(gallery[0])).convert("RGB"))


def test_eight_clients_each_get_exactly_their_own_images(robust_url, robust_manager):
    seeds = {(c, r): 1000 + 10 * c + r for c in range(CLIENTS) for r in range(REQUESTS)}
    solo = {
        seed: np.asarray(
            text_to_image(
                robust_manager, TextToImageRequest("a red circle", steps=2, seed=seed, sampler="Euler")
            ).images[0]
        )
        for seed in seeds.values()
    }
    results: dict[tuple[int, int], np.ndarray] = {}
    errors: list[BaseException] = []

    def user(c: int):
        try:
            client = Client(robust_url, verbose=False)
            for r in range(REQUESTS):
                results[(c, r)] = generate(client, seeds[(c, r)])
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(c,), daemon=True) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "deadlock: a client never finished"
    assert not errors, errors
    TALLY["load_requests"] = len(results)
    TALLY["load_seconds"] = time.perf_counter() - started
    assert len(results) == CLIENTS * REQUESTS
    for key, image in results.items():
        np.testing.assert_array_equal(image, solo[seeds[key]], err_msg=f"client {key[0]} request {key[1]}")


def test_stop_ends_a_run_within_a_step_and_the_next_runs(robust_app, robust_manager, monkeypatch):
    demo, url = robust_app
    flags = stop_flags_of(demo)
    # Steps of the tiny model take milliseconds, less than the lag of the client's progress reports: slow each
    # UNet call down so that "within a step" is measurable from the client.
    unet = robust_manager.pipeline(TINY).unet
    forward = unet.forward

    def slow_forward(*args, **kwargs):
        time.sleep(0.05)
        return forward(*args, **kwargs)

    monkeypatch.setattr(unet, "forward", slow_forward)
    client = Client(url, verbose=False)
    job = client.submit(prompt="a red circle", steps=150, seed=9, sampler="Euler", api_name="/txt2img")

    def step_now() -> int:
        progress = job.status().progress_data
        return progress[0].index or 0 if progress else 0

    assert wait_for(lambda: step_now() >= 3, timeout=60), "the run never started"
    seen = step_now()
    assert flags.stop(client.session_hash)
    _, _, status, _ = job.result(timeout=60)
    stopped_at = int(status.split("Stopped at step ")[1].split("/")[0])
    assert seen <= stopped_at <= seen + 3, (seen, status)  # progress reports lag the worker by a step or two
    assert len(flags) == 0
    generate(client, seed=10)


def test_a_client_that_disconnects_mid_run_frees_its_slot(robust_app, robust_manager):
    demo, url = robust_app
    flags = stop_flags_of(demo)
    # A raw API caller opens the event stream of a long run, then goes away.
    quitter = Client(url, verbose=False)
    row = raw_row(
        quitter, "/txt2img", {"prompt": "a red circle", "model": TINY, "sampler": "Euler", "steps": 150, "seed": 11}
    )
    body = '{"data": ' + row + "}"
    event_id = httpx.post(
        f"{url}gradio_api/call/txt2img", content=body, headers={"content-type": "application/json"}, timeout=30
    ).json()["event_id"]
    with httpx.stream("GET", f"{url}gradio_api/call/txt2img/{event_id}", timeout=60) as stream:
        for line in stream.iter_lines():
            assert not line.startswith("event: error"), "the raw run was refused, so nothing was abandoned"
            if line.startswith("event: generating") or line.startswith("event: heartbeat"):
                break
    # A gradio_client user cancels its own run.
    job = quitter.submit(prompt="a red circle", steps=150, seed=12, sampler="Euler", api_name="/txt2img")
    time.sleep(0.5)
    job.cancel()
    started = time.perf_counter()
    generate(Client(url, verbose=False), seed=13)  # served once the abandoned runs are done or ended
    assert time.perf_counter() - started < 120
    assert wait_for(lambda: len(flags) == 0, timeout=60), "a Stop flag (slot) was never released"
    assert robust_manager._lock.acquire(timeout=60), "the device lock was never released"
    robust_manager._lock.release()


def _fail_once_in_a_step(manager, error: BaseException):
    """Makes the shared UNet raise `error` on its next call (inside the denoising loop), then behave again."""
    unet = manager.pipeline(TINY).unet
    original = unet.forward

    def forward(*args, **kwargs):
        unet.forward = original
        raise error

    unet.forward = forward


def test_an_exception_inside_a_step_reaches_the_user_as_a_message_and_the_next_runs(client, robust_manager):
    _fail_once_in_a_step(robust_manager, RuntimeError("simulated fault in a step"))
    with pytest.raises(Exception, match="Something went wrong: RuntimeError: simulated fault in a step"):
        client.predict(prompt="a red circle", steps=2, seed=1, api_name="/txt2img")
    generate(client, seed=2)


def test_out_of_memory_in_a_step_frees_memory_and_the_server_keeps_serving(client, robust_manager):
    def one_fault():
        _fail_once_in_a_step(robust_manager, torch.OutOfMemoryError("CUDA out of memory (simulated)"))
        with pytest.raises(Exception, match=r"out of memory on cpu: all models were unloaded"):
            client.predict(prompt="a red circle", steps=2, seed=1, api_name="/txt2img")
        assert not robust_manager.is_loaded(TINY), "the models were not unloaded"
        generate(client, seed=3)

    for _ in range(3):  # warm up allocator and caches
        one_fault()
    gc.collect()
    before = rss_bytes()
    for _ in range(20):
        one_fault()
    gc.collect()
    growth_mb = (rss_bytes() - before) / 2**20
    TALLY["fault_rss_growth_mb"] = growth_mb
    assert growth_mb < 150, f"RSS grew {growth_mb:.0f} MB over 20 out-of-memory faults"
