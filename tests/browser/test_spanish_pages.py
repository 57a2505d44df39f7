"""The Spanish information page on a phone (375 px), as a Spanish-speaking caregiver
reads it: axe-core finds nothing, the language is declared, nothing scrolls sideways, and
the language switch leads to the same page in English and back. The browser asking for
Spanish sees a suggestion on the English page, never a redirect (issue 17)."""

from __future__ import annotations

import pytest

from tests.browser.support import assert_accessible, horizontal_overflow, small_tap_targets

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True}


def test_the_spanish_information_page_on_a_phone(new_page):
    page = new_page(**PHONE, locale="es-US")
    response = page.goto("/es/")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("heading", level=1).inner_text() == "Cáncer de seno metastásico"
    assert horizontal_overflow(page) == 0
    assert small_tap_targets(page) == [], "the switch and every link can be tapped"
    assert_accessible(page, "Spanish information page at 375 px")

    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.url.endswith("/") and "/es/" not in page.url
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Español", exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith("/es/")


def test_a_browser_asking_for_spanish_is_offered_it_not_sent_to_it(new_page):
    page = new_page(**PHONE, locale="es-MX")
    response = page.goto("/")
    assert response.status == 200 and page.url.endswith("/") and "/es/" not in page.url
    suggestion = page.locator("[data-language-suggestion]")
    assert suggestion.is_visible()
    assert small_tap_targets(page) == []
    assert_accessible(page, "English page with the Spanish suggestion at 375 px")
    suggestion.get_by_role("link").click()
    page.wait_for_load_state()
    assert page.url.endswith("/es/")


def test_an_english_browser_sees_no_suggestion(new_page):
    page = new_page(**PHONE, locale="en-US")
    page.goto("/")
    assert not page.locator("[data-language-suggestion]").is_visible()
