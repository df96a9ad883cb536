"""How the ``exchange`` command answers a mistake: one sentence on stderr, a non-zero status.

Commands raise :class:`CommandError` for what they refuse. The entry point
(``exchange.cli.main``) turns the exceptions that stand for a mistake in what was given —
a file that cannot be read or is not UTF-8 JSON, a folder that is not a client bundle, an
unusable setting, a port already taken — into one as well, so that none of them ends in a
traceback. Any other exception is a fault of the exchange and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import IO, Any

import click

from exchange.client.feeds import CursorFileError
from exchange.client.sdk import BundleError
from exchange.config import ConfigurationError
from exchange.textfiles import UnreadableFile


class CommandError(click.ClickException):
    """A refusal of the command line, told as ``error: <message>``; exit status 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


class NotVerified(CommandError):
    """What the exchange sent did not verify: exit status 2."""

    exit_code = 2


class ExchangeUnreachable(CommandError):
    """The exchange could not be reached: exit status 3."""

    exit_code = 3


# The exceptions that mean the person at the keyboard gave something unusable.
MISTAKES: tuple[type[Exception], ...] = (
    OSError,
    UnreadableFile,
    BundleError,
    CursorFileError,
    ConfigurationError,
)


def mistake_error(error: Exception) -> CommandError:
    """The :class:`CommandError` telling one of :data:`MISTAKES`."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return CommandError(f"{where}{error.strerror}.")
    return CommandError(str(error))


def problem_message(
    *, title: str, detail: str | None, errors: Iterable[Mapping[str, Any]] = ()
) -> str:
    """A refusal's title and detail, and below them each field error that adds to them."""
    lines = [f"{title}: {detail}" if detail else title]
    for error in errors:
        text = str(error.get("detail") or "")
        if not text or text == detail:
            continue
        where = error.get("pointer") or error.get("parameter") or error.get("field")
        lines.append(f"  {where}: {text}" if where else f"  {text}")
    return "\n".join(lines)
