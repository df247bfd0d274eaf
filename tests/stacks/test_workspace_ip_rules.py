"""The step after `pulumi up` that gives an ip-allowlist workspace its IP rules (stacks.workspace_ip_rules).

Its calls against the Azure test double (permissions, Azure's limits, what the rules then refuse)
are in tests/e2e/test_double_ip_rules.py; its run in the infra workflow under act in
tests/e2e/test_ip_allowlist.py.
"""

from __future__ import annotations

import pytest

from stacks.workspace_ip_rules import MAX_RULES, RuleError, canonical, changes, main, parse_allowed


def test_one_address_is_one_rule_however_written() -> None:
    assert canonical("16.17.18.19/32") == canonical("16.17.18.19") == "16.17.18.19"
    assert canonical(" 16.17.18.7/24 ") == "16.17.18.0/24"
    with pytest.raises(RuleError, match="not an IPv4 address"):
        canonical("2001:db8::/32")


def test_the_stack_output_is_read_as_pulumi_actions_hands_it_over() -> None:
    assert parse_allowed('["16.17.18.0/24", "20.60.1.7/32", "20.60.1.7"]') == (
        "16.17.18.0/24",
        "20.60.1.7",
    )
    assert parse_allowed("16.17.18.0/24,20.60.1.7") == ("16.17.18.0/24", "20.60.1.7")
    assert parse_allowed("") == parse_allowed("[]") == ()
    with pytest.raises(RuleError, match="JSON list"):
        parse_allowed('["16.17.18.0/24"')
    with pytest.raises(RuleError, match="list of addresses"):
        parse_allowed("[1, 2]")


def test_changes_add_what_is_missing_and_remove_what_is_no_longer_listed() -> None:
    todo = changes(["20.60.1.7/32", "20.60.2.0/24"], ["20.60.1.7", "16.17.18.0/24"])
    assert todo.add == ("16.17.18.0/24",)
    assert todo.remove == ("20.60.2.0/24",)
    assert changes(["16.17.18.0/24"], ["16.17.18.0/24"]) == changes([], [])


def test_an_empty_list_changes_nothing_and_calls_no_az(monkeypatch, capsys) -> None:
    monkeypatch.setattr("stacks.workspace_ip_rules._run_az", pytest.fail)
    assert main([], {"ALLOWED_IPS": "[]", "RESOURCE_GROUP": "rg", "WORKSPACE": "ws"}) == 0
    assert "nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ALLOWED_IPS": '["16.17.18.0/24"]', "WORKSPACE": "ws"}, "RESOURCE_GROUP empty"),
        ({"ALLOWED_IPS": '["10.0.0.0/8", "bad"]', "RESOURCE_GROUP": "rg", "WORKSPACE": "ws"}, "'bad'"),
        (
            {
                "ALLOWED_IPS": str([f"16.17.{i // 250}.{i % 250}" for i in range(MAX_RULES + 1)]).replace(
                    "'", '"'
                ),
                "RESOURCE_GROUP": "rg",
                "WORKSPACE": "ws",
            },
            "at most 200",
        ),
    ],
)
def test_bad_input_is_one_error_line_before_any_az_call(monkeypatch, capsys, environ, message) -> None:
    monkeypatch.setattr("stacks.workspace_ip_rules._run_az", pytest.fail)
    assert main([], environ) == 1
    err = capsys.readouterr().err
    assert err.startswith("::error::workspace IP rules:") and message in err and "Traceback" not in err


def test_arguments_are_a_usage_error(capsys) -> None:
    assert main(["--workspace", "ws"], {}) == 2
    assert "usage:" in capsys.readouterr().err
