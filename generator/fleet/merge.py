"""Copier's update in a throwaway clone, and the truth about what it did.

Whether a file conflicts is read from the merge itself, never guessed from its text:
- text files: copier merges each file the historical diff cannot apply with `git merge-file`
  and records the file as unmerged in git's index; `git diff --diff-filter=U -z` lists them
  (any line ending, any encoding, any path: `-z` paths are never quoted); `.rej` files, if
  copier leaves any, are conflicts too;
- binary files, symlinks, mode changes and files the new version deletes, which copier
  overwrites or removes without a merge, are compared three ways here: the project's version
  on its default branch (ours), a fresh render of the old template version (the common base)
  and the result. Changed only by the template: the result stands. Changed only here: the
  project's version is put back. Changed on both sides: the project's version is kept and the
  file is listed as a conflict.
As a second guard, a file staged for the commit that holds a conflict-marker line (ending in
`\n` or `\r\n`) is a conflict whatever the above said. So a marker is only ever committed on a
branch reported `conflicted` whose list names that file.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import stat
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.fleet.git import GitError, clone, git, identity, paths_z, show_file
from generator.fleet.project import Project
from generator.fleet.template import TemplateMirror, TemplateVersion
from generator.scaffold import ANSWERS_FILE

FLEET_TRAILER = "Mlops-Forge-Fleet"
CONFLICT_TRAILER = "Mlops-Forge-Conflict"
# Lines git merge-file writes around a conflict (copier labels them "before/after updating").
# Git settings for repositories that live only as long as one update: git would otherwise start
# `git maintenance run --auto` after each of copier's commits, and fsync objects nobody keeps.
THROWAWAY = (("maintenance.auto", "false"), ("gc.auto", "0"), ("core.fsync", "none"))
MARKER_LINE = r"^(<<<<<<<|>>>>>>>)( .*)?\r?$"
_VALIDATION = re.compile(r"Validation error for question '(?P<question>[^']+)': (?P<message>.*)", re.S)


class AnswerRejected(Exception):
    """The new template version rejects an answer the project recorded; nothing was committed."""


@dataclass(frozen=True)
class Applied:
    head: str  # the commit holding the update
    conflicts: tuple[str, ...]  # paths as written, sorted


def recorded_answers(repo: Path, commit: str) -> dict[str, object]:
    """The project's own answers at `commit` (copier's `_`-keys left out)."""
    loaded = yaml.safe_load(show_file(repo, commit, ANSWERS_FILE) or "") or {}
    return {k: v for k, v in loaded.items() if isinstance(k, str) and not k.startswith("_")}


def computed_questions(template: Path, commit: str) -> set[str]:
    """Questions the template at `commit` never asks (`when: false`): copier computes them."""
    for name in ("copier.yml", "copier.yaml"):
        text = show_file(template, commit, name)
        if text is not None:
            try:
                questions = yaml.safe_load(text) or {}
            except yaml.YAMLError:  # copier's own tags (`!include`): then nothing is known computed
                return set()
            return {
                key for key, spec in questions.items() if isinstance(spec, dict) and spec.get("when") is False
            }
    return set()


def apply_update(
    project: Project,
    mirror: TemplateMirror,
    to: TemplateVersion,
    work: Path,
    *,
    trust: bool,
    data: dict[str, object],
) -> Applied:
    """Run copier's update in a throwaway clone of the project and commit it there."""
    import copier

    shutil.rmtree(work, ignore_errors=True)
    # The clone checks files out as the repository does (.gitattributes is in the tree), and
    # is a throwaway: no background maintenance, no fsync (what counts is fetched back later).
    settings = [*_line_endings(project.repo), *THROWAWAY]
    clone(str(project.repo), work, "--shared", "--no-checkout", *(f"--config={k}={v}" for k, v in settings))
    git(work, "checkout", "--quiet", "--detach", project.base)
    recorded = recorded_answers(project.repo, project.base)
    # Handing copier the recorded answers as data makes it validate them against the new
    # version (it would otherwise drop a rejected one for the default, silently). Answers to
    # questions the new version computes (`when: false`) are left to it: passed as data, an
    # old recorded value would pin what the template now derives, such as the version pin.
    computed = computed_questions(mirror.path, to.commit)
    answers = {**{k: v for k, v in recorded.items() if k not in computed}, **data}
    env = _copier_env(mirror, project, work)
    with _environment(env), _quiet():
        try:
            copier.run_update(
                dst_path=work,
                vcs_ref=to.commit,
                overwrite=True,
                defaults=True,
                conflict="inline",
                quiet=True,
                unsafe=trust,
                data=answers,
            )
        except ValueError as exc:
            rejected = _VALIDATION.search(str(exc))
            if rejected is None:
                raise
            question, message = rejected["question"], " ".join(rejected["message"].split())
            raise AnswerRejected(
                f"{to.label} rejects {question}={answers.get(question)!r}: {message}; "
                f"rerun with --data {question}=VALUE"
            ) from exc
    conflicts = set(_unmerged(work))
    git(work, "add", "--all")
    special = _special_paths(work, project.base)
    if special:
        with _environment(env), _quiet():
            conflicts |= _three_way(work, project, mirror, special, recorded, trust)
    conflicts |= set(_staged_markers(work, project.base))
    return Applied(_commit(work, project, to, tuple(sorted(conflicts))), tuple(sorted(conflicts)))


