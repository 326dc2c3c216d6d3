#!/usr/bin/env bash
# What `npm test` needs before the first test runs, prepared by `npm test` itself (and by .ci/run,
# which calls this same script): the real parts the suite drives — redis-server, chromium, nginx,
# caddy, apache2 with mod_auth_openidc from Debian — and a Redis answering at REDIS_URL. The suite never skips a part that is
# missing (a skipped suite is a green lie), so this script either provides it or stops at once
# with the one command that does.
#
# Installs only as root (CI, containers); otherwise it names the command and exits 1 before any
# test starts. GATEHOUSE_TEST_NO_INSTALL=1 turns installation off even as root (report only).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

say() { printf 'test prerequisites: %s\n' "$*" >&2; }

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Front-door tests run their own nginx and Caddy (own config, loopback ports); the system services
# are not used, so they are stopped if the package installation started them.
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
# The interop test runs its own Apache with mod_auth_openidc (a certified relying party) in front
# of the dev IdP; the module file is the check, because apache2 alone does not bring it.
{ [ -x /usr/sbin/apache2 ] && [ -e /usr/lib/apache2/modules/mod_proxy_http.so ]; } || missing+=(apache2)
[ -e /usr/lib/apache2/modules/mod_auth_openidc.so ] || missing+=(libapache2-mod-auth-openidc)

if [ ${#missing[@]} -gt 0 ]; then
  install_cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ] || [ "${GATEHOUSE_TEST_NO_INSTALL:-}" = 1 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing Debian packages: ${missing[*]}"
    say "run: sudo sh -c '$install_cmd'   (then npm test again)"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # Packages must not start their system services (nginx/caddy/apache2 would grab port 80, and a failed
  # start would fail the install): policy-rc.d answering 101 forbids it for this install only.
  policy_created=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_created=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy_created" ]; then rm -f /usr/sbin/policy-rc.d; fi
  for svc in nginx caddy apache2; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
fi

# A Redis must answer where the tests look (REDIS_URL, default redis://127.0.0.1:6379). One is
# started only for the default loopback address: a REDIS_URL pointing elsewhere is the user's.
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
if ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
  case "$redis_url" in
    redis://127.0.0.1:6379 | redis://127.0.0.1:6379/* | redis://localhost:6379 | redis://localhost:6379/*)
      say "no Redis answers at $redis_url: starting redis-server (no persistence)"
      redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
      for _ in $(seq 1 50); do redis-cli -u "$redis_url" ping >/dev/null 2>&1 && break; sleep 0.1; done
      ;;
  esac
  if ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
    say "no Redis answers at $redis_url"
    say "run: redis-server --daemonize yes --save '' --appendonly no   (or point REDIS_URL at one)"
    exit 1
  fi
fi
