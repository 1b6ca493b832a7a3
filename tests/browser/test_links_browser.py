"""Links in a real browser: a hostile value never reaches the DOM as an image or a link
(issue 15, item 1), and following the Train -> Theory link takes one Back press to return
(issue 11, item 7)."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest
from browser_helpers import TIMEOUT_MS, assert_no_errors

from dashboard.devserver import wait_idle

pytestmark = pytest.mark.browser

IMG = "![x](http://evil.invalid/val.png)"


@pytest.mark.parametrize("path", ["", "Theory"])
def test_a_links_markdown_is_shown_as_text_and_fetches_nothing(open_app, new_page, app_url, path):
    page = new_page()
    asked = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(f"{app_url}/{path}?alg={IMG}&{IMG}=1")
    wait_idle(page, TIMEOUT_MS)
    alert = page.locator("[data-testid='stAlert']", has_text="Some values in the link were not used")
    alert.first.wait_for(timeout=TIMEOUT_MS)
    html = alert.first.inner_html()
    assert "<img" not in html and "evil.invalid" in alert.first.inner_text()      # shown, as text
    assert alert.first.locator("code").count() >= 2 and alert.first.locator("a").count() == 0
    assert not [u for u in asked if urlparse(u).hostname == "evil.invalid"]
    assert page.locator("img[src*='evil.invalid']").count() == 0


def test_back_after_following_the_theory_link_returns_to_train(open_app):
    page = open_app("", d="12", n="400")
    page.locator("[data-testid='stSidebar'] a", has_text="Theory").first.click()
    page.wait_for_url("**/Theory?**", timeout=TIMEOUT_MS)
    wait_idle(page, TIMEOUT_MS)
    assert "d=12" in page.url and "n=400" in page.url              # the settings came along
    length = page.evaluate("history.length")
    page.wait_for_timeout(1500)                                     # no late URL rewrite adds an entry
    assert page.evaluate("history.length") == length
    page.go_back()
    page.wait_for_function("!location.pathname.endsWith('/Theory')", timeout=TIMEOUT_MS)
    wait_idle(page, TIMEOUT_MS)
    assert urlparse(page.url).path in ("", "/")
    assert "d=12" in page.url
    assert_no_errors(page)
