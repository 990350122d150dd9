#!/usr/bin/env bash
# Fetch Apache Kafka's runtime jars (KRaft broker + controller) from Maven Central into a cache
# directory, using scripts/kafka/pom.xml. Idempotent: a marker file, written last and holding the
# pom's checksum, says the copy is complete; when it is there and matches, nothing is fetched.
#
# Usage: scripts/kafka/fetch.sh            prints the cache directory (holding lib/) on stdout
# Env:   OPTEX_CACHE_DIR                   cache root (default: $HOME/.cache/optex)
#        OPTEX_KAFKA_DIR                   the exact directory to use (default: $OPTEX_CACHE_DIR/kafka-<version>)
# Needs: java (17+) and mvn on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"

version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom" | head -n 1)"
if [[ -z "$version" ]]; then
  echo "fetch.sh: cannot read <kafka.version> from $pom" >&2
  exit 1
fi
cache_root="${OPTEX_CACHE_DIR:-$HOME/.cache/optex}"
dir="${OPTEX_KAFKA_DIR:-$cache_root/kafka-$version}"
marker="$dir/.complete"
want="$(sha256sum "$pom" | cut -d' ' -f1)"

complete() { [[ -f "$marker" ]] && [[ "$(head -n 1 "$marker")" == "$want" ]]; }

if complete; then
  echo "$dir"
  exit 0
fi

for tool in java mvn; do
  if ! command -v "$tool" > /dev/null 2>&1; then
    echo "fetch.sh: '$tool' is not on PATH; Kafka for the integration tests needs Java 17+ and Maven (apt-get install openjdk-17-jdk-headless maven)" >&2
    exit 1
  fi
done

mkdir -p "$dir"
# Serialise concurrent fetches (parallel test workers) on one lock per cache directory.
exec 9> "$dir.lock"
if command -v flock > /dev/null 2>&1; then
  flock 9
fi
if complete; then
  echo "$dir"
  exit 0
fi

rm -rf "$dir/lib" "$marker"
start=$(date +%s)
echo "fetch.sh: fetching Kafka $version jars into $dir/lib (Maven Central)" >&2
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$dir/lib" >&2
count=$(find "$dir/lib" -maxdepth 1 -name '*.jar' | wc -l)
if ! compgen -G "$dir/lib/kafka_2.13-$version.jar" > /dev/null; then
  echo "fetch.sh: kafka_2.13-$version.jar missing from $dir/lib after the copy" >&2
  exit 1
fi
printf '%s\nkafka %s, %s jars, fetched in %ss\n' "$want" "$version" "$count" "$(( $(date +%s) - start ))" > "$marker.tmp"
mv "$marker.tmp" "$marker"
echo "fetch.sh: $count jars in $(( $(date +%s) - start ))s" >&2
echo "$dir"
