from tests.conftest import make_test_app
from tests.support.html import parse, visible_text


def test_the_page_explains_metastatic_breast_cancer(client):
    response = client.get("/")
    assert response.status_code == 200
    text = visible_text(response)
    for fact in [
        "spread beyond the breast",
        "stage 4",
        "lymph nodes",
        "lymphatic system",
        "the lungs",
        "the liver",
        "the bones",
        "the brain",
        "chemotherapy",
        "Surgery is sometimes",
        "medical history",
        "surgeons",
        "medical oncologists",
        "radiation oncologists",
        "clinical trials",
        "immunotherapy",
        "hormone therapy",
        "targeted therapies",
        "live as long as possible",
        "without one",
    ]:
        assert fact.lower() in text.lower(), fact


def test_the_page_names_the_center_and_program_and_offers_both_ways_to_ask(client):
    response = client.get("/")
    soup = parse(response)
    text = visible_text(response)
    assert "Moffitt Cancer Center" in text
    assert "Don & Erika Wallace Comprehensive Breast Program" in text
    phone_links = soup.select('a[href="tel:+18886633488"]')
    assert phone_links and all(a.get_text() == "1-888-663-3488" for a in phone_links)
    assert soup.select('a.button[href="/request-appointment"]')


def test_the_page_is_fit_for_search_engines_and_screen_readers(client):
    soup = parse(client.get("/"))
    assert soup.html["lang"] == "en"
    assert "Metastatic (stage 4) breast cancer" in soup.title.get_text()
    description = soup.find("meta", attrs={"name": "description"})["content"]
    assert "stage 4" in description and len(description) <= 300
    assert soup.find("meta", attrs={"name": "viewport"})
    assert len(soup.find_all("h1")) == 1
    assert soup.find("main") and soup.find("header") and soup.find("footer")
    assert soup.select_one('a.skip-link[href="#main"]')


def test_assets_are_served_by_the_app_not_a_cdn(client):
    soup = parse(client.get("/"))
    urls = [
        tag.get("href") or tag.get("src")
        for tag in soup.select("link[rel=stylesheet], script[src]")
    ]
    assert urls
    for url in urls:
        assert url.startswith("/static/")
        asset = client.get(url)
        assert asset.status_code == 200
        asset.close()
    assert not soup.select("[style]") and not soup.select("script:not([src])")


def test_center_facts_come_from_configuration(database_url):
    app = make_test_app(
        database_url,
        CENTER_NAME="Bayview Cancer Institute",
        CENTER_PHONE="(727) 555-0100",
        PROGRAM_NAME="Bayview Breast Program",
    )
    try:
        response = app.test_client().get("/")
        text = visible_text(response)
        assert "Bayview Cancer Institute" in text
        assert "Bayview Breast Program" in text
        assert "(727) 555-0100" in text
        assert parse(response).select('a[href="tel:+17275550100"]')
        assert "Moffitt" not in text
    finally:
        app.extensions["db_engine"].dispose()


def test_the_site_icon_answers(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's signature
    response.close()
