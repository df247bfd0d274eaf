"""Test-only, loaded through PYTHONPATH: kill or interrupt a fleet run in the middle of an update.

`MLOPS_FORGE_TEST_CRASH=<n>:exit` ends the process (as `kill -9` would) right after copier's
n-th update in that process, before the fleet commits it; `<n>:interrupt` raises
KeyboardInterrupt there instead. Production code knows nothing of this.
"""

import os

_SPEC = os.environ.get("MLOPS_FORGE_TEST_CRASH")
if _SPEC:
    import copier

    _nth, _action = _SPEC.split(":")
    _real = copier.run_update
    _calls = [0]

    def _run_update(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = _real(*args, **kwargs)
        _calls[0] += 1
        if _calls[0] == int(_nth):
            if _action == "exit":
                os._exit(9)
            raise KeyboardInterrupt
        return result

    copier.run_update = _run_update
