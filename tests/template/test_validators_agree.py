"""copier.yml's question validators and the stacks' rules accept and reject the same boundary cases.

A question's answer becomes a stack setting (project name, environments, e-mails, GitHub
repository, region, GPU size, registry ID, budget, version); copier.yml cannot import Python, so
the rules are written twice and this test feeds both the same cases. The validators are rendered
in a Jinja environment built like copier's own (`Worker.jinja_env`: a sandbox with the
jinja2-ansible-filters extension, which supplies `regex_search`); one case per question also
goes through `copier.run_copy` itself to prove the same rendering rejects it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment

from stacks import naming
from stacks.settings_schema import AZURE_ML_REGIONS, BY_KEY, LOCATION_KEY, parse

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))
JINJA = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])


def copier_accepts(question: str, answer: object) -> bool:
    message = JINJA.from_string(QUESTIONS[question]["validator"]).render({question: answer}).strip()
    return message == ""


def stacks_accepts(key: str, raw: str) -> bool:
    try:
        parse(BY_KEY[key], raw)
    except ValueError:
        return False
    return True


def project_ok(name: str) -> bool:
    try:
        naming.check_project(name)
    except naming.NamingError:
        return False
    return stacks_accepts("forge:project", name)


def environment_ok(name: str) -> bool:
    try:
        naming.check_environment(name)
    except naming.NamingError:
        return False
    return True


# (question, answer as copier gets it, what the stacks check, expected verdict)
CASES = [
    *[
        ("project_name", name, lambda n=name: project_ok(n), ok)
        for name, ok in [
            ("abc", True),
            ("ab", False),
            ("a" * 20, True),
            ("a" * 21, False),
            ("ml-demo", True),
            ("a1-b2-c3", True),
            ("a--b", False),
            ("-abc", False),
            ("abc-", False),
            ("1abc", False),
            ("Abc", False),
            ("ab_c", False),
            ("ab c", False),
        ]
    ],
    *[
        ("environments", [name], lambda n=name: environment_ok(n), ok)
        for name, ok in [
            ("dev", True),
            ("d1", True),
            ("d", False),
            ("abcdefgh", True),
            ("abcdefghi", False),
            ("1dev", False),
            ("Dev", False),
            ("de-v", False),
        ]
    ],
    *[
        ("alert_emails", [email], lambda e=email: stacks_accepts("forge:alertEmails", json.dumps([e])), ok)
        for email, ok in [
            ("a@b.io", True),
            ("first.last+tag@sub.example.co.uk", True),
            ("a@b", False),
            ("@b.io", False),
            ("a@.io", False),
            ("a@b.", False),
            ("a b@c.io", False),
            ("a@@b.io", False),
            ('"a"@b.io', False),
        ]
    ],
    *[
        ("gpu_vm_size", size, lambda s=size: stacks_accepts("forge:gpuVmSize", s), ok)
        for size, ok in [
            ("Standard_NC4as_T4_v3", True),
            ("Standard_ND96asr_v4", True),
            ("Standard_DS3_v2", False),
            ("standard_nc6", False),
            ("Standard_N", False),
        ]
    ],
    *[
        ("monthly_budget_usd", amount, lambda a=amount: stacks_accepts("forge:monthlyBudgetUsd", str(a)), ok)
        for amount, ok in [(0, False), (1, True), (1_000_000, True), (1_000_001, False), (-5, False)]
    ],
    *[
        ("forge_version", version, lambda v=version: stacks_accepts("forge:templateVersion", v), ok)
        for version, ok in [
            ("0.1.0", True),
            ("1.2.3rc1", True),
            ("1.2.3.dev4+g1a2b3c", True),
            ("1.2", False),
            ("v1.2.3", False),
            ("banana", False),
        ]
    ],
    *[
        ("registry_id", rid, lambda r=rid: stacks_accepts("forge:registryId", r), ok)
        for rid, ok in [
            (
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                "Microsoft.MachineLearningServices/registries/mlr",
                True,
            ),
            (
                "/subscriptions/x/resourceGroups/rg/providers/Microsoft.MachineLearningServices/registries/mlr",
                False,
            ),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                "Microsoft.MachineLearningServices/workspaces/mlw",
                False,
            ),
            ("", False),
        ]
    ],
]
# org/repo: two questions feed the one setting forge:githubRepository.
REPOSITORIES = [
    ("contoso", "churn-model", True),
    ("a", "b", True),
    ("Contoso-EU", "churn.model_2", True),
    ("a" * 39, "r", True),
    ("a" * 40, "r", False),
    ("-contoso", "r", False),
    ("contoso-", "r", False),
    ("con--toso", "r", False),
    ("contoso", "x" * 100, True),
    ("contoso", "x" * 101, False),
    ("contoso", ".", False),
    ("contoso", "..", False),
    ("contoso", "repo.git", False),
    ("contoso", ".github", True),
    ("contoso", "a/b", False),
]


@pytest.mark.parametrize(
    ("question", "answer", "stacks_check", "expected"),
    CASES,
    ids=[f"{q}-{a!r}"[:60] for q, a, _, _ in CASES],
)
def test_copier_and_stacks_agree(question, answer, stacks_check, expected) -> None:
    assert (copier_accepts(question, answer), stacks_check()) == (expected, expected)


@pytest.mark.parametrize(
    ("org", "repo", "expected"), REPOSITORIES, ids=[f"{o[:12]}/{r[:12]}" for o, r, _ in REPOSITORIES]
)
def test_github_repository_rules_agree(org, repo, expected) -> None:
    copier = copier_accepts("github_org", org) and copier_accepts("github_repo", repo)
    assert (copier, stacks_accepts("forge:githubRepository", f"{org}/{repo}")) == (expected, expected)


def test_regions_are_one_list() -> None:
    assert tuple(QUESTIONS["azure_location"]["choices"]) == AZURE_ML_REGIONS
    assert all(stacks_accepts(LOCATION_KEY, region) for region in AZURE_ML_REGIONS)


def test_every_validator_was_fed_a_case() -> None:
    fed = {q for q, *_ in CASES} | {"github_org", "github_repo"}
    feeding_settings = {"project_name", "environments", "alert_emails", "gpu_vm_size", "monthly_budget_usd"}
    feeding_settings |= {"forge_version", "registry_id", "github_org", "github_repo"}
    assert feeding_settings <= fed


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("project_name", "a--b"),
        ("alert_emails", ["a@b"]),
        ("github_repo", "repo.git"),
        ("environments", ["Dev"]),
    ],
)
def test_copier_itself_rejects_what_the_rendered_validator_rejects(tmp_path, question, answer) -> None:
    import copier
    from copier.errors import DirtyLocalWarning

    with (
        warnings.catch_warnings(),
        pytest.raises(ValueError, match=f"Validation error for question '{question}'"),
    ):
        warnings.filterwarnings("ignore", category=DirtyLocalWarning)
        copier.run_copy(str(REPO), tmp_path / "p", data={question: answer}, defaults=True, quiet=True)
