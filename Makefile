# crashflow: `make up` starts the local stack, `make test` runs the whole suite.
.PHONY: up down test status bench

up:
	@infra/local/up.sh

down:
	@infra/local/down.sh

test:
	@infra/local/test.sh $(PYTEST_ARGS)

status:
	@for s in postgres seaweedfs elasticmq hbase functions; do infra/local/$$s.sh status >/dev/null 2>&1 && echo "$$s: up" || echo "$$s: down"; done
