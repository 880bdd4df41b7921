"""One set of secret patterns: what the evidence scan flags, redaction removes, and back."""

from __future__ import annotations

import time
from decimal import Decimal

import orjson
import pytest

from livesession import DryrunConfig, LiveSessionOrchestrator, OrderIntent, Side, create_run
from livesession._domain.alerts import ALERT_ENV
from livesession._support import secrets
from livesession._support.secrets import (
    MIN_ENV_SECRET,
    environment_secrets,
    find_secrets,
    is_secret_name,
    redact,
    redact_text,
    take_environment_secrets,
)
from livesession.evidence import scan_secrets

# (kind, text, the secret value that must not survive redaction)
PLANTED = [
    ("assigned_secret", "LIVESESSION_BINANCE_API_SECRET=sk_live_abc", "sk_live_abc"),
    ("assigned_secret", "export LIVESESSION_OKX_API_KEY=Zq81mVbX2kP0", "Zq81mVbX2kP0"),
    ("assigned_secret", "MY_SECRET=hunter2hunter2", "hunter2hunter2"),
    ("assigned_secret", "password=Tr0ub4dor3", "Tr0ub4dor3"),
    ("assigned_secret", "db.password: 'correct horse'", "correct horse"),
    ("assigned_secret", '{"client_secret": "c5-d0n7-l34k"}', "c5-d0n7-l34k"),
    ("assigned_secret", 'exchange api_key = "Zq81mVbX2kP0sL9dQw3e"', "Zq81mVbX2kP0sL9dQw3e"),
    (
        "private_key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx7\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAx7",
    ),
    ("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", "b3BlbnNzaC1rZXk"),
    ("url_password", "postgresql://user:pass@host/db", "pass@"),
    ("url_password", "connect postgres://:s3cr3t%40x@127.0.0.1:5432/db failed", "s3cr3t"),
    ("bearer_token", "Authorization: Bearer abc.def", "abc.def"),
    ("bearer_token", "curl -H 'authorization: bearer abcdefgh' https://x", "abcdefgh"),
    ("bearer_token", "sent Bearer eyJhbGciOi.eyJzdWIi.SflKxwRJ", "eyJhbGciOi"),
    (
        "webhook_url",
        "alert to https://hooks.slack.com/services/T000/B000/XXXX now",
        "T000/B000/XXXX",
    ),
    ("webhook_url", "https://discord.com/api/webhooks/123/abcDEF", "123/abcDEF"),
    (
        "webhook_url",
        "https://example.webhook.office.com/webhookb2/0a1b2c3d@4e5f/IncomingWebhook/9z",
        "0a1b2c3d",
    ),
    ("webhook_url", "POST https://ci.example.com/hooks/9f8e7d6c5b4a3928", "9f8e7d6c5b4a3928"),
    ("aws_access_key", "key id AKIAIOSFODNN7EXAMPLE in use", "AKIAIOSFODNN7EXAMPLE"),
    # A request's signature, as ccxt (and requests under it) quote a signed URL in their
    # errors, or a venue's signature header: before, a traceback of a broker error in the
    # session log kept it, and the request could be sent again while its timestamp held.
    (
        "request_signature",
        (
            "binance GET https://testnet.binance.vision/api/v3/order?timestamp=1767225600020"
            "&symbol=BTCUSDT&signature=2726a22549c16bbcdbf9b85f015b96baf3bddc23155576f5d6"
            " 503 Service Unavailable"
        ),
        "2726a22549c16bbcdbf9",
    ),
    ("request_signature", "X-BAPI-SIGN: 3f2a9b8c7d6e5f4a3b2c1d0e", "3f2a9b8c7d6e5f4a3b2c1d0e"),
    (
        "request_signature",
        '{"OK-ACCESS-SIGN": "aGVsbG8gd29ybGQgMTIzNDU2Nzg5MA=="}',
        "aGVsbG8gd29ybGQgMTIzNDU2Nzg5MA",
    ),
    # Prefixed tokens under no secret name (a strategy's exception message, say): before,
    # neither redaction nor the evidence's scan knew them.
    (
        "provider_token",
        "cannot reach pricing with ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ),
    ("provider_token", "slack xoxb-123456789012-abcdefABCDEF failed", "xoxb-123456789012"),
    ("provider_token", "charge with sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc"),
    (
        "provider_token",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fw expired",
        "SflKxwRJSMeKKF2QT4fw",
    ),
]

# Texts that name secrets, keys, tokens or URLs but hold none.
LOOK_ALIKES = [
    "SECRET_SANTA=yes",
    "its signature: make_strategy(strategy_id, lookback)",
    "Signature for this request is not valid.",
    "design=abcdef0123456789abcdef0",
    "sign: -1",
    "order side sign=+1 short_signal=0123456789abcdef",
    "api_key_count=3",
    "we rotated keys; api_key_count=3 in prose",
    "password_policy: strict",
    "passwordless=true",
    "password=none",
    "api_key=${LIVESESSION_BINANCE_API_KEY}",
    "password=<your password>",
    "LIVESESSION_BINANCE_API_SECRET=***",
    # Redacted, then written as JSON: the escape after *** is not part of a value (the
    # evidence's scan of a session log with a redacted traceback used to fail on these).
    '{"traceback": "raise RuntimeError(\\"state broke token=***\\")"}',
    '{"message": "login failed: password=***\\nretrying"}',
    '{"password": "***"}',
    "postgresql://user@host/db",
    "postgresql://host:5432/db",
    "postgresql://user:***@host/db",
    "use a Bearer token in the Authorization header",
    "Bearer authentication.",
    "Authorization: Bearer ***",
    "https://example.com/docs/page?q=1#top",
    "https://docs.github.com/en/webhooks/webhook-events-and-payloads",
    "https://api.slack.com/messaging/webhooks",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----",
    "the token bucket refilled to 10",
    "idempotency key cid-000042 reused",
    "AKIA is a prefix",
    "fence",
    "ghp_short",
    "the xox- prefix marks Slack tokens",
    "sk_live_ is Stripe's prefix",
    "eyJ alone is not a token",
]


class TestPlanted:
    @pytest.mark.parametrize(("kind", "text", "value"), PLANTED)
    def test_scan_flags_it(self, kind, text, value):
        """The scan names the secret's kind."""
        assert find_secrets(text) == [kind]

    @pytest.mark.parametrize(("kind", "text", "value"), PLANTED)
    def test_redaction_removes_it_and_then_scans_clean(self, kind, text, value):
        """Redaction drops the value, keeps the context, and leaves nothing to flag."""
        cleaned = redact_text(text)
        assert value not in cleaned, kind
        assert "***" in cleaned
        assert find_secrets(cleaned) == []
        assert redact_text(cleaned) == cleaned

    def test_scan_over_run_files_reports_lines_not_values(self, tmp_path):
        """scan_secrets finds each planted line in a file and never repeats the value."""
        lines = [text.replace("\n", " ") for _, text, _ in PLANTED]
        (tmp_path / "notes.txt").write_text("\n".join(["ok", *lines]) + "\n")
        findings = scan_secrets(tmp_path, environ={})
        expected = [f"notes.txt:{n}: {kind}" for n, (kind, _, _) in enumerate(PLANTED, start=2)]
        assert findings == expected
        assert not any(value in f for f in findings for _, _, value in PLANTED)

    def test_nested_payload_is_redacted(self):
        """Strings anywhere in a payload are redacted; secret-named keys lose their value."""
        payload = {"note": ["LIVESESSION_BINANCE_API_SECRET=sk_live_abc"], "api_key": "x"}
        assert redact(payload) == {"note": ["LIVESESSION_BINANCE_API_SECRET=***"], "api_key": "***"}


class TestLookAlikes:
    @pytest.mark.parametrize("text", LOOK_ALIKES)
    def test_not_flagged_and_not_changed(self, text):
        """A look-alike is neither a finding nor touched by redaction."""
        assert find_secrets(text) == []
        assert redact_text(text) == text

    def test_scan_over_run_files_is_clean(self, tmp_path):
        """A file of look-alikes scans clean."""
        (tmp_path / "notes.txt").write_text("\n".join(LOOK_ALIKES) + "\n")
        assert scan_secrets(tmp_path, environ={}) == []


class TestCost:
    def test_signal_texts_skip_the_rules(self):
        """'sign' alone (every SIGNAL text) does not send a text through the rules."""
        assert not secrets.may_hold_secret("SIGNAL: sma crossed, the sign of the spread flipped")
        assert secrets.may_hold_secret("X-BAPI-SIGN: 3f2a9b8c7d6e5f4a3b2c1d0e")

    def test_adversarial_text_costs_one_pass(self):
        """Long texts built to make a pattern retry at every position stay linear.

        Each took seconds at 10 kB (and would take minutes at 50 kB) when a pattern could
        start anywhere inside a long identifier or run to the end of the text from every URL.
        """
        texts = [
            "a_" * 25_000 + "key",
            "a-" * 25_000 + "key",
            "a" * 50_000 + "_secret",
            "password" * 6_000 + "=",
            "Bearer " + "a." * 25_000,
            "https://" * 6_000,
            "x://u:" * 8_000,
            "https://a/hooks/" * 3_000,
            "https://hooks.slack.com/services/" * 1_500,
            "a_" * 25_000 + "signature=",
            "x-sign=" + "a" * 50_000,
        ]
        # This process's CPU time, not the wall clock's: a loaded machine (20 deep on 2
        # cores) stretched the wall time of a fraction of a second's work to 3.5 s of the
        # 5 s bound, while a pattern that retries at every position costs minutes of CPU.
        started = time.process_time()
        for text in texts:
            find_secrets(text)
            redact_text(text)
        assert time.process_time() - started < 5.0


class TestKnownValues:
    """Secrets known by value (the environment's) are found in every spelling a file holds."""

    URL = "http://127.0.0.1:9/services/T000/B000/XyzSECRETtoken123\tops-alerts"

    def test_the_webhook_url_of_the_environment_is_found_as_an_error_quoted_it(self, tmp_path):
        """An error quoting the path by repr, inside a JSON line (the tab as \\\\t)."""
        line = orjson.dumps(
            {"error": f"InvalidURL: URL can't contain control characters. {self.URL[18:]!r}"}
        )
        assert b"XyzSECRETtoken123\\\\tops-alerts" in line
        (tmp_path / "alerts.jsonl").write_bytes(b'{"outcome":"closed"}\n' + line + b"\n")
        findings = scan_secrets(tmp_path, environ={ALERT_ENV: self.URL})
        assert findings == [f"alerts.jsonl:2: value of ${ALERT_ENV}"]

    @pytest.mark.parametrize(
        "text",
        [
            "token XyzSECRETtoken123 alone",  # a piece of the path
            "/services/T000/B000/XyzSECRETtoken123%09ops-alerts",  # percent-encoded
            "http://127.0.0.1:9/services/T000/B000/XyzSECRETtoken123\tops-alerts",  # as written
        ],
    )
    def test_any_spelling_or_piece_of_the_path_is_found(self, tmp_path, text):
        (tmp_path / "session.log.jsonl").write_bytes(orjson.dumps({"msg": text}) + b"\n")
        findings = scan_secrets(tmp_path, environ={ALERT_ENV: self.URL})
        assert findings == [f"session.log.jsonl:1: value of ${ALERT_ENV}"]

    def test_an_env_secret_escaped_by_json_is_found(self, tmp_path):
        secret = 'pa"ss\\word-123'
        (tmp_path / "events.jsonl").write_bytes(orjson.dumps({"note": secret}) + b"\n")
        findings = scan_secrets(tmp_path, environ={"DESK_API_SECRET": secret})
        assert findings == ["events.jsonl:1: value of $DESK_API_SECRET"]

    DSN = "postgresql://deskrole:S3cr3tPWxyzLEAK@127.0.0.1:55432/deskdb"
    DSN_ENV = "LIVESESSION_PG_DSN"

    @pytest.mark.parametrize(
        ("dsn", "text"),
        [
            (DSN, "connection to deskrole:S3cr3tPWxyzLEAK@127.0.0.1 failed"),  # the userinfo
            (DSN, "password authentication failed: S3cr3tPWxyzLEAK"),  # the bare password
            (DSN, f"as configured: {DSN}"),  # whole
            ("postgresql://deskrole:p%40ss%2Fw0rdLEAK@127.0.0.1/deskdb", "pw p@ss/w0rdLEAK"),
            ("postgresql://127.0.0.1/deskdb?user=deskrole&password=QueryPWxyz1", "QueryPWxyz1"),
            (
                "host=127.0.0.1 port=55432 user=deskrole password='S3cr3t PW\\'xyz' dbname=deskdb",
                "the password S3cr3t PW'xyz was refused",
            ),
            ("host=127.0.0.1 password=KeyValuePW9 user=deskrole", "KeyValuePW9 refused"),
        ],
        ids=["userinfo", "password", "whole", "decoded", "query", "quoted", "key-value"],
    )
    def test_the_password_of_a_dsn_is_found_alone(self, tmp_path, dsn, text):
        """A DSN's password, or its ``user:password``, without the rest of the DSN."""
        (tmp_path / "session.log.jsonl").write_bytes(orjson.dumps({"msg": text}) + b"\n")
        findings = scan_secrets(tmp_path, environ={self.DSN_ENV: dsn})
        assert f"session.log.jsonl:1: value of ${self.DSN_ENV}" in findings

    def test_a_short_dsn_password_is_found_only_with_its_user(self, tmp_path):
        """A password too short to search alone is still found as ``user:password``."""
        dsn = "postgresql://deskrole:pw7@127.0.0.1:55432/deskdb"
        (tmp_path / "a.txt").write_text("pw7 deskrole 127.0.0.1 55432 deskdb\n")
        (tmp_path / "b.txt").write_text("login deskrole:pw7@127.0.0.1 failed\n")
        findings = scan_secrets(tmp_path, environ={self.DSN_ENV: dsn})
        assert findings == [f"b.txt:1: value of ${self.DSN_ENV}"]

    def test_a_password_that_is_the_product_s_name_is_searched_with_its_user(
        self, tmp_path, environment
    ):
        """The default role's name as its password: every run directory holds the word
        (``run.json``'s format, ``writer.lock``'s command), so the evidence of a clean run
        said ``value of $LIVESESSION_PG_DSN`` three times and failed, and redaction made
        the CLI's advice ``*** list runs``. The DSN whole and ``user:password`` are found."""
        dsn = "postgresql://livesession:livesession@127.0.0.1:5432/livesession"
        (tmp_path / "run.json").write_text('{"format":"livesession-run/2"}\n')
        (tmp_path / "writer.lock").write_text("pid 7 livesession dryrun\n")
        assert scan_secrets(tmp_path, environ={self.DSN_ENV: dsn}) == []
        environment({self.DSN_ENV: dsn})
        assert redact_text("`livesession list runs` shows them") == (
            "`livesession list runs` shows them"
        )
        (tmp_path / "a.log").write_text(f"as configured: {dsn}\nlogin livesession:livesession@x\n")
        assert scan_secrets(tmp_path, environ={self.DSN_ENV: dsn}) == [
            "a.log:1: url_password",
            f"a.log:1: value of ${self.DSN_ENV}",
            f"a.log:2: value of ${self.DSN_ENV}",
        ]
        assert redact_text(f"as configured: {dsn}") == "as configured: ***"

    def test_short_pieces_of_the_path_are_no_finding(self, tmp_path):
        (tmp_path / "notes.txt").write_text("services ops-alerts T000 B000\n")
        assert scan_secrets(tmp_path, environ={ALERT_ENV: self.URL}) == []


@pytest.fixture(name="environment")
def _environment(monkeypatch):
    """Redaction's environment secrets are only those the test takes; the process's after."""
    monkeypatch.setattr(secrets, "_ENVIRONMENT", {})
    return take_environment_secrets


class TestEnvironmentRedaction:
    """Redaction removes the environment's secrets: the ones the evidence scan looks for."""

    KEY = "Hx7pQ2vL9mZ4kT8w"

    @pytest.mark.parametrize(
        "name",
        ["MYDESK_API_SECRET", "DB_PASSWORD", "WAREHOUSE_DSN", "VAULT_TOKEN", "EXCHANGE_API_KEY"],
    )
    def test_a_secret_named_variable_s_value_is_redacted_in_every_spelling(
        self, tmp_path, environment, name
    ):
        """A key quoted bare matches no pattern: only its variable said it was a secret."""
        env = {name: self.KEY + "\t2", "HOME": "/home/desk"}
        environment(env)
        text = f"login refused for key {self.KEY}\t2 ({self.KEY + chr(9) + '2'!r})"
        assert find_secrets(text) == []
        assert redact_text(text) == "login refused for key *** ('***')"
        line = orjson.dumps({"message": text}) + b"\n"
        (tmp_path / "events.jsonl").write_bytes(line)
        assert scan_secrets(tmp_path, environ=env) == [f"events.jsonl:1: value of ${name}"]
        (tmp_path / "events.jsonl").write_bytes(orjson.dumps({"message": redact_text(text)}))
        assert scan_secrets(tmp_path, environ=env) == []

    @pytest.mark.parametrize("around", ["\n", "\r", " ", "\t", "\r\n"])
    def test_a_secret_with_whitespace_around_it_is_redacted_as_a_program_reads_it(
        self, tmp_path, environment, around
    ):
        """Bug: only the value as written was searched. A secret file's trailing newline (or
        a .env file's \\r) is left out by the program that reads the variable, and a plug-in
        quoting the key it used in an error put it in the audit log (STRATEGY_ERROR), the
        evidence scan finding nothing."""
        env = {"MYDESK_API_SECRET": around + self.KEY + around}
        environment(env)
        text = f"login refused for key {self.KEY} ({self.KEY!r})"
        assert redact_text(text) == "login refused for key *** ('***')"
        (tmp_path / "audit.jsonl").write_bytes(orjson.dumps({"message": text}) + b"\n")
        assert scan_secrets(tmp_path, environ=env) == ["audit.jsonl:1: value of $MYDESK_API_SECRET"]

    @pytest.mark.parametrize(
        ("name", "secret"),
        [
            ("PGPASSWORD", True),
            ("apiKey", True),
            ("clientSecret", True),
            ("X-API-KEY", True),
            ("SSH_AUTH_SOCK", True),
            ("LIVESESSION_PG_DSN", True),
            ("GIT_AUTHOR_NAME", False),
            ("GIT_AUTHOR_EMAIL", False),
            ("XAUTHORITY", False),
            ("tokenizer", False),
        ],
    )
    def test_a_name_is_judged_by_its_parts(self, name, secret):
        """A secret word ends a part of the name; one inside another word (AUTHOR) is none."""
        assert is_secret_name(name) is secret

    def test_a_run_does_not_depend_on_the_machine_s_git_author(
        self, tmp_path, environment, monkeypatch
    ):
        """GIT_AUTHOR_NAME is no secret: its value in a payload is written as it is, so the
        audit's bytes are the same on every machine (they were ``***`` on a machine whose
        author name happened to be the symbol, and evidence elsewhere said FAIL)."""
        environment({})
        monkeypatch.setenv("GIT_AUTHOR_NAME", "BTC/USDT")
        out = tmp_path / "runs"
        create_run(DryrunConfig(run_id="author", steps=20), out).run_to_end(20)
        audit = (out / "author" / "audit.jsonl").read_bytes()
        assert b'"symbol":"BTC/USDT"' in audit
        assert b"***" not in audit

    def test_the_scan_and_redaction_share_one_definition(self, environment):
        """Which variables hold a secret, and how short a value is none: the same for both."""
        env = {
            "SHORT_TOKEN": "x" * (MIN_ENV_SECRET - 1),  # too short to be searched for
            "DESK_TOKEN": "y" * MIN_ENV_SECRET,
            "DESK_USER": "desk-operator-7",  # not named like a secret
            "LIVESESSION_ALERT_WEBHOOK_URL": "https://hooks.example/hooks/T0ken1234567890abc",
        }
        environment(env)
        names = [name for name, _ in environment_secrets(env)]
        assert names == ["DESK_TOKEN", "LIVESESSION_ALERT_WEBHOOK_URL"]
        assert redact_text("x" * (MIN_ENV_SECRET - 1)) == "x" * (MIN_ENV_SECRET - 1)
        assert redact_text("by desk-operator-7") == "by desk-operator-7"
        assert redact_text("user yyyyyyyy") == "user ***"
        assert redact_text("posting to T0ken1234567890abc failed") == "posting to *** failed"

    def test_each_session_takes_the_environment_as_it_is_built(self, environment, monkeypatch):
        """A variable set after the first redaction (a secret fetched from a vault at
        start-up) is redacted from the next session on."""
        environment({})
        assert redact_text(f"key {self.KEY}") == f"key {self.KEY}"
        monkeypatch.setenv("MYDESK_API_SECRET", self.KEY)
        LiveSessionOrchestrator(DryrunConfig(run_id="env")).close()
        assert redact_text(f"key {self.KEY}") == "key ***"

    def test_a_secret_taken_stays_redacted_once_its_variable_is_gone(
        self, environment, monkeypatch
    ):
        """Bug: each session built took the environment's secrets in place of those taken
        before. A host that read its key, removed the variable and built a second session
        switched redaction of that key off for the first one, whose strategy still held it.
        What is taken is never dropped."""
        environment({})
        monkeypatch.setenv("MYDESK_API_SECRET", self.KEY)
        first = LiveSessionOrchestrator(DryrunConfig(run_id="first"))
        monkeypatch.delenv("MYDESK_API_SECRET")
        LiveSessionOrchestrator(DryrunConfig(run_id="second")).close()
        assert redact_text(f"key {self.KEY}") == "key ***"
        environment({"OTHER_TOKEN": "Zq9vLmN3pRt7WxKc"})  # taking more adds to it
        assert redact_text(f"{self.KEY} Zq9vLmN3pRt7WxKc") == "*** ***"
        first.close()


class _Tells:
    """Returns one intent on its third bar, whose ``field`` is ``text``."""

    strategy_id = "tells"

    def __init__(self, field: str, text: str) -> None:
        self.field, self.text, self.bars = field, text, 0

    def on_bar(self, bar, view):
        self.bars += 1
        if self.bars != 3:
            return []
        given = {"symbol": bar.symbol, "reason": "entry", self.field: self.text}
        return [OrderIntent(side=Side.BUY, quantity=Decimal("0.01"), **given)]

    def get_state(self):
        return {"bars": self.bars}

    def set_state(self, state):
        self.bars = state["bars"]


class TestIntentsHoldingSecrets:
    """An intent's symbol and reason are recorded as they are (SIGNAL): one holding a secret
    is the strategy's error, named by its field, never by the value."""

    KEY = "Hx7pQ2vL9mZ4kT8w"
    TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"

    @pytest.mark.parametrize(
        "told",
        [
            ("reason", f"entry with key {KEY}", "the value of $MYDESK_API_SECRET"),
            ("symbol", KEY, "the value of $MYDESK_API_SECRET"),
            ("reason", f"as {TOKEN} said", "a secret (provider_token)"),
        ],
    )
    def test_the_step_fails_naming_the_field(self, tmp_path, environment, monkeypatch, told):
        """Bug: the value was written into events.jsonl (SIGNAL) as the strategy gave it, and
        the run completed: the evidence's secret scan then failed the run's files."""
        field, text, holds = told
        environment({})
        monkeypatch.setenv("MYDESK_API_SECRET", self.KEY)
        out = tmp_path / "runs"
        result = create_run(
            DryrunConfig(run_id="tells", strategy_id="tells", steps=8),
            out,
            strategy=_Tells(field, text),
        ).run_to_end(8)
        said = (
            f"an OrderIntent's {field} holds {holds}: the run records an intent's symbol and "
            "reason (SIGNAL, and the audit), and its files are handed to reviewers: keep "
            "credentials out of intents"
        )
        assert (result.status.value, result.reason) == ("FAILED", "STRATEGY_ERROR")
        assert result.detail == f"ValueError: {said}"
        lines = (out / "tells" / "events.jsonl").read_bytes().splitlines()
        events = [orjson.loads(line) for line in lines]
        assert not [e for e in events if e["event_type"] == "SIGNAL"]
        (error,) = [e["payload"] for e in events if e["event_type"] == "STRATEGY_ERROR"]
        assert error == {"error": "ValueError", "message": said, "step": 3}
        assert scan_secrets(out / "tells", environ={"MYDESK_API_SECRET": self.KEY}) == []
