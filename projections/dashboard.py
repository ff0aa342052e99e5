"""What the admin index shows: today's sales, the last 30 days as a chart, products low on
stock, and each subscriber's health.

Everything comes from the read models (a few indexed queries and the subscribers' lag,
counted up to ``runner.LAG_LIMIT``), never from the log. Days are the shop's
(``settings.TIME_ZONE``), as the sales projection keys them, and sales are what that
projection counts: orders placed that day that were neither rejected nor cancelled, their
totals less refunds, per currency (never converted, never added up).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from .health import condition
from .models import ProductStock, SalesDay
from .runner import Status, status
from .sales import shop_day

CHART_DAYS = 30
LOW_STOCK_LISTED = 20

# The chart's drawing, in SVG user units: the plot area inside the margins holds the bars.
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 16, 44
Y_TICKS = 5


def now() -> dt.datetime:
    """The current moment (a seam for tests that need "today" to be a given day)."""
    return timezone.now()


@dataclass(frozen=True)
class Bar:
    day: dt.date
    revenue: Decimal
    orders: int
    # Its rectangle.
    x: float
    y: float
    width: float
    height: float

    @property
    def label(self) -> str:
        return f"{self.day:%a %d %b}: {self.orders} orders, {self.revenue}"


@dataclass(frozen=True)
class Tick:
    label: str
    # Where it is along its axis (y for the value axis, x for the day axis).
    at: float


@dataclass(frozen=True)
class Chart:
    """Revenue per day in one currency ("" when no day had any sales), as bars."""

    currency: str
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]

    width = WIDTH
    height = HEIGHT
    left = LEFT
    top = TOP
    right_edge = WIDTH - RIGHT
    baseline = HEIGHT - BOTTOM

    @property
    def title(self) -> str:
        first, last = self.bars[0].day, self.bars[-1].day
        what = f"Revenue in {self.currency}" if self.currency else "Sales (none)"
        return f"{what} per day, {first:%d %b} to {last:%d %b %Y}"

    @property
    def description(self) -> str:
        selling = [bar for bar in self.bars if bar.orders]
        if not selling:
            return f"No sales on any of the last {len(self.bars)} days."
        best = max(selling, key=lambda bar: bar.revenue)
        total = sum((bar.revenue for bar in self.bars), Decimal("0.00"))
        return (
            f"{len(selling)} of {len(self.bars)} days had sales, {total} {self.currency} in all; "
            f"the best day was {best.day:%d %b} with {best.revenue} {self.currency}."
        )

    @property
    def middle_x(self) -> float:
        return (LEFT + WIDTH - RIGHT) / 2

    @property
    def middle_y(self) -> float:
        return (TOP + HEIGHT - BOTTOM) / 2

    @property
    def y_title(self) -> str:
        return f"Revenue ({self.currency})" if self.currency else "Revenue"

    @property
    def x_title(self) -> str:
        return f"Day ({settings.TIME_ZONE})"


@dataclass(frozen=True)
class SubscriberHealth:
    status: Status
    # ok, lagging or failed (see projections.health.condition).
    condition: str


@dataclass(frozen=True)
class Dashboard:
    today: dt.date
    # One row per currency with sales today.
    today_sales: list[SalesDay]
    # One per currency with sales in the period (at least one).
    charts: list[Chart]
    low_stock: list[ProductStock]
    low_stock_below: int
    subscribers: list[SubscriberHealth]


def dashboard() -> Dashboard:
    today = shop_day(now())
    return Dashboard(
        today=today,
        today_sales=list(SalesDay.objects.filter(day=today).order_by("currency")),
        charts=sales_charts(today),
        low_stock=low_stock(),
        low_stock_below=settings.LOW_STOCK_BELOW,
        subscribers=[SubscriberHealth(state, condition(state)) for state in status()],
    )


def low_stock(*, limit: int = LOW_STOCK_LISTED) -> list[ProductStock]:
    """Products still sold with fewer than ``LOW_STOCK_BELOW`` available, fewest first."""
    products = ProductStock.objects.filter(available__lt=settings.LOW_STOCK_BELOW, discontinued=False)
    return list(products.order_by("available", "sku")[:limit])


def sales_charts(today: dt.date, *, days: int = CHART_DAYS) -> list[Chart]:
    """A chart per currency of the ``days`` days up to ``today``; a day without sales is a
    bar of zero. With no sales at all, one chart of zeros."""
    period = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
    per_currency: dict[str, dict[dt.date, SalesDay]] = defaultdict(dict)
    for row in SalesDay.objects.filter(day__gte=period[0], day__lte=today):
        per_currency[row.currency][row.day] = row
    return [chart(currency, period, rows) for currency, rows in sorted(per_currency.items())] or [chart("", period, {})]


def chart(currency: str, period: list[dt.date], rows: dict[dt.date, SalesDay]) -> Chart:
    revenues = [rows[day].revenue if day in rows else Decimal("0.00") for day in period]
    top = nice_ceiling(max(revenues))
    slot = (WIDTH - LEFT - RIGHT) / len(period)
    plot_height = HEIGHT - TOP - BOTTOM
    bars = []
    for i, (day, revenue) in enumerate(zip(period, revenues, strict=True)):
        height = plot_height * float(max(revenue, Decimal(0))) / top
        bars.append(
            Bar(
                day,
                revenue,
                rows[day].orders if day in rows else 0,
                x=LEFT + i * slot + slot * 0.15,
                y=HEIGHT - BOTTOM - height,
                width=slot * 0.7,
                height=height,
            )
        )
    y_ticks = [
        Tick(_amount(top * n / Y_TICKS), HEIGHT - BOTTOM - plot_height * n / Y_TICKS) for n in range(Y_TICKS + 1)
    ]
    last = len(period) - 1
    x_ticks = [Tick(f"{period[i]:%d %b}", LEFT + (i + 0.5) * slot) for i in range(last, -1, -7)][::-1]
    return Chart(currency, bars, y_ticks, x_ticks)


def nice_ceiling(value: Decimal) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``value`` (1 for
    nothing): the value axis' top, so its ticks read as round numbers."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(float(value)))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= float(value))


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
