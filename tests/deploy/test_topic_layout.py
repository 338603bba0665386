"""Topic creation tells the operator when the layout does not fit the cluster."""

from __future__ import annotations

import pytest
from aiokafka.admin import NewTopic

from hub.topics import PRODUCTION_REPLICATION, TopicCreationError, ensure_topics


@pytest.mark.kafka
async def test_production_replication_on_a_single_broker_is_refused_with_the_way_out(
    kafka_bootstrap: str, topic_name: str
) -> None:
    with pytest.raises(TopicCreationError) as refused:
        await ensure_topics(kafka_bootstrap, [NewTopic(topic_name, 1, PRODUCTION_REPLICATION)])
    message = str(refused.value)
    assert topic_name in message
    assert "--replication 1" in message


@pytest.mark.kafka
async def test_creating_topics_twice_creates_them_once(
    kafka_bootstrap: str, topic_name: str
) -> None:
    assert await ensure_topics(kafka_bootstrap, [NewTopic(topic_name, 2, 1)]) == [topic_name]
    assert await ensure_topics(kafka_bootstrap, [NewTopic(topic_name, 2, 1)]) == []
