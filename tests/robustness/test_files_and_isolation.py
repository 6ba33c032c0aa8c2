"""What the server hands out and what it loads: no traversal, no outputs folder, capped uploads, no pickles,
models only from the registry (user text never becomes a path)."""

from __future__ import annotations

import os
import pickle
import re
import shutil

import httpx
import pytest
from gradio_client import Client
from robust_helpers import image_path

from pipelines.errors import UnknownModelError, UnsafeCheckpointError
from pipelines.manager import ManagerConfig, PipelineManager
from studio import launch_options
from studio.app import MAX_FILE_SIZE

TRAVERSALS = [
    "gradio_api/file=../../etc/passwd",
    "gradio_api/file=/etc/passwd",
    "gradio_api/file=%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "gradio_api/file=..%2f..%2f..%2fetc%2fpasswd",
    "file=/etc/passwd",
    "file=../../etc/passwd",
    "gradio_api/file=/proc/self/environ",
    "gradio_api/file=/work/main/app.py",
    "static/../../../../etc/passwd",
    "gradio_api/file=//etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_urls_are_refused(robust_url, path):
    r = httpx.get(robust_url + path, timeout=10)
    assert r.status_code in (400, 403, 404), (r.status_code, r.text[:200])
    assert "root:" not in r.text and "PATH=" not in r.text


def test_model_folders_are_not_served(robust_url, robust_models_dir):
    r = httpx.get(f"{robust_url}gradio_api/file={robust_models_dir / 'tiny-sd' / 'model_index.json'}", timeout=10)
    assert r.status_code == 403


def test_no_outputs_folder_is_allowed_and_uploads_are_capped(robust_app):
    demo, _ = robust_app
    assert "allowed_paths" not in launch_options()
    assert not demo.allowed_paths, demo.allowed_paths
    assert demo.max_file_size == 20 * 1024 * 1024 and MAX_FILE_SIZE == "20mb"


def test_an_upload_over_the_cap_is_refused(robust_url):
    big = b"\x00" * (21 * 1024 * 1024)
    r = httpx.post(f"{robust_url}gradio_api/upload", files={"files": ("big.png", big, "image/png")}, timeout=60)
    assert r.status_code == 413, (r.status_code, r.text[:200])
    assert "20" in r.text or "size" in r.text.lower()


def test_outputs_are_served_only_under_unguessable_content_hashes(robust_url):
    """Gradio 6 serves any file of its cache to whoever has the URL (no per-session check): the studio's policy
    is that outputs live only in that cache, under a 64-hex content hash, so another session cannot guess them;
    a guessed hash is refused."""
    a = Client(robust_url, verbose=False, download_files=False)
    gallery, *_ = a.predict(prompt="a red circle", steps=1, seed=77, api_name="/txt2img")
    path = image_path(gallery[0])
    assert re.search(r"/[0-9a-f]{64}/[^/]+\.png$", path), path
    other_session = httpx.get(f"{robust_url}gradio_api/file={path}", timeout=10)
    assert other_session.status_code == 200  # what Gradio 6 does: the URL is the capability
    guessed = re.sub(r"[0-9a-f]{64}", "0" * 64, path)
    assert httpx.get(f"{robust_url}gradio_api/file={guessed}", timeout=10).status_code in (403, 404)


class _Payload:
    """Pickles to `os.mkdir(marker)`: proof of code execution if anything unpickles it."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_pickle_checkpoint_is_refused_and_never_unpickled(tmp_path, tiny_folder):
    marker = tmp_path / "pwned"
    root = tmp_path / "models"
    folder = shutil.copytree(tiny_folder, root / "evil")
    for f in (folder / "unet").glob("*.safetensors"):
        f.unlink()
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(pickle.dumps(_Payload(str(marker))))
    manager = PipelineManager(ManagerConfig(models_dir=root, device="cpu", offline=True, include_hub=False))
    with pytest.raises(UnsafeCheckpointError, match="refuses them because loading a pickle can run arbitrary code"):
        manager.pipeline("evil")
    assert not marker.exists(), "the pickle was executed"


@pytest.mark.parametrize("name", ["/etc", "../tiny-sd", "{folder}", "~/models", "tiny-sd/../../etc"])
def test_a_model_name_never_becomes_a_path(shared_manager, tiny_folder, name):
    with pytest.raises(UnknownModelError, match="unknown model"):
        shared_manager.entry(name.format(folder=tiny_folder))
