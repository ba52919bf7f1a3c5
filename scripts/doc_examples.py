"""Regenerate (or, with --check, verify) every command example in README.md and docs/*.md.

An example is an HTML comment naming the commands, followed by a ```text block::

    <!-- example: genmodel estimate --model llama-3.1-70b --batch 16 -->
    ```text
    $ genmodel estimate --model llama-3.1-70b --batch 16
    ...what the command prints...
    ```

Several commands may be given, one per line inside the comment (``<!-- example`` ... ``-->``). Each command
runs in-process through ``genmodel.interfaces.cli.main``; the block is replaced by ``$ command`` and its
output (stdout, then stderr). Timings that change from run to run ("in 12 ms") are written as "in ... ms".
``--check`` writes nothing and exits 1 with a diff when a block differs from what the commands print now.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"<!-- example:?(?P<commands>.*?)-->\n```text\n(?P<body>.*?)```", re.S)
VOLATILE = [(re.compile(r"in [\d,.]+ ms"), "in ... ms")]
WIDTH = 110


def run(command: str) -> str:
    """What ``command`` ('genmodel ...') prints."""
    from genmodel.interfaces.cli import main

    argv = shlex.split(command)
    if not argv or argv[0] != "genmodel":
        raise SystemExit(f"an example must start with 'genmodel': {command!r}")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(argv[1:])
    text = out.getvalue() + err.getvalue()
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def shown(command: str) -> str:
    """The command as a reader would type it, wrapped with backslashes to about WIDTH characters."""
    words = [shlex.quote(w) for w in shlex.split(command)]
    groups: list[str] = []  # an option stays on one line with its value
    for word in words:
        if groups and not word.startswith("-") and groups[-1].startswith("--") and " " not in groups[-1]:
            groups[-1] += " " + word
        else:
            groups.append(word)
    lines, line = [], "$"
    for group in groups:
        if len(line) + 1 + len(group) > WIDTH and line != "$":
            lines.append(line + " \\")
            line = "     "
        line += " " + group
    return "\n".join([*lines, line])


def render(commands: str) -> str:
    parts = []
    for command in (c.strip() for c in commands.strip().splitlines()):
        if command:
            parts.append(shown(command) + "\n" + run(command))
    return "".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify only; exit 1 on a difference")
    args = parser.parse_args()
    failed = False
    for path in FILES:
        text = path.read_text()

        def replace(match: re.Match) -> str:
            head = match.group(0)[: match.start("body") - match.start()]
            return head + render(match.group("commands")) + "```"

        new = BLOCK.sub(replace, text)
        if new == text:
            continue
        if args.check:
            failed = True
            diff = difflib.unified_diff(text.splitlines(), new.splitlines(), str(path), "generated", lineterm="")
            print("\n".join(list(diff)[:80]))
        else:
            path.write_text(new)
            print(f"updated {path.relative_to(ROOT)}")
    if failed:
        print("examples differ from what the commands print: run python scripts/doc_examples.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
