# The two commands a newcomer needs (see README.md).
SHARED ?= ../shared
MODEL ?= $(SHARED)/testdata/btlm-tiny

.PHONY: run test build

# Builds the binary and runs the miner offline: mock chain, local model, axon on :8091.
# Any caller may query it (allow_non_registered), since the mock subnet holds only the miner.
run: build
	./bin/btlm-miner run --subtensor.network mock --btlm.model $(MODEL) --miner.blacklist.allow_non_registered $(ARGS)

# Runs every test (installs the node test peers first).
test:
	./scripts/test.sh

build:
	CGO_ENABLED=0 go build -o bin/btlm-miner ./cmd/btlm-miner
