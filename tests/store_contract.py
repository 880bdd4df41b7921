"""The contract every idempotency store keeps, as reusable test classes.

A backend's test module subclasses these classes under ``Test*`` names and provides the
fixtures they ask for:

- ``store``: an open, empty store (the fixture closes it afterwards; ``close`` must be
  safe to call twice).
- ``make_store``: for durable backends only, a callable that opens a new store object on
  the *same* storage each time it is called.

Example for a new backend::

    from store_contract import DurabilityContract, ReserveContract

    @pytest.fixture(name="store")
    def _store(tmp_path):
        store = PostgresIdempotencyStore(...)
        yield store
        store.close()

    class TestReserve(ReserveContract):
        '''The PostgreSQL store keeps the reserve contract.'''
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livesession._exceptions import Fenced, IdempotencyConflict, LeaseError
from livesession._typing import ListableStore
from livesession.leases import LeaseGrant

__all__ = [
    "CloseContract",
    "CompleteContract",
    "DurabilityContract",
    "FencedWritesContract",
    "GetContract",
    "ListingContract",
    "ModelContract",
    "ReserveContract",
]

FP_A = "fp-" + "a" * 61
FP_B = "fp-" + "b" * 61


class ReserveContract:
    """``reserve`` creates a key once and hands back the same record afterwards."""

    def test_new_key_is_created(self, store):
        """Reserving an unknown key returns a fresh record with created=True."""
        record = store.reserve("k1", FP_A)
        assert (record.key, record.fingerprint, record.outcome, record.created) == (
            "k1",
            FP_A,
            None,
            True,
        )

    def test_same_key_same_fingerprint_returns_existing(self, store):
        """Reserving again with the same fingerprint returns the record with created=False."""
        store.reserve("k1", FP_A)
        again = store.reserve("k1", FP_A)
        assert (again.key, again.fingerprint, again.outcome, again.created) == (
            "k1",
            FP_A,
            None,
            False,
        )

    def test_different_fingerprint_conflicts(self, store):
        """Reserving a key with another fingerprint raises IdempotencyConflict."""
        store.reserve("k1", FP_A)
        with pytest.raises(IdempotencyConflict):
            store.reserve("k1", FP_B)

    def test_conflict_message_names_key_not_fingerprints(self, store):
        """The conflict message names the key and shows neither fingerprint."""
        store.reserve("order-77", FP_A)
        with pytest.raises(IdempotencyConflict) as caught:
            store.reserve("order-77", FP_B)
        message = str(caught.value)
        assert "order-77" in message
        assert FP_A not in message
        assert FP_B not in message
        assert "\n" not in message

    def test_conflict_leaves_record_unchanged(self, store):
        """A refused reservation does not touch the existing record."""
        store.reserve("k1", FP_A)
        store.complete("k1", "FILLED")
        with pytest.raises(IdempotencyConflict):
            store.reserve("k1", FP_B)
        record = store.get("k1")
        assert (record.fingerprint, record.outcome) == (FP_A, "FILLED")

    def test_keys_are_independent(self, store):
        """Different keys may carry the same or different fingerprints."""
        assert store.reserve("k1", FP_A).created
        assert store.reserve("k2", FP_A).created
        assert store.reserve("k3", FP_B).created

    def test_completed_key_returns_outcome(self, store):
        """Reserving a completed key returns its outcome, not a new reservation."""
        store.reserve("k1", FP_A)
        store.complete("k1", "FILLED")
        again = store.reserve("k1", FP_A)
        assert (again.outcome, again.created) == ("FILLED", False)

    def test_keys_are_case_and_unicode_exact(self, store):
        """Keys compare exactly: case and non-ASCII characters matter."""
        assert store.reserve("Key", FP_A).created
        assert store.reserve("key", FP_B).created
        assert store.reserve("clé-✓", FP_A).created
        assert store.get("clé-✓").fingerprint == FP_A

    @pytest.mark.parametrize(("key", "fingerprint"), [("", FP_A), ("k1", "")])
    def test_empty_key_or_fingerprint_is_refused(self, store, key, fingerprint):
        """An empty key or fingerprint raises ValueError and reserves nothing."""
        with pytest.raises(ValueError, match="must not be empty"):
            store.reserve(key, fingerprint)
        assert store.get("k1") is None


class CompleteContract:
    """``complete`` records an outcome for a reserved key only."""

    def test_outcome_is_visible(self, store):
        """After complete, get and reserve both show the outcome."""
        store.reserve("k1", FP_A)
        store.complete("k1", "FILLED")
        assert store.get("k1").outcome == "FILLED"
        assert store.reserve("k1", FP_A).outcome == "FILLED"

    def test_unknown_key_is_an_error(self, store):
        """Completing a key that was never reserved raises KeyError naming the key."""
        with pytest.raises(KeyError, match="ghost"):
            store.complete("ghost", "FILLED")
        assert store.get("ghost") is None

    def test_later_outcome_replaces_earlier(self, store):
        """A second complete replaces the outcome (e.g. UNKNOWN, then FILLED after lookup)."""
        store.reserve("k1", FP_A)
        store.complete("k1", "UNKNOWN")
        store.complete("k1", "FILLED")
        assert store.get("k1").outcome == "FILLED"

    def test_other_keys_untouched(self, store):
        """Completing one key leaves the others open."""
        store.reserve("k1", FP_A)
        store.reserve("k2", FP_A)
        store.complete("k1", "FILLED")
        assert store.get("k2").outcome is None

    @pytest.mark.parametrize(
        ("key", "outcome", "error", "said"),
        [
            ("", "FILLED", ValueError, "key must not be empty"),
            (7, "FILLED", TypeError, "key must be a str, got int"),
            ("k1", "", ValueError, "outcome must not be empty"),
            ("k1", 7, TypeError, "outcome must be a str, got int"),
        ],
    )
    def test_bad_arguments_are_refused(self, store, key, outcome, error, said):
        """An empty or non-string key or outcome is refused and records nothing."""
        store.reserve("k1", FP_A)
        with pytest.raises(error, match=said):
            store.complete(key, outcome)
        assert store.get("k1").outcome is None


class GetContract:
    """``get`` reads without reserving."""

    def test_unknown_key_is_none(self, store):
        """get on an unknown key returns None and does not reserve it."""
        assert store.get("k1") is None
        assert store.reserve("k1", FP_A).created

    def test_known_key_is_not_created(self, store):
        """get returns the stored record with created=False."""
        store.reserve("k1", FP_A)
        record = store.get("k1")
        assert (record.key, record.fingerprint, record.outcome, record.created) == (
            "k1",
            FP_A,
            None,
            False,
        )

    @pytest.mark.parametrize(
        ("key", "error", "said"),
        [("", ValueError, "key must not be empty"), (7, TypeError, "key must be a str, got int")],
    )
    def test_bad_key_is_refused(self, store, key, error, said):
        """An empty or non-string key is refused, not looked up."""
        with pytest.raises(error, match=said):
            store.get(key)


class ListingContract:
    """``reservations`` lists every key held (``ListableStore``): a resume looks them up."""

    def test_an_empty_store_lists_nothing(self, store):
        """A store is a ListableStore, and one with no key lists none."""
        assert isinstance(store, ListableStore)
        assert store.reservations() == ()

    def test_every_key_with_its_fingerprint_and_outcome_by_key(self, store):
        """Each reserved key once, sorted, with what it was reserved for and its outcome."""
        store.reserve("k2", FP_B)
        store.reserve("k1", FP_A)
        store.reserve("k3", FP_A)
        store.complete("k1", "UNKNOWN")
        store.complete("k1", "adopted")
        store.reserve("k2", FP_B)  # asked again: still one key
        listed = [(r.key, r.fingerprint, r.outcome, r.created) for r in store.reservations()]
        assert listed == [
            ("k1", FP_A, "adopted", False),
            ("k2", FP_B, None, False),
            ("k3", FP_A, None, False),
        ]

    def test_the_listing_is_what_get_answers(self, store):
        """Every listed record equals ``get``'s for its key."""
        for index in range(20):
            store.reserve(f"key-{index}", FP_A if index % 2 else FP_B)
            if index % 3 == 0:
                store.complete(f"key-{index}", f"OUT{index}")
        listed = store.reservations()
        assert len(listed) == 20
        assert list(listed) == [store.get(record.key) for record in listed]


