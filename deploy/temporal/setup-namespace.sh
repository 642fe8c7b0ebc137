#!/bin/sh
# One-shot job (service temporal-setup, image temporalio/admin-tools), run once the server is
# healthy: creates the namespace if it does not exist and registers Spacebot's custom search
# attributes (lib/temporal/search-attributes.ts). Idempotent: an existing namespace is left as it
# is, and `search-attribute create` skips attributes that already exist with the same type (it
# fails loudly if one exists with a different type). Address from TEMPORAL_ADDRESS.
set -eu

NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-168h}"
# Keep in step with ALL_SEARCH_ATTRIBUTES in lib/temporal/search-attributes.ts (all Keyword).
ATTRIBUTES="SpacebotAgent SpacebotPlatform SpacebotConversation SpacebotProcess SpacebotParent"

retry() {
  attempt=1
  until "$@"; do
    if [ "$attempt" -ge 30 ]; then
      echo "temporal-setup: giving up after $attempt attempts: $*" >&2
      return 1
    fi
    echo "temporal-setup: attempt $attempt failed, retrying in 2s" >&2
    attempt=$((attempt + 1))
    sleep 2
  done
}

ensure_namespace() {
  if temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
    echo "temporal-setup: namespace $NAMESPACE exists"
  else
    temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
  fi
}

create_attributes() {
  set --
  for name in $ATTRIBUTES; do set -- "$@" --name "$name" --type Keyword; done
  temporal operator search-attribute create --namespace "$NAMESPACE" "$@"
}

# A new namespace takes a few seconds to reach every service's namespace cache: until then
# describe/list may still say "not found", hence the check after creating.
all_attributes_listed() {
  listed="$(temporal operator search-attribute list --namespace "$NAMESPACE")" || return 1
  for name in $ATTRIBUTES; do
    printf '%s\n' "$listed" | grep -qw "$name" || { echo "temporal-setup: $name not listed yet" >&2; return 1; }
  done
}

echo "temporal-setup: server ${TEMPORAL_ADDRESS:-?}, namespace $NAMESPACE"
retry temporal operator cluster health
retry ensure_namespace
retry create_attributes
retry all_attributes_listed
echo "temporal-setup: done"
