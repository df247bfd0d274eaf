"""Testing support for generated projects: the offline plan engine under its old name.

The engine lives in `stacks.offline` (it runs `mlops-forge plan` too); generated projects'
tests import `from stacks.testing import plan_program`, so this module keeps re-exporting it.
"""

from stacks.offline import (
    AzureMocks,
    Plan,
    PlannedResource,
    ProgramError,
    RecordingMonitor,
    plan_program,
    plan_programs,
    stack_files,
)

__all__ = [
    "AzureMocks",
    "Plan",
    "PlannedResource",
    "ProgramError",
    "RecordingMonitor",
    "plan_program",
    "plan_programs",
    "stack_files",
]
