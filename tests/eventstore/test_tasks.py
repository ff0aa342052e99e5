import pytest

from eventstore import integrity
from eventstore.models import Seal
from eventstore.tasks import seal_event_log
from tests.support import append_stream

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_periodic_task_seals_what_changed_since_the_last_seal():
    append_stream(count=2)
    first = seal_event_log.apply().get()
    append_stream(count=1)
    second = seal_event_log.apply().get()
    assert [s.head_count for s in Seal.objects.filter(id__in=[first, second]).order_by("id")] == [1, 1]
    assert integrity.verify().ok