class CloseContract:
    """``close`` releases the store."""

    def test_close_twice_is_harmless(self, store):
        """Calling close twice raises nothing."""
        store.reserve("k1", FP_A)
        store.close()
        store.close()


_keys = st.sampled_from(["a", "b", "c", "d"])
_fingerprints = st.sampled_from([FP_A, FP_B])
_outcomes = st.sampled_from(["FILLED", "REJECTED", "UNKNOWN"])
_operations = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), _keys, _fingerprints),
        st.tuples(st.just("complete"), _keys, _outcomes),
        st.tuples(st.just("get"), _keys, st.just("")),
    ),
    max_size=12,
)
_namespaces = itertools.count()


class ModelContract:
    """Any sequence of operations behaves like a plain dict of (fingerprint, outcome)."""

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(operations=_operations)
    def test_matches_dict_model(self, store, operations):
        """Every answer and every error matches what a dict-based model predicts."""
        # The store outlives the examples, so each example works in its own key space.
        prefix = f"ex{next(_namespaces)}-"
        model: dict[str, tuple[str, str | None]] = {}
        for op, short_key, arg in operations:
            key = prefix + short_key
            if op == "reserve":
                expected = model.get(key)
                if expected is not None and expected[0] != arg:
                    with pytest.raises(IdempotencyConflict):
                        store.reserve(key, arg)
                    continue
                record = store.reserve(key, arg)
                assert record.created == (expected is None)
                model.setdefault(key, (arg, None))
                assert (record.fingerprint, record.outcome) == model[key]
            elif op == "complete":
                if key not in model:
                    with pytest.raises(KeyError):
                        store.complete(key, arg)
                    continue
                store.complete(key, arg)
                model[key] = (model[key][0], arg)
            else:
                record = store.get(key)
                if key not in model:
                    assert record is None
                else:
                    assert (record.fingerprint, record.outcome, record.created) == (
                        *model[key],
                        False,
                    )


