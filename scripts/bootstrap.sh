#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine, and nothing twice:
#   Debian packages (PostgreSQL, Redis, MariaDB, OpenSSH server, build headers), the Python virtualenv in .venv/,
#   Azurite from npm (stack/azurite), the Kafka broker jars from Maven Central (.tools/kafka-libs), and the
#   Adaptive Card JSON schema from npm (.tools/adaptive-card) for the tests of the Teams card, actionlint (Go,
#   .tools/bin) for the workflow checks, and checkov (PyPI, .tools/checkov) for the Terraform checks.
# Safe to re-run: each step is skipped when its inputs have not changed.
# Usage: bash scripts/bootstrap.sh [STEP...], STEP one of apt, venv, azurite, kafka, schema, actionlint, checkov; no
# STEP runs them all. CI's fast jobs name only the steps they need (e.g. `venv schema`), so they need no root and no
# stack.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-python3.11}
TOOLS=${STACK_TOOLS_DIR:-$REPO/.tools}
say() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] FAILED: %s\n' "$*" >&2; exit 1; }
ALL_STEPS=(apt venv azurite kafka schema actionlint checkov)
STEPS=("$@")
for step in "${STEPS[@]}"; do
  [[ " ${ALL_STEPS[*]} " == *" $step "* ]] || die "unknown step '$step' (steps: ${ALL_STEPS[*]})"
done
want() { ((${#STEPS[@]} == 0)) || [[ " ${STEPS[*]} " == *" $1 "* ]]; }

# --- Debian packages ---------------------------------------------------------------------------------
if want apt; then
  APT_PACKAGES=(postgresql redis-server mariadb-server mariadb-client openssh-server openssh-client util-linux
                default-libmysqlclient-dev pkg-config build-essential openjdk-17-jre-headless maven nodejs npm
                shellcheck
                chromium)  # the browser tests' headless Chromium (Playwright drives it; it cannot fetch its own here)
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    # nodejs/npm may come from outside Debian (e.g. nvm): accept the binaries as well.
    case $pkg in
      nodejs) command -v node >/dev/null && continue ;;
      npm) command -v npm >/dev/null && continue ;;
      openjdk-17-jre-headless) command -v java >/dev/null && continue ;;
      maven) command -v mvn >/dev/null && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      die "missing Debian packages: ${missing[*]}. Run as root, or: sudo apt-get install -y ${missing[*]}"
    fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for another apt (a second bootstrap, unattended upgrades) instead of failing at once on its lock.
    apt=(apt-get -o DPkg::Lock::Timeout=600)
    "${apt[@]}" update -qq || die "apt-get update failed"
    "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  fi
fi

