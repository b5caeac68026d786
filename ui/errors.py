"""The frame-level guard: a page that fails says why in one sentence, never with a traceback or a server path."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, ScriptControlException, StopException

from ehmap.text import plain

log = logging.getLogger("ehmap.pages")

FAILED = ("This page could not be shown for the chosen council and data ({kind}); the other pages still work, "
          "and choosing another dataset or council may help.")


def _user_facing_errors() -> tuple[type[BaseException], ...]:
    """ehmap's own errors, whose messages are written for the user and name no record."""
    from ehmap.areas import LocalityFileError
    from ehmap.exports import ExportError
    from ehmap.report import DisclosureError

    return ExportError, LocalityFileError, DisclosureError


def failure_sentence(error: Exception) -> str:
    """The one sentence a user sees: ehmap's own message when it has one, otherwise what failed, not how."""
    from ehmap.indicators import SourceMissing

    if isinstance(error, (SourceMissing, *_user_facing_errors())):  # names the file and how to add it, no path
        return plain(error)
    return FAILED.format(kind=type(error).__name__)


def error_text(error: BaseException) -> str:
    """An error's message for a page, escaped for Markdown; an operating-system error, whose message names a server
    path, becomes one sentence without it (the log records the type only)."""
    if isinstance(error, OSError) and (error.filename is not None or error.filename2 is not None):
        log.error("A page could not read a file: %s", type(error).__name__)
        return FAILED.format(kind=type(error).__name__)
    return plain(error)


def _where(error: BaseException) -> str:
    """Where the error was raised (file name and line), for the log: code only, never the message or values."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "unknown place"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


def run_page(page: StreamlitPage) -> None:
    """Run the chosen page; Streamlit's own control flow (st.stop, st.rerun, st.switch_page) passes through,
    anything else shows one sentence and logs only the page, the error type and where it was raised."""
    from ui.frame import inside_frame

    try:
        with inside_frame():
            page.run()
    except (StopException, RerunException, ScriptControlException):
        raise
    except Exception as error:  # noqa: BLE001 - the frame must never show a traceback
        log.error("Page %r failed: %s at %s", getattr(page, "title", "?"), type(error).__name__, _where(error))
        st.error(failure_sentence(error))