class DurabilityContract:
    """What a durable store promised survives closing and reopening it."""

    def test_reservations_survive_reopen(self, make_store):
        """A reopened store returns the reserved key with created=False."""
        first = make_store()
        first.reserve("k1", FP_A)
        first.close()
        second = make_store()
        try:
            again = second.reserve("k1", FP_A)
            assert (again.fingerprint, again.created) == (FP_A, False)
        finally:
            second.close()

    def test_outcomes_survive_reopen(self, make_store):
        """The last recorded outcome is read back after reopening."""
        first = make_store()
        first.reserve("k1", FP_A)
        first.complete("k1", "UNKNOWN")
        first.complete("k1", "FILLED")
        first.reserve("k2", FP_B)
        first.close()
        second = make_store()
        try:
            assert second.get("k1").outcome == "FILLED"
            assert second.get("k2").outcome is None
            assert second.get("k3") is None
        finally:
            second.close()

    def test_conflict_survives_reopen(self, make_store):
        """After reopening, the old fingerprint still guards the key."""
        first = make_store()
        first.reserve("k1", FP_A)
        first.close()
        second = make_store()
        try:
            with pytest.raises(IdempotencyConflict):
                second.reserve("k1", FP_B)
        finally:
            second.close()

    def test_the_listing_survives_reopen(self, make_store):
        """A reopened store lists the keys, fingerprints and outcomes it held."""
        first = make_store()
        first.reserve("k2", FP_B)
        first.reserve("k1", FP_A)
        first.complete("k1", "submitted")
        first.close()
        second = make_store()
        try:
            listed = [(r.key, r.fingerprint, r.outcome) for r in second.reservations()]
            assert listed == [("k1", FP_A, "submitted"), ("k2", FP_B, None)]
        finally:
            second.close()

    def test_many_keys_survive_reopen(self, make_store):
        """Hundreds of keys, each with its outcome, all come back."""
        first = make_store()
        for index in range(300):
            first.reserve(f"k{index}", FP_A if index % 2 else FP_B)
            if index % 3 == 0:
                first.complete(f"k{index}", f"OUT{index}")
        first.close()
        second = make_store()
        try:
            for index in range(300):
                record = second.get(f"k{index}")
                assert record.fingerprint == (FP_A if index % 2 else FP_B)
                assert record.outcome == (f"OUT{index}" if index % 3 == 0 else None)
        finally:
            second.close()


