#!/bin/sh
# One-shot set-up of the compose deployment, as the bootstrap admin; idempotent (a re-run
# reuses the key set and every principal's password on the secrets volume).
set -eu
mkdir -p /var/lib/renkei/keys /var/lib/renkei/credentials /var/lib/renkei/portal
[ -f /var/lib/renkei/keys/keys.json ] \
  || renkei keys generate --out /var/lib/renkei/keys/keys.json   # development keys only
# The public halves (the key agencies seal numbers to, the keys that verify provision records),
# beside the credentials the agencies already read.
renkei keys public /var/lib/renkei/keys/keys.json > /var/lib/renkei/credentials/hub-public.env
# Control commands are signed: the operators' and the oversight body's development keys; the
# hubs trust the public halves, the registrations below are signed with the operators' key.
[ -f /var/lib/renkei/control/operator.key ] \
  || renkei keys control --out /var/lib/renkei/control > /dev/null   # development keys only
renkei hub init   # the hub's topics (RENKEI_PARTITIONS, RENKEI_REPLICATION) and their layout
for principal in hub operator ppc; do
  renkei hub principal "$principal" --credentials "/var/lib/renkei/credentials/$principal.kafka.env"
done
for agency in $RENKEI_AGENCIES; do
  case "$agency" in
    mun-*) subscriptions="--subscribe Relocation" ;;
    med-*) subscriptions="--subscribe ClinicalUpdate" ;;
    portal) subscriptions="--subscribe ConsentGiven --subscribe ConsentWithdrawn --subscribe ProxyRegistered --subscribe ProxyRevoked --subscribe DependencyChanged" ;;
    *) subscriptions="" ;;
  esac
  # --wait 0: no hub replica runs yet to acknowledge; they apply it when they start
  # shellcheck disable=SC2086
  renkei hub onboard "$agency" $subscriptions --key-id "$agency-reference" --wait 0 \
    --credentials "/var/lib/renkei/credentials/$agency.kafka.env"
done
echo "set-up done"
