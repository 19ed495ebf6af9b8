package envtest

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	dataplanev1alpha1 "github.com/kontrail/kontrail/api/dataplane/v1alpha1"
)

// The operator's resources (configplane.juniper.net, dataplane.juniper.net)
// against the real apiserver: the samples apply with their defaults, and
// bad input is refused with the field named.

var _ = Describe("Deployment resources", func() {
	It("apply from config/samples as kubectl apply would, and come back defaulted", func() {
		for _, ns := range []string{"contrail", "contrail-system"} {
			namespace(ns)
		}
		for _, f := range []string{"configplane_v1alpha1_apiserver.yaml", "configplane_v1alpha1_controller.yaml",
			"configplane_v1alpha1_kubemanager.yaml", "dataplane_v1alpha1_vrouter.yaml"} {
			data, err := os.ReadFile(filepath.Join(env.RepoRoot, "config", "samples", f))
			Expect(err).NotTo(HaveOccurred())
			obj := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal(data, &obj.Object)).To(Succeed())
			Expect(create(obj)).To(Succeed(), f)
		}
		km := get(&configplanev1alpha1.Kubemanager{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "contrail-k8s-kubemanager"}})
		Expect(km.Spec.ClusterName).To(Equal("contrail-k8s-kubemanager-mk"))
		Expect(km.Spec.EnableNad).To(Equal(ptr.To(true)))
		Expect(km.Spec.AutonomousSystem).To(Equal(int64(64512)))
		Expect(km.Spec.Workers).To(Equal(int32(8)))
		Expect(km.Spec.LogLevel).To(Equal(commonv1alpha1.LogLevel("info")))
		Expect(km.Spec.ExternalNetworkSelectors).To(HaveKey("default-external"))

		vr := get(&dataplanev1alpha1.Vrouter{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "contrail-vrouter-nodes"}})
		Expect(vr.Spec.InstallCni).To(Equal(ptr.To(true)))
		Expect(vr.Spec.CNI.ConfigPath).To(Equal("/etc/cni/net.d"))
		Expect(vr.Spec.CNI.VifType).To(Equal("veth"))
		Expect(vr.Spec.VxlanPort).To(Equal(int32(4789)))
		Expect(vr.Spec.Agent.Default.RestPort).To(Equal(int32(9091)))

		api := get(&configplanev1alpha1.ApiServer{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail-system", Name: "contrail-k8s-apiserver"}})
		Expect(api.Spec.ListenerPort).To(Equal(int32(9443)))
	})

	DescribeTable("refuse bad input with a message naming the field",
		func(obj client.Object, messages ...string) {
			namespace("contrail")
			err := k8sClient.Create(ctx, obj)
			Expect(err).To(HaveOccurred())
			for _, m := range messages {
				Expect(err.Error()).To(ContainSubstring(m))
			}
		},
		Entry("Kubemanager: invalid pod CIDR", &configplanev1alpha1.Kubemanager{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "km-bad-cidr"},
			Spec: configplanev1alpha1.KubemanagerSpec{ClusterName: "c", PodV4Subnet: "10.244.0.0/33"}}, "spec.podV4Subnet", "must be an IPv4 CIDR"),
		Entry("Kubemanager: no pod subnet", &configplanev1alpha1.Kubemanager{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "km-no-pods"},
			Spec: configplanev1alpha1.KubemanagerSpec{ClusterName: "c"}}, "podV4Subnet or podV6Subnet"),
		Entry("Kubemanager: unknown forwarding mode", &configplanev1alpha1.Kubemanager{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "km-mode"},
			Spec: configplanev1alpha1.KubemanagerSpec{ClusterName: "c", PodV4Subnet: "10.244.0.0/16",
				IsolateNamespaces: &configplanev1alpha1.IsolateNamespaces{DefaultForwardingMode: "tunnel"}}},
			"spec.isolateNamespaces.defaultForwardingMode", `"tunnel"`),
		Entry("Controller: negative replicas", &configplanev1alpha1.Controller{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "ctl-neg"},
			Spec: configplanev1alpha1.ControllerSpec{ComponentSpec: commonv1alpha1.ComponentSpec{Common: commonv1alpha1.Common{Replicas: ptr.To(int32(-1))}}}},
			"spec.common.replicas", "greater than or equal to 0"),
		Entry("ApiServer: unknown log level", &configplanev1alpha1.ApiServer{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "api-log"},
			Spec: configplanev1alpha1.ApiServerSpec{ComponentSpec: commonv1alpha1.ComponentSpec{LogLevel: "loud"}}}, "spec.logLevel", `"loud"`),
		Entry("Vrouter: maxUnavailablePercentage over 100", &dataplanev1alpha1.Vrouter{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "vr-pct"},
			Spec: dataplanev1alpha1.VrouterSpec{MaxUnavailablePercentage: 150}}, "spec.maxUnavailablePercentage", "less than or equal to 100"),
		Entry("Vrouter: unsupported vifType", &dataplanev1alpha1.Vrouter{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "vr-vif"},
			Spec: dataplanev1alpha1.VrouterSpec{CNI: dataplanev1alpha1.CNI{VifType: "macvlan"}}}, "spec.cni.vifType", `"macvlan"`),
	)
})
