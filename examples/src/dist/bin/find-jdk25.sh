# Sourced by ./mvnw and by the grad4j launcher (bin/grad4j): finds a Java 25 or newer without any
# variable set by hand. The default `java` on many machines is older (17 here), so a bare `java`
# is not enough.
#
#   grad4j_find_jdk25 [NEED [jdk|runtime]]     NEED defaults to 25; `jdk` (the default) also needs
#                                              javac (Maven compiles), `runtime` only java (the launcher)
#
# Order: $JAVA_HOME, then the `java` on PATH, then every installation under the folders in
# $GRAD4J_JDK_DIRS (default: /usr/lib/jvm and /Library/Java/JavaVirtualMachines), newest first;
# the first that is new enough is taken. The version is read from the installation's `release`
# file (no JVM is started) or, without one, asked of its java. On success sets GRAD4J_JAVA_HOME;
# on failure prints one sentence saying what is missing and how to get it, and returns 1.
# Nothing is downloaded. Safe under `set -euo pipefail`, called bare or in a condition.

grad4j_java_feature() { # the feature release (17, 25, ...) of the installation $1, or 0
  local version=""
  if [ -f "$1/release" ]; then
    version="$(sed -n 's/^JAVA_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$1/release")"
  fi
  if [ -z "$version" ] && [ -x "$1/bin/java" ]; then
    version="$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
  fi
  case "$version" in
    1.*) version="${version#1.}"; echo "${version%%.*}" ;;
    [0-9]*) version="${version%%[!0-9]*}"; echo "${version:-0}" ;;
    *) echo 0 ;;
  esac
}

grad4j_resolve() { # a path with its links resolved, where readlink -f exists (not on old macOS)
  readlink -f "$1" 2>/dev/null || echo "$1"
}

grad4j_find_jdk25() {
  local need="${1:-25}" kind="${2:-jdk}" candidate dir seen="" found=""
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(grad4j_resolve "$(command -v java)")")")")
  fi
  local dirs="${GRAD4J_JDK_DIRS:-/usr/lib/jvm /Library/Java/JavaVirtualMachines}"
  for dir in $dirs; do
    [ -d "$dir" ] || continue
    # newest first: the names carry the version (temurin-25-jdk-amd64, jdk-25.0.1.jdk)
    while IFS= read -r candidate; do
      [ -d "$candidate/Contents/Home" ] && candidate="$candidate/Contents/Home"
      [ -d "$candidate" ] && candidates+=("$candidate")
    done < <(find "$dir" -mindepth 1 -maxdepth 1 2>/dev/null | sort -rV)
  done
  for candidate in "${candidates[@]}"; do
    candidate="$(grad4j_resolve "$candidate")"
    case " $seen " in *" $candidate "*) continue ;; esac
    seen="$seen $candidate"
    [ -x "$candidate/bin/java" ] || continue
    local feature
    feature="$(grad4j_java_feature "$candidate")"
    if [ "$feature" -ge "$need" ] && { [ "$kind" = runtime ] || [ -x "$candidate/bin/javac" ]; }; then
      GRAD4J_JAVA_HOME="$candidate"
      return 0
    fi
    if [ "$kind" = jdk ] && [ ! -x "$candidate/bin/javac" ]; then
      found="$found $candidate (Java $feature, no javac)"
    else
      found="$found $candidate (Java $feature)"
    fi
  done
  local what="a JDK $need or newer"
  [ "$kind" = runtime ] && what="Java $need or newer"
  echo "grad4j needs $what and found none (looked at JAVA_HOME, the java on PATH and ${dirs// /, }:${found:- no Java at all}); install one, e.g. Eclipse Temurin 25 (apt-get install temurin-25-jdk from Adoptium's repository, or https://adoptium.net), then run the command again." >&2
  return 1
}
