"""Pages run only inside the frame (app.py), which signs the user in and owns the council and dataset choices.

Streamlit serves a `pages/` folder as a legacy multipage app until some run calls `st.navigation`: until then a
URL such as /need_map runs the page script alone, without app.py. The frame marks the script run it is running a
page in; a page that finds no mark stops with one sentence.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

_run = threading.local()  # each script run has its own thread
OUTSIDE = "Open ehmap from its home page: this page runs only inside the app, after sign-in."


@contextmanager
def inside_frame() -> Iterator[None]:
    """Mark this script run as the frame's while the chosen page runs."""
    _run.inside = True
    try:
        yield
    finally:
        _run.inside = False


def require_frame() -> None:
    """Stop a page run without the frame (no sign-in, no council or dataset chosen)."""
    if not getattr(_run, "inside", False):
        st.warning(OUTSIDE)
        st.stop()
