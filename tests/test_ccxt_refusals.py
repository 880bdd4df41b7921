"""What a run on a real venue (``ccxt:``) refuses up front: one line, exit 2, nothing written.

Bug (prober's ``memory_dup.py``): ``dryrun --broker ccxt:binance --idempotency-backend
memory`` killed after the venue had 7 orders and resumed sent each of them again (Binance
takes a client order id again once its first order has filled): the venue held a position,
the run said COMPLETED and flat, and it verified.
"""

from __future__ import annotations

import os
import re

import orjson
import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from livesession import ConfigError, DryrunConfig, create_run
from livesession._rundir import brokers as _rundir_brokers
from livesession._rundir import resume_run
from livesession.cli import main
from livesession.status import run_status

from _ccxt_route import crashed_dryrun, dryrun, dryrun_args, events, route_to, tree
from _helpers import crash_in_step
from fake_binance import FakeBinance

pytestmark = pytest.mark.ccxt

STEPS = 200


@pytest.fixture(name="fake")
def _fake(monkeypatch):
    """A started fake venue every run is routed to; at the end, no order was created twice."""
    fake = FakeBinance().start()
    route_to(fake, monkeypatch)
    yield fake
    fake.stop()
    assert max(fake.created.values(), default=0) <= 1, fake.created


