"""Offline testing support: Azure-shaped Pulumi mocks and a runner that plans a program per stack."""

from stacks.testing.mocks import AzureMocks, RecordingMonitor
from stacks.testing.program import (
    Plan,
    PlannedResource,
    ProgramError,
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
