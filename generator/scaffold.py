"""Render the ml-project template into a new directory: the library behind `mlops-forge new`.

Copier does the work; this module picks the template (this installation's own repository at its
version tag), checks the destination, turns copier's errors into one-line `UserError`s, and makes
sure a failed render leaves nothing behind that it created.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path
from typing import Any

import yaml

import generator
from generator.errors import UserError

ANSWERS_FILE = ".copier-answers.yml"
DATA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class NewSettings:
    dest: Path
    template: str | None = None
    vcs_ref: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    defaults: bool = False
    force: bool = False


@dataclass(frozen=True)
class Rendered:
    dest: Path
    template: str
    vcs_ref: str | None
    answers: dict[str, Any]


def parse_data(pairs: list[str]) -> dict[str, str]:
    """`["KEY=VALUE", ...]` → dict; copier casts each value by its question's type."""
    data: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not DATA_KEY.fullmatch(key):
            raise UserError(
                f"--data expects KEY=VALUE with KEY an answer name such as project_name, got {pair!r}"
            )
        if key in data:
            raise UserError(f"--data gives {key} twice; give each answer once")
        data[key] = value
    return data


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def default_template(version: str = generator.__version__) -> tuple[str, str | None]:
    """(template source, vcs ref): this installation's repository at tag v<version> if it has it."""
    root = Path(generator.__file__).resolve().parents[1]
    tag = f"v{version}"
    if (root / "copier.yml").is_file():
        has_git = (root / ".git").exists()
        if has_git and _git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}").returncode == 0:
            return str(root), tag
        # A source checkout without the tag: render what is checked out.
        return str(root), "HEAD" if has_git else None
    try:
        urls = metadata(generator.DISTRIBUTION).get_all("Project-URL") or []
    except PackageNotFoundError:  # pragma: no cover - the package is always installed to run this
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository" and url.strip():
            return "git+" + url.strip(), tag
    raise UserError("cannot find the mlops-forge template; pass --template PATH_OR_URL")


def template_questions(template: str) -> dict[str, str] | None:
    """Answer name → type of a local template (None when it is remote: copier then checks)."""
    config = Path(template) / "copier.yml"
    if not config.is_file():
        return None
    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return None
    return {
        key: str(spec.get("type", "str")) if isinstance(spec, dict) else "str"
        for key, spec in raw.items()
        if isinstance(key, str) and not key.startswith("_")
    }


_BOOLEANS = {"true", "false", "yes", "no", "y", "n", "1", "0"}


def check_data_types(data: dict[str, str], types: dict[str, str]) -> None:
    """Reject --data values of the wrong type with a message naming the answer.

    Copier would cast them leniently (any text is a true bool) or fail without naming the field.
    """
    for key, value in data.items():
        kind = types.get(key, "str")
        text = value.strip()
        if kind == "bool" and text.lower() not in _BOOLEANS:
            raise UserError(f"{key} must be true or false, got {value!r}")
        if kind == "int" and not re.fullmatch(r"[+-]?[0-9]+", text):
            raise UserError(f"{key} must be a whole number, got {value!r}")
        if kind == "float":
            try:
                float(text)
            except ValueError:
                raise UserError(f"{key} must be a number, got {value!r}") from None
        if kind in ("yaml", "json"):
            try:
                yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise UserError(f"{key} must be valid YAML, e.g. [a, b]: {_one_line(exc)}") from None


def _is_copier_project(dest: Path) -> bool:
    return (dest / ANSWERS_FILE).is_file()


def _check_dest(dest: Path, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest} exists and is not a directory; choose another destination")
    if dest.is_dir() and any(dest.iterdir()) and not _is_copier_project(dest) and not force:
        raise UserError(
            f"{dest} is not empty and is not a project made from this template; "
            "choose an empty or new directory, or pass --force to render into it"
        )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _cleanup(dest: Path, existed: bool, before: set[Path]) -> None:
    """Remove what the failed render created, never anything that was there before."""
    if not existed:
        shutil.rmtree(dest, ignore_errors=True)
        return
    if not dest.is_dir():
        return
    for child in dest.iterdir():
        if child not in before:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def new_project(settings: NewSettings) -> Rendered:
    """Render the template into `settings.dest`; raise `UserError` for anything the user can fix."""
    import copier
    from copier.errors import CopierError, DirtyLocalWarning

    dest = settings.dest.expanduser().resolve()
    _check_dest(dest, settings.force)
    if settings.template:
        template, vcs_ref = settings.template, settings.vcs_ref
    else:
        template, default_ref = default_template()
        vcs_ref = settings.vcs_ref or default_ref
    known = template_questions(template)
    if known is not None:
        unknown = sorted(set(settings.data) - set(known))
        if unknown:
            raise UserError(
                f"unknown answer {', '.join(unknown)} in --data; the template asks: {', '.join(sorted(known))}"
            )
        check_data_types(settings.data, known)

    existed = dest.exists()
    before = set(dest.iterdir()) if existed else set()
    interactive = not settings.defaults and sys.stdin.isatty()
    try:
        with warnings.catch_warnings():
            # A source checkout renders its working tree; copier's warning about that is noise here.
            warnings.filterwarnings("ignore", category=DirtyLocalWarning)
            worker = copier.run_copy(
                template,
                dest,
                data=settings.data,
                vcs_ref=vcs_ref,
                defaults=not interactive,
                overwrite=settings.force or _is_copier_project(dest),
                quiet=True,
                unsafe=False,
            )
    except KeyboardInterrupt:
        _cleanup(dest, existed, before)
        raise
    except (CopierError, ValueError, OSError, subprocess.CalledProcessError) as exc:
        _cleanup(dest, existed, before)
        raise UserError(_one_line(exc)) from None
    answers = {k: v for k, v in worker.answers.combined.items() if not str(k).startswith("_")}
    return Rendered(dest=dest, template=template, vcs_ref=vcs_ref, answers=answers)
