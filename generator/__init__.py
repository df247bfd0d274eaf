"""The `mlops-forge` command: scaffold (`new`), preview infrastructure (`plan`), update fleets (`fleet`)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlops-forge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
