// Package webhook is the admission of the core.contrail.juniper.net API:
// defaulting and the validation the CRD schema cannot express, namely the
// checks that read other objects (overlapping subnets of one network, an
// address outside its network's subnets, a network of another cluster).
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// kindWebhook is the defaulter and validator of one kind. validate checks
// the object (old is nil on create); it may read other objects through the
// reader.
type kindWebhook[T client.Object] struct {
	reader   client.Reader
	defaults func(T)
	validate func(ctx context.Context, r client.Reader, obj, old T) (field.ErrorList, error)
	// refuseDelete, when set, says why obj cannot be deleted now ("" when it can).
	refuseDelete func(ctx context.Context, r client.Reader, obj T) (string, error)
	// warn, when set, names the fields obj sets that Kontrail accepts and
	// does not implement: the writer sees them as admission warnings.
	warn func(obj T) admission.Warnings
	// statusWithObject: the kind has no status subresource (as in CN2), so
	// its status is written with the object. Only the components write it:
	// their writes skip this webhook (the configurations' matchConditions),
	// and anyone else's keep the stored status, as a status subresource
	// would (none on create).
	statusWithObject bool
}

func (w *kindWebhook[T]) warnings(obj T) admission.Warnings {
	if w.warn == nil {
		return nil
	}
	return w.warn(obj)
}

func (w *kindWebhook[T]) Default(ctx context.Context, obj T) error {
	w.defaults(obj)
	if !w.statusWithObject {
		return nil
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var old T // nil on create: no status
	if req.Operation == admissionv1.Update {
		old = reflect.New(reflect.TypeFor[T]().Elem()).Interface().(T)
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("failed to decode the stored object: %v", err))
		}
	}
	keepStatus(obj, old)
	return nil
}

// keepStatus sets obj's status to old's, or to none when old is nil.
func keepStatus[T client.Object](obj, old T) {
	status := reflect.ValueOf(obj).Elem().FieldByName("Status")
	var none T
	if any(old) == any(none) {
		status.SetZero()
		return
	}
	status.Set(reflect.ValueOf(old).Elem().FieldByName("Status"))
}

func (w *kindWebhook[T]) ValidateCreate(ctx context.Context, obj T) (admission.Warnings, error) {
	var none T
	if err := w.check(ctx, obj, none); err != nil {
		return nil, err
	}
	return w.warnings(obj), nil
}

func (w *kindWebhook[T]) ValidateUpdate(ctx context.Context, old, obj T) (admission.Warnings, error) {
	// An object being deleted only loses finalizers: let it go whatever it holds.
	if !obj.GetDeletionTimestamp().IsZero() {
		return nil, nil
	}
	if err := w.check(ctx, obj, old); err != nil {
		return nil, err
	}
	return w.warnings(obj), nil
}

