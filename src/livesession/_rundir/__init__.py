"""Run directories: what they hold, creating one, and resuming a crashed one.

``layout`` (the files and ``run.json``/``config.json``), ``create`` (``create_run``;
``memoryids``: who may keep client order ids in memory), ``resume`` (``resume_run``;
``resumable``: whether it can, asked without changing the run, and its checkpoint read;
``resumecut``: where it cuts the files back to; ``resumerecord``: its ``C2_RESUME``
written out; ``uncut``: the tails put back when it is
refused after that; ``beforecheckpoint``: whether the
record it keeps before the checkpoint is still what the run wrote; ``pastcheckpoint``:
what lies past it that a crash does not explain, for ``status``; ``aftercheckpoint``:
the orders sent after the checkpoint, looked up at the venue; ``catchup``: a simulated
venue brought to the checkpoint; ``keptkeys``: whether the
store still holds the run's keys, and a SQLite one opens; ``drift``: whether
``config.json`` is the config the run traded under; ``identity``: whether it is the
directory the run was created in;
``reseal``: the sealing checkpoint a process did not live to write; ``resumeclock``:
whether this machine's clock reads past a system-clock run's last record),
``rerunnable`` (what a re-run from the config could not repeat: the wall clock, a venue),
``session`` (the one place either builds its session; ``brokerhold``: the broker object it
holds until it closes, refused to another open session), ``backing`` (idempotency store and
lease; ``leaseskew``: a host whose clock is too far off the lease's server's),
``brokers`` (the broker a run trades on), ``alerting`` (the alerts webhook),
``alertlog`` (what ``alerts.jsonl`` says was delivered),
``plugins`` (the run's plug-ins, recorded and checked on resume; ``factory``: the broker
a caller's ``broker_factory`` builds, recorded as such; ``supplied``: how a plug-in given
in-process is named and given again; ``sourcefiles``: where status and resume look
for its code again), ``data`` (the data file
a run reads) and ``venue`` (a venue feed and its journal). What the tools read of a run:
``lock`` (one writer per run; ``holder``: who holds it, and a refusal's words;
``holderread``: who holds it, read without taking the lock;
``dirhold``: its hold on the directory itself, seen when
``writer.lock`` was deleted; ``locallocks``: a mount whose locks are this host's only;
``holderproc``: whether the holder's process is a CLI writer
of the run, or stopped; ``shellrefs``: where this process still refers to the session
holding it, an interactive shell's ``Out[2]`` or ``_``), ``livecut`` (a live run cut at
its last checkpoint),
``seal`` (whether it is sealed; ``leaselost``: how a run that lost its lease says so,
taken over or its lease file or table reset under it), ``watch`` (what its files gained
since a moment;
``onestop``: a stop already under way, which a second ``stop`` waits for; ``unheld``: a
run nothing holds, sealed already, or a ``resume`` of it still loading),
``standing`` (what ``status`` reads beside its state; ``ordersafter``: the orders a
crashed run's events after its checkpoint show open; ``statuswords``: the words it prints
of it; ``statusnext``: what it advises next; ``nextwords``: its advice where a run's reason
decides it; ``refused``: the file the system refused an unsealed run, as its
``metrics.json`` says, and the store whose refused
write stopped a crashed run, as its session log's last line says; ``loggedstops``: the
refused write the session log names before each resume; ``resumes``: how often the
run was resumed, and from where, as its audit log's ``C2_RESUME`` records say;
``stopasked``: the reason its caller gave the stop of a run sealed with none; ``loading``: a
crashed run's ``resume`` that loads it, stopped or not), ``starting`` (a directory that
holds no run yet), ``halts`` (when trading went HALTED), ``flattens`` (what the
wind-down's own flatten closed) and ``exits`` (why each fill happened, and what the
protective exits did: the report's and the evidence's one reading of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._support.lazy import lazy_exports

if TYPE_CHECKING:
    from .brokers import BrokerFactory, open_broker
    from .create import create_run
    from .data import check_run_data
    from .layout import LEASE_DIR, STORES, config_hash, lease_path, read_run_config
    from .resumable import checkpoint_summary, load_checkpoint
    from .resume import resume_run

# Loaded on first use: the read-only tools (verify, report, status) import ``livecut`` and
# ``lock`` from here, and need none of the session machinery that creating a run pulls in.
_BY_MODULE = {
    ".brokers": ("BrokerFactory", "open_broker"),
    ".create": ("create_run",),
    ".data": ("check_run_data",),
    ".layout": ("LEASE_DIR", "STORES", "config_hash", "lease_path", "read_run_config"),
    ".resumable": ("checkpoint_summary", "load_checkpoint"),
    ".resume": ("resume_run",),
}
__getattr__, __dir__ = lazy_exports(
    __name__,
    {name: module for module, names in _BY_MODULE.items() for name in names},
    globals(),
)

__all__ = [
    "LEASE_DIR",
    "STORES",
    "BrokerFactory",
    "check_run_data",
    "checkpoint_summary",
    "config_hash",
    "create_run",
    "lease_path",
    "load_checkpoint",
    "open_broker",
    "read_run_config",
    "resume_run",
]
