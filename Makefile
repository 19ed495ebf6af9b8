# Kontrail: the SDN stack and its operator. `make help` lists the targets.

# Every Go module in the repo, in build order. The root module holds the API
# types and the operator; each component is its own module (see go.work).
MODULES := . components/apiserver components/controller components/kubemanager cni vrouter tests hack/bundle

# Pinned tools, built from the Go module proxy into ./bin.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.7.1

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
K8S_BIN ?= $(LOCALBIN)/k8s
KUBECTL ?= $(K8S_BIN)/kubectl

# The envtest suite and every other test target run against the control plane
# binaries that `make envtest-assets` builds from source.
export KUBEBUILDER_ASSETS := $(K8S_BIN)

# Images, for docker-build and the manifests.
REGISTRY ?= kontrail.io
VERSION ?= 0.1.0
IMG ?= $(REGISTRY)/kontrail-operator:$(VERSION)

# Go test flags for every module; GO_TEST_FLAGS=-v for more output. -count=1:
# the suites read files outside their module (CRDs, PROJECT), which the test
# cache does not track.
GO_TEST_FLAGS ?= -count=1 -timeout=30m

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and webhook manifests from the API and controller markers.
	$(CONTROLLER_GEN) crd paths="./api/..." output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager-role paths="./operator/..." output:rbac:artifacts:config=config/rbac
	cd components/apiserver && $(CONTROLLER_GEN) webhook rbac:roleName=apiserver-role paths="./..." \
		output:webhook:artifacts:config=../../config/webhook output:rbac:artifacts:config=../../config/components/apiserver
	cd components/controller && $(CONTROLLER_GEN) rbac:roleName=controller-role paths="./..." output:rbac:artifacts:config=../../config/components/controller
	cd components/kubemanager && $(CONTROLLER_GEN) rbac:roleName=kubemanager-role paths="./..." output:rbac:artifacts:config=../../config/components/kubemanager
	cd vrouter && $(CONTROLLER_GEN) rbac:roleName=vrouter-role paths="./..." output:rbac:artifacts:config=../config/components/vrouter

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: tidy
tidy: ## Tidy every module's go.mod and go.sum (each must build without the workspace).
	@for m in $(MODULES) hack/k8s-binaries hack/etcd-binary hack/coredns-binary hack/conformance; do (cd $$m && GOWORK=off go mod tidy); done

.PHONY: verify
verify: manifests generate bundle tidy ## Fail when generated files, go.mod/go.sum or formatting differ from what the tools produce.
	@if [ -n "$$(git status --porcelain)" ]; then \
		git status --porcelain; git --no-pager diff --stat; \
		echo "generated files are stale: run 'make manifests generate', 'go mod tidy' in each module, and commit the result"; exit 1; fi
	@bad=$$(git ls-files '*.go' | xargs gofmt -l); if [ -n "$$bad" ]; then echo "not gofmt'ed: $$bad"; exit 1; fi

.PHONY: fmt
fmt: ## Run go fmt in every module.
	@for m in $(MODULES); do (cd $$m && go fmt ./...); done

.PHONY: vet
vet: ## Run go vet in every module, with and without the workspace.
	@for m in $(MODULES); do echo "vet $$m"; (cd $$m && go vet ./... && GOWORK=off go vet ./...); done

.PHONY: test
test: lab-deps manifests generate fmt vet envtest-assets ## Run every module's unit tests and the Ginkgo suites: envtest, and as root the dataplane, the lab, the e2e suite (twice: installed from config/default and from the bundle), the chaos suite's short run and a few of Kubernetes' conformance tests.
	@for m in $(MODULES); do echo "test $$m"; (cd $$m && go test $(GO_TEST_FLAGS) ./...); done
	@echo "test tests/e2e on a lab installed from the OLM bundle"; cd tests && E2E_INSTALL=bundle go test $(GO_TEST_FLAGS) ./e2e/
	@echo "test tests/chaos: the short run (make chaos-short)"; cd tests && CHAOS=1 go test $(GO_TEST_FLAGS) ./chaos/
	@echo "Kubernetes' conformance tests: the short subset (make conformance-short)"; \
		if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory conformance-short; else echo "not root: skipped (the lab needs root)"; fi