class CheckpointContract:
    """What every checkpoint store keeps: whole replacement, exact read-back, durability.

    Fixtures: ``checkpoints`` (an open store with nothing saved) and ``make_checkpoints``
    (opens a new store object on the same storage each call).
    """

    def test_is_a_checkpoint_store(self, checkpoints):
        """The store satisfies the CheckpointStore protocol."""
        from livesession import CheckpointStore

        assert isinstance(checkpoints, CheckpointStore)

    def test_nothing_saved_loads_none(self, checkpoints):
        """A store with nothing saved answers None."""
        assert checkpoints.load() is None

    def test_round_trip_is_exact(self, checkpoints):
        """What was saved comes back equal: nesting, unicode, big integers, nulls, booleans."""
        state = {
            "steps": 12,
            "ts_sim": 1_767_225_600_000_000_000,
            "book": {"cash": "99571.80630", "open": [{"cid": "lsabc", "acked": True}]},
            "note": "zürich ✓",
            "none": None,
        }
        checkpoints.save(state)
        assert checkpoints.load() == state

    def test_save_replaces_the_whole_checkpoint(self, checkpoints):
        """A later save replaces the earlier one whole; no key of the old one survives."""
        checkpoints.save({"a": 1, "b": 2})
        checkpoints.save({"c": 3})
        assert checkpoints.load() == {"c": 3}

    def test_survives_reopen(self, make_checkpoints):
        """A new store object on the same storage loads the last saved checkpoint."""
        first = make_checkpoints()
        first.save({"steps": 7})
        assert make_checkpoints().load() == {"steps": 7}

    def test_unserialisable_is_refused_and_keeps_the_previous(self, checkpoints):
        """A value JSON cannot hold raises CheckpointError and leaves the last checkpoint."""
        from decimal import Decimal

        from livesession import CheckpointError

        checkpoints.save({"steps": 1})
        with pytest.raises(CheckpointError):
            checkpoints.save({"cash": Decimal("1.5")})
        assert checkpoints.load() == {"steps": 1}


FENCE_T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in epoch nanoseconds
FENCE_TTL = 30_000_000_000
PAIR = ("acct", "strat")


class _Holders:
    """Takes the ("acct", "strat") lease in turn: each holder after the last one expired."""

    def __init__(self, lease):
        self.lease = lease
        self.now = FENCE_T0

    def take(self, holder):
        grant = self.lease.acquire(holder, self.now, FENCE_TTL)
        assert grant is not None, f"{holder} could not take the lease"
        self.now += 2 * FENCE_TTL  # whoever comes next finds it expired
        return grant


