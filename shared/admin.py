"""Topic administration (`kefu topics create`)."""

from contextlib import suppress

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.bus import kafka_security
from shared.settings import Settings
from shared.topics import all_topic_names


async def create_topics(
    settings: Settings,
    partitions: int,
    replication_factor: int = 1,
    names: list[str] | None = None,
) -> list[str]:
    """Create every kefu topic (or every one of `names`) that does not exist yet; the names
    created."""
    security = kafka_security(settings)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        security_protocol=settings.kafka_security_protocol,
        ssl_context=security.ssl_context if security else None,
        sasl_mechanism=settings.kafka_sasl_mechanism or "PLAIN",
        sasl_plain_username=settings.kafka_sasl_username,
        sasl_plain_password=settings.kafka_sasl_password.get_secret_value()
        if settings.kafka_sasl_password
        else None,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = names or all_topic_names(settings.topic_prefix)
        missing = [name for name in wanted if name not in existing]
        if missing:
            with suppress(TopicAlreadyExistsError):  # another replica created them meanwhile
                await admin.create_topics(
                    [NewTopic(name, partitions, replication_factor) for name in missing]
                )
        return missing
    finally:
        await admin.close()
