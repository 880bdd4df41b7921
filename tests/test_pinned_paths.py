"""Pinned bytes of failure-path runs: every rail, both kill switches, a reconciliation
escalation, leases, a lost sink, crash resumes, an exhausted CSV feed, a five-decimal
EURUSD file, a faulty venue, an unhealthy broker, and failures during the run (a strategy
or feed that raises).

``test_pinned_bytes.py`` pins four happy-path runs; these pins cover the paths a refactor is
most likely to disturb without any happy-path byte moving. Each run pins the SHA-256 of the
four contract artifacts (``events.jsonl``, ``state_snapshots.jsonl``, ``metrics.json``,
``audit.jsonl``, or the same bytes from the in-memory sinks), and each test also asserts
that the path it is named after was really taken (the rail fired, the kill switch pulled,
the escalation reached the operator...), so that no pin is vacuous.

The pins capture the behaviour *before* the redesign, as it is, including runs that
``livesession verify`` rejects today (the rail runs: ``RISK_REJECTED`` carries ``rule`` but
no ``reason``, so ``rejects_by_reason`` disagrees; the CSV run: an exhausted feed counts one
step more than it has bars) and oddities such as a lost audit sink leaving no metrics at
all. Whether those runs should verify is a separate question, not asserted here. A refactor
must leave every pin as it is. A deliberate change of the artifacts re-pins the affected
runs in its own commit (with a line in CHANGELOG.md), never together with a refactor: the
failing assertion shows the new digests.

The tests use only the public surface: ``import livesession``, the CLI in a subprocess
(with ``LIVESESSION_CRASH_AT`` for the crash points), the public ``livesession.leases``
package and the helpers under ``tests/``. The file lease is built in-process because the
CLI's ``--lease`` audits a holder id with the host name and the process id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from _eurusd import EURUSD_TOML, eurusd_csv
from _scripted import ScriptedFeed, ScriptedStrategy, buy, sell
from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    Order,
    OrderIntent,
    OrderType,
    SessionState,
    SessionStatus,
    Side,
    SimClock,
    TradingState,
)
from livesession.leases import FileLease
from livesession.testing import FaultBroker

from _helpers import Sinks
from _pins import assert_pinned
from crash_harness import cli

D = Decimal
CONTRACT = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SECOND_NS = 1_000_000_000
KILLED = -9  # subprocess.returncode of a child that died by SIGKILL
EXIT_OK, EXIT_REJECTED, EXIT_FAILED = 0, 3, 4


def _file_lease(path: Path, account: str, strategy: str) -> Any:
    """A ``FileLease`` with a fixed path, account and strategy."""
    return FileLease(path, account, strategy)


# -- pins -------------------------------------------------------------------------------------

PINNED: dict[str, dict[str, str]] = {
    "rail-notional": {
        "events.jsonl": "620ac1cb06a25b98da167e236460b9c16c192ebdebef470f28d80a6d3142202c",
        "state_snapshots.jsonl": "eb985e25ac351f708296ccf9ad32ac48d55eb093dc86f17a33c26630b067d4d6",
        "metrics.json": "1ab16ea8f46c12e53c9f41d63f4c786556171627598f7840f51cb5a01eb66813",
        "audit.jsonl": "8ee4f71395d4f76baeb6d004c9fec6d97e0e9a19cdf458b9123a780bbe5555a8",
    },
    "rail-per-trade-risk": {
        "events.jsonl": "685c445c041565517e3aab926c6ec0aec4739395e0f377b7fa30d799047fd27b",
        "state_snapshots.jsonl": "8b332338d8d57d8852147c04e817f736d943e19206bfd1faf217ecbf063b6559",
        "metrics.json": "736b3bc3fc218cc63d1c5a9afed4a481fbb0ddb2a5910bf125c95aa7d2da02c4",
        "audit.jsonl": "adeb0d59960d70621fc3fa19ecfaca673683d4d3075e2307079ec85c942c9aac",
    },
    "rail-portfolio-heat": {
        "events.jsonl": "8cf1e4e8bb0f91633dc3ecc2f7bc0ae055e5599f77fbc0aca8f8e3906f9ef31b",
        "state_snapshots.jsonl": "83c0fbbc40e450d76e721432c4312b343220f25abac6127df16b739759f94709",
        "metrics.json": "c7ae7078f5d24de47e0988c81e8363c74d74652704d197d8490e9b424fd181f0",
        "audit.jsonl": "7e69aaee5bb3f22b0504bf6539e47e4ecb3c191ecaa4e13b98f1ec330b2f2922",
    },
    "rail-order-rate": {
        "events.jsonl": "5fcf1051298b9a5430ad8f426f671f0731411b1f4973110b49da0a1a934e540f",
        "state_snapshots.jsonl": "68d98e49193003a0bf4db69598885304475e6580eec930406e9a270abc0261f1",
        "metrics.json": "a50c3a24038000cf8ce5cac3802c59cbd5476cd931080b20b5dc39f19ea91a50",
        "audit.jsonl": "2e9c91b0cd37d6903c656584ad96a0a22df5d088a5fb91d141e19791800e4cbc",
    },
    "rail-throttle": {
        "events.jsonl": "7de741ba802f326da1e3b8a14ed1b41d1ac888892e834061afb0ed19f2006fd8",
        "state_snapshots.jsonl": "95dc42bf627ee37388022d9b847ea93e0e69a8b8d1fa9dc19d286cc3b5b24902",
        "metrics.json": "7075433a59d3189300760c2001e2f549184735b36c87b167468c0fc7bb8c41bf",
        "audit.jsonl": "52e9064fd65346a85b62ee23e67200e68a7ec17e18b680a0b73ef915e580e879",
    },
    "kill-daily-loss": {
        "events.jsonl": "d713e4baaa2ed398d219e4003b42ce920ed8d9dd5cb3e610ec7b65c2cbc8bb46",
        "state_snapshots.jsonl": "98a641ca798651fcf525e09a9b6ce0b08a8eaab836b77ba5cdf1588d26f34db8",
        "metrics.json": "6379cff483c2873d714cf196519871cd6f5376cb88d7e602dfe31107527f2c02",
        "audit.jsonl": "d255d4e11d5f293ebeb2c14e9891af2fc7998a58473a86c1bd90e9f280d7de64",
    },
    "preflight-order-qty": {
        "events.jsonl": "c078fe09d5fdd74c8fb79c02596a854f4a1abe0614652b2f6af8c40a6746d49f",
        "state_snapshots.jsonl": "6f8ee68e0f75375233bfb5387b2c78f07f28c4b3bca5e00287cb8df4692ea0d9",
        "metrics.json": "9fc082e94c979a705d21e7ad9f310d11ea9dad8bef15a7c04d58b67411623862",
        "audit.jsonl": "c6926a1f77171d49f477f2a8e833eef468be7d04e568712e9a63765c53615f40",
    },
    "csv-eurusd": {
        "events.jsonl": "19b525606fff2c9d13119b267e987033814e0af89273400df602eaff925f5eb6",
        "state_snapshots.jsonl": "5b7358ac4ed3e01590e2ab3c1fe442ca91e9f84020d7d970290c80b032cdb411",
        "metrics.json": "e3215889738667cd3cbe171ca64a488989c845aa66fa8c6f752b4c7d44fec443",
        "audit.jsonl": "8723c2299bcbb5d31e5f9fd6958f6ae20d5bb53030f4b4938de15f1381d5d769",
    },
    "csv-exhausted": {
        "events.jsonl": "67f831d845d0e511abe3e7e412bea6092940b55c326601ad72fe4f2a8ff902d4",
        "state_snapshots.jsonl": "418581b7344052d95006a79ddaaf07c371e8c8a5775a89947b55c4eeb09a678a",
        "metrics.json": "581e444b6cf537254a5371b31ee1e07a055d7fca5ca95e6b899771fdba247ce9",
        "audit.jsonl": "340dc30eb746e144c7c768362f9728334da7f4759f3e4049b5eb9ad85d4b5e05",
    },
    "realish-faults": {
        "events.jsonl": "d146779405653fc6e3e201e2b18a839f31ad85215e08985a6ba20d298fb9e4f4",
        "state_snapshots.jsonl": "4e6f08889f0b8cbbee1b3ad56c129c4aed429f2051ec49a12d65520790e2e4f0",
        "metrics.json": "a1692ff859371891fc2f36011b6692e4dc3ed16b3fb40a1c2ca2e2165f2562f2",
        "audit.jsonl": "c8a484b3dd384e8ecee78c3027c4dd91b11a791c6486d35b6cefbb010368d3cb",
    },
    "crash-mock-torn": {
        "events.jsonl": "68a6aec88c2e7a5a4112521e0babe0b033dd0b3437a0818b2ffdcd4e80e45cc6",
        "state_snapshots.jsonl": "ec00dced46e009b9bdf53d3273268518794095e2b5353627227df447ae39c318",
        "metrics.json": "b586f7d570429cf22849c7b8d1abb065857e0f1a143e04c22d1273923c1f3cca",
        "audit.jsonl": "dbc99d270e1cd9690bfb0cb53b875526e3a222af1894308303629de255ead203",
    },
    "crash-mock-before-checkpoint": {
        "events.jsonl": "676fef521b179a9e7d0bc887f8b50fd850f24a5ad01907ec723be8464330eb7c",
        "state_snapshots.jsonl": "a91d79f8d472c56ce698baeec0ecb735655c76e40dd4246f39ab6a2ee76385d0",
        "metrics.json": "c0c7c03f5513b4c0eb201f4c154a5526507f680cd207907459f85bb801d140d2",
        "audit.jsonl": "ef633b57866b7f1a0438a0a8803f74559fc2e5e5884604e3d840294a5e48690b",
    },
    "crash-realish-after-send": {
        "events.jsonl": "0dd59932dcb3d88f613d074f28df24ccee3cb5580ef15470b1e04f230e949536",
        "state_snapshots.jsonl": "8754b49e373693e52689a641a33970211a56d1dc6fa093758b31bb3eddbea435",
        "metrics.json": "41b2eb0957e718c1bb1c44b77b12e78e3d3de85396ed2856d1345be90e95365b",
        "audit.jsonl": "f5bb9803507831fde287fdda266d7183d4b78a13dd00ce286748686076bc7762",
    },
    "rails-scripted": {
        "events.jsonl": "e17d48933d848f67c0c76add0c15439c13ea7dab3467be776666f8ea26534274",
        "state_snapshots.jsonl": "fd2e9db46b7a5d90a15cfd0a3d6d0da92d49cc3b6b96c2bf4a81cec0aff46455",
        "metrics.json": "68694339ae0d44a630d2250fcb94c3328d5736e5c8cd92b7a7e941366c3e2b70",
        "audit.jsonl": "1c702210d3d4a31988f4708a335d4a162e897f946f0a33c73382a39fa8093fe0",
    },
    "kill-operator": {
        "events.jsonl": "3368dbf8aa8be5277dabe9fb4ef0ce0ba147a294e0fc7dc394d469cbb9a5d0a6",
        "state_snapshots.jsonl": "b02b359d2db1c2e99db6b99049184f709a2396e6649c1c52d61d30843a997f26",
        "metrics.json": "a544a6afd3232688c1c6d034ce5d4e59d94a490fc343fd92d15e2abca6407a78",
        "audit.jsonl": "4cf1991e90d6f2eebbfabd50c039010ab48cd9d81005e8dc56d4173136af5ef6",
    },
    "reconcile-escalated": {
        "events.jsonl": "605e9a0315968221a12a644771550bf55f7d15d57caaf677f86969225f3818f9",
        "state_snapshots.jsonl": "88c2a43efabfd9c7e37e6780492a2084debc5ece986392eedf48edab78ba3689",
        "metrics.json": "9478eaf37eaa0d810a38a4358a310c04670cc4030d7add19d5bcd12971b31f8e",
        "audit.jsonl": "1fc0b5890ca507a5587c72a937209f7d6793f29d846d0e9d0127180a67ad41a9",
    },
    "broker-unhealthy": {
        "events.jsonl": "77a95ec661bfc7cb63f2c73fc106c1b85f9d43d8b0934e0a6bd1e3f5fe49146d",
        "state_snapshots.jsonl": "7dd5ea0ba45496a36bddcf2d0d75b5a9911fad6edcd5c5f033904330d7172bd5",
        "metrics.json": "7f42d1405f3b2ec0e49ca80fd58e58e1e0a2d9bc5b821e6bf823da4bb8b1f924",
        "audit.jsonl": "76ad4baeb1cbbcf8f0dd0aee2aa69d13affe767f0616abb51cc38fb961f05070",
    },
    "lost-events": {
        "events.jsonl": "b661af6545fdabd0673280be221c3de89ac4b38306cff5199b0205c435d75589",
        "state_snapshots.jsonl": "83b5bf7457578be4c5010408090e5d552ef8f29b8f1f28a9d562fdc7f9e4a5be",
        "metrics.json": "2d78441c008686ada18aa867427962bb999bce5f52fc25f4e849661b0f4a5e80",
        "audit.jsonl": "1f1239df25b353cc4b1123ea23bd67339877a2e0a69af4da6ac11ec701a6d6d4",
    },
    "lost-states": {
        "events.jsonl": "f42c1ebc474b4fcee2c7d2903cb78c7b5a384543dc9ddc2d9fb3fe28f49f2253",
        "state_snapshots.jsonl": "ede2ef196daa122b74bf2a83a657cfeaddaae15b369440dcade415e5ec999f36",
        "metrics.json": "a754208fa7a554782a932809083d0dd33b765de262b4c031b073ce74d86c39c7",
        "audit.jsonl": "8f7031d778c0bbb989b494765400c0d151ce2d3480337e8b1f6b90ae0af31670",
    },
    "lost-audit": {
        "events.jsonl": "9219d3a2a81dbc97872fb19a9f24abe0119326f214e4b8b65bfa8da2065e6696",
        "state_snapshots.jsonl": "969719b6ff97f92fec2d0abde58cf0f968b2cdb47c9fcec4ed8148acd091ae55",
        "metrics.json": "d60f7fc869625ecd0478e5a7e1721e1ffdbd7ba8108164e80575b8c3b669e5f3",
        "audit.jsonl": "2fc46d5b0ff920248cb40aa567be406cf959a4cd862ab3ab86cf42b586465832",
    },
    "lost-audit-midrun": {
        "events.jsonl": "34f422dfd1a5b35089491a29cb58785fb209283be957eb74e8787a10365fdfc8",
        "state_snapshots.jsonl": "d2dd5d9c6217219a7284e6293d8172592756b2589b3b7fc20ca355c060fa56be",
        "metrics.json": "dfc246c1950a3548b280bb2b58d9e0fdfa0eaddef1a9dfefc9b19882327c4a4b",
        "audit.jsonl": "d26992be09e122ff12b4746919825a49c3d34f5678f4d63cbe6175fc4f54bc49",
    },
    "lease-held": {
        "events.jsonl": "308f0686c6d32a1efa47491ebb95cbd6f6238a123ac731864b3e3eceba21ce8a",
        "state_snapshots.jsonl": "bcecd8e76e5fa3d96d36ce12ea38647cf419c5b8fddcc7336083727f90e2bc6a",
        "metrics.json": "17c5811e97118483143b1081257c332b1f6e9700aefb808b1f67efe5dc0a1dbe",
        "audit.jsonl": "14755d5bc91e79fc94bfbc503ec6c5bc108654ac82905ce48619b50359254345",
    },
    "lease-lost": {
        "events.jsonl": "bede559052182e937a613d9e3f64b6beed1cbc61ef2278cc280599b2f368a88b",
        "state_snapshots.jsonl": "f3f4bcbe7737c36473fe41b8f675b239f6da1916615acf14bfaf17c8b4ae0ab0",
        "metrics.json": "cfdbee2453778683bf6d60306e3df8fc714fa3bb303f42798354eb4d22b2a6e6",
        "audit.jsonl": "ef5d2a83ca6c703d444bb04cb2b06e3c3bfa4405230a4b4b6549681c0f23f1bc",
    },
    "lease-held-elsewhere": {
        "events.jsonl": "a8b650a19aa41d94704a422316d043610065323ee5b378fe3576ddbf74f9f6fc",
        "state_snapshots.jsonl": "7f0cf19aabf9cb291c84d115b28e747320475bed06b22a79e8e0d74606fa151c",
        "metrics.json": "9cf6aa7389424ebd4a5918ad2c6b96fdd483f4de4bf30e450865eaa293bea2e4",
        "audit.jsonl": "0f65f9b1e02f17931706eddb3d259c3dc00710a3e15704feea578e91dc88f77d",
    },
    "strategy-error": {
        "events.jsonl": "9e14840792b2a6ebda3813452e1a1790bf26538ec8f746bb8ce1388fb98b9ab4",
        "state_snapshots.jsonl": "184ee06f715fb67dc61dcdda984c45899e16075d03e424d40260aaf83f952b47",
        "metrics.json": "5245ea6a3ef731bae15e9b6e8c19e47bc84632ec51ab6d94b0ef75021ef571a7",
        "audit.jsonl": "a5170cd9eb3238f8b79510d1ba9b9bc0ca4ccc428860b7d916901a33842c3b10",
    },
    "feed-error": {
        "events.jsonl": "c34460d5f712c7cb20e25da7742c99d87f2143d8724c87471ec491467b71b67b",
        "state_snapshots.jsonl": "16ade808da7f1a2c8cfd5a315d6b1d2ca2a289a3ff59d28c3a3134758f0c368f",
        "metrics.json": "3808d3053e9e2f442b0ba8a667b80d4c49e2d4feb7208a4a17f1d68786ba786e",
        "audit.jsonl": "e117866f33538ee52b7696966d1e6988850c55ec8f67b2a49c9209150a428272",
    },
}


# -- helpers ----------------------------------------------------------------------------------


def _digests(artifacts: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(artifacts[name]).hexdigest() for name in CONTRACT}


def _read_run(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in CONTRACT}


def _memory(sinks: Sinks) -> dict[str, bytes]:
    return {
        "events.jsonl": sinks.events.getvalue(),
        "state_snapshots.jsonl": sinks.states.getvalue(),
        "metrics.json": sinks.metrics.content,
        "audit.jsonl": sinks.audit.getvalue(),
    }


def _records(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def _payloads(artifacts: dict[str, bytes], event_type: str) -> list[dict[str, Any]]:
    events = _records(artifacts["events.jsonl"])
    return [e["payload"] for e in events if e["event_type"] == event_type]


def _audit_codes(artifacts: dict[str, bytes]) -> list[str]:
    return [r["code"] for r in _records(artifacts["audit.jsonl"])]


def _has(artifacts: dict[str, bytes], event_type: str, **subset: Any) -> bool:
    """Whether some ``event_type`` event's payload holds every item of ``subset``."""
    return any(
        all(p.get(k) == v for k, v in subset.items()) for p in _payloads(artifacts, event_type)
    )


