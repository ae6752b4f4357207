"""Act only on what is live (issue 11): in Chromium at 390 and 1280 px, closed and expired urgent
actions say so and offer no letter or report, the home page lists only actions open today, and
a report shows on the urgent action's page at the next visit. Deadlines are read as on
VIGIL_TODAY (conftest: 2026-11-30)."""
import json, os, pathlib, re, time

import pytest

from test_browser import chromium_driver

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHOTS = pathlib.Path(os.environ.get("VIGIL_SHOTS", "/tmp/vigil-shots"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import server_with_bundle
    # UA 88/26's deadline passed yesterday.
    bundle = json.loads((ROOT / "Resources/Data/demo.json").read_text())
    for case in bundle["cases"]:
        for ua in case.get("urgent_actions", []):
            if ua["number"] == "88/26":
                for d in ua["documents"]:
                    d["take_action"]["deadline"] = "2026-11-29"
    s = server_with_bundle(tmp_path_factory.mktemp("standing"), bundle, demo=True)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def driver():
    d = chromium_driver()
    yield d
    d.quit()


def css(driver, selector):
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, selector)


@pytest.mark.parametrize("width", [390, 1280])
def test_a_closed_action_shows_a_banner_and_no_way_to_act(server, driver, width):
    driver.set_window_size(width, 900)
    driver.get(server.base + "/urgent-actions/126-19/initial")
    banner = css(driver, ".notice-superseded")
    assert banner and banner[0].is_displayed()
    assert "UA 126/19 is closed" in banner[0].text and "outcome" in banner[0].text.lower()
    # The banner is in the first screen of a phone, right under the title.
    assert banner[0].rect["y"] + banner[0].rect["height"] < 844
    assert css(driver, ".take-action-over") and "closed" in css(driver, ".take-action-over")[0].text
    assert not css(driver, "form.letter-form"), "no letter builder"
    assert not css(driver, "a[href^='/report']"), "no report button"
    assert "Closed: Bad news" in driver.find_element("css selector", "dd.standing").text
    if width == 390:
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(390, 844)
        driver.save_screenshot(str(SHOTS / "closed-ua-390.png"))


@pytest.mark.parametrize("width", [390, 1280])
def test_the_home_page_lists_only_actions_open_today(server, driver, width):
    driver.set_window_size(width, 900)
    driver.get(server.base + "/")
    section = css(driver, "section[aria-labelledby='open-heading']")[0]
    hrefs = [a.get_attribute("href") for a in section.find_elements("css selector", "a")]
    assert any("/urgent-actions/77-26/" in h for h in hrefs)
    assert not any("/urgent-actions/88-26/" in h for h in hrefs), "its deadline passed yesterday"
    assert not any("/urgent-actions/126-19/" in h or "/urgent-actions/12-25/" in h for h in hrefs)
    assert "Open: 15 days left" in section.text
    # The list's "Open" filter agrees; "Deadline passed" finds 88/26.
    driver.get(server.base + "/urgent-actions?status=open")
    cards = " ".join(c.text for c in css(driver, ".ua-card"))
    assert "UA 77/26" in cards and "UA 88/26" not in cards and "UA 126/19" not in cards
    driver.get(server.base + "/urgent-actions?status=deadline-passed")
    cards = css(driver, ".ua-card")
    assert cards and all("UA 88/26" in c.text and "Deadline passed on 29 November 2026" in c.text for c in cards)


def test_an_expired_action_gives_way_to_a_notice(server, driver):
    driver.set_window_size(390, 844)
    driver.get(server.base + "/urgent-actions/88-26/initial/en")
    notice = css(driver, ".take-action-over")[0]
    assert "deadline" in notice.text.lower() and "29 November 2026" in notice.text
    assert not css(driver, "form.letter-form") and not css(driver, "a[href^='/report']")
    assert any("/follow?case=demo-li-wei" in a.get_attribute("href") for a in notice.find_elements("css selector", "a"))


def test_a_report_shows_on_the_next_visit(server, driver):
    driver.set_window_size(390, 844)
    page = server.base + "/urgent-actions/77-26/initial/en"
    driver.get(page)

    def totals():
        return css(driver, ".report-block .totals")[0].text

    before = int(re.match(r"(\d+) action", totals()).group(1))
    assert "for UA 77/26" in totals()
    # The report comes after the letter builder.
    assert css(driver, "form.letter-form")[0].rect["y"] < css(driver, ".report-block")[0].rect["y"]
    css(driver, ".report-block a.button")[0].click()
    form = css(driver, "form.report-form")[0]
    form.find_element("css selector", "button[type=submit]").click()
    assert "/report" in driver.current_url
    time.sleep(1.1)  # pages read the totals again once a second
    driver.get(page)
    after = int(re.match(r"(\d+) action", totals()).group(1))
    assert after == before + 1, totals()
