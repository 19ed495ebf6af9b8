package lab

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// The lab is a kubeadm-like cluster: besides the control plane and the
// kubelets, kube-proxy runs on every node as kubeadm runs it (a
// DaemonSet in kube-system, its configuration in the kube-proxy
// ConfigMap), in nftables mode.
const (
	// PodCIDR is the default pod network's (kubemanager's
	// --pod-v4-subnet default): kube-proxy's clusterCIDR.
	PodCIDR = "10.244.0.0/16"
	// AddonNamespace is the add-ons' (kubeadm's kube-system).
	AddonNamespace     = "kube-system"
	kubeProxyNamespace = AddonNamespace
	// ClusterDNS is the kube-dns Service's address (kubeadm's: the tenth
	// of the Service range), the kubelets' clusterDNS; ClusterDomain
	// their clusterDomain.
	ClusterDNS    = "10.96.0.10"
	ClusterDomain = "cluster.local"
	// CoreDNSVersion is hack/coredns-binary's pin, the image's tag.
	CoreDNSVersion = "v1.15.0"
)

// k8sVersion is the version the lab's Kubernetes binaries were built at
// (kubectl's client version, as make envtest-assets stamps it).
func (l *Lab) k8sVersion() (string, error) {
	out, err := exec.Command(filepath.Join(l.K8sBin, "kube-proxy"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("kube-proxy --version (make envtest-assets builds it into %s): %w", l.K8sBin, err)
	}
	// "Kubernetes v1.37.2"
	f := strings.Fields(string(out))
	if len(f) != 2 || !strings.HasPrefix(f[1], "v") {
		return "", fmt.Errorf("kube-proxy --version said %q", out)
	}
	return f[1], nil
}

// KubeProxyImage is the image of kube-proxy, named as upstream names it.
func (l *Lab) KubeProxyImage() (string, error) {
	v, err := l.k8sVersion()
	if err != nil {
		return "", err
	}
	return "registry.k8s.io/kube-proxy:" + v, nil
}

// BuildAddonImages builds the images of the cluster's add-ons into the
// lab's images directory: kube-proxy (the binary make envtest-assets
// built, with this machine's nft and the libraries it links: kube-proxy's
// nftables mode runs nft).
func (l *Lab) BuildAddonImages() ([]string, error) {
	ref, err := l.KubeProxyImage()
	if err != nil {
		return nil, err
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		return nil, fmt.Errorf("nft not found: install Debian's nftables (kube-proxy's nftables mode runs it)")
	}
	files, err := HostBinary(nft, "/usr/sbin/nft")
	if err != nil {
		return nil, err
	}
	files = append(files, File{Path: "/usr/local/bin/kube-proxy", Source: filepath.Join(l.K8sBin, "kube-proxy")})
	images := []Image{{Ref: ref, Entrypoint: []string{"/usr/local/bin/kube-proxy"}, Files: files},
		// CoreDNS is static: its binary alone, as upstream's image.
		{Ref: coreDNSImage, Entrypoint: []string{"/coredns"}, User: "65532:65532",
			Files: []File{{Path: "/coredns", Source: filepath.Join(l.K8sBin, "coredns")}}}}
	var tarballs []string
	for _, img := range images {
		out := filepath.Join(l.Dir, "images", imageFile(img.Ref))
		if err := Build(img, out); err != nil {
			return nil, err
		}
		tarballs = append(tarballs, out)
	}
	return tarballs, nil
}

// coreDNSImage is CoreDNS's image, named as upstream (and kubeadm) name it.
const coreDNSImage = "registry.k8s.io/coredns/coredns:" + CoreDNSVersion

// upstreamNameservers are this machine's resolvers CoreDNS may forward to
// from a pod: those of /etc/resolv.conf that are not loopback (in a pod,
// a loopback resolver would be CoreDNS itself: a forwarding loop).
func upstreamNameservers() []string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "nameserver" {
			if ip := net.ParseIP(f[1]); ip != nil && !ip.IsLoopback() {
				out = append(out, f[1])
			}
		}
	}
	return out
}

// corefile is kubeadm's Corefile, forwarding other names to the
// machine's non-loopback resolvers (none: cluster names only).
func corefile() string {
	forward := ""
	if ns := upstreamNameservers(); len(ns) > 0 {
		forward = "    forward . " + strings.Join(ns, " ") + " {\n       max_concurrent 1000\n    }\n"
	}
	return `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ` + ClusterDomain + ` in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
` + forward + `    cache 30 {
       disable success ` + ClusterDomain + `
       disable denial ` + ClusterDomain + `
    }
    loop
    reload
    loadbalance
}
`
}

