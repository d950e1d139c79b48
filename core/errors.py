"""Errors a user can act on, for every stage. Each message names what was wrong and what is accepted.

The command line prints these as one line without a traceback; anything else
is a bug and gets a traceback with --debug. The runtime re-exports the ones a
device app catches (`edgelstm.runtime.BundleError`, ...).
"""

from __future__ import annotations


class EdgeLSTMError(Exception):
    """Base of every error caused by input, configuration or environment."""

    exit_code = 2


class ConfigError(EdgeLSTMError, ValueError):
    """A configuration value is out of range or of the wrong kind."""


class DataError(EdgeLSTMError, ValueError):
    """Training or evaluation data is missing, malformed or unusable."""


class BundleError(EdgeLSTMError):
    """A bundle is missing, of an unknown schema, corrupted or tampered with."""


class BackendUnavailableError(EdgeLSTMError):
    """The requested interpreter is not installed or cannot run the variant."""


class ExportError(EdgeLSTMError):
    """A conversion failed or a variant missed its parity bound."""

    exit_code = 1


class VerificationError(EdgeLSTMError):
    """A variant disagrees with its golden outputs beyond its tolerance."""

    exit_code = 1


class InputError(EdgeLSTMError, TypeError):
    """Text handed to the classifier is not usable text."""
