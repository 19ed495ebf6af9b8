package envtest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	dataplanev1alpha1 "github.com/kontrail/kontrail/api/dataplane/v1alpha1"
	"github.com/kontrail/kontrail/config/components"
	webhookconfig "github.com/kontrail/kontrail/config/webhook"
	"github.com/kontrail/kontrail/operator/controller"
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

// testImages are the images the suite's operator renders.
var testImages = controller.Images{ApiServer: "kontrail.io/kontrail-apiserver:test", Controller: "kontrail.io/kontrail-controller:test",
	Kubemanager: "kontrail.io/kontrail-kubemanager:test", VrouterAgent: "kontrail.io/kontrail-vrouter-agent:test"}

// conditionOf reads a deployment resource's condition as "Status Reason".
func conditionOf(obj commonv1alpha1.Component, typ string) func() string {
	return func() string {
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: obj.GetNamespace(), Name: obj.GetName()}, obj.(client.Object))).To(Succeed())
		c := meta.FindStatusCondition(obj.GetComponentStatus().Conditions, typ)
		if c == nil {
			return ""
		}
		return string(c.Status) + " " + c.Reason
	}
}

func available(obj commonv1alpha1.Component) func() string {
	return conditionOf(obj, commonv1alpha1.ConditionAvailable)
}

// deleteAndWait deletes a resource and waits until the operator's cleanup
// let it go; nothing the operator made may outlive a spec (its webhooks
// would point the shared apiserver at a Service nobody serves).
func deleteAndWait(obj client.Object) {
	GinkgoHelper()
	Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj))).To(Succeed())
	Eventually(func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj))
	}).Should(BeTrue(), "%T %s is gone", obj, obj.GetName())
}

// podSecurityNamespace makes a namespace labelled for Pod Security's level.
func podSecurityNamespace(name, level string) {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"pod-security.kubernetes.io/enforce": level}}}
	Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, ns))).To(Succeed())
}

// impersonate is a client acting as user, with extra (a bound token's
// node name, say).
func impersonate(user string, extra map[string][]string) client.Client {
	GinkgoHelper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:serviceaccounts", "system:authenticated"}, Extra: extra}
	out, err := client.New(c, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return out
}

// applySample creates a resource from config/samples into namespace, as kubectl apply would.
func applySample[T client.Object](file, namespace string, obj T) T {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join(env.RepoRoot, "config", "samples", file))
	Expect(err).NotTo(HaveOccurred())
	Expect(yaml.UnmarshalStrict(data, obj)).To(Succeed())
	obj.SetNamespace(namespace)
	Expect(k8sClient.Create(ctx, obj)).To(Succeed())
	DeferCleanup(func() { deleteAndWait(obj) })
	return obj
}

// markDaemonSetReady reports a DaemonSet ready on two nodes, as the
// DaemonSet controller and the kubelets would.
func markDaemonSetReady(ds *appsv1.DaemonSet) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		get(ds)
		ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2,
			UpdatedNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2}
		return k8sClient.Status().Update(ctx, ds)
	})).To(Succeed())
}

