// Package kubemanager turns Kubernetes objects into Contrail ones:
// NetworkAttachmentDefinitions into VirtualNetworks and Subnets, pods into
// VirtualMachines, VirtualMachineInterfaces and InstanceIPs, and writes back
// what the controller allocated (the pods' network-status, the NADs'
// juniper.net/networks-status).
package kubemanager

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Config is kubemanager's configuration, from the environment CN2's
// kubemanager reads (KUBEMANAGER_*) and flags of the same meaning.
type Config struct {
	// ClusterName names this Kubernetes cluster in Contrail objects.
	ClusterName string
	// PodNetwork and ServiceNetwork name the cluster's default networks.
	PodNetwork     string
	ServiceNetwork string
	// Project is the Contrail project of the cluster's own objects.
	Project string
	// Namespace holds the cluster's default networks: <cluster>-contrail.
	Namespace string
	// EnableNAD switches the handling of NetworkAttachmentDefinitions.
	EnableNAD bool
	// The cluster's pod and service CIDRs; v6 ones are optional.
	PodV4Subnet, PodV6Subnet, ServiceV4Subnet, ServiceV6Subnet string
	// ExternalNetworkSelectors is CN2's JSON of external network selectors, kept as given.
	ExternalNetworkSelectors string
	// Workers is the number of reconciles each reconciler runs at once.
	Workers int
	// CrossNamespaceNetworks is Allow (CN2's) or Deny: whether a pod may
	// attach to another namespace's NAD, and a NAD map onto another
	// namespace's VirtualNetwork, beyond SharedNamespaces'.
	CrossNamespaceNetworks string
	// SharedNamespaces are the namespaces whose networks every namespace
	// may use under Deny.
	SharedNamespaces []string
}

// Cross-namespace network policies.
const (
	CrossNamespaceAllow = "Allow"
	CrossNamespaceDeny  = "Deny"
)

