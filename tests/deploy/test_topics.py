"""One source for the topics' broker configs: the Strimzi KafkaTopics carry exactly what
`kefu topics create` sets (shared/topics.py), and `--dry-run` prints it without a broker."""

from kefu.cli import main
from kefu.shared.topics import Topic, topic_configs, topic_name
from tests.deploy.manifests import kefu_env, of_kind, rendered


def test_the_kafka_topics_carry_the_configs_kefu_topics_create_sets() -> None:
    documents = rendered("overlays/strimzi")
    prefix = kefu_env(documents)["KEFU_TOPIC_PREFIX"]
    specs = {d["spec"]["topicName"]: d["spec"] for d in of_kind(documents, "KafkaTopic")}
    assert set(specs) == {topic_name(prefix, topic) for topic in Topic}
    for topic in Topic:
        spec = specs[topic_name(prefix, topic)]
        configs = {key: str(value) for key, value in spec["config"].items()}
        assert configs == topic_configs(topic, spec["replicas"]), topic


def test_the_dry_run_prints_every_topic_and_connects_to_nothing(capsys, monkeypatch) -> None:
    monkeypatch.setenv("KEFU_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # nothing listens there
    monkeypatch.setenv("KEFU_TOPIC_PREFIX", "kefu.")
    for replicas, min_insync in (("3", "2"), ("1", "1")):
        args = ["topics", "create", "--dry-run", "--partitions", "6", "--replication-factor"]
        assert main([*args, replicas]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == len(Topic)
        assert lines[-1] == (
            f"kefu.dlq partitions=6 replication_factor={replicas} "
            f"retention.ms=2592000000 min.insync.replicas={min_insync}"
        )
