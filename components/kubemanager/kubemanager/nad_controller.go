package kubemanager

import (
	"context"
	"fmt"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// NADReconciler makes the VirtualNetwork and Subnets a NAD of type
// contrail-k8s-cni asks for, or maps it to an existing network, and says
// what it did in the NAD's juniper.net/networks-status.
type NADReconciler struct {
	client.Client
	Config   *Config
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=k8s.cni.cncf.io,resources=network-attachment-definitions,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualnetworks;subnets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile realises one NAD.
func (r *NADReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	nad := &nadv1.NetworkAttachmentDefinition{}
	if err := r.Get(ctx, req.NamespacedName, nad); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	typ, err := pluginType(nad.Spec.Config)
	if err == nil && typ != PluginType {
		return ctrl.Result{}, nil // another plugin's network: not ours to touch
	}
	if !nad.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.delete(ctx, nad)
	}
	if err := addFinalizer(ctx, r.Client, nad, FinalizerNAD); err != nil {
		return ctrl.Result{}, err
	}
	if err != nil {
		return ctrl.Result{}, r.report(ctx, nad, "failure: "+err.Error(), true)
	}
	intent, err := ParseNetworkIntent(nad.Annotations, nad.Namespace, nad.Name)
	if err != nil {
		return ctrl.Result{}, r.report(ctx, nad, "failure: "+err.Error(), true)
	}

	if intent.Existing != nil {
		why, err := crossNamespaceProblem(ctx, r.Client, r.Config, nad.Namespace, "VirtualNetwork", *intent.Existing)
		if err != nil {
			return ctrl.Result{}, err
		}
		if why != "" {
			return ctrl.Result{}, r.report(ctx, nad, "failure: annotation "+AnnotationOpenContrailNetwork+": "+why, true)
		}
		vn := &corev1alpha1.VirtualNetwork{}
		if err := r.Get(ctx, *intent.Existing, vn); err != nil {
			if apierrors.IsNotFound(err) {
				return ctrl.Result{}, r.report(ctx, nad, fmt.Sprintf("failure: VirtualNetwork %s not found", intent.Existing), true)
			}
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.report(ctx, nad, fmt.Sprintf("success mapping to VirtualNetwork %s", intent.Existing), false)
	}

	if problem, err := r.ensureNetwork(ctx, nad, intent); err != nil || problem != "" {
		if err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.report(ctx, nad, "failure: "+problem, true)
	}
	msg := "success creating VirtualNetwork " + nad.Name
	if intent.V4Subnet != "" {
		msg += " v4Subnet: " + intent.V4Subnet
	}
	if intent.V6Subnet != "" {
		msg += " v6Subnet: " + intent.V6Subnet
	}
	return ctrl.Result{}, r.report(ctx, nad, msg, false)
}

// ensureNetwork makes or repairs the NAD's Subnets and VirtualNetwork. A
// problem the user must fix (a subnet change while the network is in use,
// input the apiserver refuses) is returned as text.
func (r *NADReconciler) ensureNetwork(ctx context.Context, nad *nadv1.NetworkAttachmentDefinition, in *NetworkIntent) (string, error) {
	vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: nad.Namespace, Name: nad.Name}}
	if err := r.Get(ctx, client.ObjectKeyFromObject(vn), vn); err == nil && !vn.DeletionTimestamp.IsZero() {
		return "", nil // deleted by hand: made again once it is gone
	}
	var refs [2]*corev1alpha1.ResourceReference
	for i, s := range []struct{ suffix, cidr string }{{"-v4", in.V4Subnet}, {"-v6", in.V6Subnet}} {
		if s.cidr == "" {
			continue
		}
		name := nad.Name + s.suffix
		sn := &corev1alpha1.Subnet{}
		err := r.Get(ctx, types.NamespacedName{Namespace: nad.Namespace, Name: name}, sn)
		if err == nil && sn.Spec.CIDR != s.cidr {
			if n, err := interfacesOn(ctx, r.Client, nad.Namespace, nad.Name); err != nil || n > 0 {
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("VirtualNetwork %s is used by %d interfaces: its subnet cannot change from %s to %s until they are gone", nad.Name, n, sn.Spec.CIDR, s.cidr), nil
			}
			if err := r.Delete(ctx, sn); client.IgnoreNotFound(err) != nil {
				return "", fmt.Errorf("failed to delete Subnet %s/%s: %w", sn.Namespace, sn.Name, err)
			}
			return fmt.Sprintf("replacing Subnet %s (%s) with %s", name, sn.Spec.CIDR, s.cidr), nil
		}
		if apierrors.IsNotFound(err) {
			sn = &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: nad.Namespace, Name: name,
				Labels: map[string]string{corev1alpha1.LabelSubnetVirtualNetwork: nad.Name}},
				Spec: corev1alpha1.SubnetSpec{CIDR: s.cidr}}
			if err := r.Create(ctx, sn); err != nil {
				if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
					return err.Error(), nil
				}
				return "", fmt.Errorf("failed to create Subnet %s/%s: %w", nad.Namespace, name, err)
			}
		} else if err != nil {
			return "", fmt.Errorf("failed to get Subnet %s/%s: %w", nad.Namespace, name, err)
		}
		refs[i] = &corev1alpha1.ResourceReference{APIVersion: corev1alpha1.GroupVersion.String(), Kind: "Subnet",
			Namespace: nad.Namespace, Name: name, UID: sn.UID}
	}

	vn = &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: nad.Namespace, Name: nad.Name}}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, vn, func() error {
		if vn.Annotations == nil {
			vn.Annotations = map[string]string{}
		}
		// The NAD's labels are the network's: a VirtualNetworkRouter
		// selects networks by label.
		for k, v := range nad.Labels {
			if vn.Labels == nil {
				vn.Labels = map[string]string{}
			}
			vn.Labels[k] = v
		}
		vn.Annotations[corev1alpha1.AnnotationNADName] = nad.Name
		vn.Annotations[corev1alpha1.AnnotationNADNamespace] = nad.Namespace
		vn.Annotations[corev1alpha1.AnnotationNADClusterName] = r.Config.ClusterName
		vn.Spec.V4SubnetReference, vn.Spec.V6SubnetReference = refs[0], refs[1]
		vn.Spec.RouteTargetList = in.RouteTargets
		vn.Spec.ImportRouteTargetList = in.ImportRouteTargets
		vn.Spec.ExportRouteTargetList = in.ExportRouteTargets
		vn.Spec.FabricSNAT = in.FabricSNAT
		vn.Spec.FabricForwarding = in.FabricForwarding
		return nil
	})
	if err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
			return err.Error(), nil
		}
		return "", fmt.Errorf("failed to create or update VirtualNetwork %s/%s: %w", nad.Namespace, nad.Name, err)
	}
	return "", nil
}