var _ = Describe("Operator", func() {
	BeforeEach(func() {
		stop, err := env.StartOperator(ctx, testImages, "0.1.0-test")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(stop()).To(Succeed()) })
	})

	It("turns a Kubemanager into a Deployment with the seed's environment, rolls it on change, and reports Available", func() {
		podSecurityNamespace("contrail-operator-test", "privileged")
		km := &configplanev1alpha1.Kubemanager{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail-operator-test", Name: "contrail-k8s-kubemanager"},
			Spec: configplanev1alpha1.KubemanagerSpec{ClusterName: "contrail-k8s-kubemanager-mk", PodV4Subnet: "10.244.0.0/16", ServiceV4Subnet: "10.96.0.0/12",
				ExternalNetworkSelectors: map[string]configplanev1alpha1.ExternalNetworkSelector{"default-external": {
					NetworkSelector:   &metav1.LabelSelector{MatchLabels: map[string]string{"service.contrail.juniper.net/externalNetworkSelector": "default-external"}},
					NamespaceSelector: &metav1.LabelSelector{}}}}}
		Expect(k8sClient.Create(ctx, km)).To(Succeed())
		DeferCleanup(func() { deleteAndWait(km) })

		By("it waits, as a condition, for an ApiServer to be Available")
		Eventually(available(km)).Should(Equal("False WaitingForApiServer"))
		api := &configplanev1alpha1.ApiServer{ObjectMeta: metav1.ObjectMeta{Namespace: km.Namespace, Name: "contrail-k8s-apiserver"}}
		Expect(k8sClient.Create(ctx, api)).To(Succeed())
		DeferCleanup(func() { deleteAndWait(api) })
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
			HaveKeyWithValue("KUBEMANAGER_CROSS_NAMESPACE_NETWORKS", "Allow"),
			HaveKeyWithValue("KUBEMANAGER_SHARED_NAMESPACES", ""),
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
		Eventually(available(km)).Should(Equal("False RollingOut"))
		markReady(dep)
		Eventually(available(km)).Should(Equal("True Available"))
		Expect(km.Status.Version).To(Equal("0.1.0-test"))

		By("a Deployment edited by hand is corrected")
		Expect(update(dep, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "someone/else" })).To(Succeed())
		Eventually(func() string { return get(dep).Spec.Template.Spec.Containers[0].Image }).Should(Equal("kontrail.io/kontrail-kubemanager:test"))
	})

	It("brings the four samples up in order, serves the apiserver's webhooks with a certificate it issued, and removes everything on deletion", func() {
		podSecurityNamespace("op-system", "privileged")
		podSecurityNamespace("op-contrail", "privileged")
		vr := applySample("dataplane_v1alpha1_vrouter.yaml", "op-contrail", &dataplanev1alpha1.Vrouter{})
		km := applySample("configplane_v1alpha1_kubemanager.yaml", "op-contrail", &configplanev1alpha1.Kubemanager{})
		ctl := applySample("configplane_v1alpha1_controller.yaml", "op-system", &configplanev1alpha1.Controller{})
		api := applySample("configplane_v1alpha1_apiserver.yaml", "op-system", &configplanev1alpha1.ApiServer{})

		By("Vrouter waits for the Controller, the Controller and Kubemanager for the ApiServer")
		Eventually(available(vr)).Should(Equal("False WaitingForController"))
		Eventually(available(ctl)).Should(Equal("False WaitingForApiServer"))
		Eventually(available(km)).Should(Equal("False WaitingForApiServer"))
		Expect(conditionOf(vr, commonv1alpha1.ConditionProgressing)()).To(Equal("True WaitingForController"))
		Expect(conditionOf(vr, commonv1alpha1.ConditionDegraded)()).To(Equal("False NoProblem"))

		By("the ApiServer: CRDs established, a CA and serving certificate, a Service, webhook configurations trusting the CA")
		Eventually(conditionOf(api, configplane.ConditionCRDsEstablished)).Should(Equal("True Established"))
		apiDep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.Name}}
		Eventually(gone(apiDep)).Should(BeFalse())
		pod := apiDep.Spec.Template.Spec
		Expect(pod.Volumes).To(ContainElement(HaveField("Secret.SecretName", api.Name+"-webhook-cert")))
		Expect(pod.Containers[0].Args).To(ContainElements("--webhook-port=9443", "--cert-dir=/var/run/kontrail/serving-certs"))
		Expect(*pod.SecurityContext.RunAsNonRoot).To(BeTrue())
		Expect(pod.HostNetwork).To(BeTrue(), "the control plane cannot wait for the pod network it makes")
		Expect(pod.Tolerations).To(ContainElement(HaveField("Key", "node.kubernetes.io/not-ready")))
		Expect(pod.Containers[0].Args).To(ContainElements("--metrics-bind-address=:8180", "--health-probe-bind-address=:8181"))

		serving := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.Name + "-webhook-cert"}}
		Eventually(gone(serving)).Should(BeFalse())
		svc := get(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.Name}})
		Expect(svc.Spec.Selector).To(Equal(map[string]string{"app": api.Name}))
		mutating := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kontrail-op-system-" + api.Name}}
		validating := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kontrail-op-system-" + api.Name}}
		Eventually(gone(validating)).Should(BeFalse())
		get(mutating)
		Expect(mutating.Webhooks).NotTo(BeEmpty())
		for _, wh := range append(mutating.Webhooks, validatingAsMutating(validating.Webhooks)...) {
			Expect(wh.ClientConfig.Service.Namespace).To(Equal("op-system"))
			Expect(wh.ClientConfig.Service.Name).To(Equal(api.Name))
			Expect(verifyServing(wh.ClientConfig.CABundle, serving.Data["tls.crt"], api.Name+".op-system.svc")).To(Succeed(), wh.Name)
		}

		By("the webhooks of the kinds the CRDs check in full skip the Controller's and Kubemanager's accounts, whatever their namespace")
		accounts := []string{"system:serviceaccount:op-system:" + ctl.Name, "system:serviceaccount:op-contrail:" + km.Name}
		wantMutating, wantValidating, err := webhookconfig.Configurations(accounts...)
		Expect(err).NotTo(HaveOccurred())
		conditions := func() map[string][]admissionregistrationv1.MatchCondition {
			out := map[string][]admissionregistrationv1.MatchCondition{}
			for _, w := range get(mutating).Webhooks {
				out[w.Name] = w.MatchConditions
			}
			for _, w := range get(validating).Webhooks {
				out[w.Name] = w.MatchConditions
			}
			return out
		}
		want := map[string][]admissionregistrationv1.MatchCondition{}
		for _, w := range wantMutating.Webhooks {
			want[w.Name] = w.MatchConditions
		}
		for _, w := range wantValidating.Webhooks {
			want[w.Name] = w.MatchConditions
		}
		Eventually(conditions).Should(Equal(want))
		Expect(want["vinstanceip.core.contrail.juniper.net"]).To(ConsistOf(HaveField("Expression", And(ContainSubstring(accounts[0]), ContainSubstring(accounts[1])))))

		By("a broken serving certificate is re-issued")
		Expect(update(serving, func(s *corev1.Secret) { s.Data["tls.crt"] = []byte("garbage") })).To(Succeed())
		Eventually(func() error {
			return verifyServing(mutating.Webhooks[0].ClientConfig.CABundle, get(serving).Data["tls.crt"], api.Name+".op-system.svc.cluster.local")
		}).Should(Succeed())

		By("once the apiserver's pods are ready, the ApiServer is Available, then the Controller and Kubemanager roll out")
		Eventually(available(api)).Should(Equal("False RollingOut"), "the status follows the workload it saw")
		markReady(apiDep)
		Eventually(available(api)).Should(Equal("True Available"))
		ctlDep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ctl.Namespace, Name: ctl.Name}}
		kmDep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: km.Namespace, Name: km.Name}}
		Eventually(gone(ctlDep)).Should(BeFalse())
		Expect(ctlDep.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--autonomous-system=64512"))
		Eventually(gone(kmDep)).Should(BeFalse())
		Eventually(available(vr)).Should(Equal("False WaitingForController"))
		markReady(ctlDep)
		markReady(kmDep)
		Eventually(available(ctl)).Should(Equal("True Available"))
		Eventually(available(km)).Should(Equal("True Available"))

		By("the Vrouter: a privileged host-network DaemonSet, rolled at most maxUnavailablePercentage at a time")
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: vr.Namespace, Name: vr.Name}}
		Eventually(gone(ds)).Should(BeFalse())
		Expect(ds.Spec.UpdateStrategy.Type).To(Equal(appsv1.RollingUpdateDaemonSetStrategyType))
		Expect(ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.String()).To(Equal("25%"))
		agent := ds.Spec.Template.Spec.Containers[0]
		Expect(ds.Spec.Template.Spec.HostNetwork).To(BeTrue())
		Expect(*agent.SecurityContext.Privileged).To(BeTrue())
		Expect(agent.Image).To(Equal(testImages.VrouterAgent))
		Expect(agent.Args).To(ContainElements("--cni-bin-dir=/opt/cni/bin", "--cni-conf-dir=/etc/cni/net.d", "--vxlan-port=4789",
			"--install-cni=true", "--cni-cluster-name=contrail-k8s-kubemanager-mk", "--metrics-bind-address=:9091",
			"--cni-version=1.0.0", "--state-dir=/var/run/kontrail/vrouter", "--socket-dir=/var/run/kontrail/cni"))
		Expect(agent.VolumeMounts).To(ContainElement(HaveField("MountPath", "/var/run/kontrail/vrouter")))
		Expect(agent.VolumeMounts).To(ContainElement(HaveField("MountPath", "/var/run/kontrail/cni")))
		Expect(agent.Env).To(ContainElement(HaveField("ValueFrom.FieldRef.FieldPath", "spec.nodeName")))
		Expect(agent.VolumeMounts).To(ContainElement(HaveField("MountPath", "/opt/cni/bin")))
		Eventually(available(vr)).Should(Equal("False RollingOut"), "the status follows the DaemonSet it saw")
		markDaemonSetReady(ds)
		Eventually(available(vr)).Should(Equal("True Available"))

		By("Pod Security admission: the control plane's pods need only the host network beyond restricted; the agent's need privilege")
		podSecurityNamespace("op-restricted", "restricted")
		for _, d := range []*appsv1.Deployment{apiDep, ctlDep, kmDep, manifestDeployment("manager", "manager.yaml")} {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "op-restricted", GenerateName: d.Name + "-"}, Spec: *d.Spec.Template.Spec.DeepCopy()}
			Expect(k8sClient.Create(ctx, p)).To(MatchError(ContainSubstring("host namespaces (hostNetwork=true)")), d.Name)
			// The same pod without the host network and its ports passes restricted.
			p.Spec.HostNetwork = false
			for i := range p.Spec.Containers[0].Ports {
				p.Spec.Containers[0].Ports[i].HostPort = 0
			}
			Expect(k8sClient.Create(ctx, p)).To(Succeed(), "the pod of %s passes restricted but for the host network", d.Name)
			deletePod(p)
			p = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "op-system", GenerateName: d.Name + "-"}, Spec: d.Spec.Template.Spec}
			Expect(k8sClient.Create(ctx, p)).To(Succeed(), "the pod of %s is admitted into a privileged namespace", d.Name)
			deletePod(p)
		}
		agentPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "op-restricted", GenerateName: "agent-"}, Spec: ds.Spec.Template.Spec}
		Expect(k8sClient.Create(ctx, agentPod)).To(MatchError(ContainSubstring(`violates PodSecurity "restricted:latest"`)))
		agentPod.Namespace = vr.Namespace
		Expect(k8sClient.Create(ctx, agentPod)).To(Succeed())
		deletePod(agentPod)

		By("each component's ServiceAccount holds exactly its generated rules")
		for _, c := range []struct {
			obj       client.Object
			component string
		}{{api, "apiserver"}, {ctl, "controller"}, {km, "kubemanager"}, {vr, "vrouter"}} {
			want, err := components.Rules(c.component)
			Expect(err).NotTo(HaveOccurred())
			name := "kontrail-" + c.obj.GetNamespace() + "-" + c.obj.GetName()
			Expect(get(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}}).Rules).To(Equal(want), c.component)
			binding := get(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}})
			Expect(binding.Subjects).To(ConsistOf(rbacv1.Subject{Kind: "ServiceAccount", Namespace: c.obj.GetNamespace(), Name: c.obj.GetName()}))
		}

		By("deleting each removes what it owns, cluster-scoped objects included")
		deleteAndWait(api)
		for _, o := range []client.Object{apiDep, serving, svc, mutating, validating,
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: api.Namespace, Name: api.Name + "-webhook-ca"}},
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kontrail-op-system-" + api.Name}}} {
			Expect(gone(o)()).To(BeTrue(), "%T %s", o, o.GetName())
		}
		Expect(gone(ctlDep)()).To(BeFalse(), "the Controller's Deployment is the Controller's")

		// Here, with the ApiServer's webhooks gone (no apiserver pod answers them in envtest).
		By("least privilege, held by the apiserver: an agent's token writes only its own node's VirtualRouter")
		policy := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "kontrail-op-contrail-" + vr.Name}}
		Eventually(gone(policy)).Should(BeFalse())
		for _, node := range []string{"op-node-a", "op-node-b"} {
			// The Node first: the controller removes the VirtualRouter of a node that is gone.
			Expect(k8sClient.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}})).To(Succeed())
			DeferCleanup(func() { deleteAndWait(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}) })
			Expect(k8sClient.Create(ctx, &corev1alpha1.VirtualRouter{ObjectMeta: metav1.ObjectMeta{Name: node},
				Spec: corev1alpha1.VirtualRouterSpec{VirtualRouterIPAddress: "192.168.177.47"}})).To(Succeed())
			DeferCleanup(func() { deleteAndWait(&corev1alpha1.VirtualRouter{ObjectMeta: metav1.ObjectMeta{Name: node}}) })
		}
		agentOfA := impersonate("system:serviceaccount:op-contrail:"+vr.Name, map[string][]string{"authentication.kubernetes.io/node-name": {"op-node-a"}})
		label := func(c client.Client, obj client.Object, key string) error {
			return c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+key+`":"x"}}}`)))
		}
		Eventually(func() error {
			return label(agentOfA, &corev1alpha1.VirtualRouter{ObjectMeta: metav1.ObjectMeta{Name: "op-node-b"}}, "stolen")
		}).
			Should(MatchError(ContainSubstring("a vrouter agent writes only the VirtualRouter of the node its token is bound to")))
		Expect(label(agentOfA, &corev1alpha1.VirtualRouter{ObjectMeta: metav1.ObjectMeta{Name: "op-node-a"}}, "own")).To(Succeed())
		agentOfNoNode := impersonate("system:serviceaccount:op-contrail:"+vr.Name, nil)
		Expect(label(agentOfNoNode, &corev1alpha1.VirtualRouter{ObjectMeta: metav1.ObjectMeta{Name: "op-node-a"}}, "unbound")).
			To(MatchError(ContainSubstring("writes only the VirtualRouter")), "a token bound to no node writes none")

		By("least privilege: kubemanager's token changes only its own annotations of a pod, not its image, labels or others' annotations")
		Eventually(gone(&admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "kontrail-op-contrail-" + km.Name}})).Should(BeFalse())
		victim := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "op-contrail", Name: "victim"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "3600"}}}}}
		Expect(k8sClient.Create(ctx, victim)).To(Succeed())
		DeferCleanup(func() { deletePod(victim) })
		kubemanagerAccount := impersonate("system:serviceaccount:op-contrail:"+km.Name, nil)
		patch := func(body string) error {
			return kubemanagerAccount.Patch(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "op-contrail", Name: "victim"}},
				client.RawPatch(types.StrategicMergePatchType, []byte(body)))
		}
		Eventually(func() error { return patch(`{"spec":{"containers":[{"name":"c","image":"evil"}]}}`) }).
			Should(MatchError(ContainSubstring("kubemanager changes no pod's spec")))
		Expect(patch(`{"metadata":{"labels":{"stolen":"x"}}}`)).To(MatchError(ContainSubstring("kubemanager changes no pod's labels")))
		Expect(patch(`{"metadata":{"annotations":{"other.io/thing":"x"}}}`)).To(MatchError(ContainSubstring("kubemanager changes only its own pod annotations")))
		Expect(patch(`{"metadata":{"annotations":{"juniper.net/networks-status":"failure: test"}}}`)).To(Succeed())
		Expect(get(victim).Spec.Containers[0].Image).To(Equal("busybox"))

		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "kontrail-op-contrail-" + vr.Name}}
		deleteAndWait(vr)
		Expect(gone(ds)()).To(BeTrue())
		Expect(gone(role)()).To(BeTrue())
		Expect(gone(policy)()).To(BeTrue())
		Expect(gone(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: vr.Namespace, Name: vr.Name}})()).To(BeTrue())
	})

	It("refuses what it cannot run with a Degraded condition and a reason, not an error loop", func() {
		podSecurityNamespace("op-bad", "restricted")
		podSecurityNamespace("op-bad-2", "privileged")

		By("a Vrouter and a Controller in a namespace whose Pod Security level forbids the host network")
		vr := &dataplanev1alpha1.Vrouter{ObjectMeta: metav1.ObjectMeta{Namespace: "op-bad", Name: "vrouter"}}
		Expect(k8sClient.Create(ctx, vr)).To(Succeed())
		DeferCleanup(func() { deleteAndWait(vr) })
		ctl := &configplanev1alpha1.Controller{ObjectMeta: metav1.ObjectMeta{Namespace: "op-bad", Name: "controller"}}
		Expect(k8sClient.Create(ctx, ctl)).To(Succeed())
		DeferCleanup(func() { deleteAndWait(ctl) })
		for _, o := range []commonv1alpha1.Component{vr, ctl} {
			Eventually(conditionOf(o, commonv1alpha1.ConditionDegraded)).Should(Equal("True NamespaceNotPrivileged"))
			Expect(meta.FindStatusCondition(o.GetComponentStatus().Conditions, commonv1alpha1.ConditionDegraded).Message).To(
				ContainSubstring("pod-security.kubernetes.io/enforce=privileged"))
		}
		Expect(gone(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "op-bad", Name: "controller"}})()).To(BeTrue())

		By("once the namespace allows it, the Controller goes on to wait for an ApiServer")
		Expect(update(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "op-bad"}}, func(ns *corev1.Namespace) {
			ns.Labels["pod-security.kubernetes.io/enforce"] = "privileged"
		})).To(Succeed())
		Eventually(available(ctl)).Should(Equal("False WaitingForApiServer"))

		By("a second Kubemanager")
		first := &configplanev1alpha1.Kubemanager{ObjectMeta: metav1.ObjectMeta{Namespace: "op-bad-2", Name: "first"},
			Spec: configplanev1alpha1.KubemanagerSpec{ClusterName: "c", PodV4Subnet: "10.244.0.0/16"}}
		Expect(k8sClient.Create(ctx, first)).To(Succeed())
		DeferCleanup(func() { deleteAndWait(first) })
		Eventually(available(first)).Should(Equal("False WaitingForApiServer"))
		second := &configplanev1alpha1.Kubemanager{ObjectMeta: metav1.ObjectMeta{Namespace: "op-bad-2", Name: "second"},
			Spec: configplanev1alpha1.KubemanagerSpec{ClusterName: "c", PodV4Subnet: "10.244.0.0/16"}}
		Expect(k8sClient.Create(ctx, second)).To(Succeed())
		DeferCleanup(func() { deleteAndWait(second) })
		Eventually(conditionOf(second, commonv1alpha1.ConditionDegraded)).Should(Equal("True DuplicateKubemanager"))
		Expect(meta.FindStatusCondition(second.Status.Conditions, commonv1alpha1.ConditionDegraded).Message).To(ContainSubstring("op-bad-2/first"))
		Expect(gone(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "op-bad-2", Name: "second"}})()).To(BeTrue())

		By("an image that cannot be pulled")
		api := &configplanev1alpha1.ApiServer{ObjectMeta: metav1.ObjectMeta{Namespace: "op-bad-2", Name: "api"},
			Spec: configplanev1alpha1.ApiServerSpec{ComponentSpec: commonv1alpha1.ComponentSpec{Common: commonv1alpha1.Common{
				Containers: []commonv1alpha1.Container{{Name: "contrail-k8s-apiserver", Image: "nowhere.invalid/apiserver:none"}}}}}}
		Expect(k8sClient.Create(ctx, api)).To(Succeed())
		DeferCleanup(func() { deleteAndWait(api) })
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "op-bad-2", Name: "api"}}
		Eventually(gone(dep)).Should(BeFalse())
		Expect(dep.Spec.Template.Spec.Containers[0].Image).To(Equal("nowhere.invalid/apiserver:none"))
		// The pod as the ReplicaSet controller makes it and the kubelet reports it.
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "op-bad-2", Name: "api-7d9f-x", Labels: dep.Spec.Template.Labels},
			Spec: dep.Spec.Template.Spec}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		DeferCleanup(func() { deletePod(p) })
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "contrail-k8s-apiserver", Image: "nowhere.invalid/apiserver:none",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff",
				Message: `Back-off pulling image "nowhere.invalid/apiserver:none"`}}}}
		Expect(k8sClient.Status().Update(ctx, p)).To(Succeed())
		Eventually(conditionOf(api, commonv1alpha1.ConditionDegraded)).Should(Equal("True PodsFailing"))
		Expect(meta.FindStatusCondition(api.Status.Conditions, commonv1alpha1.ConditionDegraded).Message).To(
			ContainSubstring(`container contrail-k8s-apiserver: ImagePullBackOff: Back-off pulling image "nowhere.invalid/apiserver:none"`))
	})
})

