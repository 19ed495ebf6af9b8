package configplane

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	"github.com/kontrail/kontrail/config/crd"
	"github.com/kontrail/kontrail/config/webhook"
	"github.com/kontrail/kontrail/operator/controller/component"
)

// ConditionCRDsEstablished: every core.contrail.juniper.net CRD is installed and established.
const ConditionCRDsEstablished = "CRDsEstablished"

// Reasons of the ApiServer's conditions.
const (
	ReasonCRDsMissing     = "CRDsNotEstablished"
	ReasonCRDsEstablished = "Established"
)

// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch

// crdCheck reports whether the core API's CRDs are established: they are
// part of the install (config/crd, the bundle), never made by the operator.
type crdCheck struct{ client.Client }

func (c crdCheck) Ensure(ctx context.Context, a *configplanev1alpha1.ApiServer, _ *component.Workload) (*component.Blocked, time.Duration, error) {
	var missing []string
	for _, name := range crd.CoreNames() {
		var def apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &def); err != nil {
			if !apierrors.IsNotFound(err) {
				return nil, 0, fmt.Errorf("failed to get CRD %s: %w", name, err)
			}
			missing = append(missing, name)
			continue
		}
		established := false
		for _, cond := range def.Status.Conditions {
			established = established || (cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue)
		}
		if !established {
			missing = append(missing, name)
		}
	}
	status, gen := a.GetComponentStatus(), a.GetGeneration()
	if len(missing) > 0 {
		msg := "not installed or not established: " + strings.Join(missing, ", ") + " (install config/crd or the bundle)"
		component.SetCondition(status, gen, ConditionCRDsEstablished, metav1.ConditionFalse, ReasonCRDsMissing, msg)
		return &component.Blocked{Reason: ReasonCRDsMissing, Message: msg}, 0, nil
	}
	component.SetCondition(status, gen, ConditionCRDsEstablished, metav1.ConditionTrue, ReasonCRDsEstablished,
		fmt.Sprintf("all %d core.contrail.juniper.net CRDs are established", len(crd.CoreNames())))
	return nil, 0, nil
}

func (crdCheck) Cleanup(context.Context, *configplanev1alpha1.ApiServer) error { return nil }

// +kubebuilder:rbac:groups="",resources=secrets;services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations;validatingwebhookconfigurations,verbs=get;list;watch;create;update;patch;delete

// webhooks serves the apiserver's admission webhooks: a CA and a serving
// certificate the operator issues and renews, a Service in front of the
// apiserver's pods, and the webhook configurations pointing at it with
// the CA as caBundle.
type webhooks struct {
	client.Client
	now func() time.Time
}

func caSecret(a *configplanev1alpha1.ApiServer) string          { return a.Name + "-webhook-ca" }
func servingCertSecret(a *configplanev1alpha1.ApiServer) string { return a.Name + "-webhook-cert" }

// serviceDNSNames are the names the serving certificate must carry.
func serviceDNSNames(a *configplanev1alpha1.ApiServer) []string {
	return []string{a.Name + "." + a.Namespace + ".svc", a.Name + "." + a.Namespace + ".svc.cluster.local"}
}

func (h webhooks) Ensure(ctx context.Context, a *configplanev1alpha1.ApiServer, w *component.Workload) (*component.Blocked, time.Duration, error) {
	ca, err := h.ensureCA(ctx, a)
	if err != nil {
		return nil, 0, err
	}
	renewAt, err := h.ensureServingCert(ctx, a, ca)
	if err != nil {
		return nil, 0, err
	}
	if err := h.ensureService(ctx, a); err != nil {
		return nil, 0, err
	}
	if err := h.ensureConfigurations(ctx, a, ca.certPEM); err != nil {
		return nil, 0, err
	}
	return nil, max(time.Until(renewAt), time.Second), nil
}

