"""README's two commands are the ones a newcomer runs: CI must run the very same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    start, test = _bash_blocks((ROOT / "README.md").read_text())[:2]
    assert start.endswith("python app.py")
    assert "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_lists_every_tab_and_api_name():
    readme = (ROOT / "README.md").read_text()
    for name in ("Text to image", "Guidance lab", "Inpainting", "Paint with words"):
        assert f"**{name}**" in readme
    for api in ("/txt2img", "/guidance_grid", "/inpaint", "/paint_with_words"):
        assert api in readme


def test_readme_shows_the_capability_table_as_the_code_has_it():
    from pipelines.capabilities import matrix_markdown

    text = (ROOT / "README.md").read_text()
    shown = text.split("<!-- capability matrix -->\n", 1)[1].split("\n<!-- /capability matrix -->", 1)[0]
    assert shown == matrix_markdown()
