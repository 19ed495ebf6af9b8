package envtest

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
)

// Whose networks a namespace may use: the service network is nobody's, an
// isolated namespace's are its own, and the administrator's
// crossNamespaceNetworks policy decides the rest.
var _ = Describe("Tenancy between namespaces", func() {
	failure := func(obj client.Object) func() string { return annotation(obj, kubemanager.AnnotationNetworksStatus) }

	It("never lets a NAD map onto the service network", func() {
		n := nad("default", "onto-services", map[string]string{kubemanager.AnnotationOpenContrailNetwork: `{"project": "` + clusterNamespace + `", "name": "default-servicenetwork"}`})
		Eventually(failure(n)).Should(And(HavePrefix("failure: annotation opencontrail.org/network: "), ContainSubstring("is the cluster's service network")))
	})

	It("keeps an isolated namespace's networks its own, under the default Allow too", func() {
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tenancy-iso",
			Labels: map[string]string{kubemanager.LabelIsolatedNamespace: "true"}}}))).To(Succeed())
		own := nad("tenancy-iso", "iso-net", map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "172.29.1.0/24"}`})
		Eventually(failure(own)).Should(HavePrefix("success"))
		namespace("tenancy-out")
		intruder := pod("tenancy-out", "intruder", "tenancy-iso/iso-net")
		Eventually(failure(intruder)).Should(And(HavePrefix("failure: "), ContainSubstring("is in namespace tenancy-iso, which is isolated")))
		Eventually(podObjects(intruder)).Should(Equal("vm=0 vmi=0 iip=0"))
		mapping := nad("tenancy-out", "onto-iso", map[string]string{kubemanager.AnnotationOpenContrailNetwork: `{"project": "tenancy-iso", "name": "iso-net"}`})
		Eventually(failure(mapping)).Should(ContainSubstring("which is isolated"))
		By("the namespace's own pods use it")
		insider := pod("tenancy-iso", "insider", "iso-net")
		Expect(interfaces(networkStatus(insider))).To(ContainElement("eth1 tenancy-iso/iso-net false"))
	})

	It("with policy Deny, lets a namespace use only its own networks and the shared namespaces', and says which field decided", func() {
		stopKubemanager()
		cfg := kubemanagerConfig()
		cfg.CrossNamespaceNetworks, cfg.SharedNamespaces = kubemanager.CrossNamespaceDeny, []string{"tenancy-shared"}
		stopKubemanager = startKubemanager(cfg)
		DeferCleanup(func() {
			stopKubemanager()
			stopKubemanager = startKubemanager(kubemanagerConfig())
		})
		for _, ns := range []string{"tenancy-a", "tenancy-b", "tenancy-shared"} {
			namespace(ns)
		}
		bNet := nad("tenancy-b", "b-net", map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "172.29.2.0/24"}`})
		common := nad("tenancy-shared", "common", map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "172.29.3.0/24"}`})
		Eventually(failure(bNet)).Should(HavePrefix("success"))
		Eventually(failure(common)).Should(HavePrefix("success"))

		denied := pod("tenancy-a", "to-b", "tenancy-b/b-net")
		Eventually(failure(denied)).Should(And(HavePrefix("failure: annotation k8s.v1.cni.cncf.io/networks: "),
			ContainSubstring("spec.crossNamespaceNetworks.policy is Deny and tenancy-b is not among its sharedNamespaces [tenancy-shared]")))
		Eventually(podObjects(denied)).Should(Equal("vm=0 vmi=0 iip=0"))
		mapping := nad("tenancy-a", "onto-b", map[string]string{kubemanager.AnnotationOpenContrailNetwork: `{"project": "tenancy-b", "name": "b-net"}`})
		Eventually(failure(mapping)).Should(ContainSubstring("policy is Deny"))

		allowed := pod("tenancy-a", "to-shared", "tenancy-shared/common")
		Expect(interfaces(networkStatus(allowed))).To(ContainElement("eth1 tenancy-shared/common false"))
		own := pod("tenancy-b", "own", "b-net")
		Expect(interfaces(networkStatus(own))).To(ContainElement("eth1 tenancy-b/b-net false"))
	})
})
