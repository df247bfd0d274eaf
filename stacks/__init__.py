"""Pulumi components (pulumi-azure-native v3) for secure Azure ML environments, per environment.

A generated project's program is three lines: read settings, build an `MlEnvironment`, export.
"""

from stacks.config import ConfigError, EnvironmentSettings, settings_from_config
from stacks.environment import MlEnvironment
from stacks.naming import Names, NamingError
from stacks.profiles import Profile, get_profile, register_profile

__all__ = [
    "ConfigError",
    "EnvironmentSettings",
    "MlEnvironment",
    "Names",
    "NamingError",
    "Profile",
    "get_profile",
    "register_profile",
    "settings_from_config",
]

# The GitHub side (environments, protection rules, variables) of one stack: see stacks/github.py.
from stacks.github import GithubArgs, GithubEnvironments, github_settings_from_config

__all__ += ["GithubArgs", "GithubEnvironments", "github_settings_from_config"]
