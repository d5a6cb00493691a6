"""Contract 11: webhook and SMS gateway URLs that are, or resolve to, loopback, link-local or
private addresses are refused at start and at every send, unless `allow_private: true`.
No test needs the internet: names resolve through /etc/hosts (`localhost`), numeric forms
or the fake resolver `dns`."""

import socket
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path

import httpx
import pytest

from kefu.services.notify.decision import Outcomes
from kefu.services.notify.plan import Notification
from kefu.services.notify.providers import Web, check_sms_gateway
from kefu.shared.destinations import not_public, private_destination
from kefu.shared.policy import Notify, PolicyError, SmsGateway, Webhook, load_policy
from kefu.shared.settings import Settings, SettingsError

SECRET = "0123456789abcdef"
PRIVATE_SMS = "http://10.0.0.9/send"


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A fake resolver: name → addresses; any other name does not resolve."""
    answers: dict[str, list[str]] = {}

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, 0))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not global"),  # shared address space (carrier-grade NAT)
        ("93.184.215.14", None),
        ("::ffff:93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
    ],
)
def test_which_addresses_are_not_public(address: str, kind: str | None) -> None:
    assert not_public(ip_address(address)) == kind


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is loopback"),
        ("http://[::1]/hook", "::1 is loopback"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is link-local"),
        ("http://user@10.0.0.1/hook", "10.0.0.1 is private"),
        ("http://localhost:9000/hook", "localhost resolves to 127.0.0.1, which is loopback"),
        ("http://2130706433/hook", "2130706433 resolves to 127.0.0.1, which is loopback"),
        ("https://93.184.215.14/hook", None),
    ],
)
def test_a_url_is_judged_by_the_addresses_its_host_is_or_resolves_to(
    url: str, refused: str | None
) -> None:
    assert private_destination(url) == refused


def test_a_name_is_refused_when_any_of_its_addresses_is_private(dns) -> None:
    dns["hooks.test"] = ["93.184.215.14", "10.1.2.3"]
    dns["public.test"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert (
        private_destination("https://hooks.test/k")
        == "hooks.test resolves to 10.1.2.3, which is private"
    )
    assert private_destination("https://public.test/k") is None


def test_a_name_that_does_not_resolve_passes_until_it_does(dns) -> None:
    assert private_destination("https://not-yet.test/hook") is None


def policy_file(tmp_path: Path, *hooks: str) -> Path:
    path = tmp_path / "policy.yaml"
    entries = ", ".join(
        f"{{{hook}, events: ['kefu.ticket.*'], secret: {SECRET}}}" for hook in hooks
    )
    path.write_text(f"notify: {{webhooks: [{entries}]}}")
    return path


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://169.254.169.254/hook", "169.254.169.254 is link-local"),
        ("http://[::ffff:127.0.0.1]/hook", "which is loopback"),
        ("http://localhost/hook", "localhost resolves to 127.0.0.1, which is loopback"),
    ],
)
def test_a_policy_with_a_private_webhook_fails_naming_the_entry_and_the_address(
    tmp_path, url: str, complaint: str
) -> None:
    path = policy_file(tmp_path, "url: https://93.184.215.14/ok", f"url: '{url}'")
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert str(path) in str(error.value)
    assert "notify.webhooks.1" in str(error.value)
    assert complaint in str(error.value)
    assert "allow_private: true" in str(error.value)


def test_allow_private_lets_a_webhook_entry_through(tmp_path) -> None:
    path = policy_file(tmp_path, "url: 'http://127.0.0.1:8080/hook', allow_private: true")
    [hook] = load_policy(path).notify.webhooks
    assert hook.allow_private


def test_a_webhook_whose_name_does_not_resolve_yet_loads(tmp_path, dns) -> None:
    [hook] = load_policy(policy_file(tmp_path, "url: https://later.test/hook")).notify.webhooks
    assert not hook.allow_private


def test_a_private_sms_gateway_is_refused_at_start_unless_the_policy_allows_it() -> None:
    with pytest.raises(SettingsError, match=r"KEFU_SMS_URL: 10\.0\.0\.9 is private.*sms_gateway"):
        check_sms_gateway(Settings(sms_url=PRIVATE_SMS), SmsGateway())
    check_sms_gateway(Settings(sms_url=PRIVATE_SMS), SmsGateway(allow_private=True))
    check_sms_gateway(Settings(sms_url=None), SmsGateway())


async def web(gateway: SmsGateway, sent: list[httpx.Request]) -> Web:
    """Notify's web provider, its requests kept in `sent` instead of going out."""

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"id": "r1"})

    provider = Web(Settings(sms_url="http://sms.test/send"), gateway)
    await provider.client.aclose()
    provider.client = httpx.AsyncClient(transport=httpx.MockTransport(receive))
    return provider


async def test_a_send_to_a_name_now_resolving_privately_is_refused_for_good(dns) -> None:
    hook = Webhook(url="https://hooks.test/k", events=["kefu.ticket.*"], secret=SECRET)
    dns["hooks.test"] = ["127.0.0.1"]  # after start: rebound, or it resolves only now
    dns["sms.test"] = ["169.254.169.254"]
    sent: list[httpx.Request] = []
    provider = await web(SmsGateway(), sent)
    outcomes = [
        await provider.webhook(hook, "{}", "e1"),
        await provider.sms("+8613800000000", "hi"),
    ]
    assert sent == []
    assert [(o.sent, o.transient) for o in outcomes] == [(False, False)] * 2
    assert "hooks.test resolves to 127.0.0.1, which is loopback" in outcomes[0].error
    assert "sms.test resolves to 169.254.169.254, which is link-local" in outcomes[1].error
    await provider.close()


async def test_allow_private_sends_to_a_private_address(dns) -> None:
    hook = Webhook(
        url="http://127.0.0.1:9/hook", events=["kefu.ticket.*"], secret=SECRET, allow_private=True
    )
    dns["sms.test"] = ["10.0.0.9"]
    sent: list[httpx.Request] = []
    provider = await web(SmsGateway(allow_private=True), sent)
    outcomes = [
        await provider.webhook(hook, "{}", "e1"),
        await provider.sms("+8613800000000", "hi"),
    ]
    assert [o.sent for o in outcomes] == [True, True]
    assert [r.url.host for r in sent] == ["127.0.0.1", "sms.test"]
    await provider.close()


async def test_a_refused_send_is_recorded_as_a_final_failure_with_the_reason(dns) -> None:
    hook = Webhook(url="https://hooks.test/k", events=["kefu.ticket.*"], secret=SECRET)
    dns["hooks.test"] = ["10.0.0.1"]
    provider = await web(SmsGateway(), [])
    outcome = await provider.webhook(hook, "{}", "e1")
    await provider.close()
    now = datetime(2026, 11, 23, tzinfo=UTC)
    note = Notification(
        id="n1",
        ticket_id="t1",
        audience="webhook",
        channel="webhook",
        to=hook.url,
        template="webhook",
        locale="en",
        due_at=now,
    )
    round_ = Outcomes(Notify(webhooks=[]), now, {"n1": {"status": "pending"}}, {}, lambda: 0.75)
    change = round_.tried(note, outcome)
    assert (
        change["status"] == "failed" and "resolves to 10.0.0.1, which is private" in change["error"]
    )
    assert round_.later == {}  # not tried again
    [failed] = round_.events
    assert failed.data.final and failed.data.error == change["error"]
