"""`--mcp`: the studio's actions as MCP tools, described for an agent; an MCP client draws an image with one."""

from __future__ import annotations

import asyncio
import io
import json
import re
import urllib.request

import pytest
from PIL import Image

from studio import build_app, launch_options

pytestmark = pytest.mark.slow
ACTIONS = {
    "txt2img",
    "guidance_grid",
    "inpaint",
    "paint_with_words",
    "variations",
    "caption_to_image",
    "interpolate",
    "text_diff",
    "upscale",
}


@pytest.fixture(scope="module")
def mcp_url(shared_manager):
    demo = build_app(shared_manager)
    demo.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=None,
        quiet=True,
        mcp_server=True,
        **launch_options(),
    )
    try:
        yield demo.local_url
    finally:
        demo.close()


def test_the_schema_lists_the_actions_with_their_parameters_explained(mcp_url):
    with urllib.request.urlopen(mcp_url + "gradio_api/mcp/schema", timeout=30) as response:
        tools = {tool["name"]: tool for tool in json.load(response)}
    assert set(tools) == ACTIONS  # UI plumbing (Stop, previews, PNG reading, the Models panel) stays private
    txt2img = tools["txt2img"]
    assert txt2img["description"].startswith("Draws images from a text prompt")
    properties = txt2img["inputSchema"]["properties"]
    assert "classifier-free guidance" in properties["cfg_scale"]["description"]
    assert all(p.get("description") for p in properties.values()), properties
    assert "0 to 30" in properties["cfg_scale"]["description"]  # the limits table's range, filled in
    assert not re.search(r"\{[a-z_]+\}", json.dumps(tools)), "a docstring placeholder reached the schema"


def test_an_mcp_client_draws_an_image_with_txt2img(mcp_url):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def call():
        async with streamable_http_client(mcp_url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = {tool.name for tool in (await session.list_tools()).tools}
                result = await session.call_tool("txt2img", {"prompt": "a red circle", "steps": 2, "seed": 9})
                return listed, result

    listed, result = asyncio.run(call())
    assert ACTIONS <= listed and not result.isError
    text = " ".join(getattr(c, "text", "") for c in result.content)
    (url,) = set(re.findall(r"https?://[^'\" ]+/image\.png", text))
    with urllib.request.urlopen(url, timeout=30) as response:
        image = Image.open(io.BytesIO(response.read()))
    assert image.size == (64, 64) and "Seed: 9" in image.info["parameters"]
