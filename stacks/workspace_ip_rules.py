"""Keep an Azure ML workspace's IP rules equal to `forge:allowedIps` (`networkMode: ip-allowlist`).

Azure ML takes a workspace's IP rules only once the workspace exists ("Configure a private
endpoint for an Azure Machine Learning workspace", "Enable public access only from internet IP
ranges"), and pulumi-azure-native 3.29's Workspace has no field for them. So the stack exports the
list (`workspaceAllowedIps`) and the infra workflow runs this module after every `pulumi up`, as
the deployer: it adds the missing rules first, then removes the ones no longer listed, so the
workspace never accepts fewer addresses than both lists share.

    python -m stacks.workspace_ip_rules        # reads RESOURCE_GROUP, WORKSPACE, ALLOWED_IPS

An empty list (every mode but `ip-allowlist`) changes nothing: leaving `ip-allowlist` is a
decision about the workspace's public access, not a rule to drop (docs/stacks.md).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stacks.addresses import MAX_IP_RULES as MAX_RULES

Az = Callable[[Sequence[str]], str]


class RuleError(Exception):
    """What stops the reconciliation; the message is printed as one line."""


@dataclass(frozen=True)
class Changes:
    add: tuple[str, ...]
    remove: tuple[str, ...]


def canonical(address: str) -> str:
    """`16.17.18.19/32` and `16.17.18.19` are one rule; a range is written by its network address."""
    try:
        network = ipaddress.IPv4Network(address.strip(), strict=False)
    except ValueError as error:
        raise RuleError(f"{address!r} is not an IPv4 address or CIDR range ({error})") from None
    return str(network.network_address) if network.prefixlen == 32 else str(network)


def parse_allowed(text: str) -> tuple[str, ...]:
    """The stack output as pulumi/actions hands it over: a JSON list (or a comma-separated text)."""
    text = text.strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise RuleError(f"ALLOWED_IPS is not a JSON list: {error}") from None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise RuleError("ALLOWED_IPS must be a JSON list of addresses")
    else:
        values = text.split(",")
    wanted = tuple(dict.fromkeys(canonical(v) for v in values if v.strip()))
    if len(wanted) > MAX_RULES:
        raise RuleError(f"{len(wanted)} addresses: an Azure ML workspace takes at most {MAX_RULES} IP rules")
    return wanted


def changes(current: Sequence[str], wanted: Sequence[str]) -> Changes:
    have = {canonical(a): a for a in current}
    want = [canonical(a) for a in wanted]
    return Changes(
        add=tuple(a for a in want if a not in have),
        remove=tuple(written for key, written in have.items() if key not in want),
    )


def _run_az(argv: Sequence[str]) -> str:
    done = subprocess.run(["az", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuleError(f"az {' '.join(argv[:4])} failed: {last}")
    return done.stdout


def reconcile(resource_group: str, workspace: str, wanted: Sequence[str], az: Az = _run_az) -> Changes:
    """Make the workspace's IP rules exactly `wanted`; returns what changed."""

    def rule(verb: str, *rest: str) -> str:
        target = ("--resource-group", resource_group, "--workspace-name", workspace)
        return az(["ml", "workspace", "network-rule", verb, *target, *rest])

    listed = json.loads(rule("list", "--query", "ipRules", "--output", "json") or "[]")
    todo = changes([r["value"] for r in listed or []], wanted)
    for address in todo.add:
        rule("add", "--ip-address", address, "--output", "none")
    for address in todo.remove:
        rule("remove", "--ip-address", address, "--output", "none")
    return todo


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    if argv:
        print("usage: python -m stacks.workspace_ip_rules (reads RESOURCE_GROUP, WORKSPACE, ALLOWED_IPS)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        wanted = parse_allowed(env.get("ALLOWED_IPS", ""))
        if not wanted:
            print(
                "workspace IP rules: the stack lists no address (networkMode is not ip-allowlist); nothing to do"
            )
            return 0
        missing = [name for name in ("RESOURCE_GROUP", "WORKSPACE") if not env.get(name)]
        if missing:
            raise RuleError(
                f"{' and '.join(missing)} empty: pass the stack outputs resourceGroup and workspace"
            )
        # The `network-rule` commands belong to the ml extension (the ML workflows add it too).
        _run_az(["extension", "add", "--name", "ml", "--upgrade", "--yes", "--only-show-errors"])
        done = reconcile(env["RESOURCE_GROUP"], env["WORKSPACE"], wanted)
    except RuleError as error:
        print(f"::error::workspace IP rules: {error}", file=sys.stderr)
        return 1
    print(
        f"workspace {env['WORKSPACE']}: accepts {', '.join(wanted)} only "
        f"(added {len(done.add)}, removed {len(done.remove)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
