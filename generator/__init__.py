"""The `mlops-forge` command: scaffold (`new`), preview infrastructure (`plan`), update fleets (`fleet`)."""

from importlib.metadata import PackageNotFoundError, version

# The distribution on package indexes (the command stays `mlops-forge`): `mlops-forge` on PyPI
# is an unrelated project, so generated projects pinning that name could install a stranger's code.
DISTRIBUTION = "mlops-forge-azure"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
