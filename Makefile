# Vigil's build and test entry points. `make test` is what CI runs.

GO      ?= go
FUZZTIME ?= 10s

.PHONY: all build test vet fmt-check unit fuzz bench clean

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

unit:
	$(GO) test -race -shuffle=on -count=1 ./...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

bench:
	./bench/run.sh

clean:
	rm -rf bin bench/out
