#!/bin/sh
# Entry point of the optex image.
#   no arguments      -> the service named by OPTEX_SERVICE (exec, so it receives SIGTERM directly)
#   optex ARGS...     -> the optex CLI, e.g. `optex list --store esdb://eventstore:2113?tls=false`
#   anything else     -> run as given (e.g. `sh` for a look around)
set -eu
# The image root (/app in the image): two levels above this script.
cd "$(dirname "$0")/../.."
if [ "$#" -eq 0 ]; then
  case "${OPTEX_SERVICE:-}" in
    risk-assessor|approval|scheduler|executor|validator)
      exec node "dist/apps/${OPTEX_SERVICE}/src/main.js" ;;
    *)
      echo "optex: OPTEX_SERVICE must be one of risk-assessor, approval, scheduler, executor, validator (got '${OPTEX_SERVICE:-}')" >&2
      exit 2 ;;
  esac
fi
if [ "$1" = "optex" ]; then
  shift
  exec node dist/apps/optex/src/main.js "$@"
fi
exec "$@"
