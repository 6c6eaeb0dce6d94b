#!/bin/sh
# report-md.sh OPS.json — the Markdown tables of docs/performance.md from
# a `softse-bench --json` run (report.sh splices them in): the operation
# rows with their wall and CPU-per-operation ratios against the careful
# raw baseline, the thread scaling, and the process rows.  Needs jq.
set -eu
json=$1

n1=$(jq -r '.modules[0].name' "$json")
n2=$(jq -r '.modules[1].name // "module2"' "$json")

jq -r '
  "machine: \(.machine.nproc) CPUs, \(.machine.cpu), \(.machine.openssl); each rate the median of \(.settings.rounds) rounds of \(.settings.seconds) s; PIN KDF \(.settings.pin_kdf_iterations) iterations (\(.settings.pin_kdf_source))"' "$json"
echo

# A number, a ratio, or the note of a target that has none.
num='def rate(m): if m.median then (m.median | floor | tostring) else (m.note // "-") end;
     def r2(x): if x == null then "n/a" else ((x * 100 | round) as $v |
         "\($v / 100 | floor).\($v % 100 | tostring | if length < 2 then "0" + . else . end)") end;
     def us(m): if m.cpu_us_per_op then r2(m.cpu_us_per_op) else "-" end;
     def flag(x): if x != null and x > 1.05 then " **!**" else "" end;'

echo "| row | thr | $n1 ops/s | /raw | CPU µs/op | CPU/raw | $n2 ops/s | /raw | raw ops/s | raw CPU µs/op | naive raw ops/s | $n1/naive |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -r "$num"'
  .operations[] |
  "| \(.name) | \(.threads) | \(rate(.ops_per_s.module1)) | \(r2(.module1_over_raw))\(flag(.module1_over_raw)) | \(us(.ops_per_s.module1)) | \(r2(.module1_cpu_over_raw)) | \(rate(.ops_per_s.module2)) | \(r2(.module2_over_raw)) | \(rate(.ops_per_s.raw)) | \(us(.ops_per_s.raw)) | \(rate(.ops_per_s.raw_naive)) | \(r2(.module1_over_raw_naive)) |"' "$json"
echo
echo "Thread scaling (rate on 2 threads / rate on 1, paired rounds):"
echo
echo "| row | $n1 | $n2 | raw |"
echo "|---|---:|---:|---:|"
jq -r "$num"'
  .operations[] | select(.threads > 1) |
  "| \(.name) ×\(.threads) | \(r2(.scaling_module1)) | \(r2(.scaling_module2)) | \(r2(.scaling_raw)) |"' "$json"
if [ "$(jq '.processes | length' "$json")" -gt 0 ]; then
    echo
    echo "Processes (N processes on the same token, aggregate ops/s; raw: N raw processes; scale: rate at N / rate at 1):"
    echo
    echo "| row | N | $n1 ops/s | /raw | CPU/raw | scale | $n2 ops/s | /raw | raw ops/s | raw scale |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    jq -r "$num"'
      .processes[] |
      "| \(.name) | \(.procs) | \(rate(.ops_per_s.module1)) | \(r2(.module1_over_raw)) | \(r2(.module1_cpu_over_raw)) | \(r2(.scaling_module1)) | \(rate(.ops_per_s.module2)) | \(r2(.module2_over_raw)) | \(rate(.ops_per_s.raw)) | \(r2(.scaling_raw)) |"' "$json"
fi
