"""`kefu bench`'s mail phase: customer mails over SMTP into `kefu adapter smtp`, timed until
each one's `kefu.ticket.message_received` (contract 10). Senders keep a few connections open
and send one mail after another on each, as a sending MTA does."""

import asyncio
import time
import uuid
from email.message import EmailMessage

import aiosmtplib
from aiokafka import AIOKafkaConsumer

from kefu.shared.settings import Settings
from kefu.shared.topics import Topic, topic_name

CONNECTIONS = 4
TEXT = "My order has not arrived and the tracking page is down.\n\n-- \nJane"


def customer_mail(message_id: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Jane <{message_id.strip('<>').partition('@')[0]}@bench.example>"
    mail["To"] = "support@example.com"
    mail["Subject"] = "Bench: where is my parcel?"
    mail["Message-ID"] = message_id
    mail.set_content(TEXT)
    return mail.as_bytes()


async def measure_mail(
    settings: Settings, port: int, count: int, rate: float | None
) -> tuple[list[float], float]:
    """Send `count` mails, as fast as `CONNECTIONS` connections go or `rate` a second; the
    latency of each (first byte sent to message_received read) and the seconds from the first
    send to the last arrival."""
    ids = [f"<mail-{uuid.uuid4().hex[:16]}@bench.example>" for _ in range(count)]
    consumer = AIOKafkaConsumer(
        topic_name(settings.topic_prefix, Topic.TICKET_EVENTS),
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="latest",
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    await consumer.start()
    try:
        from kefu.bench import arrivals, correlation_of
        from kefu.simulate import positioned

        await positioned(consumer)
        waiting = {f"email:{message_id}": 0.0 for message_id in ids}
        arrived_task = asyncio.create_task(
            arrivals(consumer, correlation_of("kefu.ticket.message_received"), waiting, count)
        )
        start = time.perf_counter()
        queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        for index, message_id in enumerate(ids):
            queue.put_nowait((index, message_id))
        await asyncio.gather(
            *(_sender(port, queue, start, rate, waiting) for _ in range(CONNECTIONS))
        )
        arrived = await asyncio.wait_for(arrived_task, timeout=60 + count / 20)
    finally:
        await consumer.stop()
    return [arrived[key] - waiting[key] for key in arrived], max(arrived.values()) - start


async def _sender(
    port: int,
    queue: "asyncio.Queue[tuple[int, str]]",
    start: float,
    rate: float | None,
    waiting: dict[str, float],
) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60) as client:
        while not queue.empty():
            index, message_id = queue.get_nowait()
            if rate:
                await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
            waiting[f"email:{message_id}"] = time.perf_counter()
            await client.sendmail(
                "jane@bench.example", ["support@example.com"], customer_mail(message_id)
            )
