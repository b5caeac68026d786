"""A board-paper document (headings, text, figures, tables) rendered to self-contained HTML and to PDF.

One document model, two renderers: the HTML embeds its figures and needs no network or script; the PDF is
drawn with fpdf2 in DejaVu Sans (the font file matplotlib installs). Neither renders a released document that shows
a count the release rule would not show (`Report.check_disclosure`): count columns are declared, so the check needs
no guessing. A team document (exact figures) says on every page that it is not for sharing.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from ehmap.release.protect import HIDDEN, NOT_AVAILABLE, RULE

_INTEGER = re.compile(r"^\d{1,3}(,\d{3})*$|^\d+$")


class DisclosureError(ValueError):
    """A released document would show a count the release rule does not allow."""


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Figure:
    """A chart or map as PNG, with its caption (sources included) and a text alternative."""

    png: bytes
    caption: str
    alt: str


@dataclass(frozen=True)
class Table:
    """Cells as text; `count_columns` name the columns holding counts of episodes or families."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    count_columns: tuple[str, ...] = ()
    caption: str = ""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.count_columns) - set(self.columns)
        if unknown:
            raise ValueError(f"Count columns {sorted(unknown)} are not columns of the table {self.columns}.")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"A row has {len(row)} cells for {len(self.columns)} columns: {row}.")

    def count_cells(self) -> list[tuple[tuple[str, ...], str, str]]:
        """(row, column, cell) for every cell of a count column."""
        positions = [(self.columns.index(c), c) for c in self.count_columns]
        return [(row, column, row[i]) for row in self.rows for i, column in positions]


Block = Paragraph | Bullets | Figure | Table


@dataclass(frozen=True)
class Section:
    """A titled part of the paper; `highlights` are its key points, which the paper's summary gathers."""

    title: str
    blocks: tuple[Block, ...]
    highlights: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """A board paper: title, who made it from what, and its sections in order."""

    title: str
    subtitle: str
    marking: str  # protective marking printed on every page, e.g. OFFICIAL
    produced: dt.date
    sections: tuple[Section, ...] = field(default_factory=tuple)
    released: bool = True  # a released paper: every count checked against the release rule

    def tables(self) -> list[tuple[str, Table]]:
        return [(s.title, b) for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def unreleased_counts(self) -> list[str]:
        """Every count cell a release would not show (a count from 1 to 7, or one not rounded to 5), described;
        empty when the document is safe to share."""
        found = []
        for title, table in self.tables():
            for row, column, cell in table.count_cells():
                text = cell.strip()
                if text in ("", HIDDEN, NOT_AVAILABLE) or not _INTEGER.match(text):
                    continue
                count = int(text.replace(",", ""))
                if RULE.hides(count) or count != RULE.rounded(count):
                    found.append(f"{title}: '{column}' is {text} in the row starting '{row[0]}'")
        return found

    def check_disclosure(self) -> None:
        """Raise DisclosureError if a released document would show a count the release rule does not allow."""
        if not self.released:
            return
        found = self.unreleased_counts()
        if found:
            raise DisclosureError("The paper would show a count that is not released: " + "; ".join(found))


# --------------------------------------------------------------------------- HTML

_CSS = """
@page { size: A4; margin: 16mm 15mm; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #1b1b1b; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; font-size: 11pt; }
.marking { text-align: center; font-weight: bold; letter-spacing: .05em; font-size: 9pt; }
h1 { font-size: 20pt; margin: .6rem 0 .2rem; }
h2 { font-size: 14pt; margin-top: 1.6rem; border-bottom: 2px solid #1d3557; page-break-after: avoid; }
.subtitle { color: #444; margin-bottom: 1rem; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: .5rem 0; page-break-inside: auto; }
th, td { border: 1px solid #9a9a9a; padding: 2px 5px; text-align: left; vertical-align: top; }
th { background: #e8edf3; } tr { page-break-inside: avoid; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: bold; padding-bottom: .2rem; }
figure { margin: .8rem 0; page-break-inside: avoid; } figure img { max-width: 100%; }
figcaption, .note { font-size: 8.5pt; color: #444; }
"""


def _number_like(text: str) -> bool:
    return bool(re.fullmatch(r"[£\-−]?[\d,]+(\.\d+)?%?|c", text.strip()))


def _html_block(block: Block) -> str:
    e = html.escape
    if isinstance(block, Paragraph):
        return f"<p>{e(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{e(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Figure):
        data = base64.b64encode(block.png).decode("ascii")
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{e(block.alt)}">'
                f"<figcaption>{e(block.caption)}</figcaption></figure>")
    head = "".join(f"<th>{e(c)}</th>" for c in block.columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="number">{e(c)}</td>' if _number_like(c) else f"<td>{e(c)}</td>" for c in row)
        + "</tr>"
        for row in block.rows
    )
    caption = f"<caption>{e(block.caption)}</caption>" if block.caption else ""
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in block.notes)
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}"