.PHONY: test-one-core
test-one-core: ## (root) make test on one core: every CPU but cpu0 offline for the run (hack/one-core.sh), as on a machine half as fast.
	hack/one-core.sh $(MAKE) test

# make bench (docs/benchmarks.md): BENCH_COUNT repetitions of
# BENCH_SAMPLES ADD/DEL samples each, and once the scale run of
# BENCH_SCALE_PODS pods (0 skips it).
BENCH_COUNT ?= 3
BENCH_SAMPLES ?= 100
BENCH_SCALE_PODS ?= 10000

.PHONY: bench
bench: lab-deps envtest-assets ## (root) Kontrail side by side with the reference stack (Multus v4 + bridge + host-local, built from the Go module proxy): one table, also written to docs/benchmarks.md.
	cd tests && go run ./cmd/kontrail-bench --repo .. --count $(BENCH_COUNT) --samples $(BENCH_SAMPLES) --scale-pods $(BENCH_SCALE_PODS)

# make chaos (docs/reliability.md): the chaos suite's long run, on its own
# lab (klabc, 10.93.0; CHAOS_LAB=name,subnet for another); CHAOS_SEED
# repeats a run's choices. make test runs its short version.
CHAOS_TIMEOUT ?= 6h

.PHONY: chaos-short
chaos-short: lab-deps envtest-assets ## (root) The chaos suite's short run (7 cycles, a few minutes): fails on any violation of the ownership invariants.
	cd tests && CHAOS=1 go test -count=1 -timeout=40m ./chaos/ -v

.PHONY: chaos
chaos: lab-deps envtest-assets ## (root) The chaos suite's long run: faults (SIGKILLs, evictions, kube-apiserver/etcd restarts, Contrail objects deleted) under pod churn until 200 pod lifecycles and 20 kills of each component; fails on any violation of the ownership invariants.
	cd tests && CHAOS_LONG=1 go test -count=1 -timeout=$(CHAOS_TIMEOUT) ./chaos/ -v

# make conformance (docs/conformance.md): Kubernetes' own e2e suite, built
# from source at the lab's version, on its own lab (klabf, 10.92.0), focused
# on the [sig-network] [Conformance] tests. make test runs a short subset.
CONFORMANCE_BIN ?= $(LOCALBIN)/conformance
CONFORMANCE = cd tests && go run ./cmd/kontrail-conformance --repo .. --dir ../.lab-conformance --e2e-bin $(CONFORMANCE_BIN)
CONFORMANCE_SHORT_FOCUS = \[sig-network\] (DNS should provide DNS for services|Services should serve a basic endpoint from pods|Networking Granular Checks: Pods should function for (intra|node)-pod communication: http|HostPort|Proxy version v1 should proxy through a service and a pod) .*\[Conformance\]

.PHONY: conformance-bin
conformance-bin: ## Build e2e.test, agnhost and the ginkgo CLI from k8s.io/kubernetes at the lab's version into bin/conformance.
	hack/build-conformance.sh $(CONFORMANCE_BIN)

.PHONY: conformance
conformance: lab-deps manifests envtest-assets conformance-bin ## (root) Kubernetes' [sig-network] [Conformance] tests (DNS's among them) on a lab: prints passed, failed, skipped and writes docs/conformance.md.
	$(CONFORMANCE) --report docs/conformance.md

.PHONY: conformance-short
conformance-short: lab-deps manifests envtest-assets conformance-bin ## (root) A few of those tests (DNS, a Service, pod-to-pod and node-to-pod, hostPort, the apiserver's proxy): make test's subset.
	$(CONFORMANCE) --focus '$(CONFORMANCE_SHORT_FOCUS)' --command 'make conformance-short'

# The lab (docs/lab.md): NODES nodes; INSTALL=default installs the
# operator from config/default, INSTALL=bundle from bundle/manifests as
# OLM's install strategy does.
NODES ?= 2
INSTALL ?= default
LAB = $(LOCALBIN)/kontrail-lab --repo . --dir .lab --version $(VERSION)

.PHONY: lab-deps
lab-deps: ## Install the Debian packages the lab needs (containerd, runc, busybox-static, iproute2), when missing.
	hack/install-deps.sh

