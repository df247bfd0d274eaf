"""`mlops-forge fleet`: status and template updates of many generated projects.

`command` is the CLI face (flags to settings); `runner` maps one worker over the fleet;
`update` and `status` are the workers; `git`, `github`, `template`, `project` and `targets`
are what the workers use; `results`, `report` and `progress` say what happened.
"""

from generator.fleet.command import add_parser

__all__ = ["add_parser"]
