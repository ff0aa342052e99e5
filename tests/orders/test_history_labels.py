"""States and changes in staff's words: labels instead of paths, amounts with their
currency, entities by number, name or SKU. Plain functions over states: no database."""

from uuid import UUID

from orders import history_labels as labels

ORDER_ID = UUID("f39f388e-0000-4000-8000-000000000001")
DRAFT = {
    "number": "CH-000042",
    "customer_id": "5a4c2f1e-0000-4000-8000-000000000002",
    "currency": "EUR",
    "shipping_address": None,
    "status": "draft",
    "lines": [],
    "amount_paid": "0.00",
    "amount_refunded": "0.00",
    "total": "0.00",
    "amount_due": "0.00",
    "item_count": 0,
}
TEA = {"product_id": "9b1d0000-0000-4000-8000-000000000003", "sku": "TIN-TEA", "quantity": 2, "unit_price": "7.25"}
WITH_TEA = {**DRAFT, "lines": [TEA], "total": "14.50", "amount_due": "14.50", "item_count": 2}


def test_a_path_reads_as_a_label():
    assert labels.label("lines[TIN-TEA].unit_price") == "Unit price of TIN-TEA"
    assert labels.label("lines[TIN-TEA].quantity") == "Quantity of TIN-TEA"
    assert labels.label("shipping_address.postal_code") == "Shipping address, postal code"
    assert labels.label("amount_paid") == "Paid"
    assert labels.label("email") == "E-mail"
    assert labels.label("a_field_without_a_label.its_part") == "A field without a label, its part"


def test_a_reservation_names_its_order_by_number_where_one_is_known():
    path = f"reservations.{ORDER_ID}"
    assert labels.label(path, {str(ORDER_ID): "CH-000042"}) == "Reserved for order CH-000042"
    assert labels.label(path) == f"Reserved for order {ORDER_ID}"


def test_values_read_as_staff_read_them():
    assert labels.text("lines[TIN-TEA].unit_price", "7.25", WITH_TEA) == "7.25 EUR"
    assert labels.text("total", "1234.5", {"currency": "GBP"}) == "1,234.50 GBP"
    assert labels.text("status", "placed", WITH_TEA) == "Placed"
    assert labels.text("discontinued", False, {}) == "no"
    assert labels.text("on_hand", 0, {}) == "0"
    assert labels.text("total", None, WITH_TEA) is None


def test_a_state_reads_field_by_field_in_its_own_order():
    shown = [(field.label, field.value) for field in labels.fields(WITH_TEA)]
    assert shown[:4] == [
        ("Number", "CH-000042"),
        ("Customer id", DRAFT["customer_id"]),
        ("Currency", "EUR"),
        ("Shipping address", None),
    ]
    assert ("Unit price of TIN-TEA", "7.25 EUR") in shown
    assert ("Total", "14.50 EUR") in shown
    assert labels.fields(WITH_TEA)[0].path == "number"
    assert labels.fields(None) == []


def test_changes_keep_a_lines_fields_together_and_each_value_in_its_own_currency():
    changed = labels.changes(DRAFT, WITH_TEA)
    assert [(c.label, c.before, c.after) for c in changed] == [
        ("Product id of TIN-TEA", None, TEA["product_id"]),
        ("SKU of TIN-TEA", None, "TIN-TEA"),
        ("Quantity of TIN-TEA", None, "2"),
        ("Unit price of TIN-TEA", None, "7.25 EUR"),
        ("Total", "0.00 EUR", "14.50 EUR"),
        ("Amount due", "0.00 EUR", "14.50 EUR"),
        ("Items", "0", "2"),
    ]
    assert changed[3].path == "lines[TIN-TEA].unit_price"
    repriced = labels.changes({"price": "10.00", "currency": "EUR"}, {"price": "12.00", "currency": "USD"})
    assert [(c.label, c.before, c.after) for c in repriced] == [
        ("Price", "10.00 EUR", "12.00 USD"),
        ("Currency", "EUR", "USD"),
    ]
    assert labels.changes(WITH_TEA, WITH_TEA) == []


def test_an_entity_is_known_by_number_name_or_sku_and_by_id_only_before_it_exists():
    assert labels.name("order", WITH_TEA) == "CH-000042"
    assert labels.name("customer", {"name": "Ada Lovelace", "email": "ada@example.com"}) == "Ada Lovelace"
    assert labels.name("product", {"sku": "TIN-TEA", "name": "Tea tin"}) == "TIN-TEA"
    assert labels.subject("order", ORDER_ID, WITH_TEA) == "order CH-000042"
    assert labels.subject("order", ORDER_ID, None) == f"order {ORDER_ID}"
