"""ehmap: Early Help needs, reach and performance mapped onto LSOAs and wards.

All analysis lives in this package as plain functions; nothing here imports streamlit.
"""

__version__ = "0.1.0"