class TestMemoryIdsOnAVenue:
    """Client order ids kept in memory die with a crash: a real venue's run refuses them."""

    def test_dryrun_refuses_it(self, fake, tmp_path, capsys):
        """Exit 2, one line naming the backend, the broker and the fix; nothing written."""
        out = tmp_path / "out"
        code = dryrun(out, "mem", STEPS, "--idempotency-backend", "memory")
        err = capsys.readouterr().err

        assert code == 2
        assert err.count("\n") == 1, err
        assert err.startswith("livesession: error: idempotency backend 'memory' cannot be used")
        assert "'ccxt:binance'" in err
        assert "--idempotency-backend sqlite (the default) or jsonl, or --store postgres" in err
        assert not out.exists()
        assert fake.requests == []

    def test_create_run_refuses_it(self, fake, tmp_path):
        """The Python call says the Python keywords; nothing is created."""
        cfg = DryrunConfig(run_id="mem", broker="ccxt:binance", steps=STEPS)
        with pytest.raises(ConfigError, match=r"idempotency_backend='sqlite' .* store='postgres'"):
            create_run(cfg, tmp_path / "out", idempotency_backend="memory")
        assert not (tmp_path / "out").exists()
        assert fake.requests == []

    @pytest.mark.broken_run("the crashed run is refused by resume: it stays crashed")
    def test_resume_refuses_a_run_made_before(self, fake, tmp_path, capsys):
        """A venue run that kept its ids in memory (made before the refusal) is not resumed:
        exit 2, nothing changed, and no order is sent again; status says why."""
        run_dir = tmp_path / "mem"
        args = dryrun_args(tmp_path, "mem", STEPS)
        assert crashed_dryrun(fake, args, "after_send:1") == -9
        meta_path = run_dir / "run.json"
        meta = orjson.loads(meta_path.read_bytes())
        meta["idempotency_backend"] = "memory"  # as an earlier version let it be created
        meta_path.write_bytes(orjson.dumps(meta, option=orjson.OPT_SORT_KEYS) + b"\n")
        before, sent = tree(run_dir), dict(fake.created)
        assert len(sent) == 1
        capsys.readouterr()

        assert main(["resume", str(run_dir), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "kept its client order ids in memory" in err
        assert "could send orders the venue already has a second time" in err
        assert tree(run_dir) == before
        assert dict(fake.created) == sent
        assert events(run_dir, "ORDER_SUBMITTED") == []
        assert "kept its client order ids in memory" in (run_status(run_dir).resume_problem or "")


class TestResumeWithoutCredentials:
    """A venue run's resume builds its broker, and asks the venue once, before it changes
    anything.

    Bug: ``resume`` of a crashed ``ccxt:binance`` run with ``LIVESESSION_BINANCE_API_KEY``
    unset exited 2 naming the variable, but had already cut the run back to its checkpoint
    (the events after it moved to ``events.jsonl.torn``): ``status`` no longer showed the
    position the crashed run's fill had left at the venue.
    """

    def test_refused_with_nothing_changed(self, fake, tmp_path, capsys, monkeypatch):
        """Exit 2, one line naming the variable, the run unchanged and nothing requested;
        with the key back, the resume finishes the run and sends no order twice."""
        run_dir = tmp_path / "nokey"
        assert crashed_dryrun(fake, dryrun_args(tmp_path, "nokey", STEPS), "after_send:2") == -9
        before, sent, asked = tree(run_dir), dict(fake.created), len(fake.requests)
        shown = run_status(run_dir).positions_after_checkpoint
        assert shown == {"BTC/USDT": "0.010"}, shown
        key = os.environ["LIVESESSION_BINANCE_API_KEY"]
        monkeypatch.delenv("LIVESESSION_BINANCE_API_KEY")
        capsys.readouterr()

        assert main(["resume", str(run_dir), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "needs environment variable(s) LIVESESSION_BINANCE_API_KEY" in err
        # dryrun's advice, "or run with --broker mock", which resume refuses: not here
        assert err.endswith(
            ": set them (see .env.example), then resume again; nothing was changed\n"
        )
        assert tree(run_dir) == before
        assert run_status(run_dir).positions_after_checkpoint == shown
        assert (dict(fake.created), len(fake.requests)) == (sent, asked)

        monkeypatch.setenv("LIVESESSION_BINANCE_API_KEY", key)
        assert main(["resume", str(run_dir), "-q"]) == 0
        assert len(events(run_dir, "ORDER_SUBMITTED")) == len(fake.created) > len(sent)

    def test_status_says_resume_needs_the_credentials(self, fake, tmp_path, capsys, monkeypatch):
        """Bug: `status` of a crashed venue run said `resumable yes` and `next  continue it:
        livesession resume DIR` with the key unset where it ran, and that resume refused.
        Its `next` now names the variables resume needs set (never their values), in the
        same words whoever runs it: with the key set or not."""
        run_dir = tmp_path / "creds"
        assert crashed_dryrun(fake, dryrun_args(tmp_path, "creds", STEPS), "after_send:2") == -9
        variables = ("LIVESESSION_BINANCE_API_KEY", "LIVESESSION_BINANCE_API_SECRET")
        said = (
            f"continue it: livesession resume {run_dir}; resume needs the credential "
            f"variables {', '.join(variables)} set in its environment (the run's broker is ccxt)"
        )
        values = [os.environ[name] for name in variables]
        capsys.readouterr()
        assert main(["status", str(run_dir)]) == 6
        with_key = capsys.readouterr().out
        monkeypatch.delenv("LIVESESSION_BINANCE_API_KEY")
        assert main(["status", str(run_dir)]) == 6
        # The same words, but for the wall clock's "(0.1 s ago" of the last write.
        ago = re.compile(r"\(\d+(\.\d+)? s ago")
        assert ago.sub("(ago", capsys.readouterr().out) == ago.sub("(ago", with_key)
        assert ago.search(with_key)  # the one figure told apart is there to tell apart
        assert f"next        {said}\n" in with_key, with_key
        assert not [value for value in values if value in with_key]
        found = run_status(run_dir)
        assert (found.resumable, found.credentials) == (True, variables)
        assert found.to_json()["next"] == said
        monkeypatch.setenv("LIVESESSION_BINANCE_API_KEY", values[0])
        assert main(["resume", str(run_dir), "-q"]) == 0  # as said: it finishes the run

    def test_refused_when_the_venue_refuses_the_keys(self, fake, tmp_path, capsys, monkeypatch):
        """Keys the venue refuses (a revoked testnet key): exit 2 naming the variables, the
        run unchanged and no order sent. It resumed, every call of it failed AUTH, it halted
        and sealed COMPLETED "flat, no open orders", exit 0."""
        run_dir = tmp_path / "badkey"
        assert crashed_dryrun(fake, dryrun_args(tmp_path, "badkey", STEPS), "after_send:2") == -9
        before, sent = tree(run_dir), dict(fake.created)
        secret = os.environ["LIVESESSION_BINANCE_API_SECRET"]
        monkeypatch.setenv("LIVESESSION_BINANCE_API_SECRET", "revoked-binance-test-secret")
        capsys.readouterr()

        assert main(["resume", str(run_dir), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "the venue refuses the credentials of ccxt:binance" in err
        assert "AuthenticationError: code -1022" in err
        assert "check LIVESESSION_BINANCE_API_KEY, LIVESESSION_BINANCE_API_SECRET" in err
        assert "revoked-binance-test-secret" not in err
        assert tree(run_dir) == before
        assert dict(fake.created) == sent
        assert fake.count("POST", "/api/v3/order") == len(sent)

        monkeypatch.setenv("LIVESESSION_BINANCE_API_SECRET", secret)
        assert main(["resume", str(run_dir), "-q"]) == 0
        assert len(events(run_dir, "ORDER_SUBMITTED")) == len(fake.created) > len(sent)


def desk_venue(cfg, run_dir):
    """A desk's factory building livesession's ccxt sandbox broker itself, its credentials
    read from the environment as the config's are (routed to the fake by ``route_to``)."""
    return _rundir_brokers._ccxt_broker(cfg)


class TestFactoryBuiltVenueCredentials:
    """Bug: a crashed run whose ``broker_factory`` built a ``CcxtSandboxBroker`` resumed
    with keys the venue refuses: the check ``resume`` asks of a config's ``ccxt:`` broker
    before it changes anything was skipped for a factory's broker, so the run was cut back
    to its checkpoint and went on, every call of it failing AUTH."""

    def test_refused_when_the_venue_refuses_the_keys(self, fake, tmp_path, monkeypatch):
        cfg = DryrunConfig(run_id="facvenue", broker="ccxt:binance", steps=60, checkpoint_every=10)
        crash_in_step(create_run(cfg, tmp_path, broker_factory=desk_venue), 45, 60)
        run_dir = tmp_path / "facvenue"
        before, sent = tree(run_dir), dict(fake.created)
        secret = os.environ["LIVESESSION_BINANCE_API_SECRET"]
        monkeypatch.setenv("LIVESESSION_BINANCE_API_SECRET", "revoked-binance-test-secret")

        with pytest.raises(ConfigError) as refused:
            resume_run(run_dir, broker_factory=desk_venue)
        said = str(refused.value)
        assert "\n" not in said
        assert said.startswith(
            "the venue refuses the credentials of ccxt:binance, the broker broker_factory="
            "desk_venue built (rejected by the venue (AuthenticationError: code -1022"
        ), said
        assert said.endswith(
            "check LIVESESSION_BINANCE_API_KEY, LIVESESSION_BINANCE_API_SECRET (or what the "
            "factory reads them from); nothing was changed"
        ), said
        assert "revoked-binance-test-secret" not in said
        assert tree(run_dir) == before
        assert dict(fake.created) == sent

        # A key unset: the factory's own refusal (livesession cannot know which variables
        # a factory reads before it calls it), raised before anything changes too.
        monkeypatch.delenv("LIVESESSION_BINANCE_API_SECRET")
        with pytest.raises(
            ConfigError, match=r"needs environment variable\(s\) LIVESESSION_BINANCE_API_SECRET"
        ):
            resume_run(run_dir, broker_factory=desk_venue)
        assert tree(run_dir) == before

        monkeypatch.setenv("LIVESESSION_BINANCE_API_SECRET", secret)
        with resume_run(run_dir, broker_factory=desk_venue) as session:
            session.run_to_end(60)
        assert len(events(run_dir, "ORDER_SUBMITTED")) == len(fake.created)


class TestSymbolsInCcxtForm:
    """A ``ccxt:`` run's symbol and allowlist are ccxt's ``BASE/QUOTE``: refused naming the
    key. Before, ``symbol = "BTCUSDT"`` (the venue's own market id) was refused as
    ``livesession: error: symbols must be a non-empty list like ["BTC/USDT"]``: no file, no
    line, and a key the config has not."""

    @pytest.mark.parametrize(
        ("text", "said"),
        [
            ('broker = "ccxt:binance"\nsymbol = "BTCUSDT"\n', "symbol 'BTCUSDT'"),
            (
                'broker = "ccxt:binance"\nallowlist = ["BTC/USDT", "ETHUSDT"]\n',
                "allowlist[1] 'ETHUSDT'",
            ),
        ],
        ids=["symbol", "allowlist"],
    )
    def test_a_config_file_names_the_key(self, fake, tmp_path, capsys, text, said):
        config = tmp_path / "desk.toml"
        config.write_text(text)
        out = tmp_path / "out"
        code = main(["dryrun", "--config", str(config), "--out", str(out), "-q"])
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1, err
        assert err.startswith(f"livesession: error: config file {config}, line 2: {said} ")
        assert "is no ccxt market: ccxt:binance trades a symbol written BASE/QUOTE" in err
        assert not out.exists()
        assert fake.requests == []

    def test_the_flag_and_python_are_refused_alike(self, fake, tmp_path, capsys):
        out = tmp_path / "out"
        assert dryrun(out, "flag", STEPS, "--symbol", "BTCUSDT") == 2
        err = capsys.readouterr().err
        assert err.startswith("livesession: error: symbol 'BTCUSDT' is no ccxt market"), err
        assert not out.exists()
        with pytest.raises(ConfigError, match=r"^allowlist\[0\] 'ETHUSDT' is no ccxt market"):
            DryrunConfig(broker="ccxt:okx", allowlist=("ETHUSDT",))
        assert DryrunConfig(broker="mock", symbol="BTCUSDT").symbol == "BTCUSDT"
        assert fake.requests == []
