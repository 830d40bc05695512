"""Errors of this package, each terminal (retrying cannot help) or transient (a later attempt may pass)."""

from __future__ import annotations

from ingestion.errors import TerminalError


class DeployStepError(TerminalError):
    """A step of a deployment failed (a gate, the apply, the DAGs served after it, the smoke run, a rollback). The
    message names the step's subject; the deployment stops there and rolls back what it applied."""


class BundleError(TerminalError):
    """The local bundle folder cannot take a release: its `current` link is not a link into `releases/`, or the
    release's tree lacks a folder the bundle needs."""
