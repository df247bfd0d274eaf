"""Copier migration: carry a project's answers over question renames and removals.

copier.yml's `_migrations` runs this before an update renders the new template version:

    answers.py rename OLD NEW   the answer to OLD becomes the answer to NEW (kept if NEW is answered)
    answers.py remove NAME      the question is gone: drop its answer, so copier doesn't warn about it

It runs under the Python that runs copier (`_copier_python`), in the project's directory, so it uses
only the standard library and PyYAML, a dependency of copier itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml


def read(path: Path) -> tuple[list[str], dict[str, object]]:
    """The answers file's leading comment lines, and its answers in file order."""
    text = path.read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    answers = yaml.safe_load(text) or {}
    if not isinstance(answers, dict):
        raise SystemExit(f"{path}: not a copier answers file (expected a mapping)")
    return header, answers


def write(path: Path, header: list[str], answers: dict[str, object]) -> None:
    """Replace the file in one step, so an interrupted migration leaves the old answers intact."""
    body = yaml.safe_dump(answers, sort_keys=False, default_flow_style=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in header) + body)
    os.replace(tmp, path)


def rename(answers: dict[str, object], old: str, new: str) -> str:
    if old not in answers:
        return f"{old}: not answered, nothing to carry over"
    if new in answers:
        answers.pop(old)
        return f"{old}: dropped, {new} is already answered"
    value = answers[old]
    # The new name takes the old one's place, so the file's diff stays one line.
    renamed = {(new if key == old else key): val for key, val in answers.items()}
    answers.clear()
    answers.update(renamed)
    return f"{old} -> {new}: {value!r}"


def remove(answers: dict[str, object], name: str) -> str:
    return f"{name}: removed" if answers.pop(name, None) is not None else f"{name}: not answered"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="answers.py", description=__doc__.splitlines()[0])
    parser.add_argument("--answers-file", type=Path, default=Path(".copier-answers.yml"))
    actions = parser.add_subparsers(dest="action", required=True)
    ren = actions.add_parser("rename")
    ren.add_argument("old")
    ren.add_argument("new")
    rem = actions.add_parser("remove")
    rem.add_argument("name")
    args = parser.parse_args(argv)
    if not args.answers_file.is_file():
        print(f"answers.py: {args.answers_file} not found; run from the project's root", file=sys.stderr)
        return 2
    header, answers = read(args.answers_file)
    message = rename(answers, args.old, args.new) if args.action == "rename" else remove(answers, args.name)
    write(args.answers_file, header, answers)
    print(f"migration: {message}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
