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

Every CLI run also passes the evidence's determinism re-run (``write_evidence``, its bundle
written elsewhere), as ``livesession evidence`` checks it.

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
from livesession.evidence import write_evidence
from livesession.leases import FileLease
from livesession.testing import FaultBroker

from _helpers import DiesAfter, Sinks
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
        "events.jsonl": "bd3b9adff10c9b9eb86c6b6d8e0e7d4d98c5efa182887ab5be580c47769970fa",
        "state_snapshots.jsonl": "32557b8fe1c350cc4e25f178292d49d935b3934eccab3ab22abe235fff3bd354",
        "metrics.json": "16a87ea09eff52fd2b886abfb5da0e1c9f0390ade29dd08dc40778ab9873f0d1",
        "audit.jsonl": "dbc5f00193c2e89d8e1126ead8a7ba6ad1292c9a52086e8938da369d0560a073",
    },
    "rail-per-trade-risk": {
        "events.jsonl": "38a79b8c07c5171e93904bac2750ca5af10af0f2e6df9d0ce012176a3ddd0a60",
        "state_snapshots.jsonl": "8b332338d8d57d8852147c04e817f736d943e19206bfd1faf217ecbf063b6559",
        "metrics.json": "06dda90eaccfb142176fc467c72f3b905adadb147e86edda5b8798c439e2eced",
        "audit.jsonl": "2d9f0da4e191c6b2f32612dce52b624bfae6303b3c0bf2124016656b980fc429",
    },
    "rail-portfolio-heat": {
        "events.jsonl": "c719738e86fc14555c3ec14bf41bffb828c5306c2fbac80eb44f7ae1327aa3e9",
        "state_snapshots.jsonl": "83c0fbbc40e450d76e721432c4312b343220f25abac6127df16b739759f94709",
        "metrics.json": "674691f8b1227bb08a42753b941ffe919dcfef28f91da0d604b3464fe9c29cd0",
        "audit.jsonl": "bc120b5235d54b46e3811ce5f8ea249804c7806531d88be873064268265892db",
    },
    "rail-order-rate": {
        "events.jsonl": "77f741a6fd3b6ac82c588cbcbb90a4960c883d94e753aef6560fe688678988db",
        "state_snapshots.jsonl": "6996b68f6c1f9b38e0f35423d255744d78e973fb5f82676944d4d754459caa73",
        "metrics.json": "02a327a5f713142f7eaf99e66511c6fa0ba991b13974aaff0199a5c2c3728ef0",
        "audit.jsonl": "4de339d8bf052b140773aa298153158a26cedd11fdd27210fbd6844b79437d18",
    },
    "rail-throttle": {
        "events.jsonl": "1d45bb3121e6b6dbfc7251fec8467d8c6189666b6f397a5adf361f502978ba20",
        "state_snapshots.jsonl": "27097098682d7802df2483e0f17c1671d5daaabad7369d7868228303a1f75cd5",
        "metrics.json": "d0c79c4cf0fabc1ac0c2239c05e4f642b510d23f4235c4229d1d1d83b9589eaa",
        "audit.jsonl": "9325bd66bf00eae969ba4e6e8a899652290141f24de8a731eb76442f3625f9c0",
    },
    "kill-daily-loss": {
        "events.jsonl": "96fa847a01092c4a130b2de998e08fbef679cfb1101b10aac7aa01d4b7e9a49c",
        "state_snapshots.jsonl": "9b786fcb39972cb1d35b4bf9918144a0192d9b326b2ef8b756b248c8fb4b6cf5",
        "metrics.json": "b69ff035a646a9502873412e574fe7c02adde09ed660a5c2e1131e125955d81a",
        "audit.jsonl": "f5911609d742aa6e54e9af9c2dac265b39c06b33d067d08c67f8dfb7fb5540a1",
    },
    "preflight-order-qty": {
        "events.jsonl": "4c7c5abafdbea00a442f91c7718182ee02bde207975e124ff47862bba3b2f5c6",
        "state_snapshots.jsonl": "6f8ee68e0f75375233bfb5387b2c78f07f28c4b3bca5e00287cb8df4692ea0d9",
        "metrics.json": "c1269b17c581aa92f1a2d8a46cbc27d23090c4cf129e49e47425b6155f9f9230",
        "audit.jsonl": "41d7d67dc43d2a1a741fb8c5e6f87f60a8d0b6cfc403c4cbca23ddfc28889c56",
    },
    "csv-eurusd": {
        "events.jsonl": "17ef1b0b0b2a752918b0d5fecdf3adfeda74c14b83e0b85dd9827ed75341e51d",
        "state_snapshots.jsonl": "5b7358ac4ed3e01590e2ab3c1fe442ca91e9f84020d7d970290c80b032cdb411",
        "metrics.json": "dd5b1b09ef29c5221bd80ee1be622da8e0c658dc65fb48ad92b36c4c858b73df",
        "audit.jsonl": "ebb05b7575f208be434c5e5084b0b6b54f96289e5d354ff77e9803171c0101fd",
    },
    "csv-exhausted": {
        "events.jsonl": "18935588d06050f69529dc019172543f20ead60fb3411e16e65fb98a85ff1637",
        "state_snapshots.jsonl": "418581b7344052d95006a79ddaaf07c371e8c8a5775a89947b55c4eeb09a678a",
        "metrics.json": "9ad8a84a01e7877a0d9736513461eadf4ade9bcf8e2b764942a6a0f2d99990b1",
        "audit.jsonl": "9a56103f37433c4e4c0571c59a58d0955a296a13a908cfbd61f0c98f930d3e76",
    },
    "realish-faults": {
        "events.jsonl": "4e5473d3f0c046cbe1f7d77d2f217b9a211ae2c79cac3e8fde39763fef515153",
        "state_snapshots.jsonl": "dff7ff51ac38b397f3d022de2b746d65141db48b5f2aa31dda57574b51f44978",
        "metrics.json": "e46b628c5b4b5bc2bcf93bc5148ff199400c598d6384c42dc2222db75425b145",
        "audit.jsonl": "b2b45da133d8477a7653963cce26dbe820ebd09b05cb21ef630ebc689641ca80",
    },
    "crash-mock-torn": {
        "events.jsonl": "bde97aeb1cf59474afc138dac403f7271f8f9f628da05276395a20930f69b44f",
        "state_snapshots.jsonl": "ed33ca63f549cdf8bbc71abb64a6aa93001e975ec38cfe3b910fccee4d993657",
        "metrics.json": "525cb613827c04aa63ca758c56c6131c0c3be29921a696342641233ee1fa7bd1",
        "audit.jsonl": "03a1e8b01a785a111381480b3a7b8ba1a09ec54522567b1795c1406dbe33441b",
    },
    "crash-mock-before-checkpoint": {
        "events.jsonl": "e379d09423cdaca023095d22303c90a1ee32170310e7dc4f549c724492143b1f",
        "state_snapshots.jsonl": "022b4c10afd9e67ba61bfe545bc0b9c825d28b983ace90a23880b11faa3019db",
        "metrics.json": "c1e1d09abf4d873003e113900481f3ac742dbc3eea4bc5d0c5cc04430838fec7",
        "audit.jsonl": "ef58d3eb83d089440caa85c2b6e7d3b6c2936cbd74580ba61e81722515022364",
    },
    "crash-realish-after-send": {
        "events.jsonl": "a1666ee1fc83871fce4f021d35bb8344823d6d78027d28d9a9a1970a3b5ef007",
        "state_snapshots.jsonl": "ed031cfadf129d7ec3507653415a1433f065b45bc179bae808cd16aa828cea00",
        "metrics.json": "38cafb08f3cb3f675ab9f6c05864e417deb01aa333361d2f6bb9637d54eddff9",
        "audit.jsonl": "f9700cd228a423f5f3df3cf00ea85142cb2dbd42398c2954ae83edb457ae5044",
    },
    "rails-scripted": {
        "events.jsonl": "b441119fef671745cec620749c5b10ef76e67d4685049dc816f13bdb6eb7e493",
        "state_snapshots.jsonl": "fd2e9db46b7a5d90a15cfd0a3d6d0da92d49cc3b6b96c2bf4a81cec0aff46455",
        "metrics.json": "d9295ecf5f2f12e5b2e1f51ea50e5a57f4a9b295a741244cbce0819cc3fc5176",
        "audit.jsonl": "ec3277bd57c280d9630c5491fc308c351cd26beaeac10cbb1dd4710af7f6378c",
    },
    "kill-operator": {
        "events.jsonl": "2051f53adadcdc4a4bed7b3de890c7ecea31fb71443882801ff50aadc53e8314",
        "state_snapshots.jsonl": "fe2d25f01cba7d7367ff7fbb50759c48a28410ffba01b3671459678d578ffac5",
        "metrics.json": "cd09e4c19b8d5048773ef5dcb3608d0ea1a900db6a5e84eefbc85e7ab106ba6c",
        "audit.jsonl": "5cbb5f52be83d1d26e3100b1110f3971c5a224677f650aa72092415798f81243",
    },
    "reconcile-escalated": {
        "events.jsonl": "56e27cb96823010a93e5c44b0cb38ba12baa2e1354eefe161f19e820642523ce",
        "state_snapshots.jsonl": "ccf05ff961603f3180d959ed6ff674624c0ad912706051a42431d68901f9e1d2",
        "metrics.json": "f7cea4e6d6a4b1ee8be456d1c3a1fad81082ab3e7d9e19bf472be3ef782273df",
        "audit.jsonl": "139db326396c424018370474ea8b7297a5c83b2b793ed083e64de04506cc4400",
    },
    "broker-unhealthy": {
        "events.jsonl": "6e15c5cea6a2e7b5cdbe5e33470b8232a2a948a4b187b89164aaa87e497d64d8",
        "state_snapshots.jsonl": "259ecfad53a813b8353259f93e66e25b53c2ad87826d8144d56477586dd0b899",
        "metrics.json": "ca854a8e31198d0bdd533323daf4ab583a91df02aacfd55bbaf8bef9861622e1",
        "audit.jsonl": "bc0d0722d8dab5e361e16af3ecd51497a990d85e1d51dddabd43da1307ba9b5b",
    },
    "lost-events": {
        "events.jsonl": "e4dd97626dfb2c0a5874d1ef70ceb4ba0c44b0b8225fcd9676a8eb30f7252900",
        "state_snapshots.jsonl": "3f760f9d425648cf2103230834505e140e24d9763b9bb122faed8d923da569e1",
        "metrics.json": "025530dbbe0cc1e1ecb8f2f8d108c732f29b0f9770e3a9570eae236e7c9dfc6a",
        "audit.jsonl": "2205cff932bcb061f88f3b7dc3703acebd3e0a2928f80c95185869517de96136",
    },
    "lost-states": {
        "events.jsonl": "64e7909092043237da65246d9844c7ddb8f6686165a0d596aae65d48c8ae3980",
        "state_snapshots.jsonl": "ede2ef196daa122b74bf2a83a657cfeaddaae15b369440dcade415e5ec999f36",
        "metrics.json": "41dd1a5eea4c22b0d0e1aa4b6f5cd6fe212cddce2a2194f1c480bed1e04cc55a",
        "audit.jsonl": "8baf019b45b8039f7109f1f3b17a850caaa6f2a583ae9b93b17fe098014ae727",
    },
    "lost-audit": {
        "events.jsonl": "aff6ac08bc4d5a43aa74c9269a3abcae87060d5834c9d3962cde6d8d68779ac1",
        "state_snapshots.jsonl": "f16b3701ae7fb8da510be2f9c94f6201fbb5e65d318e31f7dde5584a02889655",
        "metrics.json": "4b8bb05d7812ed3bfab66b0f722970322e0732bf12ad20d01b6db7972cdc916e",
        "audit.jsonl": "516af018b78f945027a46ad6345398b70e01e5d18be91e3b1aefd5c3211a893f",
    },
    "lost-audit-midrun": {
        "events.jsonl": "d2e609cb16edb8263b233e52d146a9cba4d695ffdf0afc723e3a7f8e4bb0790f",
        "state_snapshots.jsonl": "d2dd5d9c6217219a7284e6293d8172592756b2589b3b7fc20ca355c060fa56be",
        "metrics.json": "64b02c3fbebd23af6ca0d60a6cd91e6f7c6542bdef9dc8b3e738e93af1de8140",
        "audit.jsonl": "78e944a8ee41e9aa91b22b4e3b1eebd7fbf55d6614113e280efd2c3501c22011",
    },
    "lease-held": {
        "events.jsonl": "146ba4d945d899705f337ef9667c74690c1646384d41be178b2ac234d7221794",
        "state_snapshots.jsonl": "bb08a8dff28a0d3cc7b2fe82509bfe35e773ed63f1f2d1597ec4c2c7cea1cd8f",
        "metrics.json": "84acb6b45ea19290538485bc53cb82a92641b96f6d6a1107936767c2764683da",
        "audit.jsonl": "e948372c0da9d692f6da4a6de91b4942061e0b7b23cc40307a283b22d64bcfc1",
    },
    "lease-lost": {
        "events.jsonl": "aac5bf03f4cd0d31a793b8bab64ed5bf4635de0cf0b9e24bd818049262bc3e5a",
        "state_snapshots.jsonl": "4fedbb6c8727307983b28b765295ac6717979d798d77fcded1d6011168366472",
        "metrics.json": "d0a2ee4a347c2954176ce5bb0d5a10829059845aa42970cd0464cbf57e0d6a5e",
        "audit.jsonl": "7527b733c386f5b7940adafc864c7e1b0daa0cbc65256047b0a3002a636f4186",
    },
    "lease-held-elsewhere": {
        "events.jsonl": "e72ba23d05ad5e19cdcef6594ad2a814ccb337b5f3b6e83edbf6e4161597b11d",
        "state_snapshots.jsonl": "7f0cf19aabf9cb291c84d115b28e747320475bed06b22a79e8e0d74606fa151c",
        "metrics.json": "cb765dbc3a3c2217107f74c9b6f13599b4b1a956e7b09efd14c3871910f4cdc3",
        "audit.jsonl": "99d216dc48ff547b6d26afa1dd137484f9ea30fc49958561d9620e498c7109b8",
    },
    "strategy-error": {
        "events.jsonl": "6aa48e29635255c347c6a8f70f8cf37e870b0643c911fa20a77e1b553086e149",
        "state_snapshots.jsonl": "184ee06f715fb67dc61dcdda984c45899e16075d03e424d40260aaf83f952b47",
        "metrics.json": "2f6fd9201dce997b1e651d5bc8b4b14f767d7b83ac55d47ab1b8b7886e793256",
        "audit.jsonl": "80c816ed056242a52628df215e8fe794591b9c52b8eeb0500456eb48ddb1d28c",
    },
    "feed-error": {
        "events.jsonl": "b2aa409c22fbfcb2a16e91c944428a597fd6c49f7b0fe13d6033e29bcf964a04",
        "state_snapshots.jsonl": "16ade808da7f1a2c8cfd5a315d6b1d2ca2a289a3ff59d28c3a3134758f0c368f",
        "metrics.json": "917f8a0529e68ad9aeec87cfc64fc5431d4089f5598ecfe4a90d117ba73e9778",
        "audit.jsonl": "e3853bb834900b5f074638810f3c4af584f7d8b207bc898f6286be2bbdbc33e1",
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
    _assert_reruns_the_same(out / run_id, tmp_path / "rerun")


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
    _assert_reruns_the_same(out / run_id, tmp_path / "rerun")


def _assert_reruns_the_same(run_dir: Path, elsewhere: Path) -> None:
    """The evidence's determinism re-run of the run matches it (the bundle goes elsewhere)."""
    manifest = orjson.loads(write_evidence(run_dir, out_dir=elsewhere).manifest.read_bytes())
    assert manifest["determinism"]["status"] == "match", manifest["determinism"]


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


def _lost_sink(sink: str, limit: int) -> Callable[[Path], dict[str, bytes]]:
    """A session whose ``sink`` dies after ``limit`` lines (no retries): it fails closed."""
    field = {"events": "event_sink", "states": "state_sink", "audit": "audit_sink"}[sink]

    def scenario(_tmp: Path) -> dict[str, bytes]:
        sinks = Sinks()
        dying = DiesAfter(limit)
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
    dying = DiesAfter(1)
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
