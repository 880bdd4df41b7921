"""Retry policy: deterministic backoff with jitter, and the retry loop on an injected clock."""

from __future__ import annotations

import datetime as dt
import time

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livesession._domain.clock import SimClock
from livesession._domain.retry import RetryPolicy, call_with_retry
from livesession._exceptions import ConfigError, OutcomeUnknown, Rejected, Transient

MS = 1_000_000
# RetryPolicy().delay_ns("order-1", n) for n = 1..5; a change here changes every replay.
PINNED_DELAYS = [59_209_674, 139_606_155, 284_516_139, 778_701_150, 1_551_753_882]


@pytest.fixture(name="clock")
def _clock():
    return SimClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


@pytest.fixture(name="no_sleep", autouse=True)
def _no_sleep(monkeypatch):
    def refuse(seconds):
        raise AssertionError("time.sleep must never be called")

    monkeypatch.setattr(time, "sleep", refuse)


class Flaky:
    """A call that raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors, clock=None, cost_ns=0):
        self.errors = list(errors)
        self.attempts = []
        self.raised = []
        self.clock = clock
        self.cost_ns = cost_ns

    def __call__(self, attempt):
        self.attempts.append(attempt)
        if self.clock is not None:
            self.clock.advance(self.cost_ns)
        if self.errors:
            error = self.errors.pop(0)
            self.raised.append(error)
            raise error
        return "ok"


class TestRetryPolicyConfig:
    """The policy is frozen, keyword-only and validated."""

    def test_defaults(self):
        """The defaults are 5 attempts, 100 ms base, 5 s cap, 30 s budget, seed 0."""
        policy = RetryPolicy()
        assert attrs.asdict(policy) == {
            "max_attempts": 5,
            "base_delay_ns": 100 * MS,
            "max_delay_ns": 5_000 * MS,
            "max_elapsed_ns": 30_000 * MS,
            "seed": 0,
        }

    def test_frozen(self):
        """Fields cannot be changed after construction."""
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            RetryPolicy().max_attempts = 9

    def test_keyword_only(self):
        """Positional arguments are refused."""
        with pytest.raises(TypeError):
            RetryPolicy(3)

    @pytest.mark.parametrize(
        ("field", "value", "needle"),
        [
            ("max_attempts", 0, ">= 1"),
            ("max_attempts", -2, ">= 0"),
            ("max_attempts", 2.0, "integer"),
            ("max_attempts", True, "integer"),
            ("base_delay_ns", -1, ">= 0"),
            ("max_delay_ns", "5", "integer"),
            ("max_elapsed_ns", -5, ">= 0"),
            ("seed", 1.5, "integer"),
        ],
    )
    def test_bad_field_is_config_error(self, field, value, needle):
        """A bad value raises ConfigError naming the field and the rule."""
        with pytest.raises(ConfigError) as caught:
            RetryPolicy(**{field: value})
        assert f"RetryPolicy.{field}" in str(caught.value)
        assert needle in str(caught.value)

    def test_cap_below_base_is_config_error(self):
        """max_delay_ns below base_delay_ns raises ConfigError naming both."""
        with pytest.raises(ConfigError, match=r"max_delay_ns .* base_delay_ns"):
            RetryPolicy(base_delay_ns=10, max_delay_ns=5)

    def test_negative_seed_is_allowed(self):
        """Any integer seed is accepted."""
        assert RetryPolicy(seed=-7).seed == -7


class TestDelay:
    """delay_ns is exponential, capped, and jittered deterministically."""

    def test_same_inputs_same_delay(self):
        """The same policy, key and attempt always give the same delay."""
        first = RetryPolicy(seed=3)
        second = RetryPolicy(seed=3)
        assert [first.delay_ns("k", n) for n in range(1, 8)] == [
            second.delay_ns("k", n) for n in range(1, 8)
        ]

    def test_pinned_values(self):
        """The jitter is a fixed function of (seed, attempt, key): these values never change."""
        policy = RetryPolicy()
        assert [policy.delay_ns("order-1", n) for n in range(1, 6)] == PINNED_DELAYS

    def test_bounds_follow_backoff(self):
        """Attempt n waits between half and all of base * 2**(n-1)."""
        policy = RetryPolicy(base_delay_ns=100 * MS, max_delay_ns=10**15)
        for attempt in range(1, 12):
            backoff = 100 * MS * 2 ** (attempt - 1)
            delay = policy.delay_ns("k", attempt)
            assert backoff // 2 <= delay <= backoff

    def test_cap(self):
        """No delay exceeds max_delay_ns, however late the attempt."""
        policy = RetryPolicy(base_delay_ns=100 * MS, max_delay_ns=5_000 * MS)
        for attempt in (7, 8, 50, 10_000):
            assert 2_500 * MS <= policy.delay_ns("k", attempt) <= 5_000 * MS

    def test_jitter_spreads_keys(self):
        """Different keys get different delays for the same attempt."""
        policy = RetryPolicy()
        delays = {policy.delay_ns(f"order-{n}", 3) for n in range(200)}
        assert len(delays) > 150

    def test_seed_changes_jitter(self):
        """Another seed gives another sequence."""
        keys = [f"order-{n}" for n in range(20)]
        assert [RetryPolicy(seed=1).delay_ns(k, 2) for k in keys] != [
            RetryPolicy(seed=2).delay_ns(k, 2) for k in keys
        ]

    def test_zero_base_never_waits(self):
        """A zero base delay gives zero delays."""
        policy = RetryPolicy(base_delay_ns=0, max_delay_ns=0)
        assert [policy.delay_ns("k", n) for n in range(1, 5)] == [0, 0, 0, 0]

    @pytest.mark.parametrize("attempt", [0, -1, 1.0, True])
    def test_bad_attempt(self, attempt):
        """An attempt that is not an integer >= 1 raises ValueError."""
        with pytest.raises(ValueError, match="attempt"):
            RetryPolicy().delay_ns("k", attempt)

    @given(
        base=st.integers(0, 10**12),
        extra=st.integers(0, 10**12),
        seed=st.integers(-(2**70), 2**70),
        key=st.text(),
        attempt=st.integers(1, 10**6),
    )
    def test_always_within_half_and_whole_backoff(self, base, extra, seed, key, attempt):
        """For any policy, key and attempt the delay lies in [backoff // 2, backoff]."""
        policy = RetryPolicy(base_delay_ns=base, max_delay_ns=base + extra, seed=seed)
        backoff = min(base + extra, base * 2 ** min(attempt - 1, 80))
        delay = policy.delay_ns(key, attempt)
        assert backoff // 2 <= delay <= backoff
        assert delay == policy.delay_ns(key, attempt)


class TestCallWithRetry:
    """call_with_retry retries transient failures on the injected clock only."""

    @pytest.fixture(name="policy")
    def _policy(self):
        return RetryPolicy(max_attempts=4, base_delay_ns=100 * MS, max_delay_ns=1_000 * MS)

    def _call(self, fn, policy, clock, **options):
        return call_with_retry(
            fn,
            policy=policy,
            key="order-1",
            wait_ns=clock.advance,
            now_ns=clock.monotonic_ns,
            **options,
        )

    def test_success_needs_no_wait(self, policy, clock):
        """A call that succeeds at once is made once and waits nothing."""
        start = clock.monotonic_ns()
        fn = Flaky()
        assert self._call(fn, policy, clock) == "ok"
        assert fn.attempts == [1]
        assert clock.monotonic_ns() == start

    def test_transient_then_success(self, policy, clock):
        """Transient failures are retried with the policy's delays until the call succeeds."""
        start = clock.monotonic_ns()
        seen = []
        fn = Flaky(Transient("refused"), Transient("dns"))
        result = self._call(fn, policy, clock, on_retry=lambda *args: seen.append(args))
        assert result == "ok"
        assert fn.attempts == [1, 2, 3]
        delays = [policy.delay_ns("order-1", 1), policy.delay_ns("order-1", 2)]
        assert seen == [(1, fn.raised[0], delays[0]), (2, fn.raised[1], delays[1])]
        assert clock.monotonic_ns() - start == sum(delays)

    def test_gives_up_after_max_attempts(self, policy, clock):
        """After max_attempts failures the last error is re-raised unchanged."""
        fn = Flaky(*(Transient(f"refused {n}") for n in range(10)))
        with pytest.raises(Transient) as caught:
            self._call(fn, policy, clock)
        assert fn.attempts == [1, 2, 3, 4]
        assert caught.value is fn.raised[-1]

    def test_single_attempt_policy_never_retries(self, clock):
        """max_attempts=1 makes exactly one call."""
        fn = Flaky(Transient("refused"))
        with pytest.raises(Transient):
            self._call(fn, RetryPolicy(max_attempts=1), clock)
        assert fn.attempts == [1]

    @pytest.mark.parametrize(
        "error",
        [OutcomeUnknown("timeout after send"), Rejected("no funds", reason="INSUFFICIENT_FUNDS")],
        ids=["outcome-unknown", "rejected"],
    )
    def test_unknown_and_rejected_are_not_retried(self, policy, clock, error):
        """OutcomeUnknown and Rejected propagate at once, without waiting."""
        start = clock.monotonic_ns()
        fn = Flaky(error)
        with pytest.raises(type(error)) as caught:
            self._call(fn, policy, clock)
        assert caught.value is error
        assert fn.attempts == [1]
        assert clock.monotonic_ns() == start

    def test_custom_retry_on(self, policy, clock):
        """Errors named in retry_on are retried; others are not."""
        fn = Flaky(ConnectionError("reset"))
        assert self._call(fn, policy, clock, retry_on=(ConnectionError,)) == "ok"
        fn = Flaky(Transient("refused"))
        with pytest.raises(Transient):
            self._call(fn, policy, clock, retry_on=(ConnectionError,))
        assert fn.attempts == [1]

    def test_elapsed_budget_stops_early(self, clock):
        """A wait that would pass max_elapsed_ns is not taken; the last error is raised."""
        policy = RetryPolicy(
            max_attempts=10,
            base_delay_ns=100 * MS,
            max_delay_ns=10_000 * MS,
            max_elapsed_ns=1_000 * MS,
        )
        start = clock.monotonic_ns()
        fn = Flaky(*(Transient("refused") for _ in range(10)))
        with pytest.raises(Transient):
            self._call(fn, policy, clock)
        assert len(fn.attempts) < 10
        assert clock.monotonic_ns() - start <= 1_000 * MS

    def test_time_spent_in_calls_counts(self, clock):
        """Time the calls themselves take counts against max_elapsed_ns."""
        policy = RetryPolicy(
            max_attempts=10, base_delay_ns=1 * MS, max_delay_ns=1 * MS, max_elapsed_ns=500 * MS
        )
        fn = Flaky(*(Transient("slow") for _ in range(10)), clock=clock, cost_ns=200 * MS)
        with pytest.raises(Transient):
            self._call(fn, policy, clock)
        assert fn.attempts == [1, 2, 3]

    def test_retry_on_must_hold_exception_classes(self, policy, clock):
        """A retry_on entry that is not an exception class raises TypeError before calling."""
        fn = Flaky()
        with pytest.raises(TypeError, match="retry_on"):
            self._call(fn, policy, clock, retry_on=("Transient",))
        assert fn.attempts == []

    def test_same_run_same_waits(self, policy):
        """Two identical runs wait identically (the retry schedule is reproducible)."""
        ends = []
        for _ in range(2):
            clock = SimClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            self._call(Flaky(Transient("a"), Transient("b"), Transient("c")), policy, clock)
            ends.append(clock.monotonic_ns())
        assert ends[0] == ends[1]