def _line_endings(repo: Path) -> list[tuple[str, str]]:
    """The repository's own line-ending settings, read in one git call."""
    try:
        found = git(repo, "config", "--get-regexp", r"^core\.(autocrlf|eol|safecrlf)$")
    except GitError:  # exit 1: none set
        return []
    return [(key, value) for key, _, value in (line.partition(" ") for line in found.splitlines()) if key]


def _copier_env(mirror: TemplateMirror, project: Project, work: Path) -> dict[str, str]:
    # Copier's own git repositories (template checkouts, old and new renders) are throwaways too.
    env = mirror.git_env(project.src_path, also=THROWAWAY)
    # Each process its own copier cache: copier keeps mirrors of remote templates there.
    env["COPIER_CACHE_DIR"] = str(work.parent / f"copier-cache-{os.getpid()}")
    return env


def _unmerged(work: Path) -> list[str]:
    """Files copier's merge left conflicted: unmerged in the index, or with a `.rej` beside them."""
    unmerged = paths_z(git(work, "diff", "--name-only", "--diff-filter=U", "-z"))
    leftovers = paths_z(git(work, "ls-files", "--others", "-z"))
    return unmerged + [path for path in leftovers if path.endswith(".rej")]


@dataclass(frozen=True)
class _Entry:
    mode: str
    blob: str


def _special_paths(work: Path, base: str) -> dict[str, tuple[_Entry | None, _Entry | None, bool]]:
    """Changes copier makes without a merge: deletions, binary files, symlinks, mode changes.

    Maps each path to (its entry at `base`, its entry in the index, whether it is binary).
    """
    raw = git(work, "diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", base).split("\0")
    binary = {
        path
        for line in git(work, "diff", "--cached", "--numstat", "-z", "--no-renames", base).split("\0")
        if line.startswith("-\t-\t")
        for path in [line.split("\t", 2)[2]]
    }
    special = {}
    for meta, path in zip(raw[0::2], raw[1::2], strict=False):
        if not meta.startswith(":"):
            continue
        old_mode, new_mode, old_blob, new_blob, status = meta[1:].split()
        ours = None if status == "A" else _Entry(old_mode, old_blob)
        result = None if status == "D" else _Entry(new_mode, new_blob)
        links = "120000" in {old_mode, new_mode}
        if status == "D" or (ours and result and ours.mode != result.mode) or links or path in binary:
            special[path] = (ours, result, path in binary)
    return special


def _mode_only(ours: _Entry | None, result: _Entry | None, binary: bool) -> bool:
    """A text file whose mode changed (its content is copier's merge, already checked)."""
    if binary or ours is None or result is None or "120000" in {ours.mode, result.mode}:
        return False
    return ours.mode != result.mode


