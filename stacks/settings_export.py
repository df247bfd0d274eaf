"""Files derived from the settings schema: the JSON Schema of `Pulumi.<env>.yaml`, the docs table.

`python -m stacks.settings_export` prints the JSON Schema; `--write` regenerates
templates/ml-project/infra/stack-settings.schema.json and the table in docs/stacks.md of this
checkout (tests fail while either is out of date).
"""

from __future__ import annotations

import json
from typing import Any

from stacks.settings_schema import (
    AZURE_ML_REGIONS,
    EMAIL_PATTERN,
    FORMATS,
    LOCATION_KEY,
    NAMESPACE,
    SETTINGS,
    Setting,
    format_number,
)

SCHEMA_ID = "https://github.com/mlops-forge/mlops-forge/stack-settings.schema.json"
SECURE_VALUE = {
    "type": "object",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}


def _value_schema(setting: Setting) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": setting.description}
    if setting.kind is list:
        item: dict[str, Any] = {"type": "string"}
        if setting.pattern:
            item["pattern"] = f"^{setting.pattern}$"
        schema |= {"type": "array", "items": item}
    elif setting.kind is bool:
        schema["type"] = "boolean"
    elif setting.kind in (int, float):
        schema["type"] = "integer" if setting.kind is int else "number"
        if setting.minimum is not None:
            schema["minimum"] = setting.minimum
        if setting.maximum is not None:
            schema["maximum"] = setting.maximum
    else:
        schema["type"] = "string"
        if setting.choices:
            schema["enum"] = list(setting.choices)
        if setting.pattern:
            schema["pattern"] = f"^{setting.pattern}$"
        if setting.min_length is not None:
            schema["minLength"] = setting.min_length
        if setting.max_length is not None:
            schema["maxLength"] = setting.max_length
    if setting.default not in (None, ()):
        schema["default"] = setting.default
    if setting.secret:
        # The stack file holds the ciphertext; a plain value is a leak waiting to be committed.
        return {"description": setting.description, **SECURE_VALUE}
    return schema


def settings_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of `Pulumi.<env>.yaml` for the settings above.

    Unknown keys in the `forge` namespace and keys without a namespace are rejected; keys of
    other namespaces (providers) take any value.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Pulumi stack settings of an mlops-forge project (Pulumi.<env>.yaml)",
        "description": "Generated from stacks/settings_schema.py; see docs/stacks.md.",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": {
                    **{s.full_key: _value_schema(s) for s in SETTINGS},
                    # A forgotten `forge:` puts a setting in the project's namespace, where nothing reads it.
                    **{
                        s.key: {"description": f"Did you mean {s.full_key}?", "not": {}}
                        for s in SETTINGS
                        if ":" not in s.key
                    },
                },
                # Other namespaces (providers, the project's own keys) take any value.
                "patternProperties": {f"^(?!{NAMESPACE}:)[^:]+:.+$": {}, "^[^:]+$": {}},
                "additionalProperties": False,
                "required": [s.full_key for s in SETTINGS if s.required == "always"],
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
            "environment": {},
        },
        "required": ["config"],
    }


def settings_json_schema_text() -> str:
    return json.dumps(settings_json_schema(), indent=2) + "\n"


def _default_text(setting: Setting) -> str:
    if setting.profile_field:
        return "profile"
    if setting.default in (None, ()):
        return "—"
    if isinstance(setting.default, bool):
        return f"`{str(setting.default).lower()}`"
    if isinstance(setting.default, float) and setting.default.is_integer():
        return f"`{int(setting.default)}`"
    return f"`{setting.default}`"


def _allowed_text(setting: Setting) -> str:
    if setting.key == LOCATION_KEY:
        return "a region of the list below"
    if setting.choices:
        return ", ".join(f"`{c}`" for c in setting.choices)
    if setting.minimum is not None or setting.maximum is not None:
        return f"{format_number(setting.minimum)} to {format_number(setting.maximum)}"
    if setting.key in FORMATS:
        return FORMATS[setting.key].removeprefix("expected ")
    if setting.pattern == EMAIL_PATTERN:
        return "e-mail addresses"
    return "—"


def settings_markdown() -> str:
    """The settings table of docs/stacks.md."""
    kinds = {"str": "text", "int": "integer", "float": "number", "bool": "bool", "list": "list of text"}
    rows = [
        "| key | type | default | allowed | required | description |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        kind = kinds[s.kind.__name__] + (" (secret)" if s.secret else "")
        required = {"always": "yes", "strict": "strict profiles", "never": ""}[s.required]
        rows.append(
            f"| `{s.full_key}` | {kind} | {_default_text(s)} | {_allowed_text(s)} | {required} | "
            f"{s.description.replace('|', '/')} |"
        )
    rows.append("")
    rows.append("Regions: " + ", ".join(f"`{r}`" for r in AZURE_ML_REGIONS) + ".")
    return "\n".join(rows) + "\n"


GENERATED_FILES = {
    "json": "templates/ml-project/infra/stack-settings.schema.json",
    "docs": "docs/stacks.md",
}
TABLE_START = "<!-- settings table: generated by `python -m stacks.settings_export --write` -->"
TABLE_END = "<!-- end of settings table -->"


def docs_with_table(docs: str) -> str:
    """docs/stacks.md with its settings table replaced by the current one."""
    head, start, rest = docs.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"docs/stacks.md lacks the markers {TABLE_START} … {TABLE_END}")
    return f"{head}{TABLE_START}\n{settings_markdown()}{TABLE_END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Print the JSON Schema, or with --write regenerate the files derived from the settings."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m stacks.settings_export", description=main.__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the generated files of this checkout")
    args = parser.parse_args(argv)
    if not args.write:
        print(settings_json_schema_text(), end="")
        return 0
    root = Path(__file__).resolve().parents[1]
    (root / GENERATED_FILES["json"]).write_text(settings_json_schema_text(), encoding="utf-8")
    docs = root / GENERATED_FILES["docs"]
    docs.write_text(docs_with_table(docs.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
