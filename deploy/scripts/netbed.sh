#!/usr/bin/env bash
# A multi-host test bed on one machine: network namespaces joined by rate-limited veth links.
#
#   netbed.sh up NAME [--hosts a,b,c] [--rate RATE] [--owner PID]   make bed NAME and print its hosts
#   netbed.sh rate NAME RATE                                          re-shape every link of NAME (RATE or
#                                                                     "unlimited"), processes keep running
#   netbed.sh down NAME                                               stop everything bed NAME made
#   netbed.sh exec NAME HOST CMD [ARG...]                             run CMD inside HOST's namespace
#   netbed.sh addr NAME HOST                                          print HOST's address
#   netbed.sh check                                                   exit 0 if this kernel can make a bed,
#                                                                     3 (and why, on stderr) if it refuses
#   netbed.sh list                                                    list beds: name, owner, live/stale
#   netbed.sh cleanup [--all]                                         remove beds whose owner is gone
#                                                                     (--all: every bed; kills their processes)
#
# Topology (docs/network.md): one switch namespace "nb-NAME-sw" holding a Linux bridge, and one
# namespace per host "nb-NAME-HOST" holding one end of a veth pair ("eth0", 198.18.0.(10+i)/24);
# the other end ("p-HOST") is a port of the bridge. Each host's link is shaped in both directions
# with tbf at RATE (eth0 egress = the host's upload, the switch port's egress = its download), like
# a full-duplex NIC into a non-blocking switch. Every address comes from 198.18.0.0/15 (RFC 2544's
# benchmarking range) and lives only in namespaces this script made; the host's own interfaces and
# loopback are never touched (each namespace brings up its own, separate, loopback). Nothing routes
# out of the bed: the namespaces have no default route.
#
# State: /run/spindle-netbed/NAME/{owner,hosts,rate}. "up" removes what it made if any step fails.
# A bed whose owner process has died (a killed test JVM) is stale; "cleanup" removes stale beds,
# killing the processes still running in their namespaces (nothing outside the bed's namespaces).
# Needs root (CAP_NET_ADMIN), iproute2's ip and tc, and the veth, bridge and sch_tbf kernel parts.
set -euo pipefail

STATE_ROOT=${NETBED_STATE:-/run/spindle-netbed}
PREFIX=nb-

die() {
  echo "netbed: $*" >&2
  exit 2
}

ns_of() { echo "${PREFIX}$1-$2"; }

valid_name() {
  [[ $1 =~ ^[a-z0-9]{1,8}$ ]] || die "bed name must be 1-8 characters [a-z0-9], got '$1'"
}

valid_host() {
  [[ $1 =~ ^[a-z0-9]{1,8}$ ]] || die "host name must be 1-8 characters [a-z0-9], got '$1'"
  [[ $1 != sw ]] || die "host name 'sw' is reserved for the switch namespace"
}

# tbf needs a bucket that holds at least one (GSO) packet and the bytes of one timer tick:
# max(64 KiB + 1 MTU, RATE * 2 ms). RATE is tc's syntax (100mbit, 1gbit, ...).
burst_for() {
  local bits
  bits=$(rate_bits "$1")
  local tick=$((bits / 8 / 500))
  local floor=$((65536 + 1514))
  echo $((tick > floor ? tick : floor))
}

rate_bits() {
  local r=${1,,}
  case $r in
    *gbit) echo $((${r%gbit} * 1000000000)) ;;
    *mbit) echo $((${r%mbit} * 1000000)) ;;
    *kbit) echo $((${r%kbit} * 1000)) ;;
    *bit) echo "${r%bit}" ;;
    *) die "rate must look like 100mbit, 1gbit, 500kbit; got '$1'" ;;
  esac
}

shape() { # namespace device rate
  local burst
  burst=$(burst_for "$3")
  # limit: the queue may hold 20 ms of traffic at RATE (at least 2 buckets); beyond that tbf drops
  local limit=$(($(rate_bits "$3") / 8 / 50))
  limit=$((limit > 2 * burst ? limit : 2 * burst))
  tc -n "$1" qdisc replace dev "$2" root tbf rate "$3" burst "$burst" limit "$limit"
}

