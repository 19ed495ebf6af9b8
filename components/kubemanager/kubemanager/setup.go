package kubemanager

import (
	"context"
	"fmt"
	"math"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// Leader election: its lease, and the core events client-go's leader
// election records (LeaderElection) as it takes the lease.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// AddToScheme adds the kinds kubemanager reads besides the core ones: NADs
// and CRDs.
func AddToScheme(s *runtime.Scheme) error {
	if err := nadv1.AddToScheme(s); err != nil {
		return err
	}
	return apiextensionsv1.AddToScheme(s)
}

// Setup makes sure the NetworkAttachmentDefinition CRD exists, then
// registers the indexes and every reconciler of kubemanager with the
// manager. The NAD reconciler runs only with EnableNAD.
func Setup(ctx context.Context, mgr ctrl.Manager, cfg *Config) error {
	if err := cfg.Complete(); err != nil {
		return err
	}
	if err := AddToScheme(mgr.GetScheme()); err != nil {
		return err
	}
	// The manager's cache cannot watch NADs before their CRD exists, so this
	// goes through a direct client, before the manager starts.
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return err
	}
	if err := EnsureNADCRD(ctx, direct); err != nil {
		return err
	}
	indexer := mgr.GetFieldIndexer()
	byPod := func(obj client.Object) []string { return []string{obj.GetAnnotations()[AnnotationPod]} }
	for _, obj := range []client.Object{&corev1alpha1.VirtualMachine{}, &corev1alpha1.VirtualMachineInterface{}, &corev1alpha1.InstanceIP{}} {
		if err := indexer.IndexField(ctx, obj, indexPod, byPod); err != nil {
			return fmt.Errorf("failed to index %T by pod: %w", obj, err)
		}
	}
	if err := indexer.IndexField(ctx, &corev1alpha1.VirtualMachineInterface{}, indexVMINetwork, func(obj client.Object) []string {
		ref := obj.(*corev1alpha1.VirtualMachineInterface).Spec.VirtualNetworkReference
		return []string{ref.Namespace + "/" + ref.Name}
	}); err != nil {
		return fmt.Errorf("failed to index interfaces by network: %w", err)
	}

	if err := indexer.IndexField(ctx, &corev1alpha1.InstanceIP{}, indexService, func(obj client.Object) []string {
		if key := obj.GetAnnotations()[AnnotationService]; key != "" {
			return []string{key}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("failed to index InstanceIPs by service: %w", err)
	}

	recorder := mgr.GetEventRecorder("kubemanager")
	cluster := &ClusterNetworkReconciler{Client: mgr.GetClient(), Config: cfg}
	if err := cluster.SetupWithManager(mgr); err != nil {
		return err
	}
	// The default networks exist before the first pod needs them. A failed
	// attempt (the reconciler racing it, say) is retried: an error returned
	// here would stop the whole manager.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		log := ctrl.LoggerFrom(ctx).WithName("cluster-networks")
		return wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Cap: 10 * time.Second, Steps: math.MaxInt32},
			func(ctx context.Context) (bool, error) {
				if err := cluster.Ensure(ctx); err != nil {
					log.Error(err, "Failed to ensure the cluster's default networks; retrying")
					return false, nil
				}
				return true, nil
			})
	})); err != nil {
		return err
	}
	if err := (&PodReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Config: cfg, Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&NamespaceReconciler{Client: mgr.GetClient(), Config: cfg}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&ServiceReconciler{Client: mgr.GetClient(), Config: cfg, Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return err
	}
	if cfg.EnableNAD {
		if err := (&NADReconciler{Client: mgr.GetClient(), Config: cfg, Recorder: recorder}).SetupWithManager(mgr); err != nil {
			return err
		}
	}
	return nil
}
