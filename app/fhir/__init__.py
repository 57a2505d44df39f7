"""FHIR R4 export: each request as a transaction Bundle, and bulk NDJSON files.

``codes`` holds one mapping per coded answer (our stored value -> FHIR code), ``bundle``
builds and validates a request's Bundle, ``export`` finds the requests changed since a
time and writes Bulk Data style NDJSON. Nothing here imports Flask: the staff views and
the ``flask fhir`` command call in with a session and settings. See docs/fhir.md.
"""
