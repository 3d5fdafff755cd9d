#!/usr/bin/env bash
# Reproduces every figure in docs/benchmarks.md, one scenario after the other (about 25 minutes on the
# project's 2-core machine). Each scenario measures Pasar and its peer in the same run and prints Markdown.
# Needs what the tests need (PostgreSQL server binaries, redis-server, ffmpeg) plus, for the peers,
# nginx with libnginx-mod-rtmp (ingest) and Node.js with npm (the ws and Socket.IO servers for chat fan-out;
# the bench installs their locked npm dependencies with `npm ci` when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || echo "note: could not raise the open-files limit; the 15,000-viewer chat run needs about 16,100" >&2
dotnet build -c Release bench/Pasar.Bench -v quiet -nologo
run() { echo; echo "### $*"; dotnet run -c Release --no-build --project bench/Pasar.Bench -- "$@"; }
run orders    --backend both --concurrency 32 --seconds 15
run check-ins --backend both --concurrency 32 --seconds 15
run shakes    --backend both --concurrency 32 --seconds 15
run feed      --backend both --concurrency 8  --seconds 10
run fanout    --backend both --concurrency 8  --seconds 10
run reminders --backend both --subscribers 100000
run flash     --backend embedded,sqlite-redis,scaled --concurrency 64 --seconds 10 --quantity 100
run flash     --backend embedded,sqlite-redis,scaled --concurrency 64 --seconds 10 --quantity 100000
run voucher   --backend embedded,scaled --concurrency 64 --seconds 10 --quantity 100000
run auction   --backend embedded,scaled --concurrency 64 --seconds 10
run ingest    --seconds 40 --max-streams 6
run llhls-cpu --seconds 40
run upload    --seconds 40 --shows 1,3 --outage 15   # starts its own OpenStack Swift (apt-get install swift swift-proxy swift-object swift-container swift-account memcached)
run llhls-latency --seconds 60   # needs npm --prefix web ci && npm --prefix web run build, and chromium
run chat --viewers 5000,10000,15000 --chatters 50 --seconds 20 --targets pasar,peer,ws-coalesce,socketio
run chat --viewers 10000 --chatters 1000 --seconds 20 --stall-viewers 0 --targets pasar --server-env Pasar:LiveRoom:MaxChatShownPerSecond=30   # the sampled room (ADR 0020)
run analytics --viewers 10000 --periods 15,2,1 --seconds 20 --show-events 1000000 --shows 1000
