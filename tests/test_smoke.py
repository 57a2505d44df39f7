from tests.conftest import count_rows
from tests.support.forms import submit


def test_a_valid_request_is_stored(client, db):
    response = submit(client)
    assert response.status_code == 303
    assert count_rows(db, "appointment_requests") == 1
