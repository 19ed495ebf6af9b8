package configplane

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	"github.com/kontrail/kontrail/pkg/component"
)

var update = flag.Bool("update", false, "write the golden files of testdata/ from what the tests render")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./operator/controller/configplane/ -update writes it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from what is rendered (go test ./operator/controller/configplane/ -update, then review the diff):\n%s", path, got)
	}
}

// webhookView is what the operator decides of a webhook: where it points
// and when it is called.
type webhookView struct {
	Name            string                                   `json:"name"`
	Service         string                                   `json:"service"`
	MatchConditions []admissionregistrationv1.MatchCondition `json:"matchConditions,omitempty"`
}

func newClient(objs ...client.Object) client.Client {
	return fake.NewClientBuilder().WithScheme(component.Scheme()).WithObjects(objs...).Build()
}

// renderConfigurations ensures the configurations with c, and reads them back.
func renderConfigurations(t *testing.T, c client.Client) []byte {
	t.Helper()
	api := &configplanev1alpha1.ApiServer{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail-system", Name: "contrail-k8s-apiserver"}}
	h := webhooks{Client: c, now: func() time.Time { return time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC) }}
	if err := h.ensureConfigurations(context.Background(), api, []byte("CA")); err != nil {
		t.Fatal(err)
	}
	var mutating admissionregistrationv1.MutatingWebhookConfiguration
	var validating admissionregistrationv1.ValidatingWebhookConfiguration
	key := client.ObjectKey{Name: "kontrail-contrail-system-contrail-k8s-apiserver"}
	if err := c.Get(context.Background(), key, &mutating); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), key, &validating); err != nil {
		t.Fatal(err)
	}
	view := map[string][]webhookView{}
	svc := func(cc admissionregistrationv1.WebhookClientConfig) string {
		if string(cc.CABundle) != "CA" || cc.Service == nil || cc.Service.Port == nil || *cc.Service.Port != 443 {
			t.Errorf("not pointed at the ApiServer's Service with its CA: %+v", cc)
			return ""
		}
		return cc.Service.Namespace + "/" + cc.Service.Name + *cc.Service.Path
	}
	for _, w := range mutating.Webhooks {
		view["mutating"] = append(view["mutating"], webhookView{w.Name, svc(w.ClientConfig), w.MatchConditions})
	}
	for _, w := range validating.Webhooks {
		view["validating"] = append(view["validating"], webhookView{w.Name, svc(w.ClientConfig), w.MatchConditions})
	}
	out, err := yaml.Marshal(view)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The webhooks of VirtualMachines, VirtualMachineInterfaces and
// InstanceIPs skip the writes of every Controller's and Kubemanager's
// account, in any namespace, their own service account included.
func TestWebhookConfigurationsSkipTheComponents(t *testing.T) {
	ctl := &configplanev1alpha1.Controller{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail-system", Name: "contrail-k8s-controller"}}
	km := &configplanev1alpha1.Kubemanager{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail", Name: "contrail-k8s-kubemanager"}}
	own := &configplanev1alpha1.Controller{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "second"},
		Spec: configplanev1alpha1.ControllerSpec{ComponentSpec: commonv1alpha1.ComponentSpec{Common: commonv1alpha1.Common{ServiceAccountName: "own-account"}}}}
	golden(t, "webhook-configurations.yaml", renderConfigurations(t, newClient(ctl, km, own)))
}

// Without a Controller or Kubemanager, no webhook skips anything; one
// deleted is no longer skipped.
func TestWebhookConfigurationsWithoutComponents(t *testing.T) {
	golden(t, "webhook-configurations-none.yaml", renderConfigurations(t, newClient()))

	ctl := &configplanev1alpha1.Controller{ObjectMeta: metav1.ObjectMeta{Namespace: "contrail-system", Name: "contrail-k8s-controller"}}
	c := newClient(ctl)
	if with := renderConfigurations(t, c); string(with) == string(renderConfigurations(t, newClient())) {
		t.Fatal("a Controller's account is not skipped")
	}
	if err := c.Delete(context.Background(), ctl); err != nil {
		t.Fatal(err)
	}
	golden(t, "webhook-configurations-none.yaml", renderConfigurations(t, c))
}