// validatingAsMutating lets one loop check both kinds' client configs.
func validatingAsMutating(ws []admissionregistrationv1.ValidatingWebhook) []admissionregistrationv1.MutatingWebhook {
	out := make([]admissionregistrationv1.MutatingWebhook, 0, len(ws))
	for _, w := range ws {
		out = append(out, admissionregistrationv1.MutatingWebhook{Name: w.Name, ClientConfig: w.ClientConfig})
	}
	return out
}

// verifyServing checks that certPEM is a serving certificate for dnsName
// that a client trusting caBundle accepts, as the kube-apiserver does.
func verifyServing(caBundle, certPEM []byte, dnsName string) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caBundle) {
		return fmt.Errorf("the caBundle holds no certificate")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return fmt.Errorf("the serving certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// manifestDeployment reads the Deployment of a file of config/<dir>.
func manifestDeployment(dir, file string) *appsv1.Deployment {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join(env.RepoRoot, "config", dir, file))
	Expect(err).NotTo(HaveOccurred())
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var d appsv1.Deployment
		Expect(yaml.Unmarshal([]byte(doc), &d)).To(Succeed())
		if d.Kind == "Deployment" {
			return &d
		}
	}
	Fail("no Deployment in config/" + dir + "/" + file)
	return nil
}
