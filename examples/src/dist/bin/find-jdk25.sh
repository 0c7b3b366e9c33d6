# Sourced by ./mvnw and by the grad4j launcher (bin/grad4j): finds a JDK 25 or newer without any variable set
# by hand. The default `java` on many machines is older (17 here), so a bare `java` is not enough.
# Order: $JAVA_HOME, then the `java` on PATH, then every JDK under /usr/lib/jvm and
# /Library/Java/JavaVirtualMachines; the first that is 25 or newer is taken.
# On success sets GRAD4J_JAVA_HOME; on failure prints one sentence saying what is missing and how
# to get it, and returns 1. Nothing is downloaded.

grad4j_java_feature() { # the feature release of the java binary $1 (17, 25, ...), or 0
  local version
  version="$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
  case "$version" in
    1.*) echo "${version#1.}" | cut -d. -f1 ;;
    [0-9]*) echo "${version%%.*}" ;;
    *) echo 0 ;;
  esac
}

grad4j_find_jdk25() {
  local need="${1:-25}" candidate seen="" found=""
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for candidate in /usr/lib/jvm/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$candidate" ] && candidates+=("$candidate")
  done
  for candidate in "${candidates[@]}"; do
    candidate="$(readlink -f "$candidate")"
    case " $seen " in *" $candidate "*) continue ;; esac
    if [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] \
        && [ "$(grad4j_java_feature "$candidate/bin/java")" -ge "$need" ]; then
      GRAD4J_JAVA_HOME="$candidate"
      return 0
    fi
    [ -x "$candidate/bin/java" ] && seen="$seen $candidate" && found="$found $candidate (Java $(grad4j_java_feature "$candidate/bin/java"))"
  done
  echo "grad4j needs a JDK $need or newer and found none (looked at JAVA_HOME, the java on PATH and /usr/lib/jvm:${found:- no JDK at all}); install one, e.g. Eclipse Temurin 25 (apt-get install temurin-25-jdk from Adoptium's repository, or https://adoptium.net), then run the command again." >&2
  return 1
}
