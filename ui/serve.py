"""`python -m ui.serve run app.py ...`: Streamlit's own command line, with its legacy `pages/` folder mode off.

Run by `python -m ehmap app` (ehmap.launch) once it has checked who could reach the server. Streamlit treats an
app with a `pages/` folder as a legacy multipage app until some run has called `st.navigation`: until then a URL
such as /need_map runs pages/need_map.py directly, without app.py and so without its sign-in gate. ehmap always
routes with `st.navigation` in app.py, so the legacy mode is switched off before the first session starts.
"""

from __future__ import annotations

import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.cli import main

if __name__ == "__main__":
    PagesManager.uses_pages_directory = False
    sys.exit(main(prog_name="streamlit"))
