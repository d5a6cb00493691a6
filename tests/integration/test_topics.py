"""`create_topics` against the real broker: it creates every kefu topic with the configs of
shared/topics.py (the broker reports them back), and a second run creates nothing."""

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from kefu.shared.admin import create_topics
from kefu.shared.bus import client_options
from kefu.shared.topics import Topic, all_topic_names, topic_configs, topic_name
from tests.conftest import isolated_settings


async def test_create_topics_sets_the_configs_and_runs_twice(backend) -> None:
    settings = isolated_settings(backend)
    created = await create_topics(settings, 1)
    assert sorted(created) == sorted(all_topic_names(settings.topic_prefix))
    assert await create_topics(settings, 1) == []
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        for topic in (Topic.DLQ, Topic.TICKET_EVENTS):
            resource = ConfigResource(
                ConfigResourceType.TOPIC, topic_name(settings.topic_prefix, topic)
            )
            [response] = await admin.describe_configs([resource])
            [(code, _, _, _, entries)] = response.resources
            assert code == 0
            reported = {entry[0]: entry[1] for entry in entries}
            assert topic_configs(topic, 1).items() <= reported.items(), topic
    finally:
        await admin.close()