.PHONY: kontrail-lab
kontrail-lab: ## Build bin/kontrail-lab, the lab's command (images, up, demo, status, down).
	cd tests && go build -o $(LOCALBIN)/kontrail-lab ./cmd/kontrail-lab

.PHONY: demo
demo: lab-deps manifests envtest-assets kontrail-lab ## (root) Bring the lab up with Kontrail installed by its operator, and show the seed's vn1 pods on two nodes: interfaces and a ping. The lab stays up.
	$(LAB) demo --nodes $(NODES) --install $(INSTALL)

.PHONY: lab
lab: lab-deps manifests envtest-assets kontrail-lab ## (root) Bring the lab up (NODES=2) with Kontrail installed (INSTALL=default|bundle|none) and nothing else.
	$(LAB) up --nodes $(NODES) --install $(INSTALL)

.PHONY: lab-status
lab-status: kontrail-lab ## Show the lab's nodes, Kontrail's resources and every pod.
	$(LAB) status

.PHONY: lab-images
lab-images: kontrail-lab ## Build Kontrail's binaries and the lab's image tarballs into .lab/images without Docker, and import them into the nodes of a running lab.
	$(LAB) images

.PHONY: lab-down
lab-down: kontrail-lab ## (root) Stop the lab and remove its processes, namespaces, links, cgroups and state (images and binaries stay).
	$(LAB) down

.PHONY: bundle
bundle: manifests ## Render the OLM bundle (bundle/, bundle.Dockerfile) from config/manifests with hack/bundle.
	cd hack/bundle && go build -o $(LOCALBIN)/kontrail-bundle .
	$(LOCALBIN)/kontrail-bundle --config config/manifests --out bundle --dockerfile bundle.Dockerfile --version $(VERSION)

##@ Build

.PHONY: build
build: generate ## Build every binary into bin/.
	go build -o $(LOCALBIN)/kontrail-operator ./operator/cmd
	cd components/apiserver && go build -o $(LOCALBIN)/kontrail-apiserver ./cmd/apiserver
	cd components/controller && go build -o $(LOCALBIN)/kontrail-controller ./cmd/controller
	cd components/kubemanager && go build -o $(LOCALBIN)/kontrail-kubemanager ./cmd/kubemanager
	cd vrouter && go build -o $(LOCALBIN)/kontrail-vrouter-agent ./cmd/agent
	cd cni && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o $(LOCALBIN)/contrail-k8s-cni ./cmd/contrail-k8s-cni

.PHONY: run
run: manifests generate ## Run the operator from your host against the current kubeconfig.
	go run ./operator/cmd

# Each image as module:package:binary, for docker-build.
IMAGES := .:./operator/cmd:kontrail-operator \
	components/apiserver:./cmd/apiserver:kontrail-apiserver \
	components/controller:./cmd/controller:kontrail-controller \
	components/kubemanager:./cmd/kubemanager:kontrail-kubemanager \
	vrouter:./cmd/agent:kontrail-vrouter-agent

.PHONY: docker-build
docker-build: ## Build every component's image with Docker (needs a Docker engine; the lab builds images without one).
	@for i in $(IMAGES); do IFS=: read -r mod pkg bin <<< "$$i"; \
		docker build -f build/Dockerfile --build-arg MODULE=$$mod --build-arg PACKAGE=$$pkg --build-arg BINARY=$$bin -t $(REGISTRY)/$$bin:$(VERSION) .; done

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize envtest-assets ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize envtest-assets ## Remove the CRDs from the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize envtest-assets ## Deploy the operator to the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize envtest-assets ## Remove the operator from the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: controller-gen
controller-gen: | $(LOCALBIN) ## Build controller-gen into bin/.
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: | $(LOCALBIN) ## Build kustomize into bin/.
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: envtest-assets
envtest-assets: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl, kube-proxy and CoreDNS from source into bin/k8s.
	hack/build-k8s-binaries.sh $(K8S_BIN)

# go-install-tool installs a pinned Go tool into bin/ and records its version,
# so that a changed pin rebuilds it.
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ -x "$(1)" ] || { \
set -e; \
echo "Building $(2)@$(3)"; \
rm -f $(1) $(1)-*; \
GOWORK=off GOBIN=$(LOCALBIN) go install $(2)@$(3); \
touch $(1)-$(3); \
}
endef
