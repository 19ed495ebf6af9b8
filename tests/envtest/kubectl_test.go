package envtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/tests/internal/testenv"
)

// kubectl runs the kubectl built by 'make envtest-assets' against the suite's
// apiserver as a cluster admin, as a user at a terminal would.
func kubectl(args ...string) string {
	GinkgoHelper()
	user, err := env.Environment.AddUser(envtest.User{Name: "kubectl-user", Groups: []string{"system:masters"}}, cfg)
	Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())

	cmd := exec.Command(filepath.Join(env.BinDir(), "kubectl"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+path)
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "kubectl %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// header is the first line of kubectl's table output, split into columns.
func header(table string) []string {
	first, _, _ := strings.Cut(table, "\n")
	return strings.Fields(first)
}

var _ = Describe("kubectl", func() {
	// The columns, not the controller, are under test: the objects get the
	// seed's status values by hand, so the controller must not rewrite them.
	BeforeEach(func() {
		stopController()
		DeferCleanup(func() { stopController = startController() })
	})

	It("lists every core kind with CN2's short name and scope (kubectl api-resources)", func() {
		out := kubectl("api-resources", "--api-group=core.contrail.juniper.net", "--no-headers")
		rows := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			rows[f[len(f)-1]] = f
		}
		for kind, want := range map[string][]string{
			"VirtualNetwork":          {"virtualnetworks", "vn", "core.contrail.juniper.net/v1alpha1", "true", "VirtualNetwork"},
			"Subnet":                  {"subnets", "sn", "core.contrail.juniper.net/v1alpha1", "true", "Subnet"},
			"RoutingInstance":         {"routinginstances", "ri", "core.contrail.juniper.net/v1alpha1", "true", "RoutingInstance"},
			"RouteTarget":             {"routetargets", "rt", "core.contrail.juniper.net/v1alpha1", "false", "RouteTarget"},
			"VirtualMachine":          {"virtualmachines", "vm", "core.contrail.juniper.net/v1alpha1", "false", "VirtualMachine"},
			"VirtualMachineInterface": {"virtualmachineinterfaces", "vmi", "core.contrail.juniper.net/v1alpha1", "true", "VirtualMachineInterface"},
			"InstanceIP":              {"instanceips", "iip", "core.contrail.juniper.net/v1alpha1", "false", "InstanceIP"},
			"VirtualNetworkRouter":    {"virtualnetworkrouters", "vnr", "core.contrail.juniper.net/v1alpha1", "true", "VirtualNetworkRouter"},
			"VirtualRouter":           {"virtualrouters", "vr", "core.contrail.juniper.net/v1alpha1", "false", "VirtualRouter"},
			// Kontrail's own: the lock on an allocated value (docs/api.md).
			"Allocation": {"allocations", "alloc", "core.contrail.juniper.net/v1alpha1", "false", "Allocation"},
		} {
			Expect(rows).To(HaveKeyWithValue(kind, want), "kubectl api-resources:\n%s", out)
		}
		Expect(rows).To(HaveLen(10))
	})

	DescribeTable("shows the seed's columns (kubectl get)",
		func(short string, obj client.Object, state corev1alpha1.State, columns, values []string) {
			// Create drops the status: write it after, through the status
			// subresource, or as the controller where the kind has none.
			status := reflect.ValueOf(obj.DeepCopyObject()).Elem().FieldByName("Status")
			Expect(create(obj)).To(Succeed())
			setStatus(obj, status, state)
			switch obj.(type) {
			case *corev1alpha1.VirtualMachine, *corev1alpha1.VirtualMachineInterface, *corev1alpha1.InstanceIP:
				Expect(componentClient(testenv.ControllerUser).Update(ctx, obj)).To(Succeed())
			default:
				Expect(k8sClient.Status().Update(ctx, obj)).To(Succeed())
			}
			for i := range values {
				if values[i] == "<name>" {
					values[i] = obj.GetName()
				}
			}

			args := []string{"get", short, obj.GetName()}
			if obj.GetNamespace() != "" {
				args = append(args, "-n", obj.GetNamespace())
			}
			out := kubectl(args...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			Expect(lines).To(HaveLen(2), "kubectl get %s:\n%s", short, out)
			Expect(header(out)).To(Equal(columns), "kubectl get %s:\n%s", short, out)
			// Every value but AGE, which changes.
			row := strings.Fields(lines[1])
			Expect(row[:len(row)-1]).To(Equal(values), "kubectl get %s:\n%s", short, out)
		},
		Entry("vn", "vn", &corev1alpha1.VirtualNetwork{ObjectMeta: ns("vn1"), Status: corev1alpha1.VirtualNetworkStatus{
			VirtualNetworkNetworkID: 5, IPFamilies: "v4"}}, corev1alpha1.StateSuccess,
			[]string{"NAME", "VNI", "IP", "FAMILIES", "STATE", "AGE"}, []string{"<name>", "5", "v4", "Success"}),
		Entry("subnet", "subnet", &corev1alpha1.Subnet{ObjectMeta: ns("vn1-v4"), Spec: corev1alpha1.SubnetSpec{CIDR: "172.16.10.0/24"},
			Status: corev1alpha1.SubnetStatus{IPCount: 4, AllocationUsage: "1.56%"}}, corev1alpha1.StateSuccess,
			[]string{"NAME", "CIDR", "USAGE", "STATE", "AGE"}, []string{"<name>", "172.16.10.0/24", "1.56%", "Success"}),
		Entry("ri", "ri", &corev1alpha1.RoutingInstance{ObjectMeta: ns("vn1"), Spec: corev1alpha1.RoutingInstanceSpec{
			Parent: corev1alpha1.ResourceReference{Name: "vn1"}}, Status: corev1alpha1.RoutingInstanceStatus{DefaultRouteTarget: "64512:8000009", IsDefault: true}},
			corev1alpha1.StateSuccess, []string{"NAME", "ROUTETARGET", "STATE", "AGE"}, []string{"<name>", "64512:8000009", "Success"}),
		Entry("rt", "rt", &corev1alpha1.RouteTarget{ObjectMeta: metav1.ObjectMeta{Name: "target-64512-7999999"}}, corev1alpha1.StateSuccess,
			[]string{"NAME", "STATE", "AGE"}, []string{"target-64512-7999999", "Success"}),
		Entry("vm", "vm", &corev1alpha1.VirtualMachine{ObjectMeta: cluster("contrail-k8s-kubemanager-mk-vn1-pod"), Spec: corev1alpha1.VirtualMachineSpec{
			ServerNamespace: "default", ServerName: "vn1-pod"}}, corev1alpha1.StateSuccess,
			[]string{"NAME", "TYPE", "WORKLOAD", "STATE", "AGE"}, []string{"<name>", "container", "/default/vn1-pod", "Success"}),
		Entry("vmi", "vmi", &corev1alpha1.VirtualMachineInterface{ObjectMeta: ns("vn1-pod"), Spec: corev1alpha1.VirtualMachineInterfaceSpec{
			ClusterName: "contrail-k8s-kubemanager-mk", VirtualNetworkReference: corev1alpha1.ResourceReference{Name: "vn1"},
			PodName: "vn1-pod", InterfaceName: "eth1"}}, corev1alpha1.StateSuccess,
			[]string{"NAME", "CLUSTERNAME", "NETWORK", "PODNAME", "IFCNAME", "STATE", "AGE"},
			[]string{"<name>", "contrail-k8s-kubemanager-mk", "vn1", "vn1-pod", "eth1", "Success"}),
		Entry("iip", "iip", &corev1alpha1.InstanceIP{ObjectMeta: cluster("contrail-k8s-kubemanager-mk-vn1-pod"), Spec: corev1alpha1.InstanceIPSpec{
			InstanceIPAddress: "172.16.10.2", VirtualNetworkReference: corev1alpha1.ResourceReference{Namespace: "default", Name: "vn1"}},
			Status: corev1alpha1.InstanceIPStatus{Network: "default/vn1"}}, corev1alpha1.StateSuccess,
			[]string{"NAME", "IPADDRESS", "NETWORK", "STATE", "AGE"}, []string{"<name>", "172.16.10.2", "default/vn1", "Success"}),
		Entry("vnr", "vnr", &corev1alpha1.VirtualNetworkRouter{ObjectMeta: ns("default-pod-service-network"), Spec: corev1alpha1.VirtualNetworkRouterSpec{
			Type: corev1alpha1.VirtualNetworkRouterMesh}}, corev1alpha1.StateSuccess,
			[]string{"NAME", "TYPE", "STATE", "AGE"}, []string{"<name>", "mesh", "Success"}),
		Entry("vr", "vr", &corev1alpha1.VirtualRouter{ObjectMeta: cluster("minikube"), Spec: corev1alpha1.VirtualRouterSpec{
			VirtualRouterIPAddress: "192.168.177.47"}}, corev1alpha1.StateSuccess,
			[]string{"NAME", "IP", "STATE", "AGE"}, []string{"<name>", "192.168.177.47", "Success"}),
	)
})

// setStatus sets the status of any core object to status, with its state.
func setStatus(obj client.Object, status reflect.Value, state corev1alpha1.State) {
	GinkgoHelper()
	reflect.ValueOf(obj).Elem().FieldByName("Status").Set(status)
	obj.(corev1alpha1.Object).GetCommonStatus().State = state
}
