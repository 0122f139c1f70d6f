"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)  # the first example writes out/demo
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "out" / "demo" / "map.html").is_file()
    assert float(namespace["minutes"].max()) > 0 and namespace["ahp"].consistency_ratio == 0
    assert len(namespace["links"]) > 0 and int(namespace["smod"].max()) == 30
