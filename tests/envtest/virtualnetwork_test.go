package envtest

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

var _ = Describe("VirtualNetwork", func() {
	It("round-trips through the apiserver with the schema's defaults", func() {
		vn := &corev1alpha1.VirtualNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: "vn1", Namespace: "default"},
			Spec: corev1alpha1.VirtualNetworkSpec{
				RouteTargetList:       []string{"target:23:4561"},
				ImportRouteTargetList: []string{"target:10.2.2.2:561"},
				ExportRouteTargetList: []string{"target:10.1.1.1:561"},
			},
		}
		Expect(k8sClient.Create(ctx, vn)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, vn))).To(Succeed()) })

		got := &corev1alpha1.VirtualNetwork{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(vn), got)).To(Succeed())
		Expect(got.Spec.RouteTargetList).To(Equal([]string{"target:23:4561"}))
		Expect(got.Spec.ImportRouteTargetList).To(Equal([]string{"target:10.2.2.2:561"}))
		Expect(got.Spec.ExportRouteTargetList).To(Equal([]string{"target:10.1.1.1:561"}))
		Expect(got.Spec.VirtualNetworkProperties.ForwardingMode).To(Equal(corev1alpha1.ForwardingModeL2L3))
		Expect(got.Spec.VirtualNetworkProperties.RPF).To(Equal(corev1alpha1.RPFEnable))
		Expect(got.Spec.FabricSNAT).To(BeFalse())
		Expect(got.Spec.FabricForwarding).To(BeFalse())
	})

	It("rejects a forwarding mode outside its enum", func() {
		vn := &corev1alpha1.VirtualNetwork{
			ObjectMeta: metav1.ObjectMeta{Name: "vn-bad-mode", Namespace: "default"},
			Spec: corev1alpha1.VirtualNetworkSpec{
				VirtualNetworkProperties: corev1alpha1.VirtualNetworkProperties{ForwardingMode: "l4"},
			},
		}
		err := k8sClient.Create(ctx, vn)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec.virtualNetworkProperties.forwardingMode"))
		Expect(err.Error()).To(ContainSubstring(`"l4"`))
	})
})
