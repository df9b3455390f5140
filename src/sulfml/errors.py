"""sulfml's errors: one root, and a `UserError` family for everything the user can fix.

The command line maps them to exit statuses in one place (`sulfml.cli.main`): a `UserError` is a usage
error (exit 2, one line), any other exception an internal error (exit 3). Messages say what is wrong and
why in the library's words; they never name command-line options.
"""

from __future__ import annotations


class SulfmlError(Exception):
    """The root of every error sulfml raises on purpose."""


class UserError(SulfmlError, ValueError):
    """Something the user can fix: bad input, a bad setting, a damaged file, an unusable store."""


class InputError(UserError):
    """An input file or value that cannot be used at all (missing, unreadable, wrong column)."""


class MissingColumnError(InputError):
    """A table without the column its rows are read from (a headerless file, a misnamed header)."""


class ConfigError(UserError):
    """A run configuration that is not valid: the message names the file and the key."""


class UnknownNameError(ConfigError, KeyError):
    """A name that is not among the known ones (a feature preset, a benchmark, an embedding); a KeyError too,
    as every lookup by name is."""

    __str__ = Exception.__str__  # the message as written, not KeyError's quoted repr


class InternalError(SulfmlError, RuntimeError):
    """A failure inside sulfml that the user cannot fix (exit 3 from the command line)."""


class DataSourceError(UserError):
    """A dataset file is missing, cannot be fetched, or differs from its pinned checksum."""


class DataUnavailableError(DataSourceError):
    """The public datasets are neither in a data directory nor reachable at their pinned addresses."""


class BundleError(UserError):
    """A model bundle that is missing, damaged, tampered with, or inconsistent (e.g. two presets)."""


class PresetMismatchError(BundleError):
    """Features were built with another preset or in another order than the model was trained on."""


class StoreError(UserError):
    """An MLflow store that cannot be used (bad URI, unreadable, locked by another process)."""


class StoreBusyError(StoreError):
    """The MLflow store stayed locked by another process."""


class ScreenError(UserError):
    """A screening request that cannot be enumerated (unknown site, bad fractions, no dopant)."""


class TuneSetupError(UserError):
    """A tuning request that cannot run (bad target or fraction, a study from another setup)."""


class UsageError(UserError):
    """A command called in a way that cannot work (the command line's own mistakes)."""
