"""The exported shapes of an event keep the columns their constants name, in that order."""

import datetime as dt
from uuid import uuid4

from eventstore.export import STORED_COLUMNS, TABLE_COLUMNS, stored_row, table_row
from eventstore.models import Event

AT = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def an_event(**metadata: str) -> Event:
    return Event(
        position=7,
        event_id=uuid4(),
        stream_type="order",
        stream_id=uuid4(),
        version=2,
        event_type="OrderPlaced",
        schema_version=1,
        data={"total": "9.50"},
        metadata=metadata,
        occurred_at=AT,
        recorded_at=AT,
        key_id="k1",
        hash="ab" * 32,
    )


def test_the_admin_export_row_has_a_column_per_metadata_key_and_blanks_what_is_absent():
    row = table_row(an_event(actor="42", source="api"))
    assert tuple(row) == TABLE_COLUMNS
    assert (row["actor"], row["source"], row["command_id"]) == ("42", "api", "")
    assert row["occurred_at"] == "2025-01-02T03:04:05+00:00"


def test_the_backup_line_is_the_event_as_stored():
    event = an_event(actor="42", source="api")
    line = stored_row(event)
    assert tuple(line) == STORED_COLUMNS
    assert line["metadata"] == {"actor": "42", "source": "api"}
    assert line["occurred_at"] == "2025-01-02T03:04:05.000000Z"
    assert (line["key_id"], line["hash"], line["stream_id"]) == ("k1", "ab" * 32, str(event.stream_id))