// ensureCA loads the ApiServer's CA, or makes one when there is none or it
// is broken (then every serving certificate is re-issued with it).
func (h webhooks) ensureCA(ctx context.Context, a *configplanev1alpha1.ApiServer) (*authority, error) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: caSecret(a)}}
	var ca *authority
	if _, err := controllerutil.CreateOrUpdate(ctx, h.Client, secret, func() error {
		var err error
		if ca, err = parseAuthority(secret.Data["ca.crt"], secret.Data["ca.key"]); err != nil || h.now().After(ca.cert.NotAfter) {
			if ca, err = newAuthority("kontrail-apiserver-webhook-ca."+a.Namespace+"."+a.Name, h.now()); err != nil {
				return err
			}
			secret.Data = map[string][]byte{"ca.crt": ca.certPEM, "ca.key": ca.keyPEM}
		}
		secret.Labels = managedLabels(a)
		return controllerutil.SetControllerReference(a, secret, h.Scheme())
	}); err != nil {
		return nil, fmt.Errorf("failed to ensure the webhook CA Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	return ca, nil
}

// ensureServingCert issues the serving certificate when it is missing,
// not from ca, not for the Service's names, or due for renewal; it says
// when it is due next. The kubelet updates the mounted Secret and the
// apiserver's certificate watcher reloads it: no restart.
func (h webhooks) ensureServingCert(ctx context.Context, a *configplanev1alpha1.ApiServer, ca *authority) (time.Time, error) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: servingCertSecret(a)}}
	names := serviceDNSNames(a)
	var renewAt time.Time
	if _, err := controllerutil.CreateOrUpdate(ctx, h.Client, secret, func() error {
		renewAt = ca.renewAt(secret.Data[corev1.TLSCertKey], names)
		if !h.now().Before(renewAt) || !bytes.Equal(secret.Data["ca.crt"], ca.certPEM) {
			certPEM, keyPEM, err := ca.issue(names, h.now())
			if err != nil {
				return err
			}
			secret.Data = map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM, "ca.crt": ca.certPEM}
			renewAt = ca.renewAt(certPEM, names)
		}
		secret.Type = corev1.SecretTypeTLS
		secret.Labels = managedLabels(a)
		return controllerutil.SetControllerReference(a, secret, h.Scheme())
	}); err != nil {
		return time.Time{}, fmt.Errorf("failed to ensure the serving certificate Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	return renewAt, nil
}

func (h webhooks) ensureService(ctx context.Context, a *configplanev1alpha1.ApiServer) error {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.Name}}
	if _, err := controllerutil.CreateOrPatch(ctx, h.Client, svc, func() error {
		svc.Labels = managedLabels(a)
		svc.Spec.Selector = map[string]string{component.LabelApp: a.Name}
		svc.Spec.Ports = []corev1.ServicePort{{Name: "webhook", Port: 443, Protocol: corev1.ProtocolTCP,
			TargetPort: intstr.FromString("webhook")}}
		return controllerutil.SetControllerReference(a, svc, h.Scheme())
	}); err != nil {
		return fmt.Errorf("failed to ensure Service %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return nil
}

// ComponentUsers are the usernames of the pods of every Controller and
// Kubemanager in the cluster, whatever their namespace (the samples put
// the Kubemanager in another namespace than the ApiServer and the
// Controller): the webhooks of the kinds whose every check the CRDs also
// make skip their writes (config/webhook.Configurations). Anyone who may
// create a Controller or Kubemanager gets its ClusterRole bound to its
// account by the operator, which already lets that account write these
// kinds; the CRDs' CEL still checks every write.
func ComponentUsers(ctx context.Context, c client.Reader) ([]string, error) {
	var users []string
	var controllers configplanev1alpha1.ControllerList
	if err := c.List(ctx, &controllers); err != nil {
		return nil, fmt.Errorf("failed to list Controllers: %w", err)
	}
	for i := range controllers.Items {
		users = append(users, component.UserName(&controllers.Items[i]))
	}
	var kubemanagers configplanev1alpha1.KubemanagerList
	if err := c.List(ctx, &kubemanagers); err != nil {
		return nil, fmt.Errorf("failed to list Kubemanagers: %w", err)
	}
	for i := range kubemanagers.Items {
		users = append(users, component.UserName(&kubemanagers.Items[i]))
	}
	return users, nil
}

// ensureConfigurations installs the generated webhook configurations,
// pointed at this ApiServer's Service and trusting its CA, skipping the
// components' writes where the CRDs check all the webhooks would.
func (h webhooks) ensureConfigurations(ctx context.Context, a *configplanev1alpha1.ApiServer, caBundle []byte) error {
	users, err := ComponentUsers(ctx, h.Client)
	if err != nil {
		return err
	}
	genMutating, genValidating, err := webhook.Configurations(users...)
	if err != nil {
		return err
	}
	point := func(cc *admissionregistrationv1.WebhookClientConfig) {
		path := cc.Service.Path
		cc.Service = &admissionregistrationv1.ServiceReference{Namespace: a.Namespace, Name: a.Name, Path: path, Port: ptr.To(int32(443))}
		cc.CABundle = caBundle
	}
	name := component.ClusterScopedName(a)
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := controllerutil.CreateOrPatch(ctx, h.Client, mutating, func() error {
		mutating.Labels, mutating.Annotations = managedLabels(a), ownerAnnotation(a)
		mutating.Webhooks = genMutating.DeepCopy().Webhooks
		for i := range mutating.Webhooks {
			point(&mutating.Webhooks[i].ClientConfig)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("failed to ensure MutatingWebhookConfiguration %s: %w", name, err)
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := controllerutil.CreateOrPatch(ctx, h.Client, validating, func() error {
		validating.Labels, validating.Annotations = managedLabels(a), ownerAnnotation(a)
		validating.Webhooks = genValidating.DeepCopy().Webhooks
		for i := range validating.Webhooks {
			point(&validating.Webhooks[i].ClientConfig)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("failed to ensure ValidatingWebhookConfiguration %s: %w", name, err)
	}
	return nil
}

// Cleanup removes the webhook configurations first, so that no admission
// request goes to an apiserver that is going away, then the rest.
func (h webhooks) Cleanup(ctx context.Context, a *configplanev1alpha1.ApiServer) error {
	name := component.ClusterScopedName(a)
	for _, o := range []client.Object{
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.Name}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: servingCertSecret(a)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: caSecret(a)}},
	} {
		if err := h.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("failed to get %T %s: %w", o, o.GetName(), err)
		}
		if !component.OwnedBy(o, kindApiServer, a) {
			continue
		}
		if err := h.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to delete %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

const kindApiServer = "ApiServer"

func managedLabels(o commonv1alpha1.Component) map[string]string {
	return map[string]string{component.LabelManagedBy: component.ManagedBy, component.LabelPartOf: "kontrail", component.LabelApp: o.GetName()}
}

func ownerAnnotation(a *configplanev1alpha1.ApiServer) map[string]string {
	return map[string]string{component.AnnotationOwner: kindApiServer + "/" + a.Namespace + "/" + a.Name}
}
