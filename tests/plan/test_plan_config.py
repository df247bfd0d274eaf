"""`plan` on rendered projects: every configuration mistake of every stack, with file and line, exit 2.

Each case runs against the default render and a variant render (other environment names, a
profile per environment), as a user editing `infra/Pulumi.<env>.yaml` by hand would.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest

from generator.cli import main

REPO = Path(__file__).resolve().parents[2]
RENDERS = {
    "defaults": {},
    "variant": {
        "project_name": "churn-forecast-eu-01",
        "environments": ["sandbox", "staging", "live"],
        "azure_location": "swedencentral",
        "gpu": True,
    },
}


@pytest.fixture(scope="session", params=sorted(RENDERS))
def rendered(request, tmp_path_factory) -> Path:
    import copier
    from copier.errors import DirtyLocalWarning

    dest = tmp_path_factory.mktemp(f"plan-config-{request.param}") / "project"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_copy(
            str(REPO), dest, data=RENDERS[request.param], defaults=True, vcs_ref="HEAD", quiet=True
        )
    return dest / "infra"


@pytest.fixture
def infra(rendered: Path, tmp_path: Path) -> Path:
    target = tmp_path / "infra"
    shutil.copytree(rendered, target)
    return target


def envs(infra: Path) -> list[str]:
    from stacks.offline import stack_files

    return list(stack_files(infra))


def env_with_profile(infra: Path, profile: str) -> str:
    """The environment that runs `profile` (named after it, or declaring it with forge:profile)."""
    for env in envs(infra):
        if env == profile or f"forge:profile: {profile}\n" in (infra / f"Pulumi.{env}.yaml").read_text():
            return env
    raise AssertionError(f"no {profile} environment in {infra}")


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first line matching regex `old` with `new`; return its 1-based line number."""
    lines = path.read_text().splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        if re.search(old, line):
            lines[number - 1] = re.sub(old, new, line)
            path.write_text("".join(lines))
            return number
    raise AssertionError(f"{old!r} not in {path}")


def append(path: Path, line: str) -> int:
    text = path.read_text()
    path.write_text(text.rstrip("\n") + "\n" + line + "\n")
    return len(text.rstrip("\n").splitlines()) + 1


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# (what the user did, how, the message naming the key and what to do)
MISTAKES = {
    "typo-alert-emails": (
        lambda f: edit(f, r"^  forge:alertEmails:", "  forge:alertEmail:"),
        "forge:alertEmail: is not a setting of mlops-forge stacks; did you mean forge:alertEmails?",
    ),
    "budget-case": (
        lambda f: append(f, "  forge:monthlyBudgetUSD: 500"),
        "forge:monthlyBudgetUSD: is not a setting of mlops-forge stacks; did you mean forge:monthlyBudgetUsd?",
    ),
    "unknown-key": (
        lambda f: append(f, "  forge:computeMaxNodez: 3"),
        "forge:computeMaxNodez: is not a setting of mlops-forge stacks",
    ),
    "forgotten-namespace": (
        lambda f: append(f, "  logRetentionDays: 120"),
        "logRetentionDays: is not in the forge namespace; did you mean forge:logRetentionDays?",
    ),
    "region": (
        lambda f: edit(f, r"azure-native:location: \S+", "azure-native:location: mars-north"),
        "azure-native:location: 'mars-north' is not a region where Azure Machine Learning is offered",
    ),
    "region-near-miss": (
        lambda f: edit(f, r"azure-native:location: \S+", "azure-native:location: west-europe"),
        "azure-native:location: 'west-europe' is not a region where Azure Machine Learning is offered; "
        "did you mean westeurope?",
    ),
    "version": (
        lambda f: edit(f, r"forge:templateVersion: \S+", "forge:templateVersion: banana"),
        "forge:templateVersion: 'banana' is not valid: expected a release version such as 1.2.3",
    ),
    "type": (
        lambda f: edit(f, r"forge:gpu: \S+", "forge:gpu: sometimes"),
        "forge:gpu: expected true or false, got 'sometimes'",
    ),
    "plain-webhook": (
        lambda f: append(f, "  forge:alertWebhook: https://example.org/hook"),
        "forge:alertWebhook: must be a secret: run `pulumi config set --secret forge:alertWebhook <url>`",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_exits_2_naming_file_line_key_and_suggestion(capsys, infra, mistake) -> None:
    mutate, message = MISTAKES[mistake]
    env = env_with_profile(infra, "prod")  # where a silent mistake hurts most
    stack = infra / f"Pulumi.{env}.yaml"
    line = mutate(stack)
    code, out, err = run(capsys, "plan", str(infra), "--env", "all", "--check")
    assert code == 2 and out == ""
    assert "Traceback" not in err
    (only,) = err.strip().splitlines()
    assert only.startswith(f"mlops-forge plan: error: {stack}:{line}: {message}")


def test_every_error_of_every_environment_in_one_run(capsys, infra) -> None:
    first, last = env_with_profile(infra, "dev"), env_with_profile(infra, "prod")
    first_file, last_file = infra / f"Pulumi.{first}.yaml", infra / f"Pulumi.{last}.yaml"
    typo = edit(last_file, r"^  forge:alertEmails:", "  forge:alertEmail:")
    region = edit(first_file, r"azure-native:location: \S+", "azure-native:location: mars-north")
    budget = append(first_file, "  forge:monthlyBudgetUsd: lots")
    code, out, err = run(capsys, "plan", str(infra))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[0] == "mlops-forge plan: error: 3 configuration errors:"
    found = sorted(lines[1:])
    expected = sorted(
        [
            f"  {first_file}:{region}: azure-native:location: 'mars-north'",
            f"  {first_file}:{budget}: forge:monthlyBudgetUsd: expected a number, got 'lots'",
            f"  {last_file}:{typo}: forge:alertEmail: is not a setting",
        ]
    )
    assert all(line.startswith(prefix) for line, prefix in zip(found, expected, strict=True))
    assert len(lines) == 4


def test_other_namespaces_pass_through(capsys, infra) -> None:
    env = envs(infra)[0]
    append(
        infra / f"Pulumi.{env}.yaml", "  azure-native:subscriptionId: 00000000-0000-0000-0000-000000000000"
    )
    code, out, err = run(capsys, "plan", str(infra), "--env", env)
    assert code == 0, err
    assert f"== {env}:" in out


def test_an_action_group_without_receivers_fails_the_strict_environment(capsys, infra) -> None:
    first, last = env_with_profile(infra, "dev"), env_with_profile(infra, "prod")
    for env in (first, last):
        stack = infra / f"Pulumi.{env}.yaml"
        text = re.sub(r"  forge:alertEmails:\n(    - .*\n)+", "", stack.read_text())
        stack.write_text(text)
    code, out, err = run(capsys, "plan", str(infra), "--env", last, "--check")
    assert code == 1
    assert f"policy violation [{last}] action-group-has-receiver" in err
    code, out, _ = run(capsys, "plan", str(infra), "--env", first, "--check")
    assert code == 0 and "[advisory] action-group-has-receiver" in out
