"""Hostile uploads through the real app in Debian's Chromium (issue 13): no script runs, nothing is injected, the
payloads show as text, and no page shows a traceback or a server path afterwards. Files come from tests/hostile.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from browser_support import map_holding, screenshot_on_failure

from tests import hostile

PAGES = ["Need map", "Hot spots", "Deprivation context", "Need and deprivation", "Destabilised by poverty",
         "Service coverage", "Which services help most", "Trends", "Business case", "Board report", "Your data",
         "Data sources", "About and sources"]
INJECTED = ('img[src="x"], img[src="y"], svg[onload], iframe[src^="javascript"], b:text-is("bold"), '
            'a[href^="javascript"], img[src^="http://example.invalid"]')
LEAKS = ("Traceback", "/work/", "site-packages", 'File "')


class Watch:
    """Everything a hostile payload could do to the page: dialogs opened, elements injected, the title changed."""

    def __init__(self, page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def injected(self) -> list[str]:
        """Payload elements found in the page or in any of its frames (the map frame included)."""
        found = []
        for frame in self.page.frames:
            try:
                found += [f"{frame.url}: {html[:120]}" for html in frame.locator(INJECTED).evaluate_all(
                    "elements => elements.map(e => e.outerHTML)")]
            except Exception:  # a frame replaced while we looked: it held nothing we could see
                continue
        return found

    def assert_clean(self, title: str) -> None:
        assert self.dialogs == [], f"a payload ran: {self.dialogs}"
        assert self.injected() == []
        assert self.page.title() == title
        assert "pwned" not in self.page.title()


def settle(page, timeout_s: float = 120) -> None:
    """Wait until Streamlit has finished the run the last action started."""
    page.wait_for_timeout(700)
    deadline = time.monotonic() + timeout_s
    running = page.locator('[data-testid="stStatusWidget"]')
    while time.monotonic() < deadline:
        if running.count() == 0 or not running.first.is_visible():
            page.wait_for_timeout(300)
            if running.count() == 0 or not running.first.is_visible():
                return
        page.wait_for_timeout(250)
    raise AssertionError(f"the page was still running after {timeout_s:.0f} s")


def open_page(page, name: str) -> None:
    page.get_by_role("link", name=name, exact=True).first.click()
    settle(page)


def assert_no_traceback(page, where: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, f"{where}: an exception is shown"
    text = page.locator("body").inner_text()
    for leak in LEAKS:
        assert leak not in text, f"{where}: the page shows '{leak}'"


def walk_every_page(page, watch: Watch, what: str) -> list[str]:
    """Open every page after a hostile upload: none shows a traceback or a server path, none runs a payload.

    Returns the payload elements (e.g. a Markdown image) each page drew, for the caller to assert on."""
    injected = []
    for name in PAGES:
        open_page(page, name)
        assert_no_traceback(page, f"{name} after {what}")
        assert watch.dialogs == [], f"{name} after {what}: a payload ran: {watch.dialogs}"
        injected += [f"{name}: {element}" for element in watch.injected()]
    return injected


def upload(page, label: str, path: Path) -> None:
    """Give `path` to the file uploader labelled `label`."""
    page.get_by_role("region", name=label).locator('input[type="file"]').set_input_files(str(path))


def tooltips(frame, paths) -> list[str]:
    """The text of the tooltip of each given map shape (opened by the mouse-over Leaflet listens to)."""
    texts = []
    for i in range(paths.count()):
        paths.nth(i).dispatch_event("mouseover")
        shown = frame.locator(".leaflet-tooltip")
        if shown.count():
            texts.append(shown.last.inner_text())
        paths.nth(i).dispatch_event("mouseout")
    return texts


def choose_locality_upload(page, app_url: str) -> None:
    """Open Hot spots and choose the geography of an uploaded locality file."""
    page.goto(app_url, wait_until="domcontentloaded")
    settle(page)
    open_page(page, "Hot spots")
    page.get_by_role("combobox", name="Geography").click()
    page.get_by_role("option", name="Your localities (upload)").click()
    settle(page)


def test_locality_names_with_markup_show_as_text_on_the_hot_spots_map(app_url, page, tmp_path):
    localities = tmp_path / "localities.geojson"
    localities.write_bytes(hostile.geojson(hostile.croydon_localities(hostile.MARKUP)))
    watch = Watch(page)
    with screenshot_on_failure(page, "hostile_localities"):
        choose_locality_upload(page, app_url)
        title = page.title()
        upload(page, "Locality boundaries: GeoJSON, GeoPackage or zipped Shapefile, with its CRS", localities)
        settle(page)
        frame = map_holding(page, f"path.leaflet-interactive >> nth={len(hostile.MARKUP) - 1}")
        shown = tooltips(frame, frame.locator("path.leaflet-interactive"))
        for payload in hostile.MARKUP:
            assert any(payload in text for text in shown), f"{payload!r} is not shown as text: {shown}"
        watch.assert_clean(title)
        assert_no_traceback(page, "Hot spots")
        assert walk_every_page(page, watch, "a locality upload") == []
        assert page.off_machine == []  # nothing (a Markdown image, say) made the browser fetch from elsewhere


def test_service_names_with_markup_show_as_text_on_the_coverage_map(app_url, page, tmp_path):
    services = tmp_path / "services.csv"
    services.write_bytes(hostile.payload_services())
    watch = Watch(page)
    with screenshot_on_failure(page, "hostile_services"):
        page.goto(app_url, wait_until="domcontentloaded")
        settle(page)
        open_page(page, "Service coverage")
        title = page.title()
        page.get_by_text("Services file", exact=True).first.click()
        upload(page, "Services file", services)
        settle(page)
        page.get_by_text("Services from services.csv").wait_for(timeout=60_000)
        frame = map_holding(page, "path.leaflet-interactive")
        shown = tooltips(frame, frame.locator("path.leaflet-interactive[stroke='#ffffff']"))  # the service circles
        for payload in hostile.MARKUP[1:]:  # the first is the type of the row rejected as invalid_type
            assert any(payload in text for text in shown), f"{payload!r} is not shown as text: {shown}"
        watch.assert_clean(title)
        assert_no_traceback(page, "Service coverage")
        assert walk_every_page(page, watch, "a services upload") == []
        assert page.off_machine == []


def upload_payload_export(page, app_url: str, folder: Path, watch: Watch) -> None:
    """Upload the payload export on Your data and check what that page shows of it."""
    export = folder / "cases.csv"
    export.write_bytes(hostile.payload_cases())
    page.goto(app_url, wait_until="domcontentloaded")
    settle(page)
    open_page(page, "Your data")
    title = page.title()
    upload(page, "Case export", export)
    page.get_by_text("Every row is accounted for:").first.wait_for(timeout=90_000)
    settle(page)
    page.get_by_text("Values kept but not recognised").wait_for(timeout=120_000)
    text = page.locator('[data-testid="stJson"]').first.inner_text()
    for payload in hostile.MARKUP:  # the unrecognised needs, in the reconciliation, as text
        assert payload in text, payload
    watch.assert_clean(title)
    assert_no_traceback(page, "Your data")


def test_a_case_export_full_of_payloads_runs_nothing_and_shows_no_traceback(app_url, page, tmp_path, forget_uploads):
    watch = Watch(page)
    with screenshot_on_failure(page, "hostile_export"):
        upload_payload_export(page, app_url, tmp_path, watch)
        walk_every_page(page, watch, "a case export")  # asserts no traceback, no server path, no dialog


def test_no_page_draws_markup_from_a_case_export(app_url, page, tmp_path, forget_uploads):
    """Every page puts data into Markdown through ehmap.text.plain: no payload (a Markdown image, say) is drawn."""
    watch = Watch(page)
    with screenshot_on_failure(page, "hostile_export_markdown"):
        upload_payload_export(page, app_url, tmp_path, watch)
        injected = walk_every_page(page, watch, "a case export")
        print("\n".join(injected))
        assert injected == [] and page.off_machine == []


@pytest.mark.parametrize("name, build", [
    ("bomb.xlsx", lambda: hostile.zip_bomb_xlsx()),
    ("unicode.csv", lambda: hostile.utf16_csv(bom=True)),
    ("nul.csv", hostile.nul_csv),
], ids=["zip-bomb", "utf-16", "nul"])
def test_a_refused_export_says_why_in_one_sentence(app_url, page, tmp_path, name, build, forget_uploads):
    from ehmap.exports import ExportError, read_export

    path = tmp_path / name
    path.write_bytes(build())
    with pytest.raises(ExportError) as refused:
        read_export(path.read_bytes(), name)
    watch = Watch(page)
    with screenshot_on_failure(page, f"hostile_refused_{Path(name).stem}"):
        page.goto(app_url, wait_until="domcontentloaded")
        settle(page)
        open_page(page, "Your data")
        started = time.monotonic()
        upload(page, "Case export", path)
        alert = page.locator('[data-testid="stAlert"]').filter(has_text=str(refused.value)[:40])
        alert.first.wait_for(timeout=60_000)
        assert time.monotonic() - started < 30  # upload and refusal, through the browser
        assert alert.first.inner_text().strip() == str(refused.value)
        assert_no_traceback(page, f"Your data with {name}")
        assert watch.dialogs == []


def test_the_browser_refuses_an_oversized_locality_file_before_sending_it(app_url, page, tmp_path):
    from ehmap import limits

    big = tmp_path / "wards.geojson"
    big.write_bytes(b" " * (limits.MAX_LOCALITY_BYTES + limits.MB))
    sent = []
    page.on("request", lambda request: sent.append(request.url) if "upload_file" in request.url else None)
    with screenshot_on_failure(page, "oversized_locality_file"):
        choose_locality_upload(page, app_url)
        upload(page, "Locality boundaries: GeoJSON, GeoPackage or zipped Shapefile, with its CRS", big)
        refusal = page.get_by_text(re.compile(r"File must be 20(\.0)? ?MB or smaller\."))
        refusal.first.wait_for(timeout=30_000)
        settle(page)
        assert sent == []  # refused in the browser: not one byte went to the server
        assert page.get_by_text("Upload your council's locality boundaries to count cases by locality.").count() == 1
