"""FHIR R4 (4.0.1) as SMART Health IT's ``fhirclient`` models read it: the tests' check of
every bundle and resource the export makes (types, cardinality, required elements, no
unknown elements, date and time formats), and of what they write back. The app itself
carries no FHIR models: its export checks the rules these do not (app/fhir/bundle.py,
docs/fhir.md)."""

from __future__ import annotations

from typing import Any

from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.fhirelementfactory import FHIRElementFactory


def parse(resource: dict[str, Any]):
    """The R4 model of a resource (a Bundle with every entry), or FHIRValidationError."""
    return FHIRElementFactory.instantiate(resource["resourceType"], resource)


def r4_problems(resource: dict[str, Any]) -> list[str]:
    """What R4 refuses in a resource: empty when its models accept it and give back the
    same JSON."""
    try:
        model = parse(resource)
    except FHIRValidationError as error:
        return [" ".join(str(error).split())]
    if model.as_json() != resource:
        return ["the R4 models do not give back the same JSON"]
    return []