// coreDNSManifests are kubeadm's CoreDNS add-on: its ServiceAccount and
// ClusterRole (system:coredns), the coredns ConfigMap, the Deployment (two
// replicas on the pod network, spread over the nodes) and the kube-dns
// Service at ClusterDNS.
func coreDNSManifests() []map[string]any {
	labels := map[string]any{"k8s-app": "kube-dns"}
	ns := kubeProxyNamespace
	port := func(name, proto string, p int) map[string]any {
		return map[string]any{"name": name, "protocol": proto, "containerPort": p}
	}
	return []map[string]any{
		{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "coredns", "namespace": ns}},
		{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": map[string]any{"name": "system:coredns"},
			"rules": []any{
				map[string]any{"apiGroups": []any{""}, "resources": []any{"endpoints", "services", "pods", "namespaces"}, "verbs": []any{"list", "watch"}},
				map[string]any{"apiGroups": []any{"discovery.k8s.io"}, "resources": []any{"endpointslices"}, "verbs": []any{"list", "watch"}},
			}},
		{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": map[string]any{"name": "system:coredns"},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "coredns", "namespace": ns}}},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "coredns", "namespace": ns},
			"data": map[string]any{"Corefile": corefile()}},
		{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "coredns", "namespace": ns, "labels": labels},
			"spec": map[string]any{
				"replicas": 2,
				"selector": map[string]any{"matchLabels": labels},
				"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxUnavailable": 1}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": labels},
					"spec": map[string]any{
						"priorityClassName":  "system-cluster-critical",
						"serviceAccountName": "coredns",
						"dnsPolicy":          "Default",
						// Port 53 as the images' non-root user: upstream's
						// binary carries the capability as a file
						// attribute, which the lab's image layers do not.
						"securityContext": map[string]any{"sysctls": []any{
							map[string]any{"name": "net.ipv4.ip_unprivileged_port_start", "value": "53"}}},
						"nodeSelector": map[string]any{"kubernetes.io/os": "linux"},
						"tolerations": []any{map[string]any{"key": "CriticalAddonsOnly", "operator": "Exists"},
							map[string]any{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}},
						"affinity": map[string]any{"podAntiAffinity": map[string]any{"preferredDuringSchedulingIgnoredDuringExecution": []any{
							map[string]any{"weight": 100, "podAffinityTerm": map[string]any{"topologyKey": "kubernetes.io/hostname",
								"labelSelector": map[string]any{"matchLabels": labels}}}}}},
						"containers": []any{map[string]any{
							"name": "coredns", "image": coreDNSImage, "imagePullPolicy": "IfNotPresent",
							"args":         []any{"-conf", "/etc/coredns/Corefile"},
							"volumeMounts": []any{map[string]any{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": true}},
							"ports":        []any{port("dns", "UDP", 53), port("dns-tcp", "TCP", 53), port("metrics", "TCP", 9153)},
							"securityContext": map[string]any{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
								"capabilities": map[string]any{"add": []any{"NET_BIND_SERVICE"}, "drop": []any{"ALL"}}},
							"livenessProbe": map[string]any{"httpGet": map[string]any{"path": "/health", "port": 8080},
								"initialDelaySeconds": 60, "timeoutSeconds": 5, "failureThreshold": 5},
							"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/ready", "port": 8181}},
						}},
						"volumes": []any{map[string]any{"name": "config-volume", "configMap": map[string]any{"name": "coredns",
							"items": []any{map[string]any{"key": "Corefile", "path": "Corefile"}}}}},
					},
				},
			}},
		{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "kube-dns", "namespace": ns,
			"labels": map[string]any{"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}},
			"spec": map[string]any{"selector": labels, "clusterIP": ClusterDNS, "ports": []any{
				map[string]any{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
				map[string]any{"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
				map[string]any{"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}}}},
	}
}

// HostBinary is a dynamically linked binary of this machine at path in
// an image, with every library ldd says it loads (at the paths ldd
// names, their content followed through symlinks).
func HostBinary(source, path string) ([]File, error) {
	files := []File{{Path: path, Source: source}}
	out, err := exec.Command("ldd", source).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", source, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
		f := strings.Fields(sc.Text())
		lib := ""
		switch {
		case len(f) >= 3 && f[1] == "=>":
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0]
		}
		if lib == "" || !strings.HasPrefix(lib, "/") {
			continue
		}
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: lib, Source: real, Mode: 0o755})
	}
	return files, nil
}

// addonManifests are kubeadm's add-ons for the lab: kube-proxy (its
// ServiceAccount bound to system:node-proxier, the kube-proxy ConfigMap
// with config.conf and kubeconfig.conf using the service account's token,
// the DaemonSet: host network, privileged, on every node) and CoreDNS.
func (l *Lab) addonManifests(image string) ([]byte, error) {
	config := map[string]any{
		"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
		"mode":             "nftables",
		"clusterCIDR":      PodCIDR,
		"clientConnection": map[string]any{"kubeconfig": "/var/lib/kube-proxy/kubeconfig.conf"},
		// The nodes share one kernel: the conntrack table's size is the
		// machine's, not a node's to set.
		"conntrack": map[string]any{"maxPerCore": 0, "min": 0},
	}
	kubeconfig := map[string]any{
		"apiVersion": "v1", "kind": "Config",
		"clusters": []any{map[string]any{"name": "default", "cluster": map[string]any{
			"certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
			"server":                fmt.Sprintf("https://%s:%d", l.cpIP(), APIPort)}}},
		"contexts": []any{map[string]any{"name": "default", "context": map[string]any{
			"cluster": "default", "namespace": "default", "user": "default"}}},
		"current-context": "default",
		"users": []any{map[string]any{"name": "default", "user": map[string]any{
			"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}}},
	}
	configYAML, err := yaml.Marshal(config)
	if err != nil {
		return nil, err
	}
	kubeconfigYAML, err := yaml.Marshal(kubeconfig)
	if err != nil {
		return nil, err
	}
	labels := map[string]any{"k8s-app": "kube-proxy"}
	objects := []map[string]any{
		{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "kube-proxy", "namespace": kubeProxyNamespace}},
		{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": map[string]any{"name": "kubeadm:node-proxier"},
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node-proxier"},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": kubeProxyNamespace}}},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "kube-proxy", "namespace": kubeProxyNamespace, "labels": map[string]any{"app": "kube-proxy"}},
			"data": map[string]any{"config.conf": string(configYAML), "kubeconfig.conf": string(kubeconfigYAML)}},
		{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": map[string]any{"name": "kube-proxy", "namespace": kubeProxyNamespace, "labels": labels},
			"spec": map[string]any{
				"selector":       map[string]any{"matchLabels": labels},
				"updateStrategy": map[string]any{"type": "RollingUpdate"},
				"template": map[string]any{
					"metadata": map[string]any{"labels": labels},
					"spec": map[string]any{
						"priorityClassName":  "system-node-critical",
						"serviceAccountName": "kube-proxy",
						"hostNetwork":        true,
						"nodeSelector":       map[string]any{"kubernetes.io/os": "linux"},
						"tolerations":        []any{map[string]any{"operator": "Exists"}},
						"containers": []any{map[string]any{
							"name": "kube-proxy", "image": image, "imagePullPolicy": "IfNotPresent",
							"command":         []any{"/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"},
							"env":             []any{map[string]any{"name": "NODE_NAME", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "spec.nodeName"}}}},
							"securityContext": map[string]any{"privileged": true},
							"volumeMounts": []any{
								map[string]any{"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"},
								map[string]any{"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": true},
							},
						}},
						"volumes": []any{
							map[string]any{"name": "kube-proxy", "configMap": map[string]any{"name": "kube-proxy"}},
							map[string]any{"name": "lib-modules", "hostPath": map[string]any{"path": "/lib/modules"}},
						},
					},
				},
			}},
	}
	objects = append(objects, coreDNSManifests()...)
	var out bytes.Buffer
	for _, o := range objects {
		data, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return out.Bytes(), nil
}

