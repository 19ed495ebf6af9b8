package envtest

import (
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	dataplanev1alpha1 "github.com/kontrail/kontrail/api/dataplane/v1alpha1"
)

// The bundle's RBAC is complete: the operator, run as the CSV's service
// account with exactly the CSV's permissions (as OLM grants them), brings
// the four samples up and removes them without one forbidden request.

// bundleCSV reads the checked-in ClusterServiceVersion.
func bundleCSV() *operatorsv1alpha1.ClusterServiceVersion {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join(env.RepoRoot, "bundle", "manifests", "kontrail.clusterserviceversion.yaml"))
	Expect(err).NotTo(HaveOccurred())
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	Expect(yaml.UnmarshalStrict(data, csv)).To(Succeed())
	return csv
}

// grantAsOLM creates the service account and the roles OLM makes from a
// CSV's install strategy, in namespace.
func grantAsOLM(csv *operatorsv1alpha1.ClusterServiceVersion, ns string) string {
	GinkgoHelper()
	strategy := csv.Spec.InstallStrategy.StrategySpec
	Expect(strategy.DeploymentSpecs).To(HaveLen(1))
	sa := strategy.DeploymentSpecs[0].Spec.Template.Spec.ServiceAccountName
	namespace(ns)
	Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}})).To(Succeed())
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}}
	for i, p := range strategy.ClusterPermissions {
		Expect(p.ServiceAccountName).To(Equal(sa))
		name := csv.Name + "-cluster-" + string(rune('a'+i))
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: p.Rules}
		binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}
		Expect(create(role)).To(Succeed())
		Expect(create(binding)).To(Succeed())
	}
	for i, p := range strategy.Permissions {
		Expect(p.ServiceAccountName).To(Equal(sa))
		name := csv.Name + "-" + string(rune('a'+i))
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: p.Rules}
		binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}
		Expect(create(role)).To(Succeed())
		Expect(create(binding)).To(Succeed())
	}
	return sa
}

// forbiddenLog records the operator's log lines that report a forbidden request.
type forbiddenLog struct {
	mu    sync.Mutex
	lines []string
}

func (f *forbiddenLog) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		GinkgoWriter.Println(prefix, args)
		if strings.Contains(strings.ToLower(args), "forbidden") {
			f.mu.Lock()
			f.lines = append(f.lines, args)
			f.mu.Unlock()
		}
	}, funcr.Options{Verbosity: 1})
}

func (f *forbiddenLog) get() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

var _ = Describe("Operator bundle", func() {
	It("runs the operator with exactly the CSV's permissions, impersonating its service account, without a forbidden request", func() {
		csv := bundleCSV()
		sa := grantAsOLM(csv, "bundle-operators")
		impersonated := rest.CopyConfig(cfg)
		impersonated.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:bundle-operators:" + sa}

		By("the impersonated identity is really limited to the CSV's permissions")
		limited, err := client.New(impersonated, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		Expect(limited.List(ctx, &corev1.ConfigMapList{})).To(MatchError(ContainSubstring("forbidden")))

		var forbidden forbiddenLog
		stop, err := env.StartOperatorAs(ctx, impersonated, testImages, "0.1.0-test", forbidden.logger())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(stop()).To(Succeed()) })

		samplesLifecycle("bundle-system", "bundle-contrail")
		Expect(forbidden.get()).To(BeEmpty())
	})
})

// samplesLifecycle applies the four samples, reports their workloads
// ready in order, expects each Available, then deletes them and expects
// everything the operator made gone.
func samplesLifecycle(systemNS, contrailNS string) {
	GinkgoHelper()
	podSecurityNamespace(systemNS, "privileged")
	podSecurityNamespace(contrailNS, "privileged")
	vr := applySample("dataplane_v1alpha1_vrouter.yaml", contrailNS, &dataplanev1alpha1.Vrouter{})
	km := applySample("configplane_v1alpha1_kubemanager.yaml", contrailNS, &configplanev1alpha1.Kubemanager{})
	ctl := applySample("configplane_v1alpha1_controller.yaml", systemNS, &configplanev1alpha1.Controller{})
	api := applySample("configplane_v1alpha1_apiserver.yaml", systemNS, &configplanev1alpha1.ApiServer{})

	apiDep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: api.Name}}
	Eventually(gone(apiDep)).Should(BeFalse())
	markReady(apiDep)
	Eventually(available(api)).Should(Equal("True Available"))
	ctlDep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: ctl.Name}}
	kmDep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: contrailNS, Name: km.Name}}
	Eventually(gone(ctlDep)).Should(BeFalse())
	Eventually(gone(kmDep)).Should(BeFalse())
	markReady(ctlDep)
	markReady(kmDep)
	Eventually(available(ctl)).Should(Equal("True Available"))
	Eventually(available(km)).Should(Equal("True Available"))
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: contrailNS, Name: vr.Name}}
	Eventually(gone(ds)).Should(BeFalse())
	markDaemonSetReady(ds)
	Eventually(available(vr)).Should(Equal("True Available"))

	for _, o := range []client.Object{vr, km, ctl, api} {
		deleteAndWait(o)
	}
	for _, o := range []client.Object{apiDep, ctlDep, kmDep, ds,
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "kontrail-" + systemNS + "-" + api.Name}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "kontrail-" + contrailNS + "-" + vr.Name}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: systemNS, Name: api.Name + "-webhook-ca"}}} {
		Expect(gone(o)()).To(BeTrue(), "%T %s", o, o.GetName())
	}
}