// delete removes the NAD's network unless interfaces still use it, then
// lets the NAD go.
func (r *NADReconciler) delete(ctx context.Context, nad *nadv1.NetworkAttachmentDefinition) error {
	intent, err := ParseNetworkIntent(nad.Annotations, nad.Namespace, nad.Name)
	if err == nil && intent.Existing == nil {
		n, err := interfacesOn(ctx, r.Client, nad.Namespace, nad.Name)
		if err != nil {
			return err
		}
		if n > 0 {
			return r.report(ctx, nad, fmt.Sprintf("deleting: VirtualNetwork %s is still used by %d interfaces; it goes when they do", nad.Name, n), false)
		}
		for _, obj := range []client.Object{
			&corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: nad.Namespace, Name: nad.Name}},
			&corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: nad.Namespace, Name: nad.Name + "-v4"}},
			&corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: nad.Namespace, Name: nad.Name + "-v6"}},
		} {
			if err := r.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("failed to delete %s: %w", obj.GetName(), err)
			}
		}
	}
	return removeFinalizer(ctx, r.Client, nad, FinalizerNAD)
}

// report writes the status annotation, with a Warning event when it changed
// to a failure.
func (r *NADReconciler) report(ctx context.Context, nad *nadv1.NetworkAttachmentDefinition, status string, warn bool) error {
	if nad.Annotations[AnnotationNetworksStatus] == status {
		return nil
	}
	if warn {
		r.Recorder.Eventf(nad, nil, "Warning", "NetworkFailed", "CreateNetwork", status)
	}
	return setAnnotation(ctx, r.Client, nad, AnnotationNetworksStatus, status)
}

// interfacesOn counts the interfaces on a network.
func interfacesOn(ctx context.Context, c client.Client, namespace, name string) (int, error) {
	var vmis corev1alpha1.VirtualMachineInterfaceList
	if err := c.List(ctx, &vmis, client.MatchingFields{indexVMINetwork: namespace + "/" + name}); err != nil {
		return 0, fmt.Errorf("failed to list the interfaces on %s/%s: %w", namespace, name, err)
	}
	return len(vmis.Items), nil
}

// SetupWithManager watches NADs, their networks and subnets, and the
// interfaces that keep a deleted NAD's network.
func (r *NADReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&nadv1.NetworkAttachmentDefinition{}).
		Watches(&corev1alpha1.VirtualNetwork{}, handler.EnqueueRequestsFromMapFunc(nadOfNetwork)).
		Watches(&corev1alpha1.Subnet{}, handler.EnqueueRequestsFromMapFunc(nadOfSubnet)).
		Watches(&corev1alpha1.VirtualMachineInterface{}, handler.EnqueueRequestsFromMapFunc(nadOfInterface)).
		WithOptions(controllerOptions(r.Config.Workers)).
		Named("networkattachmentdefinition").
		Complete(r)
}

// nadOfNetwork maps a network to the NAD of its name (a NAD that maps to an
// existing network of another name is requeued through the VN's namespace
// only when names match; a missing mapped network retries on this event too).
func nadOfNetwork(_ context.Context, obj client.Object) []ctrl.Request {
	name := obj.GetName()
	if n := obj.GetAnnotations()[corev1alpha1.AnnotationNADName]; n != "" {
		name = n
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}}}
}

func nadOfSubnet(_ context.Context, obj client.Object) []ctrl.Request {
	vn := obj.GetLabels()[corev1alpha1.LabelSubnetVirtualNetwork]
	if vn == "" {
		vn = strings.TrimSuffix(strings.TrimSuffix(obj.GetName(), "-v4"), "-v6")
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: vn}}}
}

func nadOfInterface(_ context.Context, obj client.Object) []ctrl.Request {
	ref := obj.(*corev1alpha1.VirtualMachineInterface).Spec.VirtualNetworkReference
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}}}
}
