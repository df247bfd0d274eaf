"""Rehearse a generated project's GitHub workflows offline: act runs them, an Azure test double answers.

`mlops-forge rehearse` (generator/rehearse.py) is the command; this package is what it ships:

- `world`: the Azure estate of every environment, from the offline plans of the project's
  stacks (identities, role assignments, workspaces, storage, registry, network access);
- `access`: which RBAC actions each `az` operation needs (`stacks.permissions`) and whether
  the caller's role assignments in the plan grant them, and whether the runner can reach it;
- `az`: the test double itself, installed on PATH as `az`; it keeps state and runs the
  project's own code where Azure would (training jobs, scoring scripts);
- `actions/`: local stand-ins for the Marketplace actions the workflows use;
- `act`: runs one workflow with act in host mode against all of the above.
"""
