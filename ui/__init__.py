"""Streamlit glue shared by app.py and the pages: cached reference loads and session state.

Kept apart from `ehmap/`, which never imports streamlit.
"""