cmd_up() {
  local name=$1
  shift
  valid_name "$name"
  local hosts="driver,master,w0,w1" rate="" owner=$PPID
  while (($#)); do
    case $1 in
      --hosts) hosts=$2; shift 2 ;;
      --rate) rate=$2; shift 2 ;;
      --owner) owner=$2; shift 2 ;;
      *) die "unknown option '$1' of 'up' (expected --hosts, --rate, --owner)" ;;
    esac
  done
  [[ -n $rate ]] && rate_bits "$rate" > /dev/null
  local dir="$STATE_ROOT/$name"
  [[ ! -e $dir ]] || die "bed '$name' exists (state $dir); 'down $name' or 'cleanup' first"
  if ip netns list | awk '{print $1}' | grep -qE "^${PREFIX}${name}-"; then
    die "namespaces of a bed '$name' exist without its state (a killed run?); 'down $name' first"
  fi
  IFS=, read -r -a list <<< "$hosts"
  ((${#list[@]} >= 1 && ${#list[@]} <= 200)) || die "--hosts needs 1 to 200 names, got '$hosts'"
  for h in "${list[@]}"; do valid_host "$h"; done
  [[ $(printf '%s\n' "${list[@]}" | sort | uniq -d) == "" ]] || die "--hosts has duplicates: '$hosts'"

  mkdir -p "$dir"
  echo "$owner" > "$dir/owner"
  echo "${rate:-unlimited}" > "$dir/rate"
  : > "$dir/hosts"
  # from here on, anything that fails removes what was made
  trap 'echo "netbed: up $name failed; removing what it made" >&2; teardown "$name"' ERR
  local sw
  sw=$(ns_of "$name" sw)
  ip netns add "$sw"
  ip -n "$sw" link add br0 type bridge stp_state 0 forward_delay 0
  ip -n "$sw" link set br0 up
  local i=0
  for h in "${list[@]}"; do
    local ns addr
    ns=$(ns_of "$name" "$h")
    addr="198.18.0.$((10 + i))"
    ip netns add "$ns"
    echo "$h $addr" >> "$dir/hosts"
    # both ends are created directly inside their namespaces: no device ever appears on the host
    ip link add eth0 netns "$ns" type veth peer name "p-$h" netns "$sw"
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set lo up
    # IPv4 only: no router solicitations or other IPv6 chatter on the shaped links
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2> /dev/null || true
    ip -n "$ns" link set eth0 up
    ip -n "$sw" link set "p-$h" master br0
    ip -n "$sw" link set "p-$h" up
    if [[ -n $rate ]]; then
      shape "$ns" eth0 "$rate"
      shape "$sw" "p-$h" "$rate"
    fi
    i=$((i + 1))
  done
  trap - ERR
  cat "$dir/hosts"
}

# Removes bed NAME: kills processes inside its namespaces, deletes the namespaces and the state.
teardown() {
  local name=$1 ns
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^${PREFIX}${name}-" || true); do
    local pids
    pids=$(ip netns pids "$ns" 2> /dev/null || true)
    if [[ -n $pids ]]; then
      kill $pids 2> /dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$ns" 2> /dev/null || true)
        [[ -z $pids ]] && break
        sleep 0.5
      done
      [[ -n $pids ]] && kill -9 $pids 2> /dev/null || true
    fi
    ip netns del "$ns" 2> /dev/null || true
  done
  rm -rf "${STATE_ROOT:?}/$name"
}

cmd_rate() {
  local name=$1 rate=$2 dir="$STATE_ROOT/$1"
  [[ -f $dir/hosts ]] || die "no bed '$name' (no $dir/hosts)"
  [[ $rate == unlimited ]] || rate_bits "$rate" > /dev/null
  local h
  for h in $(awk '{print $1}' "$dir/hosts"); do
    if [[ $rate == unlimited ]]; then
      tc -n "$(ns_of "$name" "$h")" qdisc del dev eth0 root 2> /dev/null || true
      tc -n "$(ns_of "$name" sw)" qdisc del dev "p-$h" root 2> /dev/null || true
    else
      shape "$(ns_of "$name" "$h")" eth0 "$rate"
      shape "$(ns_of "$name" sw)" "p-$h" "$rate"
    fi
  done
  echo "$rate" > "$dir/rate"
}

cmd_down() {
  valid_name "$1"
  teardown "$1"
}

host_ns() { # name host -> namespace, checked
  local dir="$STATE_ROOT/$1"
  [[ -f $dir/hosts ]] || die "no bed '$1' (no $dir/hosts)"
  grep -q "^$2 " "$dir/hosts" || die "bed '$1' has no host '$2' (hosts: $(awk '{print $1}' "$dir/hosts" | paste -sd,))"
  ns_of "$1" "$2"
}

cmd_exec() {
  local name=$1 host=$2
  shift 2
  local ns
  ns=$(host_ns "$name" "$host")
  exec ip netns exec "$ns" "$@"
}

cmd_addr() {
  host_ns "$1" "$2" > /dev/null
  awk -v h="$2" '$1 == h {print $2}' "$STATE_ROOT/$1/hosts"
}

beds() { # every bed name, from state folders and from namespaces (a run killed mid-"up")
  {
    [[ -d $STATE_ROOT ]] && ls "$STATE_ROOT"
    ip netns list | awk '{print $1}' | grep -E "^${PREFIX}" | sed -E "s/^${PREFIX}([a-z0-9]+)-.*/\1/"
  } 2> /dev/null | sort -u
}

owner_alive() {
  local f="$STATE_ROOT/$1/owner"
  [[ -f $f ]] && kill -0 "$(cat "$f")" 2> /dev/null
}

cmd_list() {
  local b
  for b in $(beds); do
    local owner="?" rate="?"
    [[ -f $STATE_ROOT/$b/owner ]] && owner=$(cat "$STATE_ROOT/$b/owner")
    [[ -f $STATE_ROOT/$b/rate ]] && rate=$(cat "$STATE_ROOT/$b/rate")
    if owner_alive "$b"; then echo "$b owner=$owner rate=$rate live"; else echo "$b owner=$owner rate=$rate stale"; fi
  done
}

# Makes and removes a two-namespace probe with a bridge and a tbf qdisc; exit 3 with the step the
# kernel (or the missing privilege) refused.
cmd_check() {
  local a="${PREFIX}chk$$-a" b="${PREFIX}chk$$-b" err
  probe() {
    if ! err=$("$@" 2>&1); then
      ip netns del "$a" 2> /dev/null || true
      ip netns del "$b" 2> /dev/null || true
      echo "netbed: the kernel refused '$*': $err" >&2
      exit 3
    fi
  }
  probe ip netns add "$a"
  probe ip netns add "$b"
  probe ip link add eth0 netns "$a" type veth peer name p-x netns "$b"
  probe ip -n "$b" link add br0 type bridge
  probe ip -n "$b" link set p-x master br0
  probe tc -n "$a" qdisc replace dev eth0 root tbf rate 100mbit burst 67050 limit 250000
  ip netns del "$a"
  ip netns del "$b"
  echo "netbed: ok (namespaces, veth, bridge, tbf)"
}

cmd_cleanup() {
  local all=${1:-} b
  for b in $(beds); do
    if [[ $all == --all ]] || ! owner_alive "$b"; then
      echo "netbed: removing bed '$b'"
      teardown "$b"
    fi
  done
}

[[ $# -ge 1 ]] || die "usage: netbed.sh up|rate|down|exec|addr|check|list|cleanup ... (see the comment at the top)"
if [[ $(id -u) != 0 ]]; then
  echo "netbed: needs root (network namespaces and tc), running as uid $(id -u)" >&2
  exit 3
fi
if ! command -v ip > /dev/null || ! command -v tc > /dev/null; then
  echo "netbed: needs iproute2's ip and tc on the PATH" >&2
  exit 3
fi
verb=$1
shift
case $verb in
  up) (($# >= 1)) || die "usage: up NAME [--hosts a,b] [--rate RATE] [--owner PID]"; cmd_up "$@" ;;
  rate) (($# == 2)) || die "usage: rate NAME RATE"; cmd_rate "$1" "$2" ;;
  down) (($# == 1)) || die "usage: down NAME"; cmd_down "$1" ;;
  exec) (($# >= 3)) || die "usage: exec NAME HOST CMD [ARG...]"; cmd_exec "$@" ;;
  addr) (($# == 2)) || die "usage: addr NAME HOST"; cmd_addr "$1" "$2" ;;
  check) cmd_check ;;
  list) cmd_list ;;
  cleanup) cmd_cleanup "${1:-}" ;;
  *) die "unknown command '$verb' (expected up, rate, down, exec, addr, check, list, cleanup)" ;;
esac
