#!/usr/bin/env bash
# Runs the end-to-end suite against a real Kubernetes cluster and cleans up after itself.
#
#   scripts/test-real.sh KUBECONFIG [REGISTRY]
#
# KUBECONFIG: an admin's kubeconfig (token or client certificate) for a throwaway or shared cluster
# (KubeSphere, k3s, kind, the kit in ../shared/k8s). The tests make their users with
# CertificateSigningRequests (kube-apiserver-client signer), work in namespaces of their own
# (labelled wb-test.dev/run=<run id>) and delete them at the end, with anything cluster-wide the run
# made (wb's ClusterRoles, tenant roles, the admission policy) that was not there before.
# REGISTRY (or WB_TEST_REGISTRY): host:port of a plain-HTTP registry, no auth, that this machine
# pushes to and the cluster's nodes pull from; images go under wb-test/.
# Needs what scripts/test.sh installs, kubectl (1.31-1.33) and root for the JRE base (debootstrap,
# made once into /var/tmp/wb-test-cache). WB_PRESET picks the build (default: default).
# Prints how many tests ran for real and how many were skipped, and why; exits non-zero when a
# test fails or fewer than WB_TEST_MIN_REAL percent (default 80) ran for real.
set -euo pipefail
cd "$(dirname "$0")/.."
kubeconfig=${1:?usage: scripts/test-real.sh KUBECONFIG [REGISTRY]}
registry=${2:-${WB_TEST_REGISTRY:-}}
if [[ -z "$registry" ]]; then
  echo "test-real: name a registry the cluster pulls from: scripts/test-real.sh KUBECONFIG HOST:PORT" >&2
  exit 2
fi
preset=${WB_PRESET:-default}
kubeconfig=$(readlink -f "$kubeconfig")
command -v kubectl >/dev/null || { echo "test-real: kubectl is needed (a v1.31-v1.33 client)" >&2; exit 2; }
kubectl --kubeconfig "$kubeconfig" version >/dev/null || { echo "test-real: cannot reach the cluster in $kubeconfig" >&2; exit 2; }

if [[ ! -x "build/$preset/cli/wb" ]]; then
  scripts/install-deps.sh --with-tests
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$(nproc)"
fi

run_id="r$(date +%s | tail -c 7)$RANDOM"
# The 1 GiB cp-files round trip runs for real too (about 35 s on a 2-core node).
export WB_TEST_BIG=${WB_TEST_BIG:-1}
export WB_TEST_KUBECONFIG="$kubeconfig" WB_TEST_REGISTRY="$registry" WB_TEST_RUN_ID="$run_id"
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }
cluster_kinds=clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings
before=$(k get "$cluster_kinds" -l app.kubernetes.io/managed-by=wb -o name 2>/dev/null | sort || true)
# wb platform init's namespace for membership records (and the records in it), if this run makes it
records_before=$(k get namespace wb-system -o name 2>/dev/null || true)

cleanup() {
  # Namespaces this run made (the harness also deletes them module by module), then whatever
  # cluster-wide object wb made during the run that was not there before it.
  k delete namespaces -l "wb-test.dev/run=$run_id" --wait=false >/dev/null 2>&1 || true
  k delete certificatesigningrequests -l "wb-test.dev/run=$run_id" >/dev/null 2>&1 || true
  after=$(k get "$cluster_kinds" -l app.kubernetes.io/managed-by=wb -o name 2>/dev/null | sort || true)
  made=$(comm -13 <(echo "$before") <(echo "$after") | grep . || true)
  if [[ -n "$made" ]]; then k delete $made >/dev/null 2>&1 || true; fi
  if [[ -z "$records_before" ]]; then k delete namespace wb-system --wait=false >/dev/null 2>&1 || true; fi
  # What the harness kept for this run only: its users' keys and certificates, jars, image refs.
  local cache=${WB_TEST_CACHE:-/var/tmp/wb-test-cache} kind
  for kind in users jars images; do
    rm -rf "$cache/$kind-$run_id" "$cache/$kind-$run_id.json" "$cache/$kind-$run_id.lock"
  done
}
trap cleanup EXIT

echo "test-real: run $run_id against $(k config view --minify -o jsonpath='{.clusters[0].cluster.server}'), registry $registry"
status=0
ctest --preset "$preset" -R '^e2e\.' -j2 --timeout 900 || status=$?
/usr/bin/python3 tests/harness/real_summary.py "build/$preset/Testing/Temporary/LastTest.log" \
  --min-real "${WB_TEST_MIN_REAL:-80}" || status=$((status == 0 ? 1 : status))
exit $status
