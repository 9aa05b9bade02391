#!/usr/bin/env bash
# The load benchmark of docs/BENCHMARKS.md: a release `forecourt` on a fresh database, the
# demo operator, several fleets of phones made by `forecourt-terminal load`, then
#   1. closed loop (max throughput), 2. open loop at a fixed rate (latency at that load).
#
# Usage: terminal-sim/bench/run.sh <sqlite|postgres> <inproc|tcp> [seconds] [rate]
# Env:   BENCH_FLEETS (5) BENCH_WALLETS (40 per fleet) BENCH_CARDS (10 per driver)
#        BENCH_PUMPS (32, closed loop) BENCH_PG_URL (postgres://postgres@127.0.0.1:5432)
#        BENCH_SKIP_CLOSED=1 runs only the fixed-rate run. BENCH_BIN=<dir> runs the
#        binaries in <dir> instead of building target/release. The server log is left in
#        $TMPDIR/forecourt-bench-server.log.
#        BENCH_NODES=2 (postgres with tcp only): two `forecourt` processes on the one
#        database and HSM, each driven by its own generator (own fleets, half the pumps
#        and half the rate each) at the same time; prints one BENCH line per node.
# Prints each run's report and one `BENCH <db> <hsm> <mode> {json}` line per run.
set -euo pipefail

db=${1:?sqlite or postgres}
hsm=${2:?inproc or tcp}
seconds=${3:-20}
rate=${4:-1000}
fleets=${BENCH_FLEETS:-5}
wallets=${BENCH_WALLETS:-40}
cards=${BENCH_CARDS:-10}
pumps=${BENCH_PUMPS:-32}
pg=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
nodes=${BENCH_NODES:-1}
if [ "$nodes" != 1 ] && { [ "$nodes" != 2 ] || [ "$db" != postgres ] || [ "$hsm" != tcp ]; }; then
    echo "BENCH_NODES=2 needs postgres and tcp (one database, one HSM)" >&2; exit 2
fi

cd "$(dirname "$0")/../.."
if [ -n "${BENCH_BIN:-}" ]; then
    bin=$BENCH_BIN   # binaries built elsewhere (e.g. an A/B of two commits); no build
else
    cargo build --release --locked --bins -q
    bin=target/release
fi
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    cp "$work/server.log" "${TMPDIR:-/tmp}/forecourt-bench-server.log" 2>/dev/null || true
    cp "$work/server2.log" "${TMPDIR:-/tmp}/forecourt-bench-server2.log" 2>/dev/null || true
    wait 2>/dev/null || true
    if [ "$db" = postgres ]; then psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $pgdb" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

case "$db" in
    sqlite) export FORECOURT_DATABASE_URL="sqlite://$work/forecourt.db" ;;
    postgres)
        pgdb="forecourt_bench_$$"
        psql -q "$pg/postgres" -c "CREATE DATABASE $pgdb"
        export FORECOURT_DATABASE_URL="$pg/$pgdb" ;;
    *) echo "unknown database $db" >&2; exit 2 ;;
esac

case "$hsm" in
    inproc) export FORECOURT_HSM_DIR="$work/hsm" ;;
    tcp)
        components=$("$bin/forecourt-hsm" init --components 2 --dir "$work/hsm" |
            awk '/^component /{print $3}' | paste -sd, -)
        psk=$("$bin/forecourt-hsm" gen-psk)
        hsm_port=$((port + 1))
        FORECOURT_HSM_COMPONENTS="$components" FORECOURT_HSM_PSK="$psk" \
            "$bin/forecourt-hsm" serve --listen "127.0.0.1:$hsm_port" --dir "$work/hsm" \
            > "$work/hsm.log" 2>&1 &
        pids+=($!)
        export FORECOURT_HSM_ADDR="127.0.0.1:$hsm_port" FORECOURT_HSM_PSK="$psk"
        sleep 1 ;;
    *) echo "unknown hsm $hsm" >&2; exit 2 ;;
esac

start_node() { # <port> <log>
    FORECOURT_LISTEN="127.0.0.1:$1" RUST_LOG=warn "$bin/forecourt" > "$2" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$1/v1/health" > /dev/null && return 0
        sleep 0.2
    done
    echo "forecourt on port $1 did not start" >&2; exit 1
}
register() { # <port> <terminal file>
    "$bin/forecourt-terminal" register --server "http://127.0.0.1:$1" --password forecourt-demo \
        --station-name "Bench station" --terminal "$2" > /dev/null
}
start_node "$port" "$work/server.log"
register "$port" "$work/terminal.json"
if [ "$nodes" = 2 ]; then
    start_node $((port + 2)) "$work/server2.log"
    register $((port + 2)) "$work/terminal2.json"
fi

load() { # <terminal file> <output> [load options]
    local terminal=$1 out=$2
    shift 2
    "$bin/forecourt-terminal" load --terminal "$terminal" \
        --fleets "$fleets" --wallets "$wallets" --cards-per-driver "$cards" \
        --fund 100000000000 --seconds "$seconds" "$@" > "$out"
}

run() { # <mode name> <pumps> <rate>; an empty pumps runs the open loop at rate
    local opts opts2
    if [ -n "$2" ]; then
        opts=(--pumps "$2") opts2=(--pumps $(($2 / 2)))
    else
        opts=(--rate "$3") opts2=(--rate $(($3 / 2)))
    fi
    if [ "$nodes" = 1 ]; then
        load "$work/terminal.json" "$work/load.out" "${opts[@]}"
        grep -v '^RESULT ' "$work/load.out" || true
        echo "BENCH $db $hsm $1 $(sed -n 's/^RESULT //p' "$work/load.out")"
        return
    fi
    load "$work/terminal.json" "$work/load.out" "${opts2[@]}" &
    local first=$!
    load "$work/terminal2.json" "$work/load2.out" "${opts2[@]}"
    wait "$first"
    for n in 1 2; do
        out="$work/load.out"; [ "$n" = 2 ] && out="$work/load2.out"
        grep -E '^(load|pre-authorization|completion|reversal|response codes)' "$out" | sed "s/^/node $n: /"
        echo "BENCH $db $hsm $1 node-$n $(sed -n 's/^RESULT //p' "$out")"
    done
}

if [ -z "${BENCH_SKIP_CLOSED:-}" ]; then
    run closed "$pumps" ""
fi
run "rate-$rate" "" "$rate"
