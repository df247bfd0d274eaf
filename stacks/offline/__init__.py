"""The offline plan engine: run a Pulumi program per stack with Azure-shaped mocks, no cloud.

`mlops-forge plan` runs on it, and so do generated projects' infra tests (through
`stacks.testing`, which re-exports it). `stack_config` reads and checks stack files with their
line numbers; `engine` runs the program; `mocks` answers as Azure Resource Manager would.
"""

from stacks.offline.engine import Plan, PlannedResource, plan_program, plan_programs
from stacks.offline.files import (
    ProgramError,
    StackFile,
    check_stacks,
    read_project,
    read_stack_file,
    stack_files,
)
from stacks.offline.mocks import AzureMocks, RecordingMonitor

__all__ = [
    "AzureMocks",
    "Plan",
    "PlannedResource",
    "ProgramError",
    "RecordingMonitor",
    "StackFile",
    "check_stacks",
    "plan_program",
    "plan_programs",
    "read_project",
    "read_stack_file",
    "stack_files",
]
