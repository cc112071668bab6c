/**
 * The POSIX shell scripts the generated pods run (dash in node:20-slim): the shards' wait for each other, the
 * shard's run of mqbench, and the merge's wait for every shard's results. Each is built from its inputs as text, so
 * the tests can run exactly what a pod would run, with the pod's paths mapped to folders of their own.
 */

/** Paths inside the pods, shared by the manifests and the scripts. */
export const POD_PATHS = {
  /** The scenario and the files it references (a projected ConfigMap and Secret), read-only. */
  scenario: '/scenario',
  /** The results volume (the run's folder on the claim). */
  results: '/results',
  /** An emptyDir shared by a shard's init container and its mqbench container: the start instant. */
  sync: '/sync',
  /** The image's mqbench. */
  bin: '/app/bin/mqbench.js',
} as const;

/** The file of the start instant, written by the shards' barrier and read by the shard script. */
export const START_AT_FILE = `${POD_PATHS.sync}/start-at`;
/** Where the shards announce they are ready, one folder per Job (its uid), one file per shard holding its clock. */
export const READY_DIR = `${POD_PATHS.results}/.ready`;

/** A word for `sh`: single-quoted unless it is plainly safe. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface BarrierScript {
  shards: number;
  /** How long a shard waits for the others. */
  readyTimeoutSec: number;
  /** How long after the last shard is ready the run starts. */
  startDelayMs: number;
}

/**
 * The shards' barrier (an init container): each shard writes its own clock (ms) into READY_DIR/<job uid>/<index>,
 * waits until all N files exist, then takes the latest of them plus the start delay as the start instant. Every
 * shard reads the same N numbers, so every shard computes the same instant, however late its image was pulled or
 * its pod scheduled. A file is written once, by a rename, so no reader sees half a number.
 */
export function barrierScript(b: BarrierScript): string {
  return `set -eu
i="$JOB_COMPLETION_INDEX"
n=${b.shards}
ready="${READY_DIR}/\${MQBENCH_JOB_UID:-job}"
out="${POD_PATHS.results}/shard-$i"
if [ -e "$out.exit" ] || [ -e "$out/shard.json" ]; then
  echo "mqbench: shard $i: $out already holds results of an earlier run: generate new manifests for a new run (mqbench k8s)" >&2
  exit 2
fi
mkdir -p "$ready"
date +%s%3N > "$ready/.$i.tmp"
mv "$ready/.$i.tmp" "$ready/$i"
echo "mqbench: shard $i of $n ready; waiting up to ${b.readyTimeoutSec}s for the others"
deadline=$(( $(date +%s) + ${b.readyTimeoutSec} ))
while :; do
  count=$(ls "$ready" | grep -c '^[0-9][0-9]*$' || true)
  [ "$count" -ge "$n" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    missing=""
    j=0
    while [ "$j" -lt "$n" ]; do
      [ -e "$ready/$j" ] || missing="$missing $j"
      j=$((j + 1))
    done
    echo "mqbench: shard $i: only $count of $n shards were ready after ${b.readyTimeoutSec}s; not ready:$(echo "$missing" | cut -c1-400)" >&2
    echo "  hint: kubectl get pods shows which are Pending (no room on the nodes) or pulling their image; raise --ready-timeout or use fewer shards" >&2
    exit 1
  fi
  sleep 1
done
latest=0
for f in "$ready"/[0-9]*; do
  t=$(cat "$f")
  if [ "$t" -gt "$latest" ]; then latest=$t; fi
done
start=$((latest + ${b.startDelayMs}))
now=$(date +%s%3N)
if [ "$now" -ge "$start" ]; then
  echo "mqbench: shard $i saw the last shard ready $((now - latest)) ms after it was, later than the start delay (${b.startDelayMs} ms): raise --start-delay" >&2
  exit 2
fi
echo "$start" > "${START_AT_FILE}.tmp"
mv "${START_AT_FILE}.tmp" "${START_AT_FILE}"
echo "mqbench: all $n shards ready; the run starts at $start (unix ms, in $((start - now)) ms)"
`;
}

export interface ShardScript {
  /** The arguments of `mqbench run` before --start-at and --out: scenario, --shards, --broker, …, already quoted. */
  runArgs: string[];
  /** The start instant: read from the barrier's file, or fixed when the manifests were made. */
  start: { kind: 'barrier' } | { kind: 'fixed'; iso: string; unixMs: number };
}

