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
        "events.jsonl": "39e34de6d4a30c95ef2eb10e96a0a6f7bc03dfb22711b1f3dce7c043b1a45331",
        "state_snapshots.jsonl": "32557b8fe1c350cc4e25f178292d49d935b3934eccab3ab22abe235fff3bd354",
        "metrics.json": "027c62a9ed59cb412cfaaffdb64ad4aaf12ccdafc61e9e21b1175788725e5c0d",
        "audit.jsonl": "ebbb84a6346254b8e0539fa54a7cd6a19fa4c0f7d4a60b678a9fe1c160566f48",
    },
    "rail-per-trade-risk": {
        "events.jsonl": "452d08de774e9d35d124083d3cd62a8f0a1a0fc6f4abf0ce016d905ba4ed8100",
        "state_snapshots.jsonl": "8b332338d8d57d8852147c04e817f736d943e19206bfd1faf217ecbf063b6559",
        "metrics.json": "95ddb09c9656aee7b52f351e507e9bada26a28e88409673ae862f7eae4fc5377",
        "audit.jsonl": "819ec2fd6713dbd40c846b751646eba51630c171c099217d08f2b512f01143f0",
    },
    "rail-portfolio-heat": {
        "events.jsonl": "fa76dba4781081334cab283d372bee62b0b720c42d63c4c64a02dbeb27271380",
        "state_snapshots.jsonl": "83c0fbbc40e450d76e721432c4312b343220f25abac6127df16b739759f94709",
        "metrics.json": "01e060ae3b569f47a271a699064c3496d896473efae7ccd7e27c41a393147873",
        "audit.jsonl": "b0f5386c179ee694ba7aeca7a539f65621ff1ea74c9e7ba27008bc77952591ab",
    },
    "rail-order-rate": {
        "events.jsonl": "9ceb548b507bce33a546728332b543e1dda73338818f4ad7885c460a47807548",
        "state_snapshots.jsonl": "6996b68f6c1f9b38e0f35423d255744d78e973fb5f82676944d4d754459caa73",
        "metrics.json": "26d9de2db1fbd2b67a5c5e230ce1353adf0ed3dec76ecbac1f02e7b8d15557eb",
        "audit.jsonl": "8b3b3abca96bc5945bd0e6c1c8eecf6c93f76bbafd970e949875a7740d19a8b1",
    },
    "rail-throttle": {
        "events.jsonl": "e9f553614e8e073836a474cc60c4675c597b21cdbd6a8f4e1f845eae90858f8b",
        "state_snapshots.jsonl": "27097098682d7802df2483e0f17c1671d5daaabad7369d7868228303a1f75cd5",
        "metrics.json": "0bc6ae09175a2bfd05c73e8791afbe14307aba6cf85ab45f0209b0e68e16a69f",
        "audit.jsonl": "8ef6a2971a7d7f2c88f8457ebf5acaf40c1022ae1b120be2b68ea5614726d507",
    },
    "kill-daily-loss": {
        "events.jsonl": "f87b5ae2eae7b85ed74b86c12fd2f6c55b9e5cb022b2a1ba7de0763639f823ea",
        "state_snapshots.jsonl": "9b786fcb39972cb1d35b4bf9918144a0192d9b326b2ef8b756b248c8fb4b6cf5",
        "metrics.json": "6417893cf3cf7ea9dc5fc9238f0562cea2db3d437a67eed9a6ee448bef4a2163",
        "audit.jsonl": "21645ae7390f10ff3f3d391b03b746578a8e7ac8b1222da11440bebf3a6b43e0",
    },
    "preflight-order-qty": {
        "events.jsonl": "c078fe09d5fdd74c8fb79c02596a854f4a1abe0614652b2f6af8c40a6746d49f",
        "state_snapshots.jsonl": "6f8ee68e0f75375233bfb5387b2c78f07f28c4b3bca5e00287cb8df4692ea0d9",
        "metrics.json": "9fc082e94c979a705d21e7ad9f310d11ea9dad8bef15a7c04d58b67411623862",
        "audit.jsonl": "c6926a1f77171d49f477f2a8e833eef468be7d04e568712e9a63765c53615f40",
    },
    "csv-eurusd": {
        "events.jsonl": "fa7e7b15b964c0e22331928dd3efc648c94244540ccaa2c6cc8525cd3bcf8334",
        "state_snapshots.jsonl": "5b7358ac4ed3e01590e2ab3c1fe442ca91e9f84020d7d970290c80b032cdb411",
        "metrics.json": "04bad5f0bfbb67e7b6628ec62bda345196414afd02964b4eb888d15d69efbf0c",
        "audit.jsonl": "7e250dbd31100af6d0480a7c2410771c1b497f8ae8d3e5102722fba9e8fbcfe8",
    },
    "csv-exhausted": {
        "events.jsonl": "d81c4e5ba6383d356136c47b68885be9ccb64e7c79076ab5322596a85766f343",
        "state_snapshots.jsonl": "418581b7344052d95006a79ddaaf07c371e8c8a5775a89947b55c4eeb09a678a",
        "metrics.json": "f4ccc7025ced709f3061ddd8e3ca260903cbd286593d0ca27d237b1859100273",
        "audit.jsonl": "0757e8ce3f3ed31763217be29fd55cad262d02d202740c86a45690700a195ad9",
    },
    "realish-faults": {
        "events.jsonl": "60331b56ca625976d21a2f0a5c4eae8940907b0bd862b98ae4e4f372b08e0f59",
        "state_snapshots.jsonl": "dff7ff51ac38b397f3d022de2b746d65141db48b5f2aa31dda57574b51f44978",
        "metrics.json": "58e0dd72c9621d8f2804f745aab5ad58a6fcc6ef4c628c3d07fcf577923a41c7",
        "audit.jsonl": "724c7ff3e117201ec2e0100da89fd4a13c5f197016d1c6671249e13da22c370c",
    },
    "crash-mock-torn": {
        "events.jsonl": "c67f5947ac1f55cb148d82cf07cd843d0f87f0d0731de2eb069886c748a65e68",
        "state_snapshots.jsonl": "ed33ca63f549cdf8bbc71abb64a6aa93001e975ec38cfe3b910fccee4d993657",
        "metrics.json": "293ca80e7bc780e40996d2075e8162381ca1da739bf2216490c9fa589986a19a",
        "audit.jsonl": "36af82ac3009d226836c8bc2e0980117de091da6ef096febb3b9fec4c9d58e58",
    },
    "crash-mock-before-checkpoint": {
        "events.jsonl": "bbd83442ed8c6b8ca1f9352e8917b77b3acc7a6fe2780c35741354b26f8304ae",
        "state_snapshots.jsonl": "022b4c10afd9e67ba61bfe545bc0b9c825d28b983ace90a23880b11faa3019db",
        "metrics.json": "6709656cf14e21d0c00d757f9465fbe05eb13853f1c38418ec733473a5490fbe",
        "audit.jsonl": "5683180ded24497ba4bc31a95612c92e7f0436d5db54426a7366f2d0f5a0958f",
    },
    "crash-realish-after-send": {
        "events.jsonl": "4feab7c338aa638c96d5800b08469595a1c29c2ecc57817b8ed9eb15ccc786ca",
        "state_snapshots.jsonl": "ed031cfadf129d7ec3507653415a1433f065b45bc179bae808cd16aa828cea00",
        "metrics.json": "8f81583a705ed5bff3c744e1ecdbdb15059ae8cf77c0f7d73849adb22b90d05a",
        "audit.jsonl": "728e9680d75bf61064f1cdd47343bb988460f6a2bdae282696ac18b7cc53e391",
    },
    "rails-scripted": {
        "events.jsonl": "977521488dd8c4bbd5056559a79a2f7c1ae156d1178643df1f95c92a9b5f98da",
        "state_snapshots.jsonl": "fd2e9db46b7a5d90a15cfd0a3d6d0da92d49cc3b6b96c2bf4a81cec0aff46455",
        "metrics.json": "f49814b512c8582e54b9f79fe00cdd8b50c4965f2350a83082f90329a5c4b73f",
        "audit.jsonl": "ae1846451814023b38063ef9ae5e9168f992a3bf9a53125980ca6435174d401f",
    },
    "kill-operator": {
        "events.jsonl": "ea63580b9bceebb23b4789c6d158fc22eac8ab22a4244abb19033fafbfe72064",
        "state_snapshots.jsonl": "fe2d25f01cba7d7367ff7fbb50759c48a28410ffba01b3671459678d578ffac5",
        "metrics.json": "e80c4f36854d89833970e7c6c706fb91d2ac680f9949025294a24be81a56892c",
        "audit.jsonl": "96082f5391584abd21d45821914399e4ff42ec50ea0c02d8ca7d555308703e2e",
    },
    "reconcile-escalated": {
        "events.jsonl": "f1573509dadddf24d4d7fcdb5d35ec2e7cf43420fa6563e201a67b8c1a3d2473",
        "state_snapshots.jsonl": "ccf05ff961603f3180d959ed6ff674624c0ad912706051a42431d68901f9e1d2",
        "metrics.json": "2e9f49f33f3ebf5f85b0bae63b1140d952d5082d312a8fe26d82a74068cfaf76",
        "audit.jsonl": "5104f00e43d134d75f09bf2624ea535201fa8a01b188a71e8f14980336dfa114",
    },
    "broker-unhealthy": {
        "events.jsonl": "5bec99136b250244f888c4c8252e7703bd864a5fd1113149233089598e632fdb",
        "state_snapshots.jsonl": "259ecfad53a813b8353259f93e66e25b53c2ad87826d8144d56477586dd0b899",
        "metrics.json": "5a8070fe1dee861eaa305bf94ce9c005ba9b753f20c585bc09e023198f322f66",
        "audit.jsonl": "fd70e26460542da3a008b5115c2e229d607997dd440d0c176f007e0a447262d7",
    },
    "lost-events": {
        "events.jsonl": "eae0583dac8f7a1888ec3c5c1d7a599542b7988b982c30376bbd16817b936c0d",
        "state_snapshots.jsonl": "3f760f9d425648cf2103230834505e140e24d9763b9bb122faed8d923da569e1",
        "metrics.json": "b3d388531767ce937af78cfb5b52c4641b79df1b255789a0e994e6342cc4b31a",
        "audit.jsonl": "be4665d955a4f589b3813c6c62fc3b3fda4a348cc6ed51097c1c341e5b67826e",
    },
    "lost-states": {
        "events.jsonl": "47f7232197072218451c647f17e00570d3bddb6a3a84b09a7da052a18afd7e5d",
        "state_snapshots.jsonl": "ede2ef196daa122b74bf2a83a657cfeaddaae15b369440dcade415e5ec999f36",
        "metrics.json": "4b607c0fd5d758c6cd8f230f9694559c72f5f8557f2f5d660a8a242429318ecc",
        "audit.jsonl": "7267c539c9aabeb1d4809473742e8c031ecf7bb772a8695ae49bf8231c3dcb70",
    },
    "lost-audit": {
        "events.jsonl": "e07d7f28f3985e32a441e1c5669b33e914309d59f5ca3750fa908563db82984c",
        "state_snapshots.jsonl": "f16b3701ae7fb8da510be2f9c94f6201fbb5e65d318e31f7dde5584a02889655",
        "metrics.json": "6395a539e48ffb8e91455e98ef3f260e4130e202c4bfcaa5f8db31bfbfd80488",
        "audit.jsonl": "2fc46d5b0ff920248cb40aa567be406cf959a4cd862ab3ab86cf42b586465832",
    },
    "lost-audit-midrun": {
        "events.jsonl": "ca7a35bf5614988cfd9009613dc81528da646b70b394587ece7092927794742a",
        "state_snapshots.jsonl": "d2dd5d9c6217219a7284e6293d8172592756b2589b3b7fc20ca355c060fa56be",
        "metrics.json": "dfc246c1950a3548b280bb2b58d9e0fdfa0eaddef1a9dfefc9b19882327c4a4b",
        "audit.jsonl": "d26992be09e122ff12b4746919825a49c3d34f5678f4d63cbe6175fc4f54bc49",
    },
    "lease-held": {
        "events.jsonl": "3f2edae422183c66217782b6dc5673701f290119b91b8825e22fcd07a7c26446",
        "state_snapshots.jsonl": "bb08a8dff28a0d3cc7b2fe82509bfe35e773ed63f1f2d1597ec4c2c7cea1cd8f",
        "metrics.json": "95de9575c25c747bc62793a125bf3dd809cd8c1c0e9022a5b0ed652372a5687a",
        "audit.jsonl": "26d62a75d7dbcf81d27c1ff3573a1a54005f411055153e3e8e1f5fbdbb8b04b0",
    },
    "lease-lost": {
        "events.jsonl": "3ab3e00c58fca0bcf5a52d5ffcfa59fe6bc8f4837b6a97a7f9df46cd09c32804",
        "state_snapshots.jsonl": "4fedbb6c8727307983b28b765295ac6717979d798d77fcded1d6011168366472",
        "metrics.json": "56d83afcaca06113c13f45d9b7d0ff6a1200d20b073547c4b31eb00de84a1598",
        "audit.jsonl": "76d5eb6f400dfc7bbf44038efca5c256aba31c28839fbc3e55fd3f13005da69e",
    },
    "lease-held-elsewhere": {
        "events.jsonl": "a8b650a19aa41d94704a422316d043610065323ee5b378fe3576ddbf74f9f6fc",
        "state_snapshots.jsonl": "7f0cf19aabf9cb291c84d115b28e747320475bed06b22a79e8e0d74606fa151c",
        "metrics.json": "9cf6aa7389424ebd4a5918ad2c6b96fdd483f4de4bf30e450865eaa293bea2e4",
        "audit.jsonl": "0f65f9b1e02f17931706eddb3d259c3dc00710a3e15704feea578e91dc88f77d",
    },
    "strategy-error": {
        "events.jsonl": "a71df0836c4a9bd040ca876d085bdfdace02a194dafe46957bf6eb35adc6938b",
        "state_snapshots.jsonl": "184ee06f715fb67dc61dcdda984c45899e16075d03e424d40260aaf83f952b47",
        "metrics.json": "dfc76eefd0f4cdda3fa15d0a4eb110d33c69e1de19ac8c8d4a376147fda18320",
        "audit.jsonl": "0e83a55b05b643cdb0659cbb4e9c8e0bd6e58f7db65af935805434a7748c7a9e",
    },
    "feed-error": {
        "events.jsonl": "c2e2ff87438795e1bd36c3c6867ba90126cc70fa06b9f00e92e61849c34076d2",
        "state_snapshots.jsonl": "16ade808da7f1a2c8cfd5a315d6b1d2ca2a289a3ff59d28c3a3134758f0c368f",
        "metrics.json": "1a08f3fe4dc8b8e92a108e7bf2ee12af9a73b1bed8c59bca6f2e6dcfa4c70c0d",
        "audit.jsonl": "364cb05f2d67915d5f3ace12dfcb3c1fc75ec80d976617e5de76c94e5498c4d7",
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
