"""The JSON Schema shipped in every project accepts its stack files and rejects each mistake.

Validated with check-jsonschema, the tool a user (or CI) would run; editors read the same schema
through the `yaml-language-server` modeline at the top of each stack file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.settings_export import settings_json_schema_text

BIN = Path(sys.executable).parent
SCHEMA = "stack-settings.schema.json"
MODELINE = f"# yaml-language-server: $schema=./{SCHEMA}"


def check_jsonschema(schema: Path, files: list[Path]) -> dict[str, list[str]]:
    """File name → its schema errors (an empty list: valid)."""
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "-o", "json", "--schemafile", str(schema), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report.get("parse_errors", []) == [], report["parse_errors"]
    errors: dict[str, list[str]] = {Path(f).name: [] for f in files}
    for error in report.get("errors", []):
        errors[Path(error["filename"]).name].append(f"{error['path']}: {error['message']}")
    return errors


def stack_paths(project: Path) -> list[Path]:
    return sorted((project / "infra").glob("Pulumi.*.yaml"))


def test_every_stack_file_points_at_the_schema_and_validates(project: Path) -> None:
    infra = project / "infra"
    assert (infra / SCHEMA).read_text(encoding="utf-8") == settings_json_schema_text()
    stacks = stack_paths(project)
    assert stacks
    for stack in stacks:
        assert stack.read_text(encoding="utf-8").splitlines()[0] == MODELINE
    errors = check_jsonschema(infra / SCHEMA, stacks)
    assert errors == {s.name: [] for s in stacks}


# name → (change to a valid stack file's text, the schema path the error points at, or None: valid)
EDITS = {
    "typo": (lambda t: t.replace("forge:alertEmails:", "forge:alertEmail:"), "$.config"),
    "budget-case": (lambda t: t + "  forge:monthlyBudgetUSD: 500\n", "$.config"),
    "unknown-key": (lambda t: t + "  forge:computeMaxNodez: 3\n", "$.config"),
    "forgotten-namespace": (lambda t: t + "  alertEmails: [a@b.io]\n", "$.config.alertEmails"),
    "region": (lambda t: _set(t, "azure-native:location", "mars-north"), "$.config['azure-native:location']"),
    "version": (lambda t: _set(t, "forge:templateVersion", "banana"), "$.config['forge:templateVersion']"),
    "budget-type": (
        lambda t: _set(t, "forge:monthlyBudgetUsd", "lots"),
        "$.config['forge:monthlyBudgetUsd']",
    ),
    "bool-type": (lambda t: _set(t, "forge:gpu", "sometimes"), "$.config['forge:gpu']"),
    "range": (lambda t: t + "  forge:alertSeverity: 7\n", "$.config['forge:alertSeverity']"),
    "e-mail": (lambda t: t + "  forge:alertPushEmails: [not-mail]\n", "$.config['forge:alertPushEmails'][0]"),
    "plain-webhook": (
        lambda t: t + "  forge:alertWebhook: https://example.org/hook\n",
        "$.config['forge:alertWebhook']",
    ),
    "missing-project": (
        lambda t: "\n".join(x for x in t.splitlines() if "forge:project" not in x),
        "$.config",
    ),
    "provider-key": (
        lambda t: t + "  azure-native:subscriptionId: 00000000-0000-0000-0000-000000000000\n",
        None,
    ),
    "project-namespace-key": (lambda t: t + "  myOwnSetting: 42\n", None),
    "secret-webhook": (lambda t: t + "  forge:alertWebhook:\n    secure: AAABAKc2ZXhhbXBsZQ==\n", None),
    "secrets-provider": (lambda t: "secretsprovider: passphrase\nencryptionsalt: v1:abc\n" + t, None),
}


def _set(text: str, key: str, value: str) -> str:
    lines = [f"  {key}: {value}" if line.startswith(f"  {key}:") else line for line in text.splitlines()]
    assert lines != text.splitlines(), key
    return "\n".join(lines) + "\n"


def test_the_schema_rejects_each_mistake_and_accepts_other_namespaces(project: Path, tmp_path: Path) -> None:
    base = stack_paths(project)[-1].read_text(encoding="utf-8")
    files = []
    for name, (edit, _) in EDITS.items():
        path = tmp_path / f"Pulumi.{name}.yaml"
        path.write_text(edit(base), encoding="utf-8")
        files.append(path)
    errors = check_jsonschema(project / "infra" / SCHEMA, files)
    for name, (_, where) in EDITS.items():
        found = errors[f"Pulumi.{name}.yaml"]
        if where is None:
            assert found == [], name
        else:
            assert found, f"{name} was accepted"
            assert any(error.startswith(f"{where}:") for error in found), (name, found)


@pytest.mark.parametrize("key", ["forge:alertEmail", "forge:monthlyBudgetUSD"])
def test_an_unknown_key_is_flagged_by_name(project: Path, tmp_path: Path, key: str) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(stack_paths(project)[0].read_text(encoding="utf-8") + f"  {key}: 1\n", encoding="utf-8")
    (found,) = check_jsonschema(project / "infra" / SCHEMA, [path])["Pulumi.x.yaml"]
    assert key in found