def _rules(artifacts: dict[str, bytes]) -> set[str]:
    return {p["rule"] for p in _payloads(artifacts, "RISK_REJECTED")}


def _dryrun(
    out: Path, run_id: str, *args: str | Path, cwd: Path, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    return cli(
        "dryrun", "--out", out, "--run-id", run_id, "--durability", "none", "-q", *args,
        cwd=cwd, crash_at=crash_at,
    )  # fmt: skip


# -- CLI runs: one rail (or one path) per run, from a config file -----------------------------

_RISK_LARGE = (
    '[strategy]\norder_qty = "1.000"\n'
    '[risk]\nmax_order_notional = "60000"\nper_trade_risk_pct = "0.01"\n'
    'portfolio_heat_pct = "0.02"\n'
)
_REALISH_FAULTS = (
    '[realish]\ntransient_rate = "0.3"\ntimeout_rate = "0.2"\nduplicate_ack_rate = "0.3"\n'
    'late_fill_rate = "0.5"\nlate_fill_ms = 600000\nlatency_ms = 250\n'
    '[fill_model]\npartial_fill_ratio = "0.5"\nreject_rate = "0.1"\n'
)


def _csv_feed(path: Path) -> None:
    """80 dated one-minute bars that zig-zag enough for the SMA strategy to trade."""
    lines = ["timestamp,open,high,low,close,volume"]
    cents = 4_200_000
    moves = (150, -90, 220, -310, 60, -40, 275, -180)
    for n in range(80):
        before = cents
        cents += moves[n % 8] * (1 + (n // 8) % 3)
        high, low = max(before, cents) + 25, min(before, cents) - 25
        prices = ",".join(f"{c // 100}.{c % 100:02d}" for c in (before, high, low, cents))
        lines.append(f"2026-01-01T{n // 60:02d}:{n % 60:02d}:00Z,{prices},1.{n % 10}00")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _expect_rail(rule: str) -> Callable[[dict[str, bytes]], None]:
    def check(artifacts: dict[str, bytes]) -> None:
        assert rule in _rules(artifacts)
        assert f"C2_REJECT_{rule}" in _audit_codes(artifacts)

    return check


def _expect_throttle(artifacts: dict[str, bytes]) -> None:
    _expect_rail("EXECUTION_THROTTLE")(artifacts)
    assert _has(artifacts, "TRADING_STATE_CHANGED", reason="EXECUTION_THROTTLE", to="HALTED")


def _expect_daily_loss_kill(artifacts: dict[str, bytes]) -> None:
    assert _has(artifacts, "KILL_SWITCH", reason="DAILY_LOSS")
    assert _payloads(artifacts, "KILL_SWITCH_FLAT")
    codes = _audit_codes(artifacts)
    assert codes.index("C2_KILL_SWITCH") < codes.index("C2_KILL_SWITCH_FLAT")


def _expect_config_invalid(artifacts: dict[str, bytes]) -> None:
    assert _has(
        artifacts,
        "PREFLIGHT_CHECK",
        check="config_valid",
        reason="CONFIG_INVALID",
        detail="order_qty 0.050 > max_order_qty 0.020",
    )
    assert _has(artifacts, "SESSION_STOPPED", status="REJECTED", steps=0)
    assert "C2_REJECT_CONFIG_INVALID" in _audit_codes(artifacts)


def _expect_feed_exhausted(artifacts: dict[str, bytes]) -> None:
    assert _has(artifacts, "STATE_CHANGED", reason="FEED_EXHAUSTED", to_state="STOPPING")
    assert _has(artifacts, "SESSION_STOPPED", reason="FEED_EXHAUSTED", status="COMPLETED", steps=80)
    assert len(_payloads(artifacts, "BAR")) == 80
    assert _payloads(artifacts, "ORDER_FILLED")


def _expect_unrounded_prices(artifacts: dict[str, bytes]) -> None:
    bars = _payloads(artifacts, "BAR")
    assert len(bars) == 120
    assert bars[0]["open"] == "1.07160"  # as written: never rounded to a tick
    assert bars[0]["volume"] == "100.5"  # a volume is no order quantity: not held to the lot
    assert _payloads(artifacts, "ORDER_FILLED")


def _expect_venue_faults(artifacts: dict[str, bytes]) -> None:
    assert _has(artifacts, "ORDER_REJECTED", reason="VENUE_REJECT")
    assert _payloads(artifacts, "ORDER_PARTIALLY_FILLED")
    assert _has(artifacts, "SESSION_STARTED", broker="realish")


# run id: (config TOML, CLI arguments, expected exit code, what must be in the artifacts)
_CLI_RUNS: dict[str, tuple[str, tuple[str, ...], int, Callable[[dict[str, bytes]], None]]] = {
    "rail-notional": (
        '[strategy]\norder_qty = "0.050"\n[risk]\nmax_order_notional = "2100"\n',
        ("--seed", "22", "--steps", "300"),
        EXIT_OK,
        _expect_rail("MAX_ORDER_NOTIONAL"),
    ),
    "rail-per-trade-risk": (
        '[risk]\nper_trade_risk_pct = "0.00005"\n',
        ("--seed", "23", "--steps", "300"),
        EXIT_OK,
        _expect_rail("PER_TRADE_RISK"),
    ),
    "rail-portfolio-heat": (
        '[risk]\nportfolio_heat_pct = "0.00005"\n',
        ("--seed", "24", "--steps", "300"),
        EXIT_OK,
        _expect_rail("PORTFOLIO_HEAT"),
    ),
    "rail-order-rate": (
        "step_interval_ms = 100\n[strategy]\nfast = 2\nslow = 3\n[risk]\nmax_orders_per_sec = 1\n",
        ("--seed", "25", "--steps", "300"),
        EXIT_OK,
        _expect_rail("ORDER_RATE"),
    ),
    "rail-throttle": (
        "[risk]\nmax_executions = 6\n",
        ("--seed", "26", "--steps", "300"),
        EXIT_OK,
        _expect_throttle,
    ),
    "kill-daily-loss": (
        _RISK_LARGE + 'daily_loss_pct = "0.002"\n',
        ("--seed", "27", "--steps", "600"),
        EXIT_OK,
        _expect_daily_loss_kill,
    ),
    "preflight-order-qty": (
        '[strategy]\norder_qty = "0.050"\n[risk]\nmax_order_qty = "0.020"\n',
        ("--seed", "21", "--steps", "300"),
        EXIT_REJECTED,
        _expect_config_invalid,
    ),
    "csv-exhausted": (
        'feed = "csv:feed.csv"\n[strategy]\nfast = 2\nslow = 5\n',
        ("--seed", "42", "--steps", "300"),
        EXIT_OK,
        _expect_feed_exhausted,
    ),
    "csv-eurusd": (
        EURUSD_TOML,
        ("--seed", "43", "--steps", "120"),
        EXIT_OK,
        _expect_unrounded_prices,
    ),
    "realish-faults": (
        _REALISH_FAULTS,
        ("--seed", "41", "--steps", "600", "--broker", "realish"),
        EXIT_OK,
        _expect_venue_faults,
    ),
}


@pytest.mark.parametrize("run_id", sorted(_CLI_RUNS))
def test_cli_run_keeps_its_bytes(tmp_path: Path, run_id: str) -> None:
    toml, args, exit_code, expect = _CLI_RUNS[run_id]
    config = tmp_path / "run.toml"
    config.write_text(toml, encoding="utf-8")
    _csv_feed(tmp_path / "feed.csv")  # read by csv-exhausted, relative to the cwd
    eurusd_csv(tmp_path / "eurusd.csv", 120)  # read by csv-eurusd
    out = tmp_path / "runs"
    done = _dryrun(out, run_id, "--config", config, *args, cwd=tmp_path)
    assert done.returncode == exit_code, done.stderr
    artifacts = _read_run(out / run_id)
    expect(artifacts)
    assert_pinned(PINNED, run_id, _digests(artifacts))


# -- crash and resume (CLI, LIVESESSION_CRASH_AT) --------------------------------------------

# run id: (crash point, CLI arguments, whether an uninterrupted run writes the same
# events.jsonl and state_snapshots.jsonl)
_CRASHES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "crash-mock-torn": ("torn_events:1200", ("--seed", "11", "--steps", "1500"), True),
    "crash-mock-before-checkpoint": ("write_events:3", ("--seed", "11", "--steps", "1500"), True),
    "crash-realish-after-send": (
        "after_send:20",
        ("--seed", "12", "--steps", "1500", "--broker", "realish"),
        True,
    ),
}


@pytest.mark.parametrize("run_id", sorted(_CRASHES))
def test_resumed_run_keeps_its_bytes(tmp_path: Path, run_id: str) -> None:
    crash_at, args, exact = _CRASHES[run_id]
    out = tmp_path / "runs"
    crashed = _dryrun(out, run_id, *args, cwd=tmp_path, crash_at=crash_at)
    assert crashed.returncode == KILLED, crashed.stderr
    resumed = cli("resume", out / run_id, "-q", cwd=tmp_path)
    assert resumed.returncode == EXIT_OK, resumed.stderr
    artifacts = _read_run(out / run_id)
    codes = _audit_codes(artifacts)
    assert codes.count("C2_RESUME") == 1
    assert codes[-1] == "C2_DRYRUN_STOP"
    assert _has(artifacts, "SESSION_STOPPED", status="COMPLETED", steps=1500)
    if exact:
        whole = tmp_path / "whole"
        done = _dryrun(whole, run_id, *args, cwd=tmp_path)
        assert done.returncode == EXIT_OK, done.stderr
        uninterrupted = _read_run(whole / run_id)
        for name in ("events.jsonl", "state_snapshots.jsonl"):
            assert artifacts[name] == uninterrupted[name], name
    assert_pinned(PINNED, run_id, _digests(artifacts))


def test_torn_line_is_cut_at_resume(tmp_path: Path) -> None:
    """The torn crash really tore a line: C2_RESUME reports the bytes cut from events."""
    out = tmp_path / "runs"
    crash_at, args, _ = _CRASHES["crash-mock-torn"]
    assert _dryrun(out, "t", *args, cwd=tmp_path, crash_at=crash_at).returncode == KILLED
    assert cli("resume", out / "t", "-q", cwd=tmp_path).returncode == EXIT_OK
    (resume,) = [
        r["payload"]
        for r in _records((out / "t" / "audit.jsonl").read_bytes())
        if r["code"] == "C2_RESUME"
    ]
    assert resume["checkpoint"] is True
    assert resume["torn_bytes"]["events.jsonl"] > 0


# -- in-process runs through the public API -------------------------------------------------


def _session(
    sinks: Sinks, *, run_id: str, steps: int = 300, seed: int = 123, **extra: Any
) -> LiveSessionOrchestrator:
    edges = ("broker", "feed", "strategy", "lease", "lease_clock", "lease_holder")
    kwargs = {k: extra.pop(k) for k in edges if k in extra}
    sink_kwargs = sinks.kwargs()
    sink_kwargs.update(extra.pop("sink_overrides", {}))
    config = DryrunConfig(run_id=run_id, seed=seed, steps=steps, **extra)
    return LiveSessionOrchestrator(config, **kwargs, **sink_kwargs)


def _scripted_rails(_tmp: Path) -> dict[str, bytes]:
    """MAX_ORDER_QTY, ALLOWLIST, PRICE_COLLAR, DAILY_LOSS (the rail) and TRADING_STATE."""

    def script(n: int, _bar: Any, _view: Any) -> list[OrderIntent]:
        if n == 1:
            return [
                buy("1.000"),
                buy("2.000"),  # MAX_ORDER_QTY (limit 1)
                OrderIntent(symbol="ETH/USDT", side=Side.BUY, quantity=D("0.010")),  # ALLOWLIST
                buy("0.010", order_type=OrderType.LIMIT, limit_price=D("30000.00")),  # collar
            ]
        if n == 2:  # a limit sell that fills 700 below the close: flat, 1% down on the day
            return [
                sell(
                    "1.000", order_type=OrderType.LIMIT, limit_price=D("39000.00"), reduce_only=True
                ),
            ]
        if n in {4, 6}:
            return [buy("0.010")]  # DAILY_LOSS on bar 4; TRADING_STATE (REDUCING) on bar 6
        return []

    sinks = Sinks()
    orch = _session(
        sinks,
        run_id="rails-scripted",
        steps=10,
        strategy_id="scripted",
        feed=ScriptedFeed(["40000.00", "40000.00", "39700.00"]),
        strategy=ScriptedStrategy(script),
        risk={"per_trade_risk_pct": "0.01", "daily_loss_pct": "0.002"},
    )
    assert orch.preflight()
    orch.activate()
    orch.run_n_steps(5)
    orch.reduce_only("review")
    orch.run_n_steps(3)
    orch.close()
    artifacts = _memory(sinks)
    assert _rules(artifacts) == {
        "MAX_ORDER_QTY",
        "ALLOWLIST",
        "PRICE_COLLAR",
        "DAILY_LOSS",
        "TRADING_STATE",
    }
    assert not _payloads(artifacts, "KILL_SWITCH")  # the rail, not the kill switch
    assert _has(artifacts, "TRADING_STATE_CHANGED", reason="review", to="REDUCING")
    return artifacts


def _operator_kill(_tmp: Path) -> dict[str, bytes]:
    """kill() mid-run with a position open: HALTED, flattened, audited; then closed."""
    sinks = Sinks()
    orch = _session(sinks, run_id="kill-operator", seed=31)
    assert orch.preflight()
    orch.activate()
    while not any(orch.book.positions.values()):
        orch.step()
    orch.run_n_steps(2)
    assert any(orch.book.positions.values())
    orch.kill("operator drill")
    assert orch.trading_state is TradingState.HALTED
    orch.run_n_steps(20)
    orch.close()
    assert orch.status is SessionStatus.COMPLETED
    artifacts = _memory(sinks)
    assert _has(artifacts, "KILL_SWITCH", reason="operator drill")
    assert _payloads(artifacts, "KILL_SWITCH_FLAT")
    assert _has(artifacts, "ORDER_SUBMITTED", reason="flatten")
    codes = _audit_codes(artifacts)
    assert codes.index("C2_KILL_SWITCH") < codes.index("C2_KILL_SWITCH_FLAT")
    return artifacts


def _reconcile_escalation(_tmp: Path) -> dict[str, bytes]:
    """A foreign order appears at the venue: escalated after the grace, acknowledged, closed."""
    broker = FaultBroker()
    sinks = Sinks()
    orch = _session(sinks, run_id="reconcile-escalated", seed=32, broker=broker)
    assert orch.preflight()
    orch.activate()
    while not any(orch.book.positions.values()):
        orch.step()
    foreign = Order(
        client_order_id="lsforeign", symbol="BTC/USDT", side=Side.BUY, quantity=D("0.5")
    )
    broker.plant(foreign)
    orch.run_n_steps(20)
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    orch.acknowledge("ops-7")
    orch.close()
    assert orch.state is SessionState.STOPPED
    assert orch.status is SessionStatus.FAILED
    artifacts = _memory(sinks)
    (escalated,) = _payloads(artifacts, "RECONCILE_ESCALATED")
    assert [d["kind"] for d in escalated["discrepancies"]] == ["ORDER_UNKNOWN_LOCALLY"]
    assert _has(artifacts, "STATE_CHANGED", trigger="fault", reason="RECONCILE_MISMATCH")
    assert _has(artifacts, "OPERATOR_ACK", operator="ops-7")
    codes = _audit_codes(artifacts)
    assert codes.index("C2_RECONCILE_ESCALATED") + 1 == codes.index("C2_OPERATOR_REQUIRED")
    assert codes.index("C2_OPERATOR_REQUIRED") < codes.index("C2_OPERATOR_ACK")
    return artifacts


def _broker_unhealthy(_tmp: Path) -> dict[str, bytes]:
    """Every send attempt fails: five in a row halt trading; the operator re-enables."""
    broker = FaultBroker()
    broker.arm("transient", times=5)
    sinks = Sinks()
    orch = _session(sinks, run_id="broker-unhealthy", seed=34, broker=broker)
    assert orch.preflight()
    orch.activate()
    while orch.trading_state is not TradingState.HALTED:
        orch.step()
    orch.run_n_steps(10)
    orch.reenable_trading("ops-9")
    orch.close()
    assert orch.status is SessionStatus.COMPLETED
    artifacts = _memory(sinks)
    assert _has(artifacts, "BROKER_UNHEALTHY", reason="CONSECUTIVE_FAILURES", failures=5)
    assert _has(artifacts, "TRADING_STATE_CHANGED", reason="BROKER_UNHEALTHY", to="HALTED")
    assert len(_payloads(artifacts, "BROKER_CALL_RETRIED")) == 4
    assert _has(artifacts, "ORDER_REJECTED", reason="SEND_FAILED")
    codes = _audit_codes(artifacts)
    assert codes.index("C2_OPERATOR_REQUIRED") < codes.index("C2_OPERATOR_REENABLE")
    return artifacts


class _DiesAfter:
    """A line sink whose writes fail (OSError) once it holds ``limit`` lines."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[bytes] = []

    def write_line(self, line: bytes) -> None:
        if len(self.lines) >= self.limit:
            raise OSError("disk gone")
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing buffered."""

    def sync(self) -> None:
        """Nothing to sync."""

    def getvalue(self) -> bytes:
        """The lines written before the sink died."""
        return b"".join(self.lines)


def _lost_sink(sink: str, limit: int) -> Callable[[Path], dict[str, bytes]]:
    """A session whose ``sink`` dies after ``limit`` lines (no retries): it fails closed."""
    field = {"events": "event_sink", "states": "state_sink", "audit": "audit_sink"}[sink]

    def scenario(_tmp: Path) -> dict[str, bytes]:
        sinks = Sinks()
        dying = _DiesAfter(limit)
        orch = _session(sinks, run_id=f"lost-{sink}", seed=33, sink_overrides={field: dying})
        result = orch.run_to_end(300)
        assert result.status is SessionStatus.FAILED
        assert len(dying.lines) == limit
        setattr(sinks, sink, dying)
        artifacts = _memory(sinks)
        assert result.reason == "SINK_WRITE_FAILED"
        metrics = orjson.loads(artifacts["metrics.json"])
        if sink != "audit":
            assert "C2_SINK_WRITE_FAILED" in _audit_codes(artifacts)
            assert metrics["status"] == "FAILED"
        else:  # it died at C2_DRYRUN_STOP, after the events closed: metrics.json says so
            assert _audit_codes(artifacts) == ["C2_DRYRUN_START"]
            assert (metrics["audit_sink_failed_at"], metrics["audit_sink_error"]) == (
                limit + 1,
                "OSError: disk gone",
            )
        return artifacts

    return scenario


def _lost_audit_midrun(_tmp: Path) -> dict[str, bytes]:
    """The audit sink dies at the kill switch's record: fail-closed, and metrics.json says so."""
    sinks = Sinks()
    dying = _DiesAfter(1)
    orch = _session(
        sinks, run_id="lost-audit-midrun", seed=33, sink_overrides={"audit_sink": dying}
    )
    assert orch.preflight()
    orch.activate()
    orch.run_n_steps(20)
    orch.kill("ops")  # C2_KILL_SWITCH, record 2, cannot be written
    assert orch.status is SessionStatus.FAILED
    orch.close()
    assert orch.result().reason == "SINK_WRITE_FAILED"
    setattr(sinks, "audit", dying)  # noqa: B010 - what it wrote is what the run holds
    artifacts = _memory(sinks)
    assert _audit_codes(artifacts) == ["C2_DRYRUN_START"]
    assert _payloads(artifacts, "SINK_WRITE_FAILED")[0]["sinks"] == ["audit"]
    metrics = orjson.loads(artifacts["metrics.json"])
    assert (metrics["status"], metrics["audit_sink_failed_at"]) == ("FAILED", 2)
    return artifacts


def _leased(tmp: Path, **extra: Any) -> tuple[LiveSessionOrchestrator, Sinks, SimClock]:
    lease_clock = SimClock(START)
    sinks = Sinks()
    orch = _session(
        sinks,
        lease=_file_lease(tmp / "pair.lease", "default", "sma_demo"),
        lease_clock=lease_clock,
        lease_holder="pinned-holder",
        **extra,
    )
    return orch, sinks, lease_clock


def _lease_held_to_the_end(tmp: Path) -> dict[str, bytes]:
    """Preflight takes the lease (fence 1), every step renews it, close releases it."""
    orch, sinks, lease_clock = _leased(tmp, run_id="lease-held", seed=34, steps=200)
    assert orch.preflight()
    orch.activate()
    while orch.state is SessionState.DRYRUN_ACTIVE and orch.steps_done < 200:
        orch.step()
        lease_clock.advance(SECOND_NS)  # renewals every quarter TTL (7.5 s)
    orch.close()
    assert orch.status is SessionStatus.COMPLETED
    artifacts = _memory(sinks)
    assert _has(artifacts, "PREFLIGHT_CHECK", check="session_lease", passed=True)
    (acquired,) = [
        r["payload"] for r in _records(artifacts["audit.jsonl"]) if r["code"] == "C2_LEASE_ACQUIRED"
    ]
    assert (acquired["holder"], acquired["fence"]) == ("pinned-holder", 1)
    return artifacts


def _lease_lost(tmp: Path) -> dict[str, bytes]:
    """The holder stalls past its TTL, another takes the pair over: LEASE_LOST, no flatten."""
    orch, sinks, lease_clock = _leased(tmp, run_id="lease-lost", seed=35, lease_ttl_ms=1000)
    assert orch.preflight()
    orch.activate()
    for _ in range(40):
        orch.step()
        lease_clock.advance(SECOND_NS // 10)
    lease_clock.advance(2 * SECOND_NS)
    intruder = _file_lease(tmp / "pair.lease", "default", "sma_demo")
    assert intruder.acquire("intruder", lease_clock.monotonic_ns(), 10**12) is not None
    orch.step()
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    orch.close()
    intruder.close()
    artifacts = _memory(sinks)
    assert _has(artifacts, "STATE_CHANGED", trigger="fault", reason="LEASE_LOST")
    assert "C2_LEASE_LOST" in _audit_codes(artifacts)
    assert not _payloads(artifacts, "KILL_SWITCH")
    return artifacts


def _lease_held_elsewhere(tmp: Path) -> dict[str, bytes]:
    """Another holder has the pair: preflight fails with LEASE_HELD, nothing trades."""
    other = _file_lease(tmp / "pair.lease", "default", "sma_demo")
    assert other.acquire("someone-else", SimClock(START).monotonic_ns(), 10**12) is not None
    orch, sinks, _ = _leased(tmp, run_id="lease-held-elsewhere", seed=36)
    result = orch.run_to_end(300)
    other.close()
    assert result.status is SessionStatus.REJECTED
    assert result.reason == "LEASE_HELD"
    artifacts = _memory(sinks)
    assert _has(
        artifacts,
        "PREFLIGHT_CHECK",
        check="session_lease",
        reason="LEASE_HELD",
        detail="lease of account 'default', strategy 'sma_demo': another live session holds it",
    )
    assert result.detail == _payloads(artifacts, "PREFLIGHT_CHECK")[-1]["detail"]
    assert "C2_REJECT_LEASE_HELD" in _audit_codes(artifacts)
    assert not _payloads(artifacts, "BAR")
    return artifacts


def _input_error(run_id: str, *, strategy_fails: bool) -> Callable[[Path], dict[str, bytes]]:
    """The strategy (or the feed) raises on bar 6, with a position and a resting order.

    HALTED, the order cancelled, the error audited, ERROR_REQUIRES_OPERATOR; then an
    operator acknowledges (flatten) and the session closes STOPPED and FAILED.
    """

    def scenario(_tmp: Path) -> dict[str, bytes]:
        trades = {
            1: [buy("0.010")],
            2: [buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39000.00"))],
        }

        def script(n: int, _bar: Any, _view: Any) -> list[OrderIntent]:
            if strategy_fails and n == 6:
                raise ValueError("indicator window is empty")
            return trades.get(n, [])

        feed = ScriptedFeed(["40000.00", "40100.00", "40050.00"])
        if not strategy_fails:
            real = feed.next_bar

            def next_bar(ts_ns: int) -> Any:
                if feed.get_state()["n"] == 5:
                    raise ConnectionError("stream closed by peer")
                return real(ts_ns)

            feed.next_bar = next_bar  # type: ignore[method-assign]
        sinks = Sinks()
        orch = _session(
            sinks,
            run_id=run_id,
            steps=50,
            seed=37,
            strategy_id="scripted",
            feed=feed,
            strategy=ScriptedStrategy(script),
        )
        assert orch.preflight()
        orch.activate()
        orch.run_n_steps(10)
        assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert orch.trading_state is TradingState.HALTED
        orch.acknowledge("ops-9")
        orch.close()
        assert (orch.state, orch.status) == (SessionState.STOPPED, SessionStatus.FAILED)
        artifacts = _memory(sinks)
        kind = "STRATEGY_ERROR" if strategy_fails else "FEED_ERROR"
        (error,) = _payloads(artifacts, kind)
        assert error["step"] == 6
        assert f"C2_{kind}" in _audit_codes(artifacts)
        assert _payloads(artifacts, "ORDER_CANCELED")
        assert _has(artifacts, "ORDER_SUBMITTED", reason="flatten")
        assert _has(artifacts, "STATE_CHANGED", trigger="fault", reason=kind)
        return artifacts

    return scenario


_API_RUNS: dict[str, Callable[[Path], dict[str, bytes]]] = {
    "rails-scripted": _scripted_rails,
    "kill-operator": _operator_kill,
    "reconcile-escalated": _reconcile_escalation,
    "broker-unhealthy": _broker_unhealthy,
    "lost-events": _lost_sink("events", 150),
    "lost-states": _lost_sink("states", 3),
    "lost-audit": _lost_sink("audit", 1),
    "lost-audit-midrun": _lost_audit_midrun,
    "lease-held": _lease_held_to_the_end,
    "lease-lost": _lease_lost,
    "lease-held-elsewhere": _lease_held_elsewhere,
    "strategy-error": _input_error("strategy-error", strategy_fails=True),
    "feed-error": _input_error("feed-error", strategy_fails=False),
}


_DEAD_SINK = pytest.mark.broken_run("a sink fails for good on purpose; what it lost cannot verify")


@pytest.mark.parametrize(
    "run_id",
    [
        pytest.param(run_id, marks=_DEAD_SINK) if run_id.startswith("lost-") else run_id
        for run_id in sorted(_API_RUNS)
    ],
)
def test_api_run_keeps_its_bytes(tmp_path: Path, run_id: str) -> None:
    artifacts = _API_RUNS[run_id](tmp_path)
    assert_pinned(PINNED, run_id, _digests(artifacts))
