#!/usr/bin/env bash
# `make down`: stop everything `make up` started, and nothing else.
set -uo pipefail
HERE=$(dirname "$0")
"$HERE/functions.sh" stop
"$HERE/elasticmq.sh" stop
"$HERE/seaweedfs.sh" stop
"$HERE/hbase.sh" stop
"$HERE/postgres.sh" stop
"$HERE/moto.sh" stop   # started by `make up` before SeaweedFS and ElasticMQ replaced it
