"""Topic administration (`kefu topics create`)."""

from contextlib import suppress

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.bus import client_options
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
    admin = AIOKafkaAdminClient(**client_options(settings))
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
