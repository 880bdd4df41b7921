"""An alert goes to its webhook's own host: never through a proxy of the environment.

Bug (a service whose unit sets ``http_proxy`` for its package installs): the webhook's
opener was urllib's default, whose ``ProxyHandler`` reads the proxy variables when the
opener is first built, once per process. Every alert, with the webhook's secret URL whole
(``http://.../hooks/TOKEN``), was POSTed to the proxy, which would carry it off the host
the URL names (a loopback relay's ``127.0.0.1`` is the proxy's own then), and a proxy set
or removed later in the process changed nothing: the first one stayed. The opener now has
an empty ``ProxyHandler``: no proxy, whatever the environment says, at any time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from livesession import DryrunConfig, LiveSessionOrchestrator
from livesession._artifacts import webhookhttp
from livesession._artifacts.webhook import WebhookAlertSink
from livesession._domain.runtime_config import Secret
from test_alerts import Webhook

from _helpers import Sinks

if TYPE_CHECKING:
    from collections.abc import Iterator

_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy")


@pytest.fixture
def hooks() -> Iterator[tuple[Webhook, Webhook]]:
    """The webhook, and a loopback 'proxy' that keeps whatever is POSTed to it."""
    hook, proxy = Webhook(), Webhook()
    yield hook, proxy
    hook.close()
    proxy.close()


def _sealed_run(hook: Webhook, tmp_path: Path, run_id: str) -> None:
    """A short session whose seal posts ``RUN_SEALED`` to ``hook``, delivered at its close."""
    sink = WebhookAlertSink(Secret(hook.url), log_path=tmp_path / f"{run_id}.jsonl")
    orch = LiveSessionOrchestrator(
        DryrunConfig(run_id=run_id, steps=3), alerts=sink, **Sinks().kwargs()
    )
    orch.run_to_end(3)


def test_the_environment_s_proxy_carries_no_alert_then_or_later(
    hooks: tuple[Webhook, Webhook], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook, proxy = hooks
    webhookhttp.opener.cache_clear()  # built anew under the proxy set now
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    for name in _PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy.url.rsplit("/hooks/", 1)[0])
    try:
        _sealed_run(hook, tmp_path, "first")
        for name in _PROXY_VARIABLES:  # the environment changes; the process goes on
            monkeypatch.delenv(name)
        _sealed_run(hook, tmp_path, "second")
    finally:
        webhookhttp.opener.cache_clear()
    assert proxy.bodies == []
    assert [(body["run_id"], body["code"]) for body in hook.bodies] == [
        ("first", "RUN_SEALED"),
        ("second", "RUN_SEALED"),
    ]