/**
 * The shard's mqbench run, under a shell that passes SIGTERM on (eviction, kubectl delete, the Job's deadline: mqbench
 * then stops as at the run's end and still writes its reports), then leaves `/results/shard-<i>.exit` with mqbench's
 * exit code for the merge to read.
 */
export function shardScript(s: ShardScript): string {
  const start =
    s.start.kind === 'barrier'
      ? `start_at=$(cat ${START_AT_FILE})`
      : `start_at=${shellQuote(s.start.iso)}
if [ "$(date +%s%3N)" -ge ${s.start.unixMs} ]; then
  echo "mqbench: shard $i: the start instant $start_at has passed: the manifests were applied too late, or the pods took longer to start (image pull, scheduling) than the margin left; generate new ones (mqbench k8s)" >&2
  printf '%s\\n' 2 > "$out.exit"
  exit 2
fi`;
  return `set -u
i="$JOB_COMPLETION_INDEX"
out="${POD_PATHS.results}/shard-$i"
if [ -e "$out.exit" ] || [ -e "$out/shard.json" ]; then
  echo "mqbench: shard $i: $out already holds results of an earlier run: generate new manifests for a new run (mqbench k8s)" >&2
  exit 2
fi
${start}
node ${POD_PATHS.bin} run ${s.runArgs.join(' ')} --start-at "$start_at" --out "$out" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
code=0
wait "$pid" || code=$?
while kill -0 "$pid" 2>/dev/null; do
  code=0
  wait "$pid" || code=$?
done
printf '%s\\n' "$code" > "$out.exit.tmp"
mv "$out.exit.tmp" "$out.exit"
# A shard's own thresholds judge only its part of the run; the merge judges the whole. A shard that wrote its
# results has done its part whatever its verdict, so its pod succeeds and the Job does not stop the other shards.
if [ "$code" -eq 1 ] && [ -e "$out/shard.json" ]; then
  echo "mqbench: shard $i: its own thresholds failed on its part of the clients; the merge gives the run's verdict"
  exit 0
fi
exit "$code"
`;
}

export interface MergeWaitScript {
  shards: number;
  /** How long the merge waits for every shard's results. */
  timeoutSec: number;
  /** Job name of the shards, for the hint. */
  shardsJob: string;
}

/**
 * The merge's wait (an init container): Kubernetes has no dependency between Jobs, so the merge pod waits until
 * every shard has left its exit file and results, stops at once when a shard ended without results, and gives up
 * after the timeout, naming the shards it still waits for.
 */
export function mergeWaitScript(m: MergeWaitScript): string {
  return `set -u
n=${m.shards}
deadline=$(( $(date +%s) + ${m.timeoutSec} ))
echo "mqbench: waiting up to ${m.timeoutSec}s for the results of $n shards"
while :; do
  done_count=0
  waiting=""
  failed=""
  i=0
  while [ "$i" -lt "$n" ]; do
    out="${POD_PATHS.results}/shard-$i"
    if [ -e "$out.exit" ]; then
      code=$(cat "$out.exit")
      if { [ "$code" = 0 ] || [ "$code" = 1 ]; } && [ -e "$out/shard.json" ]; then
        done_count=$((done_count + 1))
      else
        failed="$failed $i (exit $code)"
      fi
    else
      waiting="$waiting $i"
    fi
    i=$((i + 1))
  done
  if [ -n "$failed" ]; then
    echo "mqbench: no merge: shard$failed ended without results" >&2
    echo "  hint: kubectl logs job/${m.shardsJob} --all-containers (exit 2: invalid input or start instant, 3: broker unreachable, 143: stopped)" >&2
    exit 1
  fi
  if [ "$done_count" -eq "$n" ]; then
    echo "mqbench: all $n shards have results"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "mqbench: no merge: after ${m.timeoutSec}s only $done_count of $n shards have results; no result from shard$(echo "$waiting" | cut -c1-400)" >&2
    echo "  hint: kubectl get pods -l job-name=${m.shardsJob}; a pod killed outright (OOMKilled) leaves no exit file" >&2
    exit 1
  fi
  sleep 5
done
`;
}
