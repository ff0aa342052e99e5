import pytest

from eventstore import integrity
from eventstore.tasks import seal_event_log
from tests.support import append_stream, horizon_passed

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_periodic_task_seals_what_is_new_and_nothing_on_a_quiet_log():
    append_stream(count=2)
    horizon_passed()
    assert seal_event_log.apply().get() == 2
    assert seal_event_log.apply().get() is None
    append_stream(count=1)
    horizon_passed()
    assert seal_event_log.apply().get() == 3
    assert integrity.verify().ok