// InstallAddons applies the cluster's add-ons, as kubeadm does before a
// network is installed: kube-proxy runs on the host network and needs no
// pod network, and is rolled out on every node; CoreDNS runs on the pod
// network, so WaitDNS waits for it once a network is installed.
func (l *Lab) InstallAddons(ctx context.Context) error {
	image, err := l.KubeProxyImage()
	if err != nil {
		return err
	}
	manifests, err := l.addonManifests(image)
	if err != nil {
		return err
	}
	file := l.path("install", "addons.yaml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, manifests, 0o644); err != nil {
		return err
	}
	if err := l.kubectl(ctx, nil, "apply", "--server-side", "-f", file); err != nil {
		return err
	}
	if err := l.kubectl(ctx, nil, "-n", kubeProxyNamespace, "rollout", "status", "daemonset/kube-proxy", "--timeout=3m"); err != nil {
		out, _ := l.Kubectl(ctx, "-n", kubeProxyNamespace, "describe", "pods", "-l", "k8s-app=kube-proxy")
		return fmt.Errorf("kube-proxy did not run on every node: %w\n%s", err, out)
	}
	return nil
}

// addonsTimeout bounds InstallAddons and WaitDNS in Up.
const addonsTimeout = 4 * time.Minute

// WaitDNS waits until CoreDNS is rolled out (it needs the pod network).
func (l *Lab) WaitDNS(ctx context.Context) error {
	if err := l.kubectl(ctx, nil, "-n", kubeProxyNamespace, "rollout", "status", "deployment/coredns", "--timeout=3m"); err != nil {
		out, _ := l.Kubectl(ctx, "-n", kubeProxyNamespace, "describe", "pods", "-l", "k8s-app=kube-dns")
		return fmt.Errorf("CoreDNS did not roll out: %w\n%s", err, out)
	}
	return nil
}
