# Vigil's build and test entry points. `make test` is what CI runs.

GO      ?= go
FUZZTIME ?= 10s
# VIGIL_TOOLS is where scripts/tools.sh builds the real servers the delivery
# tests run against (internal/testsrv).
VIGIL_TOOLS ?= $(CURDIR)/.cache/tools/bin

.PHONY: all build test vet fmt-check tools unit fuzz bench clean

all: build

build:
	$(GO) build -trimpath -o bin/vigil ./cmd/vigil

# test runs everything CI checks: formatting, vet, every test with the race
# detector in shuffled order, and a short run of every fuzz target.
test: fmt-check vet unit fuzz

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tools:
	GO=$(GO) VIGIL_TOOLS=$(abspath $(VIGIL_TOOLS)) ./scripts/tools.sh

# unit runs the tests against real servers and never lets them skip.
unit: tools
	VIGIL_TOOLS=$(abspath $(VIGIL_TOOLS)) VIGIL_REQUIRE_SERVERS=1 $(GO) test -race -shuffle=on -count=1 ./...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

bench:
	./bench/run.sh

clean:
	rm -rf bin bench/out
