# Apache Kafka (KRaft) on Java from Debian, with exactly the jars deploy/local fetches from
# Maven Central for the local broker. The build context is prepared by
# deploy/docker/build-images (libs/, log4j2.properties, kafka-entrypoint).
#
# Configure it like the upstream image, by environment: every KAFKA_CFG_<NAME> becomes the
# server property <name> (lower case, '_' -> '.', '__' -> '-'); KAFKA_CLUSTER_ID formats fresh storage once;
# KAFKA_HEAP sets the heap (default 512m).
ARG BASE=local/debian:bookworm
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10002 kafka \
    && useradd --uid 10002 --gid 10002 --home-dir /var/lib/kafka --create-home \
       --shell /usr/sbin/nologin kafka
COPY libs /opt/kafka/libs
COPY log4j2.properties /opt/kafka/log4j2.properties
COPY kafka-entrypoint /usr/local/bin/kafka-entrypoint
USER 10002:10002
VOLUME /var/lib/kafka
EXPOSE 9092 9093
ENTRYPOINT ["/usr/local/bin/kafka-entrypoint"]
