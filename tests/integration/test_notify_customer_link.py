"""The acknowledgement mail carries the customer's link (contract 8), through the real broker,
store and SMTP server: `<KEFU_WORKSPACE_URL>/t/<token>`, the token naming the ticket; without
KEFU_AUTH_SECRET the mail still goes, without a link."""

import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage

from kefu.shared.customer_links import ticket_of_link_token
from kefu.shared.events.ticket import Customer
from tests import sla_events as ev
from tests.integration.notifying import running_notify, wait_for

DESK = "https://help.example.com"
LINK = re.compile(re.escape(DESK) + r"/t/([A-Za-z0-9_.-]+)")


async def acknowledgement(notify, ticket_id: str) -> EmailMessage:
    address = f"{uuid.uuid4().hex[:8]}@example.com"
    customer = Customer(address=address, name="Jane")
    await notify.send(ev.opened(ticket_id, datetime.now(UTC), customer=customer))
    [ack] = await wait_for(lambda: notify.mailbox.to(address))
    return ack


async def test_the_acknowledgement_links_to_the_customers_view(backend, tmp_path) -> None:
    async with running_notify(backend, tmp_path, {"workspace_url": DESK}) as notify:
        ticket_id = uuid.uuid4().hex[:8]
        ack = await acknowledgement(notify, ticket_id)
        text = ack.get_body(("plain",)).get_content()
        html = ack.get_body(("html",)).get_content()
        [token] = LINK.findall(text)
        assert f"Follow your request: {DESK}/t/{token}" in text
        assert f'href="{DESK}/t/{token}"' in html
        assert ticket_of_link_token(notify.settings, token) == ticket_id


async def test_without_an_auth_secret_the_acknowledgement_goes_without_a_link(
    backend, tmp_path
) -> None:
    environment = {"workspace_url": DESK, "auth_secret": None}
    async with running_notify(backend, tmp_path, environment) as notify:
        ack = await acknowledgement(notify, uuid.uuid4().hex[:8])
        assert ack["Subject"].startswith("We received your request")
        for part in ("plain", "html"):
            body = ack.get_body((part,)).get_content()
            assert "/t/" not in body and "Follow your request" not in body
