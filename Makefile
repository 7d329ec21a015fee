# The two quick-start commands (see README.md) and a few helpers.
.PHONY: demo test build bench clean

demo:  ## build runbook, start the local AWS emulator, provision + promote the secondary, print the history
	scripts/demo.sh

test:  ## install the pinned emulator if needed, build, run every test
	scripts/test.sh

build:
	swift build -c release --product runbook

bench: ## engine benchmarks (release build)
	swift build -c release --product runbook && swift run -c release runbook-bench

clean:
	rm -rf .build .demo
