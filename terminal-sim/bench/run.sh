#!/usr/bin/env bash
# The load benchmark of docs/BENCHMARKS.md: a release `forecourt` on a fresh database, the
# demo operator, several fleets of phones made by `forecourt-terminal load`, then
#   1. closed loop (max throughput), 2. open loop at a fixed rate (latency at that load).
#
# Usage: terminal-sim/bench/run.sh <sqlite|postgres> <inproc|tcp> [seconds] [rate]
# Env:   BENCH_FLEETS (5) BENCH_WALLETS (40 per fleet) BENCH_CARDS (10 per driver)
#        BENCH_PUMPS (32, closed loop) BENCH_PG_URL (postgres://postgres@127.0.0.1:5432)
#        BENCH_SKIP_CLOSED=1 runs only the fixed-rate run. The server log is left in
#        $TMPDIR/forecourt-bench-server.log.
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

cd "$(dirname "$0")/../.."
cargo build --release --locked --bins -q
bin=target/release
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    cp "$work/server.log" "${TMPDIR:-/tmp}/forecourt-bench-server.log" 2>/dev/null || true
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

FORECOURT_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$bin/forecourt" > "$work/server.log" 2>&1 &
pids+=($!)
server="http://127.0.0.1:$port"
for _ in $(seq 100); do
    curl -sf "$server/v1/health" > /dev/null && break
    sleep 0.2
done

"$bin/forecourt-terminal" register --server "$server" --password forecourt-demo \
    --station-name "Bench station" --terminal "$work/terminal.json" > /dev/null

load() {
    "$bin/forecourt-terminal" load --terminal "$work/terminal.json" \
        --fleets "$fleets" --wallets "$wallets" --cards-per-driver "$cards" \
        --fund 100000000000 --seconds "$seconds" "$@" | tee "$work/load.out"
}

if [ -z "${BENCH_SKIP_CLOSED:-}" ]; then
    load --pumps "$pumps"
    echo "BENCH $db $hsm closed $(sed -n 's/^RESULT //p' "$work/load.out")"
fi
load --rate "$rate"
echo "BENCH $db $hsm rate-$rate $(sed -n 's/^RESULT //p' "$work/load.out")"
