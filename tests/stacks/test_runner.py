"""The offline runner: isolation between runs in one process."""

import shutil
import signal

import pytest

from stacks.testing import ProgramError, plan_program


@pytest.fixture
def deadline():
    """Fail instead of hanging if a run never finishes."""

    def expire(*_):
        raise TimeoutError("plan_program did not finish")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_a_failed_run_does_not_disturb_the_next(tmp_path, example_dir, deadline) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(example_dir, broken)
    main = broken / "__main__.py"
    # Fail after resources were registered, leaving outputs in flight.
    main.write_text(main.read_text() + "\nraise RuntimeError('late failure')\n")
    with pytest.raises(ProgramError, match="late failure"):
        plan_program(broken, "dev")
    assert plan_program(example_dir, "dev").of_type("azure-native:machinelearningservices:Workspace")


def test_runs_do_not_share_resources(example_dir, deadline) -> None:
    first = plan_program(example_dir, "dev")
    second = plan_program(example_dir, "dev")
    assert [r.name for r in first.resources] == [r.name for r in second.resources]
    assert len({r.name for r in second.resources}) == len(second.resources)
