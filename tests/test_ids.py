"""stable_id and client order ids (ARTIFACTS.md)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from livesession import client_order_id, stable_id
from livesession._domain.ids import is_valid_run_id


class TestStableId:
    def test_is_sha256_of_canonical_json_of_the_parts(self):
        """stable_id is the first 24 hex of SHA-256 over the sorted-keys, no-space JSON list."""
        parts = ["run", "strat", "BAR", 1, {"b": "2", "a": "1"}]
        canonical = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
        assert stable_id(*parts) == hashlib.sha256(canonical).hexdigest()[:24]

    def test_known_vector(self):
        """A fixed input has a fixed id (guards against silent format changes)."""
        assert (
            stable_id("run_demo_001", "strat_demo", "BAR", 1, {})
            == hashlib.sha256(b'["run_demo_001","strat_demo","BAR",1,{}]').hexdigest()[:24]
        )

    def test_independent_of_hash_seed(self):
        """Different PYTHONHASHSEED values give the same id."""
        code = "from livesession import stable_id; print(stable_id('a', {'x': 1, 'y': [1, 2]}, 3))"
        outputs = {
            subprocess.run(
                [sys.executable, "-c", code],
                env={**os.environ, "PYTHONHASHSEED": seed},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for seed in ("0", "1", "12345")
        }
        assert len(outputs) == 1


class TestClientOrderId:
    def test_format_is_32_alphanumerics(self):
        """Client ids are 1-32 characters of [A-Za-z0-9], accepted by Binance, Bybit and OKX."""
        cid = client_order_id("run", "strat", 7, "main")
        assert len(cid) == 32
        assert cid.isalnum()
        assert cid.isascii()

    def test_deterministic_and_distinct(self):
        """The same (run, strategy, intent, leg) gives the same id; any change gives another."""
        base = client_order_id("run", "strat", 7, "main")
        assert base == client_order_id("run", "strat", 7, "main")
        others = {
            client_order_id("run2", "strat", 7, "main"),
            client_order_id("run", "strat2", 7, "main"),
            client_order_id("run", "strat", 8, "main"),
            client_order_id("run", "strat", 7, "tp"),
        }
        assert base not in others
        assert len(others) == 4


class TestRunId:
    @pytest.mark.parametrize("run_id", ["demo", "run_demo_001", "a.b-c", "x" * 64, "_x"])
    def test_plain_names_are_valid(self, run_id):
        """Plain names of up to 64 characters are run ids."""
        assert is_valid_run_id(run_id)

    @pytest.mark.parametrize(
        "run_id", ["", ".hidden", "..", "a/b", "a\\b", "../x", "x" * 65, "a b", "é"]
    )
    def test_paths_and_odd_names_are_not(self, run_id):
        """Anything that could be a path, or is empty or too long, is refused."""
        assert not is_valid_run_id(run_id)
