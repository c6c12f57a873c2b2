#!/bin/bash
# Stands in for a provider CLI in alv's command-launcher tests: records each call in $PROVIDER_LOG and
# keeps the group's machines in $PROVIDER_STATE (one id per line).
#   provider.sh scale N | list | terminate ID | fail
set -eu
log="${PROVIDER_LOG:?}" state="${PROVIDER_STATE:?}"
touch "$state"
echo "$*" >> "$log"
case "$1" in
  scale)
    n=$2; have=$(wc -l < "$state")
    while [ "$have" -lt "$n" ]; do have=$((have + 1)); echo "vm-$have-$RANDOM" >> "$state"; done
    while [ "$have" -gt "$n" ]; do sed -i '$d' "$state"; have=$((have - 1)); done ;;
  list) cat "$state" ;;
  terminate) grep -vx "$2" "$state" > "$state.new" || true; mv "$state.new" "$state" ;;
  fail) echo "provider: quota exceeded for instances" >&2; exit 1 ;;
esac
