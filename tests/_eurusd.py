"""A real-looking EURUSD minute-bar file and a config for it (five-decimal prices).

Prices are in points (1e-5): ``1.07160`` keeps its trailing zero as a user's export does,
and the file runs under ``price_tick = "0.00001"``; under the default tick (0.01) the check
refuses it. Volumes are tick counts, some fractional, on no lot grid in particular.
"""

from __future__ import annotations

from pathlib import Path

EURUSD_TOML = """\
symbol = "EUR/USD"
allowlist = ["EUR/USD"]
initial_price = "1.07160"
price_tick = "0.00001"
qty_lot = "1"
feed = "csv:eurusd.csv"
[strategy]
fast = 3
slow = 8
order_qty = "1000"
[risk]
max_order_qty = "100000"
"""

_MOVES = (70, -40, 95, -130, 25, -15, 120, -80)


def _price(points: int) -> str:
    return f"{points // 100_000}.{points % 100_000:05d}"


def eurusd_csv(path: Path, rows: int) -> list[str]:
    """Write ``rows`` dated one-minute bars to ``path``; the closes, as written."""
    lines = ["timestamp,open,high,low,close,volume"]
    closes = []
    points = 107_160
    for n in range(rows):
        before = points
        points += _MOVES[n % 8] * (1 + (n // 8) % 3)
        high, low = max(before, points) + 12, min(before, points) - 9
        prices = ",".join(_price(p) for p in (before, high, low, points))
        volume = f"{100 + 37 * n % 400}" + (".5" if n % 5 == 0 else "")
        lines.append(f"2026-03-02T{9 + n // 60:02d}:{n % 60:02d}:00Z,{prices},{volume}")
        closes.append(_price(points))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return closes