def _three_way(
    work: Path,
    project: Project,
    mirror: TemplateMirror,
    special: dict[str, tuple[_Entry | None, _Entry | None, bool]],
    recorded: dict[str, object],
    trust: bool,
) -> set[str]:
    """Settle `special` against the old template version; returns the ones changed on both sides.

    The old version's file is read from the template itself when copier copies it verbatim
    (no template suffix, no templated directory); only otherwise is the old version rendered.
    """
    bases = _verbatim(mirror, project.version, list(special))
    unknown = [path for path in special if path not in bases]
    if unknown:
        bases.update(_render_old(work, project, recorded, trust, unknown))
    conflicts = set()
    for path, (ours, result, binary) in special.items():
        base = bases[path]
        if _mode_only(ours, result, binary) and ours and result and base:
            # Text merged by copier; only the executable bit to settle. Git knows two file
            # modes, so both sides changing it means both made the same change.
            if ours.mode != base.mode and result.mode == base.mode:
                _restore(work, path, _Entry(ours.mode, result.blob))
            continue
        if ours == base:
            continue  # only the template changed it: its version stands
        if result != base:
            conflicts.add(path)  # both sides changed it
        _restore(work, path, ours)
    return conflicts


def _verbatim(mirror: TemplateMirror, version: str, paths: list[str]) -> dict[str, _Entry]:
    """Entries of `paths` as the template at `version` holds them, for files copier copies as they are."""
    try:
        commit = mirror.commit(version)
    except Exception:  # an odd `_commit`: render instead
        return {}
    text = show_file(mirror.path, commit, "copier.yml") or show_file(mirror.path, commit, "copier.yaml")
    try:
        conf = yaml.safe_load(text or "") or {}
    except yaml.YAMLError:
        return {}
    suffix = conf.get("_templates_suffix", ".jinja") if isinstance(conf, dict) else ""
    subdirectory = str(conf.get("_subdirectory", "") if isinstance(conf, dict) else "").strip("/")
    if not suffix or "{" in subdirectory:
        return {}
    prefix = f"{subdirectory}/" if subdirectory else ""
    wanted = [f"{prefix}{path}" for path in paths] + [f"{prefix}{path}{suffix}" for path in paths]
    listing = git(mirror.path, "ls-tree", "-z", "--full-tree", commit, "--", *wanted).split("\0")
    found = {}
    for line in listing:
        if line:
            meta, _, name = line.partition("\t")
            mode, kind, blob = meta.split()
            found[name] = _Entry(mode, blob) if kind == "blob" else None
    entries = {}
    for path in paths:
        if f"{prefix}{path}{suffix}" in found:
            continue  # templated: only a render says what it was
        entry = found.get(f"{prefix}{path}")
        if entry is not None and (entry.mode != "120000" or conf.get("_preserve_symlinks")):
            entries[path] = entry
    return entries


def _render_old(
    work: Path, project: Project, recorded: dict[str, object], trust: bool, paths: list[str]
) -> dict[str, _Entry | None]:
    """Render the project's recorded template version afresh and read `paths` from it."""
    import copier

    with tempfile.TemporaryDirectory(prefix="mlops-forge-old-") as tmp:
        old = Path(tmp) / "old"
        copier.run_copy(
            project.src_path,
            old,
            data=recorded,
            vcs_ref=project.version,
            defaults=True,
            overwrite=True,
            quiet=True,
            unsafe=trust,
            skip_tasks=True,
        )
        return {path: _rendered(work, old / path) for path in paths}


def _rendered(work: Path, path: Path) -> _Entry | None:
    """The index entry `path` (a file of the old render) would have."""
    if not path.is_symlink() and not path.exists():
        return None
    if path.is_symlink():
        target = os.readlink(path).encode()
        blob = git(work, "hash-object", "--stdin", stdin=target).strip()
        return _Entry("120000", blob)
    mode = "100755" if path.stat().st_mode & stat.S_IXUSR else "100644"
    return _Entry(mode, git(work, "hash-object", "--no-filters", "--", str(path)).strip())