// env reads an environment variable with a default.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// BindFlags registers the configuration's flags, each defaulting to its
// KUBEMANAGER_* environment variable.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	cluster := env("KUBEMANAGER_CLUSTER_NAME", "kontrail")
	fs.StringVar(&c.ClusterName, "cluster-name", cluster, "Name of this cluster in Contrail objects (KUBEMANAGER_CLUSTER_NAME).")
	fs.StringVar(&c.PodNetwork, "pod-network", env("KUBEMANAGER_CLUSTER_POD_VIRTUAL_NETWORK", "default-podnetwork"),
		"The default pod network's VirtualNetwork (KUBEMANAGER_CLUSTER_POD_VIRTUAL_NETWORK).")
	fs.StringVar(&c.ServiceNetwork, "service-network", env("KUBEMANAGER_CLUSTER_SERVICE_VIRTUAL_NETWORK", "default-servicenetwork"),
		"The default service network's VirtualNetwork (KUBEMANAGER_CLUSTER_SERVICE_VIRTUAL_NETWORK).")
	fs.StringVar(&c.Project, "project", env("KUBEMANAGER_CLUSTER_PROJECT", ""),
		"Contrail project of the cluster's own objects; default <cluster-name>-contrail (KUBEMANAGER_CLUSTER_PROJECT).")
	fs.StringVar(&c.Namespace, "cluster-namespace", env("KUBEMANAGER_CLUSTER_NAMESPACE", ""),
		"Namespace of the cluster's default networks; default <cluster-name>-contrail (KUBEMANAGER_CLUSTER_NAMESPACE).")
	enable, _ := strconv.ParseBool(env("KUBEMANAGER_ENABLE_NAD", "true"))
	fs.BoolVar(&c.EnableNAD, "enable-nad", enable, "Handle NetworkAttachmentDefinitions (KUBEMANAGER_ENABLE_NAD).")
	fs.StringVar(&c.PodV4Subnet, "pod-v4-subnet", env("KUBEMANAGER_POD_V4_SUBNET", "10.244.0.0/16"), "IPv4 CIDR of the default pod network (KUBEMANAGER_POD_V4_SUBNET).")
	fs.StringVar(&c.PodV6Subnet, "pod-v6-subnet", env("KUBEMANAGER_POD_V6_SUBNET", ""), "IPv6 CIDR of the default pod network, if any (KUBEMANAGER_POD_V6_SUBNET).")
	fs.StringVar(&c.ServiceV4Subnet, "service-v4-subnet", env("KUBEMANAGER_SERVICE_V4_SUBNET", "10.96.0.0/12"), "IPv4 CIDR of the service network (KUBEMANAGER_SERVICE_V4_SUBNET).")
	fs.StringVar(&c.ServiceV6Subnet, "service-v6-subnet", env("KUBEMANAGER_SERVICE_V6_SUBNET", ""), "IPv6 CIDR of the service network, if any (KUBEMANAGER_SERVICE_V6_SUBNET).")
	fs.StringVar(&c.ExternalNetworkSelectors, "external-network-selectors", env("KUBEMANAGER_EXTERNAL_NETWORK_SELECTORS", ""),
		"CN2's external network selectors, JSON (KUBEMANAGER_EXTERNAL_NETWORK_SELECTORS).")
	fs.IntVar(&c.Workers, "workers", 8, "Reconciles each of kubemanager's reconcilers runs at once.")
	fs.StringVar(&c.CrossNamespaceNetworks, "cross-namespace-networks", env("KUBEMANAGER_CROSS_NAMESPACE_NETWORKS", CrossNamespaceAllow),
		"Allow (CN2's) or Deny: pods attaching to other namespaces' NADs, NADs mapping onto other namespaces' VirtualNetworks (KUBEMANAGER_CROSS_NAMESPACE_NETWORKS).")
	fs.Func("shared-namespaces", "Comma-separated namespaces whose networks every namespace may use under Deny (KUBEMANAGER_SHARED_NAMESPACES).", func(v string) error {
		c.SharedNamespaces = splitList(v)
		return nil
	})
	c.SharedNamespaces = splitList(env("KUBEMANAGER_SHARED_NAMESPACES", ""))
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Complete fills the defaults that derive from other settings and checks
// the configuration.
func (c *Config) Complete() error {
	switch c.CrossNamespaceNetworks {
	case CrossNamespaceAllow, CrossNamespaceDeny:
	case "":
		c.CrossNamespaceNetworks = CrossNamespaceAllow
	default:
		return fmt.Errorf("cross-namespace-networks %q must be %s or %s", c.CrossNamespaceNetworks, CrossNamespaceAllow, CrossNamespaceDeny)
	}
	if c.ClusterName == "" {
		return fmt.Errorf("the cluster name must not be empty")
	}
	if c.Namespace == "" {
		c.Namespace = c.ClusterName + "-contrail"
	}
	if c.Project == "" {
		c.Project = c.Namespace
	}
	for name, cidr := range map[string]string{"pod-v4-subnet": c.PodV4Subnet, "pod-v6-subnet": c.PodV6Subnet,
		"service-v4-subnet": c.ServiceV4Subnet, "service-v6-subnet": c.ServiceV6Subnet} {
		if cidr == "" {
			continue
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil || p != p.Masked() {
			return fmt.Errorf("--%s %q is not a network CIDR such as 10.244.0.0/16", name, cidr)
		}
	}
	if c.PodV4Subnet == "" && c.PodV6Subnet == "" {
		return fmt.Errorf("the default pod network needs --pod-v4-subnet or --pod-v6-subnet")
	}
	if c.Workers < 1 {
		c.Workers = 1
	}
	return nil
}

// DefaultNetworkName is how network-status names the default pod network:
// <cluster namespace>/<pod network>, as CN2's.
func (c *Config) DefaultNetworkName() string { return c.Namespace + "/" + c.PodNetwork }