class FencedWritesContract:
    """A fenced store: writes go through under the lease's own token only.

    Fixtures: ``make_store`` and ``make_checkpoints`` (new store objects on the same
    storage each call) and ``make_lease`` (``make_lease(account, strategy)``: a
    ``SessionLease`` that the stores' fence reads, e.g. one table of the same database).
    A refused write raises ``Fenced`` (a ``LeaseError``) and writes nothing.
    """

    @pytest.fixture(name="holders")
    def _holders(self, make_lease):
        return _Holders(make_lease(*PAIR))

    def test_the_holders_token_writes(self, make_store, holders):
        """Under the lease's current token, reserve and complete work as unfenced ones do."""
        store = make_store()
        store.fence_with(holders.take("a"))
        assert store.reserve("k1", FP_A).created
        assert not store.reserve("k1", FP_A).created
        store.complete("k1", "submitted")
        assert store.get("k1").outcome == "submitted"

    def test_an_older_token_is_refused_and_writes_nothing(self, make_store, holders):
        """Once a newer holder exists, reserve and complete raise Fenced; nothing changes."""
        old = make_store()
        first = holders.take("a")
        old.fence_with(first)
        old.reserve("k1", FP_A)
        second = holders.take("b")
        with pytest.raises(Fenced) as refused:
            old.reserve("k2", FP_A)
        assert (refused.value.fence, refused.value.newest) == (first.token, second.token)
        assert isinstance(refused.value, LeaseError)
        with pytest.raises(Fenced):
            old.reserve("k1", FP_A)  # an existing key too: the answer could lead to a send
        with pytest.raises(Fenced):
            old.complete("k1", "submitted")
        reader = make_store()
        assert reader.get("k2") is None
        assert reader.get("k1").outcome is None

    def test_the_refusal_names_the_pair_and_the_tokens(self, make_store, holders):
        """One line: the account, the strategy, both tokens and LEASE_LOST."""
        old = make_store()
        old.fence_with(holders.take("a"))
        holders.take("b")
        with pytest.raises(Fenced) as refused:
            old.reserve("k1", FP_A)
        message = str(refused.value)
        assert "\n" not in message
        for part in ("'acct'", "'strat'", "fence 2 > 1", "LEASE_LOST"):
            assert part in message

    def test_the_newer_holder_writes_while_the_older_is_refused(self, make_store, holders):
        """Two stores on the same namespace: the newer grant's writes go through."""
        old, new = make_store(), make_store()
        old.fence_with(holders.take("a"))
        new.fence_with(holders.take("b"))
        assert new.reserve("k1", FP_A).created
        new.complete("k1", "submitted")
        with pytest.raises(Fenced):
            old.complete("k1", "rejected:LATE")
        assert new.get("k1").outcome == "submitted"

    def test_a_newer_token_than_the_lease_is_refused(self, make_store, holders):
        """A token newer than the lease's own is what a reset lease table leaves a writer
        (the next holder starts again at 1): it is refused, as an older one is."""
        grant = holders.take("a")
        ahead = LeaseGrant(
            account=grant.account,
            strategy=grant.strategy,
            holder_id=grant.holder_id,
            token=grant.token + 5,
            ttl_ns=grant.ttl_ns,
            expires_ns=grant.expires_ns,
        )
        store = make_store()
        store.fence_with(ahead)
        with pytest.raises(Fenced) as refused:
            store.reserve("k1", FP_A)
        assert (refused.value.fence, refused.value.newest) == (ahead.token, grant.token)
        assert make_store().get("k1") is None

    def test_a_released_lease_still_fences(self, make_store, holders):
        """Release keeps the token: the superseded holder stays refused afterwards."""
        old = make_store()
        old.fence_with(holders.take("a"))
        newer = holders.take("b")
        holders.lease.release(newer)
        with pytest.raises(Fenced):
            old.reserve("k1", FP_A)

    def test_other_pairs_do_not_fence(self, make_store, make_lease, holders):
        """Only the grant's own (account, strategy) lease counts."""
        store = make_store()
        store.fence_with(holders.take("a"))
        other = _Holders(make_lease("acct", "other-strat"))
        for n in range(3):
            other.take(f"o{n}")
        assert store.reserve("k1", FP_A).created

    def test_an_unfenced_store_ignores_the_lease(self, make_store, holders):
        """Without fence_with a store writes as it always did, whatever the lease's token."""
        holders.take("a")
        holders.take("b")
        store = make_store()
        assert store.reserve("k1", FP_A).created
        store.complete("k1", "submitted")

    def test_checkpoint_saves_are_fenced(self, make_checkpoints, holders):
        """A superseded holder's save raises Fenced and the stored checkpoint stays."""
        old = make_checkpoints()
        old.fence_with(holders.take("a"))
        old.save({"steps": 1})
        new = make_checkpoints()
        new.fence_with(holders.take("b"))
        with pytest.raises(Fenced):
            old.save({"steps": 2})
        assert new.load() == {"steps": 1}
        new.save({"steps": 3})
        assert old.load() == {"steps": 3}
