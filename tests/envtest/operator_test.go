package envtest

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	"github.com/kontrail/kontrail/operator/controller/configplane"
)

// The operator against the real apiserver: a Kubemanager becomes
// kubemanager's Deployment with the seed's environment.

// envOf reads a Deployment's kubemanager container environment.
func envOf(dep *appsv1.Deployment) func() map[string]string {
	return func() map[string]string {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			return nil
		}
		out := map[string]string{}
		for _, c := range dep.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				out[e.Name] = e.Value
			}
		}
		return out
	}
}

// markReady reports a Deployment ready, as the Deployment controller and
// the kubelet would (envtest runs neither).
func markReady(dep *appsv1.Deployment) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		get(dep)
		dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
		return k8sClient.Status().Update(ctx, dep)
	})).To(Succeed())
}

var _ = Describe("Operator", func() {
	BeforeEach(func() {
		stop, err := env.StartOperator(ctx, configplane.Images{ApiServer: "kontrail.io/kontrail-apiserver:test",
			Controller: "kontrail.io/kontrail-controller:test", Kubemanager: "kontrail.io/kontrail-kubemanager:test"}, "0.1.0-test")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(stop()).To(Succeed()) })
	})

	It("turns a Kubemanager into a Deployment with the seed's environment, rolls it on change, and reports Available", func() {
		namespace("contrail-operator-test")
		km := &configplanev1alpha1.Kubemanager{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail-operator-test", Name: "contrail-k8s-kubemanager"},
			Spec: configplanev1alpha1.KubemanagerSpec{ClusterName: "contrail-k8s-kubemanager-mk", PodV4Subnet: "10.244.0.0/16", ServiceV4Subnet: "10.96.0.0/12",
				ExternalNetworkSelectors: map[string]configplanev1alpha1.ExternalNetworkSelector{"default-external": {
					NetworkSelector:   &metav1.LabelSelector{MatchLabels: map[string]string{"service.contrail.juniper.net/externalNetworkSelector": "default-external"}},
					NamespaceSelector: &metav1.LabelSelector{}}}}}
		Expect(create(km)).To(Succeed())

		By("it waits, as a condition, for an ApiServer to be Available")
		available := func(obj commonv1alpha1.Component) func() string {
			return func() string {
				Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
				c := meta.FindStatusCondition(obj.GetComponentStatus().Conditions, commonv1alpha1.ConditionAvailable)
				if c == nil {
					return ""
				}
				return string(c.Status) + " " + c.Reason
			}
		}
		Eventually(available(km)).Should(Equal("False WaitingForApiServer"))
		api := &configplanev1alpha1.ApiServer{ObjectMeta: metav1.ObjectMeta{Namespace: km.Namespace, Name: "contrail-k8s-apiserver"}}
		Expect(create(api)).To(Succeed())
		apiDep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.Name}}
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(apiDep), apiDep) }).Should(Succeed())
		Expect(apiDep.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--webhook-port=9443"))
		markReady(apiDep)
		Eventually(available(api)).Should(Equal("True Available"))

		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: km.Namespace, Name: km.Name}}
		Eventually(envOf(dep)).Should(And(
			HaveKeyWithValue("KUBEMANAGER_CLUSTER_NAME", "contrail-k8s-kubemanager-mk"),
			HaveKeyWithValue("KUBEMANAGER_CLUSTER_POD_VIRTUAL_NETWORK", "default-podnetwork"),
			HaveKeyWithValue("KUBEMANAGER_CLUSTER_SERVICE_VIRTUAL_NETWORK", "default-servicenetwork"),
			HaveKeyWithValue("KUBEMANAGER_CLUSTER_PROJECT", "contrail-k8s-kubemanager-mk-contrail"),
			HaveKeyWithValue("KUBEMANAGER_CLUSTER_NAMESPACE", "contrail-k8s-kubemanager-mk-contrail"),
			HaveKeyWithValue("KUBEMANAGER_ENABLE_NAD", "true"),
			HaveKeyWithValue("KUBEMANAGER_EXTERNAL_NETWORK_SELECTORS",
				`{"default-external":{"networkSelector":{"matchLabels":{"service.contrail.juniper.net/externalNetworkSelector":"default-external"}},"namespaceSelector":{}}}`),
		))
		c := dep.Spec.Template.Spec.Containers[0]
		Expect(c.Name).To(Equal("contrail-k8s-kubemanager"))
		Expect(c.Image).To(Equal("kontrail.io/kontrail-kubemanager:test"))
		Expect(*c.SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
		Expect(metav1.IsControlledBy(dep, get(km))).To(BeTrue())
		Expect(get(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: km.Namespace, Name: km.Name}}).Name).To(Equal(km.Name))

		By("enableNad: false rolls KUBEMANAGER_ENABLE_NAD=false")
		Expect(update(km, func(km *configplanev1alpha1.Kubemanager) { km.Spec.EnableNad = ptr.To(false) })).To(Succeed())
		Eventually(envOf(dep)).Should(HaveKeyWithValue("KUBEMANAGER_ENABLE_NAD", "false"))

		By("the Deployment becomes ready, as the kubelet and the Deployment controller would report it")
		Eventually(func() string {
			c := meta.FindStatusCondition(get(km).Status.Conditions, commonv1alpha1.ConditionAvailable)
			if c == nil {
				return ""
			}
			return string(c.Status) + " " + c.Reason
		}).Should(Equal("False RollingOut"))
		markReady(dep)
		Eventually(func() bool {
			return meta.IsStatusConditionTrue(get(km).Status.Conditions, commonv1alpha1.ConditionAvailable)
		}).Should(BeTrue())
		Expect(km.Status.Version).To(Equal("0.1.0-test"))

		By("a Deployment edited by hand is corrected")
		Expect(update(dep, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "someone/else" })).To(Succeed())
		Eventually(func() string { return get(dep).Spec.Template.Spec.Containers[0].Image }).Should(Equal("kontrail.io/kontrail-kubemanager:test"))
	})
})
