"""Reading pages the way a person (or a screen reader) would."""

from __future__ import annotations

from bs4 import BeautifulSoup


def parse(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def visible_text(response) -> str:
    soup = parse(response)
    for hidden in soup(["script", "style", "title", "meta"]):
        hidden.decompose()
    return " ".join(soup.get_text(" ").split())


def error_summary(response) -> dict[str, str]:
    """The summary's links: {target id: message}."""
    soup = parse(response)
    summary = soup.select_one("[data-error-summary]")
    if summary is None:
        return {}
    return {a["href"].lstrip("#"): a.get_text(strip=True) for a in summary.select("a")}


def inline_error(response, field_id: str) -> str | None:
    """The message shown next to a field (the date of birth group uses 'dob')."""
    soup = parse(response)
    error_id = "dob-error" if field_id.startswith("dob_") else f"{field_id.split('-')[0]}-error"
    node = soup.find(id=error_id)
    if node is None:
        return None
    return node.get_text(" ", strip=True).removeprefix("Error:").strip()


def value_of(response, name: str) -> str | None:
    soup = parse(response)
    node = soup.find(attrs={"name": name})
    if node is None:
        return None
    if node.name == "textarea":
        return node.get_text()
    if node.name == "select":
        selected = node.find("option", selected=True)
        return selected["value"] if selected else None
    return node.get("value")
