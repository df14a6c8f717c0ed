"""Every runnable code block of the docs runs and succeeds.

Convention for doc writers: a fenced block whose info string is ``bash run`` or
``python run`` (optionally followed by ``timeout=SECONDS``, default 120) is executed
by this test; any other block (``bash``, ``python``, ``yaml``, ``toml``, ``text``) is
only shown. Runnable blocks must work offline and without real keys:

* the blocks of one file run in order, in one temporary directory per file, so a
  block may use files an earlier block wrote; ``config.example.yaml`` is copied there;
* ``HOME`` is a fresh directory (``~/.codex`` writes are harmless); ``tppc-router`` and
  ``python`` are the repository's; no ``TPPC_*`` variable is set;
* ``PRIMARY_API_KEY``, ``BACKUP_API_KEY``, ``PACKYCODE_API_KEY``, ``OPENAI_API_KEY`` and
  ``GATEWAY_API_KEY`` hold canary keys, and no block's output may show one;
* bash blocks run with ``set -euo pipefail``; python blocks as a script file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from canaries import CANARY_BACKUP, CANARY_GATEWAY, CANARY_LEGACY, CANARY_OPENAI, CANARY_PRIMARY
from canary_guard import assert_no_canary

from tppc_router.masking import mask_text

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
OPEN_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<lang>bash|python)\s+run\b(?P<options>.*)$")
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    code: str
    timeout: float

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def runnable_blocks(path: Path) -> list[Block]:
    """The ``bash run`` / ``python run`` blocks of one Markdown file, in order."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = OPEN_FENCE.match(lines[i].strip())
        i += 1
        if match is None:
            continue
        start, fence = i, match["fence"]
        while i < len(lines) and lines[i].strip() != fence:
            i += 1
        options = dict(opt.split("=", 1) for opt in match["options"].split() if "=" in opt)
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        blocks.append(Block(path, start, match["lang"], "\n".join(lines[start:i]) + "\n", timeout))
        i += 1
    return blocks


BLOCKS = [block for path in DOC_FILES if path.exists() for block in runnable_blocks(path)]


@pytest.fixture(scope="session")
def doc_dirs() -> dict[Path, Path]:
    """One working directory per doc file, shared by its blocks."""
    return {}


def workdir(doc_dirs: dict[Path, Path], tmp_path_factory: pytest.TempPathFactory, path: Path) -> Path:
    if path not in doc_dirs:
        work = tmp_path_factory.mktemp(path.stem)
        (work / "home").mkdir()
        example = ROOT / "config.example.yaml"
        if example.exists():
            shutil.copy(example, work / "config.example.yaml")
        doc_dirs[path] = work
    return doc_dirs[path]


def block_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TPPC_") and k != "OPENAI_API_KEY"}
    env.update(
        HOME=str(work / "home"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PRIMARY_API_KEY=CANARY_PRIMARY,
        BACKUP_API_KEY=CANARY_BACKUP,
        PACKYCODE_API_KEY=CANARY_LEGACY,
        OPENAI_API_KEY=CANARY_OPENAI,
        GATEWAY_API_KEY=CANARY_GATEWAY,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        NO_COLOR="1",
        COLUMNS="160",
        PYTHONUNBUFFERED="1",
    )
    return env


def test_docs_have_runnable_blocks() -> None:
    """The guide has runnable blocks, so this test checks something."""
    assert any(block.path.name == "guide.md" for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_doc_block_runs(block: Block, doc_dirs: dict[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> None:
    """A runnable doc block exits 0 offline, and shows no key in its output."""
    work = workdir(doc_dirs, tmp_path_factory, block.path)
    if block.lang == "bash":
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    else:
        script = work / f"block_{block.line}.py"
        script.write_text(block.code, encoding="utf-8")
        command = [sys.executable, str(script)]
    result = subprocess.run(command, cwd=work, env=block_env(work), capture_output=True, text=True,
                            timeout=block.timeout, check=False)
    assert_no_canary(result.stdout, result.stderr, where=f"the output of {block.id}")
    assert result.returncode == 0, (
        f"{block.id} exited {result.returncode}\n--- stdout\n{mask_text(result.stdout)[-4000:]}"
        f"\n--- stderr\n{mask_text(result.stderr)[-4000:]}"
    )