# --- Python virtualenv -------------------------------------------------------------------------------
if want venv; then
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (Python 3.11 is required)"
  req_hash=$(cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -d' ' -f1)
  if [[ ! -x .venv/bin/python || "$(cat .venv/.requirements.sha 2>/dev/null)" != "$req_hash" ]]; then
    say "creating .venv and installing requirements (about 2 minutes on a fresh machine)"
    [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt \
      || die "pip install failed (see the output above)"
    echo "$req_hash" > .venv/.requirements.sha
  else
    say ".venv is up to date"
  fi
fi

# --- Azurite (npm) -----------------------------------------------------------------------------------
if want azurite; then
  lock_hash=$(sha256sum stack/azurite/package-lock.json | cut -d' ' -f1)
  if [[ ! -f stack/azurite/node_modules/azurite/dist/src/blob/main.js \
        || "$(cat stack/azurite/node_modules/.lock.sha 2>/dev/null)" != "$lock_hash" ]]; then
    say "installing Azurite from npm"
    (cd stack/azurite && npm ci --no-audit --no-fund --silent) || die "npm ci for Azurite failed"
    echo "$lock_hash" > stack/azurite/node_modules/.lock.sha
  else
    say "Azurite is up to date"
  fi
fi

# --- Kafka broker jars (Maven Central) ---------------------------------------------------------------
if want kafka; then
  pom_hash=$(sha256sum stack/kafka/pom.xml | cut -d' ' -f1)
  if ! compgen -G "$TOOLS/kafka-libs/kafka_2.13-*.jar" >/dev/null \
     || [[ "$(cat "$TOOLS/kafka-libs/.pom.sha" 2>/dev/null)" != "$pom_hash" ]]; then
    say "fetching Kafka broker jars with Maven"
    rm -rf "$TOOLS/kafka-libs"
    mvn -q -B -f stack/kafka/pom.xml dependency:copy-dependencies \
        -DoutputDirectory="$TOOLS/kafka-libs" -DincludeScope=runtime || die "Maven could not fetch the Kafka jars"
    echo "$pom_hash" > "$TOOLS/kafka-libs/.pom.sha"
  else
    say "Kafka jars are up to date"
  fi
fi

# --- Adaptive Card JSON schema (npm) -----------------------------------------------------------------
# The tests check every Teams card against Microsoft's Adaptive Card schema. On npm it ships only inside the card
# designer (adaptivecards-designer, MIT), as a JS module; the pinned tarball is checked and the schema saved as JSON.
if want schema; then
  AC_PACKAGE=adaptivecards-designer@2.4.4
  AC_INTEGRITY=sha512-NhqlOr+rMmANEkZNeiuypYcwDPxTUB/i7la/O86gbpta6ApoEmaXbUwGZk3RRdhNC2Y4AYMAwGdoPN3mR3G14A==
  AC_DIR=$TOOLS/adaptive-card
  if [[ ! -s $AC_DIR/adaptive-card.schema.json || "$(cat "$AC_DIR/.package" 2>/dev/null)" != "$AC_PACKAGE" ]]; then
    say "fetching the Adaptive Card schema ($AC_PACKAGE from npm)"
    ac_tmp=$(mktemp -d)
    (cd "$ac_tmp" && npm pack --silent "$AC_PACKAGE" >/dev/null) || die "npm pack $AC_PACKAGE failed"
    ac_tgz=$(compgen -G "$ac_tmp/*.tgz") || die "npm pack $AC_PACKAGE wrote no tarball"
    ac_got=sha512-$("$PYTHON" -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$ac_tgz")
    [[ $ac_got == "$AC_INTEGRITY" ]] || die "$AC_PACKAGE does not match its pinned integrity (got $ac_got)"
    tar xzf "$ac_tgz" -C "$ac_tmp" package/lib/adaptive-card-schema.js || die "$AC_PACKAGE has no lib/adaptive-card-schema.js"
    mkdir -p "$AC_DIR"
    node -e 'process.stdout.write(JSON.stringify(require(process.argv[1]).adaptiveCardSchema, null, 1))' \
         "$ac_tmp/package/lib/adaptive-card-schema.js" > "$AC_DIR/adaptive-card.schema.json.tmp" \
      || die "could not read the schema out of $AC_PACKAGE"
    mv "$AC_DIR/adaptive-card.schema.json.tmp" "$AC_DIR/adaptive-card.schema.json"
    echo "$AC_PACKAGE" > "$AC_DIR/.package"
    rm -rf "$ac_tmp"
  else
    say "Adaptive Card schema is up to date"
  fi
fi

# --- actionlint (Go) ---------------------------------------------------------------------------------
# The workflow linter `make test` runs on .github/workflows. It is a Go program; its PyPI wrapper downloads a binary
# from GitHub releases at install time, so it is built from the Go module proxy instead, into .tools/bin.
ACTIONLINT_VERSION=v1.7.12
if want actionlint; then
  if [[ "$("$TOOLS/bin/actionlint" -version 2>/dev/null | head -1)" != "$ACTIONLINT_VERSION" ]]; then
    command -v go >/dev/null || die "go not found: actionlint $ACTIONLINT_VERSION is built with \`go install\` (Go 1.25 or newer)"
    say "building actionlint $ACTIONLINT_VERSION with go install"
    GOBIN=$TOOLS/bin go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" \
      || die "go install actionlint@$ACTIONLINT_VERSION failed"
  else
    say "actionlint is up to date"
  fi
fi

# --- checkov (PyPI, own virtualenv) ------------------------------------------------------------------
# The Terraform policy scanner `make test` runs on infra/. Its own pins conflict with Airflow's (tabulate, among
# others), so it lives in .tools/checkov, pinned by constraints-checkov.txt, apart from .venv.
if want checkov; then
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (Python 3.11 is required)"
  ck_hash=$(cat requirements-checkov.txt constraints-checkov.txt | sha256sum | cut -d' ' -f1)
  if [[ ! -x $TOOLS/checkov/bin/checkov || "$(cat "$TOOLS/checkov/.requirements.sha" 2>/dev/null)" != "$ck_hash" ]]; then
    say "installing checkov into $TOOLS/checkov"
    [[ -x $TOOLS/checkov/bin/python ]] || "$PYTHON" -m venv "$TOOLS/checkov"
    "$TOOLS/checkov/bin/pip" install -q --upgrade pip
    "$TOOLS/checkov/bin/pip" install -q -r requirements-checkov.txt -c constraints-checkov.txt \
      || die "pip install checkov failed (see the output above)"
    echo "$ck_hash" > "$TOOLS/checkov/.requirements.sha"
  else
    say "checkov is up to date"
  fi
fi
say "done"
