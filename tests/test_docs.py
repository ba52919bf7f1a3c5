"""The docs' example entries are valid specs, and every README/docs command example is what the command prints."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genmodel.specs.files import validate_spec
from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.model import ModelSpec

ROOT = Path(__file__).resolve().parent.parent


def _yaml_blocks(text: str) -> list[dict]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def test_minimal_entries_in_data_md_are_valid_specs():
    section = (ROOT / "docs" / "data.md").read_text().split("## Minimal entries", 1)[1]
    blocks = _yaml_blocks(section)
    assert len(blocks) == 4
    for block in blocks:
        cls = HardwareSpec if "peak_flops_per_s" in block else ModelSpec
        validate_spec(block, cls, block["name"])


@pytest.mark.skipif(sys.platform == "win32", reason="shell example runner")
def test_command_examples_are_up_to_date():
    # scripts/doc_examples.py runs every example's commands and compares with the text in README.md and docs/
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "doc_examples.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