# Nothing but the embedded figures and the inline style may load or run, even if markup slipped into the text.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def render_html(report: Report) -> str:
    """The report as one self-contained HTML file (figures embedded, no scripts, no external links).

    Every text is HTML-escaped (quotes too), so data such as service or area names shows as text; a
    Content-Security-Policy forbids scripts and any request off the file as a second line of defence.
    """
    report.check_disclosure()
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en-GB"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
        f'<p class="marking">{e(report.marking)}</p>' if report.marking else "",
        f"<h1>{e(report.title)}</h1>",
        f'<p class="subtitle">{e(report.subtitle)}</p>',
    ]
    for section in report.sections:
        parts.append(f"<section><h2>{e(section.title)}</h2>")
        parts.extend(_html_block(block) for block in section.blocks)
        parts.append("</section>")
    if report.marking:
        parts.append(f'<p class="marking">{e(report.marking)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- PDF


def _font_files() -> tuple[Path, Path]:
    """DejaVu Sans regular and bold, from matplotlib's installed data (covers £, en dashes, ², ≤)."""
    import matplotlib

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return fonts / "DejaVuSans.ttf", fonts / "DejaVuSans-Bold.ttf"


def _column_widths(pdf: FPDF, table: Table, total: float, padding: float = 2.5) -> tuple[float, ...]:
    """Column widths (mm) that never break a word: each column gets at least its longest word; the room left
    lets the columns that need least extra stay on one line, and the rest share what remains."""
    shortest, natural = [], []
    for i, column in enumerate(table.columns):
        cells = [row[i] for row in table.rows]
        words = [word for text in cells for word in text.split()] or [""]
        header_word = max(pdf.get_string_width(word) for word in column.split()) * 1.12  # headings are bold
        shortest.append(max([header_word, *(pdf.get_string_width(word) for word in words)]) + padding)
        natural.append(max([pdf.get_string_width(text) for text in cells] + [shortest[-1] - padding]) + padding)
    if sum(natural) <= total:
        return tuple(w * total / sum(natural) for w in natural)
    if sum(shortest) >= total:
        return tuple(w * total / sum(shortest) for w in shortest)
    widths = list(shortest)
    spare = total - sum(shortest)
    waiting = sorted(range(len(widths)), key=lambda i: natural[i] - shortest[i])
    while waiting:  # columns needing least go unwrapped first; the rest share what is left
        needs = sum(natural[j] - shortest[j] for j in waiting)
        i = waiting[0]
        if natural[i] - shortest[i] > spare / len(waiting):
            for j in waiting:  # in proportion to how much more each needs
                widths[j] += spare * (natural[j] - shortest[j]) / needs
            break
        widths[i] = natural[i]
        spare -= natural[i] - shortest[i]
        waiting.pop(0)
    return tuple(widths)


def render_pdf(report: Report) -> bytes:
    """The report as an A4 PDF, with the protective marking and page numbers on every page."""
    report.check_disclosure()
    regular, bold = _font_files()

    class _Paper(FPDF):
        def header(self) -> None:
            if report.marking:
                self.set_font("DejaVu", "B", 8)
                self.cell(0, 5, report.marking, align="C", new_x="LMARGIN", new_y="NEXT")
                self.ln(2)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", "", 7.5)
            self.cell(0, 5, f"{report.title}  ·  page {self.page_no()} of {{nb}}", align="C")

    pdf = _Paper(format="A4")
    pdf.set_title(report.title)
    pdf.set_subject(report.subtitle)
    pdf.set_lang("en-GB")
    pdf.set_creator("ehmap")
    pdf.set_margins(15, 14, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 18)
    pdf.multi_cell(0, 8, report.title, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(0, 5, report.subtitle, new_x="LMARGIN", new_y="NEXT", align="L")
    for section in report.sections:
        first = section.blocks[0] if section.blocks else None
        room_needed = 60 if not isinstance(first, Figure) else 15 + _figure_height(pdf, first)
        if pdf.get_y() + room_needed > pdf.h - pdf.b_margin:  # a heading never ends a page alone
            pdf.add_page()
        pdf.ln(4)
        pdf.set_font("DejaVu", "B", 13)
        pdf.multi_cell(0, 7, section.title, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_draw_color(29, 53, 87)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(2)
        for block in section.blocks:
            _pdf_block(pdf, block)
    return bytes(pdf.output())


def _pdf_block(pdf: FPDF, block: Block) -> None:
    """Draw one block at the cursor; a figure that does not fit starts a new page."""
    if isinstance(block, Paragraph):
        pdf.set_font("DejaVu", "", 9.5)
        pdf.multi_cell(0, 4.8, block.text, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(1.5)
    elif isinstance(block, Bullets):
        pdf.set_font("DejaVu", "", 9.5)
        for item in block.items:
            pdf.multi_cell(0, 4.8, f"•  {item}", new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(1.5)
    elif isinstance(block, Figure):
        width = min(pdf.epw, FIGURE_WIDTH_MM)
        height = _figure_height(pdf, block)
        if pdf.get_y() + height > pdf.h - pdf.b_margin:
            pdf.add_page()
        pdf.image(io.BytesIO(block.png), x=pdf.l_margin + (pdf.epw - width) / 2, w=width, alt_text=block.alt)
        pdf.set_font("DejaVu", "", 7.5)
        pdf.multi_cell(0, 3.8, block.caption, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(2)
    else:
        if pdf.get_y() > pdf.h - pdf.b_margin - 25:  # a caption and heading row never end a page alone
            pdf.add_page()
        if block.caption:
            pdf.set_font("DejaVu", "B", 9.5)
            pdf.multi_cell(0, 5, block.caption, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_font("DejaVu", "", 7.5 if len(block.columns) > 6 else 8.5)
        heading = FontFace(emphasis="BOLD", fill_color=(232, 237, 243))
        align = tuple("RIGHT" if block.rows and all(_number_like(r[i]) or not r[i] for r in block.rows) else "LEFT"
                      for i in range(len(block.columns)))
        with pdf.table(col_widths=_column_widths(pdf, block, pdf.epw), headings_style=heading, line_height=4.2,
                       text_align=align, borders_layout="HORIZONTAL_LINES", width=pdf.epw) as table:
            table.row(block.columns)
            for row in block.rows:
                table.row(row)
        pdf.set_font("DejaVu", "", 7.5)
        for note in block.notes:
            pdf.multi_cell(0, 3.8, note, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(2)


FIGURE_WIDTH_MM = 165


def _figure_height(pdf: FPDF, figure: Figure) -> float:
    """The height (mm) a figure takes at the width it is drawn."""
    width, height = _png_size(figure.png)
    return min(pdf.epw, FIGURE_WIDTH_MM) * height / width


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels, from the PNG header."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
