"""Data shown as text, never as markup: one helper per place data is drawn.

- `plain(value)`: for Streamlit Markdown (st.markdown, st.caption, st.info/warning/error/success, widget
  labels): every ASCII punctuation character is backslash-escaped (CommonMark lets any of them be escaped), so
  `![x](http://...)`, `[link](javascript:...)`, `<img ...>`, `**`, `$maths$`, `:red[...]` and autolinks show
  as the characters they are; line breaks become spaces, so a value cannot start a heading, list or code block.
- `html_text(value)`: for HTML, including text that folium puts inside a JavaScript template literal
  (`folium.Tooltip` writes its text between backticks unescaped): `& < > " '` and the template-literal
  characters backtick, `$` and backslash become character references; line breaks become spaces.
- `file_label(name)`: an uploaded file's name as a label for messages: the last path part, no control
  characters, at most 80 characters. A file name is never used as a path.
"""

from __future__ import annotations

import html
import re
import string

_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in string.punctuation})
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"})


def one_line(value: object) -> str:
    """`value` as text on one line: line breaks become a space, other control characters are dropped."""
    text = "" if value is None else str(value)
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", text))


def plain(value: object) -> str:
    """`value` escaped for Streamlit Markdown so it shows as the characters it holds (no link, image or HTML)."""
    return one_line(value).translate(_MARKDOWN_ESCAPES)


def html_text(value: object) -> str:
    """`value` escaped for HTML text or attributes, also safe inside a JavaScript template literal."""
    return html.escape(one_line(value), quote=True).translate(_TEMPLATE_LITERAL)


def file_label(name: object, limit: int = 80) -> str:
    """An uploaded file's name for a message: its last path part, one line, at most `limit` characters."""
    base = re.split(r"[\\/]", one_line(name))[-1].strip() or "the file"
    return base if len(base) <= limit else base[: limit - 1] + "…"
