"""Topic administration (`kefu topics create`)."""

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from kefu.shared.bus import client_options
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic, all_topic_names, topic_configs, topic_name


def planned_topics(
    settings: Settings, partitions: int, replication_factor: int, names: list[str] | None = None
) -> list[NewTopic]:
    """Every kefu topic (or every one of `names`) with its partitions, replicas and configs."""
    contract = {topic_name(settings.topic_prefix, topic): topic for topic in Topic}
    return [
        NewTopic(
            name,
            partitions,
            replication_factor,
            topic_configs=topic_configs(contract.get(name), replication_factor),
        )
        for name in names or all_topic_names(settings.topic_prefix)
    ]


async def create_topics(
    settings: Settings,
    partitions: int,
    replication_factor: int = 1,
    names: list[str] | None = None,
) -> list[str]:
    """Create every kefu topic (or every one of `names`) that does not exist yet; the names
    created. A topic another client created meanwhile counts as existing; any other refusal
    (too few brokers, a config the broker rejects) raises."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        planned = planned_topics(settings, partitions, replication_factor, names)
        missing = [topic for topic in planned if topic.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(missing)
        created = []
        for name, code, *message in response.topic_errors:  # v0 answers carry no message
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                reason = f": {message[0]}" if message and message[0] else ""
                raise for_code(code)(f"topic {name}{reason}")
        return created
    finally:
        await admin.close()
