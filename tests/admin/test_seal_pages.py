"""The seals in the admin: an event's page says whether it is sealed and whether its
inclusion proof checks; the seals' page shows the newest seal, the unsealed tail and the
witness, and each seal's consistency with the one before. For Operators, Auditors and
superusers; read-only; bad input answers 400 or 404, never 500."""

import json
import re
from html import unescape

import pytest
from django.urls import reverse

from eventstore import sealing
from eventstore.models import Event, Seal
from tests.support import append_stream, owner_execute, seal_everything

pytestmark = pytest.mark.django_db(transaction=True)
SEALS = reverse("admin:eventstore_seal_changelist")
CONSISTENCY = reverse("admin:chronicle_seal_consistency")
VERIFY = reverse("admin:chronicle_log_verify")


def event_page(client, event: Event) -> str:
    response = client.get(reverse("admin:eventstore_event_change", args=[event.position]))
    assert response.status_code == 200
    return response.content.decode()


def seal_block(html: str) -> str:
    return re.search(r'<div class="chronicle-event-seal".*?</div>', html, re.S).group(0)


def text(html: str) -> str:
    """The page's words: tags dropped, entities read, runs of white space one space."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def events() -> list[Event]:
    return list(Event.objects.order_by("position"))


def test_an_event_is_not_sealed_yet_then_sealed_with_a_proof_that_checks(auditor_client, settings):
    settings.SEAL_INTERVAL_SECONDS = 10
    append_stream(count=3)
    first = events()[0]

    before = seal_block(event_page(auditor_client, first))
    assert 'data-sealed="no"' in before
    assert re.search(r"Not sealed yet — expected within ([0-9]|10) s", text(before))

    seal_everything()
    append_stream(count=2)
    seal_everything()
    after = seal_block(event_page(auditor_client, first))
    assert 'data-sealed="yes" data-checks="yes"' in after
    words = text(after)
    assert "Sealed, and its inclusion proof checks against the newest seal (tree size 5)" in words
    assert "Leaf index: 0" in words
    key_id = Seal.objects.get(tree_size=3).key_id
    assert "First sealed by the seal of tree size 3, sealed at" in words and f"with key {key_id}" in words
    assert "errornote" not in after
    proof = json.loads(unescape(re.search(r"<pre>(.*?)</pre>", after, re.S).group(1)))
    assert (proof["leaf_index"], proof["tree_size"], proof["seal"]["tree_size"]) == (0, 5, 5)


def test_a_tampered_leaf_makes_the_proof_fail_on_the_event_page(auditor_client):
    append_stream(count=4)
    seal_everything()
    first, second = events()[:2]
    owner_execute("UPDATE chronicle_leaf SET hash = %s WHERE leaf_index = 1", ["ab" * 32])

    # Another event's leaf: this event is intact, but the tree no longer builds the seal's root.
    block = seal_block(event_page(auditor_client, first))
    assert 'data-checks="no"' in block and "errornote" in block
    assert "its inclusion proof does not check against the seal of tree size 4" in text(block)
    assert "not what was sealed" not in block
    # The changed leaf's own event no longer matches it either.
    assert "it is not what was sealed" in text(seal_block(event_page(auditor_client, second)))


def test_a_changed_event_is_not_what_was_sealed_though_its_leaf_still_proves(auditor_client):
    append_stream(count=2)
    seal_everything()
    first = events()[0]
    owner_execute("UPDATE chronicle_event SET data = %s::jsonb WHERE position = %s", ['{"n": 99}', first.position])

    words = text(seal_block(event_page(auditor_client, first)))
    assert (
        "Tampering: it is not what was sealed: its content, position or recorded time changed since (leaf 0)" in words
    )
    assert "inclusion proof does not check" not in words


def test_a_leaf_no_seal_covers_means_seals_were_removed(auditor_client):
    append_stream(count=2)
    seal_everything()
    owner_execute("DELETE FROM chronicle_seal")
    assert "no seal covers it: seals were removed" in text(seal_block(event_page(auditor_client, events()[0])))


def test_the_seals_page_shows_the_newest_seal_the_unsealed_tail_and_the_witness(auditor_client, settings):
    settings.SEAL_STALE_SECONDS = 3600
    append_stream(count=3)
    seal_everything()
    append_stream(count=2)
    newest = seal_everything()
    append_stream(count=2)

    response = auditor_client.get(SEALS)
    assert response.status_code == 200
    html = response.content.decode()
    words = text(html)
    assert "Newest seal tree size 5, sealed at" in words and "its signature verifies" in words
    assert "Unsealed tail 2 events no seal covers yet; the oldest recorded at" in words
    assert 'data-state="ok"' in html and "It holds the newest seal." in words
    assert [s.tree_size for s in response.context["cl"].result_list] == [5, 3]
    link = CONSISTENCY + "?first=3&amp;second=5"
    assert f'<a href="{link}">3 → 5</a>' in html
    assert "the first seal" in words
    assert reverse("admin:eventstore_seal_change", args=[newest.pk]) in html


def test_the_seals_page_says_when_the_witness_lags_or_contradicts_the_database(auditor_client):
    append_stream(count=2)
    seal_everything()
    append_stream(count=1)
    seal_everything()
    witness = sealing.witness_path()
    lines = witness.read_text().splitlines()

    witness.write_text(lines[0] + "\n")
    html = auditor_client.get(SEALS).content.decode()
    assert 'data-state="lagging"' in html and "It lacks the 1 newest seals (it ends at tree size 2)." in text(html)

    witness.write_text("\n".join(lines) + "\n")
    owner_execute("DELETE FROM chronicle_seal WHERE tree_size = 3")
    html = auditor_client.get(SEALS).content.decode()
    assert 'data-state="failed"' in html
    assert "It holds the seal of tree size 3, newer than any in the database: seals were removed." in text(html)

    witness.unlink()
    html = auditor_client.get(SEALS).content.decode()
    assert 'data-state="lagging"' in html and "The witness file does not exist: it lacks all 1." in text(html)


def test_an_empty_log_has_nothing_sealed_and_nothing_waiting(auditor_client):
    words = text(auditor_client.get(SEALS).content.decode())
    assert "Newest seal none yet." in words and "0 events: every event is sealed." in words
    assert "Nothing is sealed yet." in words


def test_the_consistency_page_verifies_two_seals_against_their_signed_roots(auditor_client):
    append_stream(count=3)
    seal_everything()
    append_stream(count=4)
    seal_everything()

    response = auditor_client.get(CONSISTENCY, {"first": 3, "second": 7})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-checks="yes"' in html and "Consistent:" in html
    assert response.context["result"].proof and response.context["result"].checks
    same = auditor_client.get(CONSISTENCY, {"first": 7, "second": 7})
    assert 'data-checks="yes"' in same.content.decode() and "Equal sizes need no hashes" in same.content.decode()

    owner_execute("UPDATE chronicle_seal SET root_hash = %s WHERE tree_size = 3", ["0" * 64])
    forged = auditor_client.get(CONSISTENCY, {"first": 3, "second": 7}).content.decode()
    assert 'data-checks="no"' in forged
    assert "The signature of the seal of tree size 3 does not verify" in forged
    assert "the proof does not lead to both signed roots" in forged


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 200, "From the seal of tree size"),
        ({"first": "2"}, 400, "Give two tree sizes"),
        ({"first": "abc", "second": "2"}, 400, "Give two tree sizes"),
        ({"first": "-1", "second": "2"}, 400, "Give two tree sizes"),
        ({"first": "1.5", "second": "2"}, 400, "Give two tree sizes"),
        ({"first": "²", "second": "2"}, 400, "Give two tree sizes"),
        ({"first": "9" * 40, "second": "2"}, 400, "Give two tree sizes"),
        ({"first": "999999999999999999", "second": "2"}, 404, "No seal has tree size 999999999999999999"),
        ({"first": "1", "second": "2"}, 404, "No seal has tree size 1"),
        ({"first": "3", "second": "2"}, 400, "No consistency proof. The first tree size (3) is larger"),
    ],
)
def test_odd_consistency_parameters_get_a_message_not_an_error(auditor_client, params, status, message):
    append_stream(count=2)
    seal_everything()
    append_stream(count=1)
    seal_everything()
    response = auditor_client.get(CONSISTENCY, params)
    assert response.status_code == status
    assert message in response.content.decode()


def test_odd_seal_and_event_addresses_are_not_found_not_errors(auditor_client):
    append_stream(count=1)
    seal_everything()
    for url in (
        reverse("admin:eventstore_seal_change", args=["abc"]),
        reverse("admin:eventstore_seal_change", args=["9" * 40]),
        reverse("admin:eventstore_event_change", args=["9" * 40]),
        SEALS + "?o=abc",
        SEALS + "?tree_size=abc",
    ):
        assert auditor_client.get(url).status_code in (200, 302, 404), url


def test_a_seal_page_shows_its_signature_and_its_consistency_link(auditor_client):
    append_stream(count=1)
    seal_everything()
    append_stream(count=1)
    second = seal_everything()
    html = auditor_client.get(reverse("admin:eventstore_seal_change", args=[second.pk])).content.decode()
    assert "icon-yes.svg" in html
    assert CONSISTENCY + "?first=1&amp;second=2" in html


def test_the_full_verification_runs_on_demand(auditor_client):
    append_stream(count=2)
    seal_everything()
    assert 'id="verify-result"' not in auditor_client.get(VERIFY).content.decode()

    ok = auditor_client.post(VERIFY).content.decode()
    assert 'data-result="ok"' in ok and "OK: 2 events in 1 streams" in ok

    owner_execute("UPDATE chronicle_leaf SET hash = %s WHERE leaf_index = 0", ["ab" * 32])
    broken = auditor_client.post(VERIFY).content.decode()
    assert 'data-result="broken"' in broken and "leaf_mismatch" in broken


@pytest.mark.parametrize("who", ["operator_client", "superuser_client"])
def test_operators_and_superusers_read_the_seal_pages(request, who):
    client = request.getfixturevalue(who)
    append_stream(count=1)
    seal_everything()
    for url in (SEALS, VERIFY, CONSISTENCY + "?first=1&second=1"):
        assert client.get(url).status_code == 200, url


def test_staff_in_no_group_see_no_seal_page(outsider_client):
    append_stream(count=1)
    seal = seal_everything()
    event = events()[0]
    for url in (
        SEALS,
        VERIFY,
        CONSISTENCY + "?first=1&second=1",
        reverse("admin:eventstore_seal_change", args=[seal.pk]),
        reverse("admin:eventstore_event_change", args=[event.position]),
    ):
        assert outsider_client.get(url).status_code == 403, url
    assert outsider_client.post(VERIFY).status_code == 403


def test_seals_cannot_be_added_changed_or_deleted(superuser_client):
    append_stream(count=1)
    seal = seal_everything()
    assert superuser_client.get(reverse("admin:eventstore_seal_add")).status_code == 403
    change = reverse("admin:eventstore_seal_change", args=[seal.pk])
    assert superuser_client.post(change, {"tree_size": 99}).status_code == 403
    assert superuser_client.post(reverse("admin:eventstore_seal_delete", args=[seal.pk])).status_code == 403
    assert Seal.objects.get().tree_size == 1
