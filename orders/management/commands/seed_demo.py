"""Fill an empty shop with demo data, through the commands."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orders import demo
from orders.management.production import refuse_in_production


class Command(BaseCommand):
    help = "Create demo customers, a catalogue with stock and orders over the last days, through the commands."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=25)
        parser.add_argument("--products", type=int, default=16)
        parser.add_argument("--orders", type=int, default=150)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=42, help="random seed (the same seed, the same shop)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when demo data exists already")
        parser.add_argument("--force", action="store_true", help="run even when DJANGO_ENV=production")

    def handle(
        self,
        *args: Any,
        customers: int,
        products: int,
        orders: int,
        days: int,
        seed: int,
        if_empty: bool,
        force: bool,
        **options: Any,
    ) -> None:
        refuse_in_production("seed_demo", "would write demo customers, products and orders", force=force)
        for name, value in (
            ("--customers", customers),
            ("--products", products),
            ("--orders", orders),
            ("--days", days),
        ):
            if not 0 <= value <= 100_000:
                raise CommandError(f"{name} must be between 0 and 100000")
        if orders and (not customers or not products):
            raise CommandError("orders need at least one customer and one product")
        if if_empty and demo.already_seeded():
            self.stdout.write("Demo data is there already.")
            return
        commands_log = logging.getLogger("chronicle.commands")
        level = commands_log.level
        commands_log.setLevel(logging.WARNING)  # a line per command would drown the progress
        try:
            seeded = demo.seed(
                customers=customers,
                products=products,
                orders=orders,
                days=days,
                seed=seed,
                progress=lambda line: self.stderr.write(line),
            )
        finally:
            commands_log.setLevel(level)
        self.stdout.write(
            f"Seeded {seeded.customers} customers, {seeded.products} products and {seeded.orders} orders "
            f"over {days} days."
        )