def _restore(work: Path, path: str, entry: _Entry | None) -> None:
    """Put the project's own version of `path` back into the index (absent, if it had none)."""
    if entry is None:
        git(work, "rm", "--cached", "--quiet", "--ignore-unmatch", "--", path)
    else:
        git(work, "update-index", "--add", "--cacheinfo", f"{entry.mode},{entry.blob},{path}")


def _staged_markers(work: Path, base: str) -> list[str]:
    """Staged files changed since `base` holding a conflict-marker line: the second guard."""
    changed = paths_z(
        git(work, "diff", "--cached", "--name-only", "-z", "--diff-filter=AM", "--no-renames", base)
    )
    if not changed:
        return []
    try:
        hits = git(
            work,
            "grep",
            "--cached",
            "-l",
            "-z",
            "-I",
            "-E",
            MARKER_LINE,
            "--",
            *[f":(literal){p}" for p in changed],
        )
    except GitError:  # exit 1: no match
        return []
    return paths_z(hits)


def _commit(work: Path, project: Project, to: TemplateVersion, conflicts: tuple[str, ...]) -> str:
    message = [f"Update template from {project.version} to {to.label}", ""]
    message += [f"Generated by `mlops-forge fleet update` from {project.src_path}.", ""]
    if conflicts:
        message += ["Conflicts to resolve:", *(f"- {path}" for path in conflicts), ""]
    # Trailers: how a later run knows this commit is the fleet's, and which files it left to resolve.
    message += [f"{FLEET_TRAILER}: {to.label}"]
    message += [f"{CONFLICT_TRAILER}: {path}" for path in conflicts if "\n" not in path]
    name, email = identity(project.repo)
    git(
        work,
        *("-c", f"user.name={name}", "-c", f"user.email={email}"),
        *(part for key, value in THROWAWAY for part in ("-c", f"{key}={value}")),
        *("commit", "--quiet", "--no-verify", "--allow-empty", "-m", "\n".join(message)),
    )
    return git(work, "rev-parse", "HEAD").strip()


def _trailers(repo: Path, rev_range: str, key: str) -> list[list[str]]:
    """Per commit in `rev_range`, the values of trailer `key`."""
    out = git(repo, "log", f"--format=%(trailers:key={key},valueonly,separator=%x1f)%x00", rev_range)
    return [[v for v in entry.strip().split("\x1f") if v] for entry in out.split("\0")[:-1]]


def fleet_commits_only(repo: Path, base: str, tip: str) -> bool:
    """Whether every commit on `tip` that is not on `base` was made by the fleet (has its trailer)."""
    return all(_trailers(repo, f"{base}..{tip}", FLEET_TRAILER))


def recorded_conflicts(repo: Path, base: str, tip: str) -> tuple[str, ...]:
    """Conflicts of an update branch an earlier run made, still unresolved at `tip`.

    The fleet's commit lists them; once someone has committed on the branch, only those that
    still hold a marker line count.
    """
    per_commit = _trailers(repo, f"{base}..{tip}", CONFLICT_TRAILER)
    fleet = _trailers(repo, f"{base}..{tip}", FLEET_TRAILER)
    listed = {path for paths, mine in zip(per_commit, fleet, strict=True) if mine for path in paths}
    if not listed or (fleet and fleet[0]):  # the tip is the fleet's own commit
        return tuple(sorted(listed))
    try:
        hits = git(repo, "grep", "-l", "-z", "-I", "-E", MARKER_LINE, tip, "--", *sorted(listed))
    except GitError:
        return ()
    return tuple(sorted(path.removeprefix(f"{tip}:") for path in paths_z(hits)))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Copier prints to stdout/stderr and warns; a worker's output is its result record."""
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """Set `env` for this process and for plumbum, which copier runs git through, then restore it."""
    from plumbum import local

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    # plumbum copied the environment when it was imported: hand it git's current configuration
    # variables too, or a count from `env` could point at keys it never saw.
    current = {key: value for key, value in os.environ.items() if key.startswith("GIT_CONFIG")}
    try:
        with local.env(**current):
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
