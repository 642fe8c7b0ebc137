#!/usr/bin/env bash
# Makes sure a `temporal` CLI (which embeds the dev server Spacebot runs locally) is available.
# Looks where lib/temporal/cli-path.ts looks, in the same order, so whatever this script finds is
# what the app will use. It ignores the Temporal SDK's download in the temp dir (the app's last
# resort): the OS may clean that up at any time, so it does not count as set up.
# Idempotent: prints one line and exits when a binary exists.
set -euo pipefail

# Pinned to v1.5.1 on purpose: later CLI releases carry a `replace` directive in their go.mod,
# and `go install module@version` refuses to build modules that have one. Bump only after
# checking that `go install github.com/temporalio/cli/cmd/temporal@<new>` works.
TEMPORAL_CLI_VERSION="v1.5.1"
TOOLS_DIR="${SPACEBOT_TOOLS_DIR:-$HOME/.cache/spacebot/bin}"

is_usable() {
  [[ -f "$1" && -x "$1" ]] && "$1" --version >/dev/null 2>&1
}

# TEMPORAL_CLI_PATH is an explicit choice: if it is wrong, say so instead of quietly installing another.
if [[ -n "${TEMPORAL_CLI_PATH:-}" ]]; then
  if is_usable "$TEMPORAL_CLI_PATH"; then
    echo "temporal CLI: $TEMPORAL_CLI_PATH (from TEMPORAL_CLI_PATH)"
    exit 0
  fi
  echo "error: TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable temporal CLI; fix or unset it." >&2
  exit 1
fi

if is_usable "$TOOLS_DIR/temporal"; then
  echo "temporal CLI: $TOOLS_DIR/temporal"
  exit 0
fi

if on_path="$(command -v temporal 2>/dev/null)" && is_usable "$on_path"; then
  echo "temporal CLI: $on_path (from PATH)"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<EOF
error: no temporal CLI found and Go is not installed, so it cannot be built.
Either install Go 1.25 or newer (https://go.dev/dl/ or your package manager) and re-run
'npm run setup:temporal', or install the temporal CLI yourself (https://docs.temporal.io/cli)
and set TEMPORAL_CLI_PATH to it, or point TEMPORAL_ADDRESS at a running Temporal server.
EOF
  exit 1
fi

echo "Building temporal CLI $TEMPORAL_CLI_VERSION into $TOOLS_DIR (a few minutes on first run)..."
mkdir -p "$TOOLS_DIR"
GOBIN="$TOOLS_DIR" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"

if ! version="$("$TOOLS_DIR/temporal" --version 2>&1)"; then
  echo "error: built $TOOLS_DIR/temporal but it does not run: $version" >&2
  exit 1
fi
echo "temporal CLI: $TOOLS_DIR/temporal ($version)"
