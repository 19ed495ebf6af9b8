package kubemanager

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// AnnotationService, on an InstanceIP, names the Service it is the cluster
// IP of, <namespace>/<name>.
const AnnotationService = "kube-manager.juniper.net/service"

// ServiceReconciler gives every ClusterIP Service an InstanceIP on the
// cluster's service network for each of its cluster IPs, so that the
// controller reserves them and the dataplane can route them.
type ServiceReconciler struct {
	client.Client
	Config   *Config
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch

// Reconcile makes the Service's InstanceIPs, and deletes those it no longer has.
func (r *ServiceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	svc := &corev1.Service{}
	err := r.Get(ctx, req.NamespacedName, svc)
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	want := map[string]string{} // InstanceIP name -> address
	if err == nil && svc.Spec.Type != corev1.ServiceTypeExternalName {
		for _, ip := range svc.Spec.ClusterIPs {
			addr, perr := netip.ParseAddr(ip)
			if perr != nil {
				continue // "None": a headless service has no cluster IP
			}
			want[truncate(r.Config.ClusterName+"-"+svc.Name, 234)+"-"+shortHash(string(svc.UID), addr.String())] = addr.String()
		}
	}

	var have corev1alpha1.InstanceIPList
	if err := r.List(ctx, &have, client.MatchingFields{indexService: req.String()}); err != nil {
		return ctrl.Result{}, err
	}
	for i := range have.Items {
		if _, ok := want[have.Items[i].Name]; !ok {
			if err := r.Delete(ctx, &have.Items[i]); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("failed to delete InstanceIP %s: %w", have.Items[i].Name, err)
			}
		}
	}
	for name, addr := range want {
		family := corev1alpha1.IPFamilyV4
		if netip.MustParseAddr(addr).Is6() {
			family = corev1alpha1.IPFamilyV6
		}
		iip := &corev1alpha1.InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{AnnotationService: req.String()}},
			Spec: corev1alpha1.InstanceIPSpec{InstanceIPAddress: addr, InstanceIPFamily: family,
				VirtualNetworkReference: corev1alpha1.ResourceReference{Kind: "VirtualNetwork",
					Namespace: r.Config.Namespace, Name: r.Config.ServiceNetwork}}}
		corev1alpha1.DefaultInstanceIP(iip)
		if err := r.Create(ctx, iip); err != nil && !apierrors.IsAlreadyExists(err) {
			if apierrors.IsInvalid(err) {
				r.Recorder.Eventf(svc, nil, "Warning", "ClusterIPNotOnServiceNetwork", "ReserveClusterIP",
					"cluster IP %s cannot be reserved on the service network %s/%s: %v", addr, r.Config.Namespace, r.Config.ServiceNetwork, err)
				continue
			}
			return ctrl.Result{}, fmt.Errorf("failed to create InstanceIP %s: %w", name, err)
		}
	}
	return ctrl.Result{}, nil
}

// SetupWithManager watches services and their InstanceIPs.
func (r *ServiceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Service{}).
		Watches(&corev1alpha1.InstanceIP{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			key := o.GetAnnotations()[AnnotationService]
			if key == "" {
				return nil
			}
			ns, name, _ := cut(key)
			return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
		})).
		WithOptions(controllerOptions(r.Config.Workers)).
		Named("service").
		Complete(r)
}
