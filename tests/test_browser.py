"""The real app in Debian's Chromium: the demo need map draws every Croydon LSOA 2021 (the default small area) with
no network."""

from __future__ import annotations

from browser_support import ARTIFACTS, map_holding, screenshot_on_failure

from ehmap.lsoa21 import council_lsoa21s


def test_demo_need_map_draws_every_croydon_lsoa_2021_offline(app_url, page):
    expected = len(council_lsoa21s("E09000008"))  # the default: LSOAs 2021
    with screenshot_on_failure(page, "demo_need_map"):
        page.goto(app_url, wait_until="domcontentloaded")
        frame = map_holding(page, f"path.leaflet-interactive >> nth={expected - 1}")
        polygons = frame.locator("path.leaflet-interactive")
        assert polygons.count() == expected
        assert page.get_by_text("Synthetic demo data").first.is_visible()
        attribution = frame.locator(".leaflet-control-attribution")
        assert "Open Government Licence" in attribution.inner_text()
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo_need_map.png"))


def test_upload_replaces_the_demo_and_the_map_shows_it(app_url, page, tmp_path, forget_uploads):
    export = tmp_path / "my_export.csv"
    export.write_text(
        "Case Ref,Home Post Code,Date of Referral,Presenting Needs\n"
        + "".join(f"R{i},CR0 0AA,01/02/2024,domestic abuse\n" for i in range(8))
        + "R99,SW1A 1AA,01/02/2024,housing\n"
    )
    expected = len(council_lsoa21s("E09000008"))  # the default: LSOAs 2021
    with screenshot_on_failure(page, "upload_journey"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Your data").click()
        page.locator('input[type="file"]').set_input_files(str(export))
        page.get_by_text("Every row is accounted for:").wait_for(timeout=60_000)
        assert page.get_by_text("9 read = 8 accepted + 1 rejected").first.is_visible()
        assert page.get_by_text("Saved my export for Croydon").is_visible()  # saved for the team, and in use
        page.get_by_role("link", name="Need map").click()
        map_holding(page, f"path.leaflet-interactive >> nth={expected - 1}", 60)
        assert page.get_by_text("Synthetic demo data").count() == 0
        assert page.get_by_text("Episodes in the council").is_visible()
        assert page.off_machine == []


def test_hotspot_page_renders_offline_with_its_legend(app_url, page):
    expected = len(council_lsoa21s("E09000008"))  # the default: LSOAs 2021
    with screenshot_on_failure(page, "hotspots"):
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_role("link", name="Hot spots").click()
        frame = map_holding(page, f"path.leaflet-interactive >> nth={expected - 1}")
        polygons = frame.locator("path.leaflet-interactive")
        assert polygons.count() == expected
        assert page.get_by_text("Hot spots: Croydon").is_visible()
        assert page.get_by_text("Benjamini-Hochberg false discovery rate", exact=False).first.is_visible()
        page.get_by_text("All areas", exact=True).wait_for()  # drawn after the hot spots table
        assert page.get_by_text("No area is a significant hot spot after correcting for multiple testing").count() == 0
        # the CLI, for the page's default inputs, writes the hot spots: New Addington, where the demo plants a cluster
        from ehmap.cli import main
        from ehmap.demo import DEMO_FILE

        out = ARTIFACTS / "hotspots_default.csv"
        assert main(["hotspots", str(DEMO_FILE), "--la", "E09000008", "--out", str(out)]) == 0
        hot = sorted(line.split(",")[1] for line in out.read_text().splitlines() if ",hot spot (" in line)
        assert hot == [f"Croydon {name}" for name in ("030A", "030B", "030E", "032A", "032B", "032E", "034E", "036A")]
        assert page.off_machine == [], f"the page tried to reach other hosts: {page.off_machine[:5]}"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hotspots.png"))