func (w *kindWebhook[T]) ValidateDelete(ctx context.Context, obj T) (admission.Warnings, error) {
	if w.refuseDelete == nil || !obj.GetDeletionTimestamp().IsZero() {
		return nil, nil
	}
	why, err := w.refuseDelete(ctx, w.reader, obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if why == "" {
		return nil, nil
	}
	gvk, err := apiutilGVK(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return nil, apierrors.NewForbidden(schema.GroupResource{Group: gvk.Group, Resource: strings.ToLower(gvk.Kind) + "s"}, obj.GetName(), errors.New(why))
}

func (w *kindWebhook[T]) check(ctx context.Context, obj, old T) error {
	errs, err := w.validate(ctx, w.reader, obj, old)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if len(errs) == 0 {
		return nil
	}
	gvk, err := apiutilGVK(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	return apierrors.NewInvalid(gvk.GroupKind(), obj.GetName(), errs)
}

// register wires a kind's webhook into the manager's webhook server.
func register[T client.Object](mgr ctrl.Manager, obj T, w *kindWebhook[T]) error {
	w.reader = mgr.GetAPIReader()
	if err := ctrl.NewWebhookManagedBy(mgr, obj).WithDefaulter(w).WithValidator(w).Complete(); err != nil {
		return fmt.Errorf("failed to register the %T webhooks: %w", obj, err)
	}
	return nil
}

// onlyObject adapts a validator that needs no other object.
func onlyObject[T client.Object](create func(T) field.ErrorList, update func(old, obj T) field.ErrorList) func(context.Context, client.Reader, T, T) (field.ErrorList, error) {
	return func(_ context.Context, _ client.Reader, obj, old T) (field.ErrorList, error) {
		errs := create(obj)
		var none T // old is the nil pointer on create
		if update != nil && any(old) != any(none) {
			errs = append(errs, update(old, obj)...)
		}
		return errs, nil
	}
}

// The webhook configurations are generated from these markers into config/webhook.
//
// +kubebuilder:webhook:path=/mutate-core-contrail-juniper-net-v1alpha1-virtualnetwork,mutating=true,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualnetworks,verbs=create;update,versions=v1alpha1,name=mvirtualnetwork.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-contrail-juniper-net-v1alpha1-virtualnetwork,mutating=false,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualnetworks,verbs=create;update,versions=v1alpha1,name=vvirtualnetwork.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-core-contrail-juniper-net-v1alpha1-subnet,mutating=true,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=subnets,verbs=create;update,versions=v1alpha1,name=msubnet.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-contrail-juniper-net-v1alpha1-subnet,mutating=false,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=subnets,verbs=create;update;delete,versions=v1alpha1,name=vsubnet.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-core-contrail-juniper-net-v1alpha1-routinginstance,mutating=true,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=routinginstances,verbs=create;update,versions=v1alpha1,name=mroutinginstance.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-contrail-juniper-net-v1alpha1-routinginstance,mutating=false,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=routinginstances,verbs=create;update,versions=v1alpha1,name=vroutinginstance.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-core-contrail-juniper-net-v1alpha1-routetarget,mutating=true,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=routetargets,verbs=create;update,versions=v1alpha1,name=mroutetarget.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-contrail-juniper-net-v1alpha1-routetarget,mutating=false,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=routetargets,verbs=create;update,versions=v1alpha1,name=vroutetarget.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-core-contrail-juniper-net-v1alpha1-virtualmachine,mutating=true,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualmachines,verbs=create;update,versions=v1alpha1,name=mvirtualmachine.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-contrail-juniper-net-v1alpha1-virtualmachine,mutating=false,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualmachines,verbs=create;update,versions=v1alpha1,name=vvirtualmachine.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-core-contrail-juniper-net-v1alpha1-virtualmachineinterface,mutating=true,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualmachineinterfaces,verbs=create;update,versions=v1alpha1,name=mvirtualmachineinterface.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-contrail-juniper-net-v1alpha1-virtualmachineinterface,mutating=false,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualmachineinterfaces,verbs=create;update;delete,versions=v1alpha1,name=vvirtualmachineinterface.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-core-contrail-juniper-net-v1alpha1-instanceip,mutating=true,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=instanceips,verbs=create;update,versions=v1alpha1,name=minstanceip.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-contrail-juniper-net-v1alpha1-instanceip,mutating=false,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=instanceips,verbs=create;update;delete,versions=v1alpha1,name=vinstanceip.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-core-contrail-juniper-net-v1alpha1-virtualnetworkrouter,mutating=true,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualnetworkrouters,verbs=create;update,versions=v1alpha1,name=mvirtualnetworkrouter.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-contrail-juniper-net-v1alpha1-virtualnetworkrouter,mutating=false,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualnetworkrouters,verbs=create;update,versions=v1alpha1,name=vvirtualnetworkrouter.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-core-contrail-juniper-net-v1alpha1-virtualrouter,mutating=true,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualrouters,verbs=create;update,versions=v1alpha1,name=mvirtualrouter.core.contrail.juniper.net,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-contrail-juniper-net-v1alpha1-virtualrouter,mutating=false,failurePolicy=fail,sideEffects=None,groups=core.contrail.juniper.net,resources=virtualrouters,verbs=create;update,versions=v1alpha1,name=vvirtualrouter.core.contrail.juniper.net,admissionReviewVersions=v1

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualnetworks;subnets,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=instanceips,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get

// Setup registers the defaulting and validating webhooks of every kind.
func Setup(mgr ctrl.Manager) error {
	return firstError(
		register(mgr, &corev1alpha1.VirtualNetwork{}, &kindWebhook[*corev1alpha1.VirtualNetwork]{
			defaults: DefaultVirtualNetwork, validate: validateVirtualNetwork, warn: VirtualNetworkWarnings}),
		register(mgr, &corev1alpha1.Subnet{}, &kindWebhook[*corev1alpha1.Subnet]{
			defaults: DefaultSubnet, validate: validateSubnet, refuseDelete: subnetHolders}),
		register(mgr, &corev1alpha1.RoutingInstance{}, &kindWebhook[*corev1alpha1.RoutingInstance]{
			defaults: DefaultRoutingInstance, validate: onlyObject(ValidateRoutingInstance, ValidateRoutingInstanceUpdate)}),
		register(mgr, &corev1alpha1.RouteTarget{}, &kindWebhook[*corev1alpha1.RouteTarget]{
			defaults: DefaultRouteTarget, validate: onlyObject(ValidateRouteTarget, nil)}),
		register(mgr, &corev1alpha1.VirtualMachine{}, &kindWebhook[*corev1alpha1.VirtualMachine]{
			defaults: corev1alpha1.DefaultVirtualMachine, validate: onlyObject(ValidateVirtualMachine, nil), statusWithObject: true}),
		register(mgr, &corev1alpha1.VirtualMachineInterface{}, &kindWebhook[*corev1alpha1.VirtualMachineInterface]{
			defaults: corev1alpha1.DefaultVirtualMachineInterface, validate: validateVirtualMachineInterface, statusWithObject: true,
			refuseDelete: func(ctx context.Context, r client.Reader, vmi *corev1alpha1.VirtualMachineInterface) (string, error) {
				return heldByPlugged(ctx, r, vmi, fmt.Sprintf("VirtualMachineInterface %s/%s is interface %s", vmi.Namespace, vmi.Name, vmi.Spec.InterfaceName))
			}}),
		register(mgr, &corev1alpha1.InstanceIP{}, &kindWebhook[*corev1alpha1.InstanceIP]{
			defaults: corev1alpha1.DefaultInstanceIP, validate: validateInstanceIP, statusWithObject: true,
			refuseDelete: func(ctx context.Context, r client.Reader, iip *corev1alpha1.InstanceIP) (string, error) {
				return heldByPlugged(ctx, r, iip, fmt.Sprintf("InstanceIP %s holds address %s", iip.Name, iip.Spec.InstanceIPAddress))
			}}),
		register(mgr, &corev1alpha1.VirtualNetworkRouter{}, &kindWebhook[*corev1alpha1.VirtualNetworkRouter]{
			defaults: DefaultVirtualNetworkRouter, validate: onlyObject(ValidateVirtualNetworkRouter, nil)}),
		register(mgr, &corev1alpha1.VirtualRouter{}, &kindWebhook[*corev1alpha1.VirtualRouter]{
			defaults: DefaultVirtualRouter, validate: onlyObject(ValidateVirtualRouter, nil)}),
	)
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// validateVirtualNetwork adds to ValidateVirtualNetwork that each subnet
// reference, when the Subnet exists, names a Subnet of the right family.
func validateVirtualNetwork(ctx context.Context, r client.Reader, vn, _ *corev1alpha1.VirtualNetwork) (field.ErrorList, error) {
	errs := ValidateVirtualNetwork(vn)
	for _, c := range []struct {
		path *field.Path
		ref  *corev1alpha1.ResourceReference
		v4   bool
	}{
		{specPath.Child("v4SubnetReference"), vn.Spec.V4SubnetReference, true},
		{specPath.Child("v6SubnetReference"), vn.Spec.V6SubnetReference, false},
	} {
		if c.ref == nil || c.ref.Name == "" {
			continue
		}
		sn := &corev1alpha1.Subnet{}
		key := refKey(c.ref, vn.Namespace)
		err := r.Get(ctx, key, sn)
		if apierrors.IsNotFound(err) {
			// Made in any order: the controller reports a missing Subnet.
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("failed to get Subnet %s: %w", key, err)
		}
		prefix, err := netip.ParsePrefix(sn.Spec.CIDR)
		if err == nil && prefix.Addr().Is4() != c.v4 {
			errs = append(errs, field.Invalid(c.path.Child("name"), c.ref.Name,
				fmt.Sprintf("Subnet %s has cidr %s, of the other address family", c.ref.Name, sn.Spec.CIDR)))
		}
	}
	return errs, nil
}

// validateSubnet adds to ValidateSubnet that the block overlaps no other
// Subnet of the same network (LabelSubnetVirtualNetwork).
func validateSubnet(ctx context.Context, r client.Reader, sn, old *corev1alpha1.Subnet) (field.ErrorList, error) {
	errs := ValidateSubnet(sn)
	if old != nil {
		errs = append(errs, ValidateSubnetUpdate(old, sn)...)
	}
	network := sn.Labels[corev1alpha1.LabelSubnetVirtualNetwork]
	prefix, err := netip.ParsePrefix(sn.Spec.CIDR)
	if network == "" || err != nil {
		return errs, nil
	}
	var siblings corev1alpha1.SubnetList
	if err := r.List(ctx, &siblings, client.InNamespace(sn.Namespace),
		client.MatchingLabels{corev1alpha1.LabelSubnetVirtualNetwork: network}); err != nil {
		return nil, fmt.Errorf("failed to list the Subnets of VirtualNetwork %s/%s: %w", sn.Namespace, network, err)
	}
	for _, other := range siblings.Items {
		if other.Name == sn.Name {
			continue
		}
		if op, err := netip.ParsePrefix(other.Spec.CIDR); err == nil && op.Overlaps(prefix) {
			errs = append(errs, field.Invalid(specPath.Child("cidr"), sn.Spec.CIDR,
				fmt.Sprintf("overlaps Subnet %s (%s) of VirtualNetwork %s", other.Name, other.Spec.CIDR, network)))
		}
	}
	return errs, nil
}

// subnetHolders refuses to delete a Subnet while InstanceIPs hold
// addresses of it (their status names the Subnet they came from), and
// names them: the addresses are their pods' until the pods go, so the
// Subnet goes after them (docs/api.md, "Deleting what pods use"). The
// controller's pool finalizer holds a deletion that got here anyway.
func subnetHolders(ctx context.Context, r client.Reader, sn *corev1alpha1.Subnet) (string, error) {
	var iips corev1alpha1.InstanceIPList
	if err := r.List(ctx, &iips); err != nil {
		return "", fmt.Errorf("failed to list InstanceIPs: %w", err)
	}
	var holders []string
	for _, iip := range iips.Items {
		ref := iip.Status.SubnetReference
		if ref == nil || ref.Name != sn.Name || ref.Namespace != sn.Namespace || !iip.DeletionTimestamp.IsZero() || iip.Spec.InstanceIPAddress == "" {
			continue
		}
		// The address of a pod that is gone or going is on its way back:
		// the Subnet may be deleted after it ("delete the pod, then the
		// network" must work), held by its pool finalizer until it is.
		going, err := podGoing(ctx, r, &iip)
		if err != nil {
			return "", err
		}
		if !going {
			holders = append(holders, fmt.Sprintf("InstanceIP %s (%s)", iip.Name, iip.Spec.InstanceIPAddress))
		}
	}
	if len(holders) == 0 {
		return "", nil
	}
	sort.Strings(holders)
	shown := holders
	if len(shown) > 5 {
		shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(holders)-5))
	}
	return fmt.Sprintf("Subnet %s/%s holds %d %s of running workloads: %s; it can be deleted once they are (delete their pods first)",
		sn.Namespace, sn.Name, len(holders), plural(len(holders), "address", "addresses"), strings.Join(shown, ", ")), nil
}

// podGoing says whether obj was made for a pod that is gone or being
// deleted (false for an object of no pod: a Service's address, a user's).
func podGoing(ctx context.Context, r client.Reader, obj client.Object) (bool, error) {
	ns, name, ok := strings.Cut(obj.GetAnnotations()[corev1alpha1.AnnotationPod], "/")
	uid := obj.GetLabels()[corev1alpha1.LabelPodUID]
	if !ok || uid == "" {
		return false, nil
	}
	pod := &corev1.Pod{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("failed to get pod %s/%s: %w", ns, name, err)
	}
	return string(pod.UID) != uid || !pod.DeletionTimestamp.IsZero(), nil
}

// heldByPlugged refuses to delete an object kubemanager made for a pod
// while that pod runs plugged (kubemanager wrote its network-status): its
// address or MAC is in the pod's kernel, and a new object would get
// another. It goes with the pod. The objects of a pod that is gone, being
// deleted, or was never plugged may go.
func heldByPlugged(ctx context.Context, r client.Reader, obj client.Object, what string) (string, error) {
	ns, name, ok := strings.Cut(obj.GetAnnotations()[corev1alpha1.AnnotationPod], "/")
	uid := obj.GetLabels()[corev1alpha1.LabelPodUID]
	if !ok || uid == "" {
		return "", nil
	}
	pod := &corev1.Pod{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("failed to get pod %s/%s: %w", ns, name, err)
	}
	if string(pod.UID) != uid || !pod.DeletionTimestamp.IsZero() ||
		pod.Annotations[corev1alpha1.AnnotationVMUUID] == "" || pod.Annotations[nadv1.NetworkStatusAnnot] == "" {
		return "", nil
	}
	return fmt.Sprintf("%s of running pod %s/%s: it is the pod's until the pod is deleted (delete the pod instead)", what, ns, name), nil
}

// validateVirtualMachineInterface adds to ValidateVirtualMachineInterface
// that the network, when it exists, is of the interface's cluster.
func validateVirtualMachineInterface(ctx context.Context, r client.Reader, vmi, old *corev1alpha1.VirtualMachineInterface) (field.ErrorList, error) {
	errs := ValidateVirtualMachineInterface(vmi)
	if old != nil {
		errs = append(errs, ValidateVirtualMachineInterfaceUpdate(old, vmi)...)
	}
	vn, err := getNetwork(ctx, r, vmi.Spec.VirtualNetworkReference)
	if err != nil || vn == nil {
		return errs, err
	}
	errs = append(errs, validateSameCluster(vmi.Spec.ClusterName, vn)...)
	return errs, nil
}

// validateInstanceIP adds to ValidateInstanceIP that a requested address
// lies in one of its network's subnets, when the network and its subnets exist.
func validateInstanceIP(ctx context.Context, r client.Reader, iip, old *corev1alpha1.InstanceIP) (field.ErrorList, error) {
	errs := ValidateInstanceIP(iip)
	if old != nil {
		errs = append(errs, ValidateInstanceIPUpdate(old, iip)...)
	}
	addr, err := netip.ParseAddr(iip.Spec.InstanceIPAddress)
	if err != nil || (old != nil && old.Spec.InstanceIPAddress == iip.Spec.InstanceIPAddress) {
		return errs, nil
	}
	vn, err := getNetwork(ctx, r, iip.Spec.VirtualNetworkReference)
	if err != nil || vn == nil {
		return errs, err
	}
	var cidrs []string
	for _, ref := range []*corev1alpha1.ResourceReference{vn.Spec.V4SubnetReference, vn.Spec.V6SubnetReference} {
		if ref == nil {
			continue
		}
		sn := &corev1alpha1.Subnet{}
		if err := r.Get(ctx, refKey(ref, vn.Namespace), sn); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("failed to get Subnet %s: %w", refKey(ref, vn.Namespace), err)
		}
		if prefix, err := netip.ParsePrefix(sn.Spec.CIDR); err == nil && prefix.Contains(addr) {
			return errs, nil
		}
		cidrs = append(cidrs, sn.Spec.CIDR)
	}
	if len(cidrs) > 0 {
		errs = append(errs, field.Invalid(specPath.Child("instanceIPAddress"), iip.Spec.InstanceIPAddress,
			fmt.Sprintf("is outside the subnets of VirtualNetwork %s/%s (%v)", vn.Namespace, vn.Name, cidrs)))
	}
	return errs, nil
}

// refKey is where a reference points: its namespace, or def when it names none.
func refKey(ref *corev1alpha1.ResourceReference, def string) types.NamespacedName {
	ns := ref.Namespace
	if ns == "" {
		ns = def
	}
	return types.NamespacedName{Namespace: ns, Name: ref.Name}
}

// getNetwork reads a referenced VirtualNetwork; nil when it does not exist
// (yet): the controller, not admission, reports a missing network.
func getNetwork(ctx context.Context, r client.Reader, ref corev1alpha1.ResourceReference) (*corev1alpha1.VirtualNetwork, error) {
	if ref.Name == "" || ref.Namespace == "" {
		return nil, nil
	}
	vn := &corev1alpha1.VirtualNetwork{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, vn); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("failed to get VirtualNetwork %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return vn, nil
}

// validateSameCluster rejects a reference from an object of one cluster to
// a network that belongs to another cluster (another kubemanager).
func validateSameCluster(cluster string, vn *corev1alpha1.VirtualNetwork) field.ErrorList {
	if why := corev1alpha1.CheckNetworkCluster(cluster, vn); why != "" {
		return field.ErrorList{field.Invalid(specPath.Child("virtualNetworkReference"), vn.Namespace+"/"+vn.Name, why)}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
